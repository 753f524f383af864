/* zck_sha256.c - SHA-256 (FIPS 180-4): a portable implementation and, on
 * x86-64 with GCC or Clang, one using the SHA extensions (SHA-NI).
 *
 * The SHA-NI code is compiled with a target attribute, so the rest of the
 * library keeps the baseline ISA; whether it may run is decided at run time
 * (zck_sha256_ni_available) and the answer is kept in the caller's context
 * (zck_sha256_ctx.ni, the pool's workers), never in a global of ours.
 *
 * Both implementations share the padding and the incremental buffering; they
 * differ only in the block function (64-byte blocks into the eight-word
 * state). */
#include "zck_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ZCK_SHA256_HAVE_NI 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define ZCK_SHA256_HAVE_NI 0
#endif

/* FIPS 180-4 4.2.2: first 32 bits of the fractional parts of the cube roots
 * of the first 64 primes. */
static const uint32_t zck_sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u,
    0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u,
    0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
    0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u,
    0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u,
    0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u,
    0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

/* FIPS 180-4 5.3.3: first 32 bits of the fractional parts of the square
 * roots of the first 8 primes. */
static const uint32_t zck_sha256_h0[8] = {
    0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
    0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ------------------------------------------------------------- portable */

#define ZCK_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
/* FIPS 180-4 4.1.2 (Ch and Maj in equivalent forms with fewer operations). */
#define ZCK_CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define ZCK_MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))
#define ZCK_BSIG0(x) (ZCK_ROTR(x, 2) ^ ZCK_ROTR(x, 13) ^ ZCK_ROTR(x, 22))
#define ZCK_BSIG1(x) (ZCK_ROTR(x, 6) ^ ZCK_ROTR(x, 11) ^ ZCK_ROTR(x, 25))
#define ZCK_SSIG0(x) (ZCK_ROTR(x, 7) ^ ZCK_ROTR(x, 18) ^ ((x) >> 3))
#define ZCK_SSIG1(x) (ZCK_ROTR(x, 17) ^ ZCK_ROTR(x, 19) ^ ((x) >> 10))

/* Message schedule word t >= 16, kept in a ring of 16 (FIPS 180-4 6.2.2 step 1). */
#define ZCK_SCHED(t)                                                                         \
    (w[(t)&15] += ZCK_SSIG1(w[((t)-2) & 15]) + w[((t)-7) & 15] + ZCK_SSIG0(w[((t)-15) & 15]))

/* One round with the working variables passed in rotated order: instead of
 * moving h <- g <- f ... every round, the names shift by one per call. */
#define ZCK_ROUND(a, b, c, d, e, f, g, h, t, wt)                               \
    do {                                                                       \
        uint32_t t1_ = (h) + ZCK_BSIG1(e) + ZCK_CH(e, f, g) + zck_sha256_k[t] + (wt); \
        (d) += t1_;                                                            \
        (h) = t1_ + ZCK_BSIG0(a) + ZCK_MAJ(a, b, c);                           \
    } while (0)

#define ZCK_ROUNDS8(t, W)                          \
    ZCK_ROUND(a, b, c, d, e, f, g, h, (t) + 0, W((t) + 0)); \
    ZCK_ROUND(h, a, b, c, d, e, f, g, (t) + 1, W((t) + 1)); \
    ZCK_ROUND(g, h, a, b, c, d, e, f, (t) + 2, W((t) + 2)); \
    ZCK_ROUND(f, g, h, a, b, c, d, e, (t) + 3, W((t) + 3)); \
    ZCK_ROUND(e, f, g, h, a, b, c, d, (t) + 4, W((t) + 4)); \
    ZCK_ROUND(d, e, f, g, h, a, b, c, (t) + 5, W((t) + 5)); \
    ZCK_ROUND(c, d, e, f, g, h, a, b, (t) + 6, W((t) + 6)); \
    ZCK_ROUND(b, c, d, e, f, g, h, a, (t) + 7, W((t) + 7))

#define ZCK_W_LOAD(t) (w[t])

static void sha256_blocks_portable(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
    uint32_t w[16];
    unsigned t, i;
    while (nblocks-- > 0) {
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
        uint32_t e = st[4], f = st[5], g = st[6], h = st[7];
        for (i = 0; i < 16; i++)
            w[i] = load_be32(p + 4 * i);
        ZCK_ROUNDS8(0, ZCK_W_LOAD);
        ZCK_ROUNDS8(8, ZCK_W_LOAD);
        for (t = 16; t < 64; t += 8) {
            ZCK_ROUNDS8(t, ZCK_SCHED);
        }
        st[0] += a;
        st[1] += b;
        st[2] += c;
        st[3] += d;
        st[4] += e;
        st[5] += f;
        st[6] += g;
        st[7] += h;
        p += 64;
    }
}

/* -------------------------------------------------------------- SHA-NI */

#if ZCK_SHA256_HAVE_NI

int zck_sha256_ni_available(void)
{
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    /* Reads libgcc's CPU model, filled in once at load time: a few ns. */
    return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
#else
    /* cpuid may trap to the hypervisor (microseconds): callers cache this. */
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 19)) || !(c & (1u << 9))) /* SSE4.1, SSSE3 */
        return 0;
    if (__get_cpuid_max(0, NULL) < 7)
        return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 29) & 1u; /* SHA */
#endif
}

/* State layout used by SHA256RNDS2: one register holds A,B,E,F (A in the
 * top lane), the other C,D,G,H.  Each SHA256RNDS2 does two rounds with the
 * two message+constant words in the low 64 bits of its third operand and
 * returns the new ABEF; the old ABEF becomes the new CDGH. */
#define ZCK_NI_ROUNDS4(m, kidx)                                                         \
    do {                                                                                \
        __m128i wk_ = _mm_add_epi32((m), _mm_loadu_si128((const __m128i *)(const void *)&zck_sha256_k[kidx])); \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                                  \
        wk_ = _mm_shuffle_epi32(wk_, 0x0E);                                             \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, wk_);                                  \
    } while (0)

/* Next four schedule words from the previous sixteen (m0 oldest):
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16].  SHA256MSG1 adds the
 * s0 terms, the alignr supplies W[t-7..t-4], SHA256MSG2 adds the s1 terms. */
#define ZCK_NI_SCHED(m0, m1, m2, m3) \
    (m0) = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((m0), (m1)), _mm_alignr_epi8((m3), (m2), 4)), (m3))

__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_ni(uint32_t st[8], const uint8_t *p,
                                                                         size_t nblocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
    __m128i abcd = _mm_loadu_si128((const __m128i *)(const void *)&st[0]); /* lanes (low..high) A B C D */
    __m128i efgh = _mm_loadu_si128((const __m128i *)(const void *)&st[4]); /* E F G H */
    __m128i abef, cdgh;

    abcd = _mm_shuffle_epi32(abcd, 0xB1);   /* B A D C */
    efgh = _mm_shuffle_epi32(efgh, 0x1B);   /* H G F E */
    abef = _mm_alignr_epi8(abcd, efgh, 8);  /* F E B A */
    cdgh = _mm_blend_epi16(efgh, abcd, 0xF0); /* H G D C */

    while (nblocks-- > 0) {
        const __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 0)), bswap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16)), bswap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 32)), bswap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 48)), bswap);

        ZCK_NI_ROUNDS4(m0, 0);
        ZCK_NI_ROUNDS4(m1, 4);
        ZCK_NI_ROUNDS4(m2, 8);
        ZCK_NI_ROUNDS4(m3, 12);
        ZCK_NI_SCHED(m0, m1, m2, m3);
        ZCK_NI_ROUNDS4(m0, 16);
        ZCK_NI_SCHED(m1, m2, m3, m0);
        ZCK_NI_ROUNDS4(m1, 20);
        ZCK_NI_SCHED(m2, m3, m0, m1);
        ZCK_NI_ROUNDS4(m2, 24);
        ZCK_NI_SCHED(m3, m0, m1, m2);
        ZCK_NI_ROUNDS4(m3, 28);
        ZCK_NI_SCHED(m0, m1, m2, m3);
        ZCK_NI_ROUNDS4(m0, 32);
        ZCK_NI_SCHED(m1, m2, m3, m0);
        ZCK_NI_ROUNDS4(m1, 36);
        ZCK_NI_SCHED(m2, m3, m0, m1);
        ZCK_NI_ROUNDS4(m2, 40);
        ZCK_NI_SCHED(m3, m0, m1, m2);
        ZCK_NI_ROUNDS4(m3, 44);
        ZCK_NI_SCHED(m0, m1, m2, m3);
        ZCK_NI_ROUNDS4(m0, 48);
        ZCK_NI_SCHED(m1, m2, m3, m0);
        ZCK_NI_ROUNDS4(m1, 52);
        ZCK_NI_SCHED(m2, m3, m0, m1);
        ZCK_NI_ROUNDS4(m2, 56);
        ZCK_NI_SCHED(m3, m0, m1, m2);
        ZCK_NI_ROUNDS4(m3, 60);

        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
        p += 64;
    }

    abef = _mm_shuffle_epi32(abef, 0x1B);     /* A B E F */
    cdgh = _mm_shuffle_epi32(cdgh, 0xB1);     /* G H C D */
    abcd = _mm_blend_epi16(abef, cdgh, 0xF0); /* A B C D */
    efgh = _mm_alignr_epi8(cdgh, abef, 8);    /* E F G H */
    _mm_storeu_si128((__m128i *)(void *)&st[0], abcd);
    _mm_storeu_si128((__m128i *)(void *)&st[4], efgh);
}

#else

int zck_sha256_ni_available(void)
{
    return 0;
}

#endif

/* ---------------------------------------------------------- incremental */

static void blocks(const zck_sha256_ctx *c, uint32_t st[8], const uint8_t *p, size_t nblocks)
{
#if ZCK_SHA256_HAVE_NI
    if (c->ni) {
        sha256_blocks_ni(st, p, nblocks);
        return;
    }
#else
    (void)c;
#endif
    sha256_blocks_portable(st, p, nblocks);
}

void zck_sha256_init(zck_sha256_ctx *c, int use_ni)
{
    memcpy(c->h, zck_sha256_h0, sizeof(c->h));
    c->total = 0;
    c->buf_len = 0;
    c->ni = (use_ni && ZCK_SHA256_HAVE_NI) ? 1 : 0;
}

void zck_sha256_update(zck_sha256_ctx *c, const uint8_t *p, size_t n)
{
    if (n == 0)
        return;
    c->total += (uint64_t)n; /* the length field is taken mod 2^64 bits */
    if (c->buf_len > 0) {
        size_t take = ZCK_MIN(n, (size_t)64 - c->buf_len);
        memcpy(c->buf + c->buf_len, p, take);
        c->buf_len += take;
        p += take;
        n -= take;
        if (c->buf_len < 64)
            return;
        blocks(c, c->h, c->buf, 1);
        c->buf_len = 0;
    }
    if (n >= 64) {
        blocks(c, c->h, p, n / 64);
        p += n & ~(size_t)63;
        n &= 63;
    }
    if (n > 0) {
        memcpy(c->buf, p, n);
        c->buf_len = n;
    }
}

void zck_sha256_final(zck_sha256_ctx *c, uint8_t out[32])
{
    /* FIPS 180-4 5.1.1: 0x80, zeros up to 56 mod 64, then the bit length as
     * a 64-bit big-endian number. */
    uint64_t bits = c->total << 3;
    size_t i = c->buf_len;
    c->buf[i++] = 0x80;
    if (i > 56) {
        memset(c->buf + i, 0, 64 - i);
        blocks(c, c->h, c->buf, 1);
        i = 0;
    }
    memset(c->buf + i, 0, 56 - i);
    store_be32(c->buf + 56, (uint32_t)(bits >> 32));
    store_be32(c->buf + 60, (uint32_t)bits);
    blocks(c, c->h, c->buf, 1);
    for (i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->h[i]);
}

/* --------------------------------------------------------------- public */

int zck_sha256_best(void)
{
    return zck_sha256_ni_available() ? ZCK_SHA256_SHANI : ZCK_SHA256_PORTABLE;
}

int zck_sha256_impl(int impl, const uint8_t *p, size_t n, uint8_t *out)
{
    zck_sha256_ctx c;
    int ni;
    ZCK_RETURN_IF(out == NULL || (p == NULL && n > 0), ZCK_E_INVALID_ARGUMENT);
    switch (impl) {
    case ZCK_SHA256_AUTO: ni = zck_sha256_ni_available(); break;
    case ZCK_SHA256_PORTABLE: ni = 0; break;
    case ZCK_SHA256_SHANI:
        ZCK_RETURN_IF(!zck_sha256_ni_available(), ZCK_E_UNSUPPORTED);
        ni = 1;
        break;
    default: return ZCK_E_INVALID_ARGUMENT;
    }
    zck_sha256_init(&c, ni);
    if (n > 0)
        zck_sha256_update(&c, p, n);
    zck_sha256_final(&c, out);
    return ZCK_OK;
}

void zck_sha256(const uint8_t *p, size_t n, uint8_t *out)
{
    (void)zck_sha256_impl(ZCK_SHA256_AUTO, p, n, out);
}
