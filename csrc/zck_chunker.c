/* zck_chunker.c - chunk boundaries inside one file payload (FORMAT.md 1.3).
 *
 * Behaviour (same cuts as containers/storage's writer):
 *   - every byte, including hole bytes, is rolled into a bup-style rolling sum
 *     (window 64, char offset 31); the state is a function of the last 64
 *     bytes only, so an all-zero window is the initial state;
 *   - after a data byte, split iff the low 16 bits of s2 are all ones;
 *   - a maximal run of >= 1024 zero bytes is a hole: a boundary before it, one
 *     "zeros" chunk for the whole run, a boundary after it, and no split
 *     checks inside it;
 *   - a shorter zero run is ordinary data (split checks apply), also at EOF;
 *   - no minimum or maximum chunk size, no empty chunks.
 *
 * Implementation notes
 *   - Bytes are rolled as they arrive.  Whether a zero run is a hole is only
 *     known when it ends (or reaches 1024), so split points found inside a
 *     zero run are kept as "tentative" cuts until then.  A split can only
 *     happen within the first 64 zeros of a run (after that the window is all
 *     zero, which never splits), so at most 64 are ever pending.
 *   - The byte leaving the window is read straight from the input
 *     (b[i - 64]); the first 64 bytes of each feed are run from a small
 *     staging copy that puts the previous 64 bytes in front of them.
 *   - Cuts go straight to the caller's array; once it is full they go to a
 *     small internal queue and processing stops after the current step, so
 *     one step (at most 65 cuts) always fits.
 *   - On x86-64 with AVX2 (checked at run time, kept in the chunker) the data
 *     path first tries scan_avx2, which rolls 32 bytes at a time with vector
 *     prefix sums and only tests whether any of them splits.  It stops before
 *     any block that splits or is all zeros and leaves that block to the
 *     byte-by-byte code, so every cut is still made by the scalar path.
 */
#include "zck_internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ZCK_CHUNKER_HAVE_AVX2 1
#include <immintrin.h>
#else
#define ZCK_CHUNKER_HAVE_AVX2 0
#endif

#define ZCK_WINDOW 64u
#define ZCK_HOLE_MIN 1024u
#define ZCK_S1_INIT 1984u   /* 64 * 31 */
#define ZCK_S2_INIT 124992u /* 64 * 63 * 31 */
#define ZCK_SPLIT_MASK 0xFFFFu
#define ZCK_QUEUE_CAP 72u

struct zck_chunker {
    uint32_t s1, s2;
    uint64_t pos;         /* bytes consumed since reset */
    uint64_t chunk_start; /* end of the last cut (start of the current chunk) */
    uint64_t run_start;   /* start of the pending zero run, valid when zrun > 0 */
    uint64_t zrun;        /* length of the pending zero run */
    uint32_t n_tent;
    int finished;
    int avx2; /* scan_avx2 may run here; asked once in zck_chunker_new, kept by reset */
    uint64_t tent[ZCK_WINDOW]; /* split points inside the pending zero run */
    uint8_t hist[ZCK_WINDOW];  /* last 64 bytes fed, oldest first (zeros before the start) */
    zck_cut queue[ZCK_QUEUE_CAP];
    size_t q_head, q_len;
};

typedef struct {
    zck_cut *cuts;
    size_t cap;
    size_t n;
} zck_cut_sink;

/* ------------------------------------------------------------------ AVX2 */

#if ZCK_CHUNKER_HAVE_AVX2

/* Reads libgcc's / compiler-rt's CPU model (filled in once at load time,
 * OS support for the YMM state included): cheap, but callers still cache it. */
static int avx2_available(void)
{
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* Inclusive prefix sum of the sixteen 16-bit lanes of v (mod 2^16). */
__attribute__((target("avx2"))) static inline __m256i prefix16_avx2(__m256i v)
{
    /* bytes 6-7 (lane 3) to lanes 4-7 of each half, zeros to lanes 0-3 */
    const __m256i lane3 = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, 6, 7, 6, 7, 6, 7, 6, 7,
                                           -1, -1, -1, -1, -1, -1, -1, -1, 6, 7, 6, 7, 6, 7, 6, 7);
    /* bytes 14-15 (lane 7) to all lanes of each half */
    const __m256i lane7 = _mm256_setr_epi8(14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15,
                                           14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15);
    __m256i t;
    /* within each group of four lanes: bit shifts, which need no shuffle unit */
    v = _mm256_add_epi16(v, _mm256_slli_epi64(v, 16));
    v = _mm256_add_epi16(v, _mm256_slli_epi64(v, 32));
    /* within each half: add the first group's total to the second group */
    v = _mm256_add_epi16(v, _mm256_shuffle_epi8(v, lane3));
    /* add the low half's total to the high half */
    t = _mm256_shuffle_epi8(v, lane7);
    return _mm256_add_epi16(v, _mm256_permute2x128_si256(t, t, 0x08));
}

/* Lane 15 of v in all sixteen lanes. */
__attribute__((target("avx2"))) static inline __m256i last16_avx2(__m256i v)
{
    return _mm256_permute4x64_epi64(_mm256_shufflehi_epi16(v, 0xFF), 0xFF);
}

/* Roll b[i..) in blocks of 32 bytes, as run() would, as long as no byte of a
 * block splits and the block is not all zeros; stop before the first block
 * that fails (or when fewer than 32 bytes are left) and return its index.
 * *u1 and *s2 are run()'s state, before and after.  *tz is the number of zero
 * bytes the processed part ends with (less than 32: a whole zero block is
 * never processed).
 *
 * Called with no zero run pending.  Zero bytes are rolled exactly like data
 * bytes; only their split checks (tentative cuts) and holes differ, and
 * neither can occur in what is processed here: a block with a split is left
 * to the caller, and a run of >= 1024 zeros contains a whole zero block.
 *
 * Per byte k of a block, with x = ch - d and U, S the state before the block,
 * u1[k] = U + sum(x[0..k]) and s2[k] = S + sum(v[0..k]), v = u1 - 64 * d: two
 * prefix sums.  The split test needs only the low 16 bits of s2, so 16-bit
 * lanes suffice, and u1 (the plain sum of the window, at most 64 * 255) fits
 * them exactly.  Lane j holds bytes 2j (even) and 2j + 1 (odd): one prefix
 * sum over the pair sums gives the odd positions, subtracting the odd term
 * gives the even ones.  The full s2 is rebuilt on the way out from the sum of
 * v over everything processed. */
__attribute__((target("avx2"))) static size_t scan_avx2(const uint8_t *b, size_t i, size_t end,
                                                        uint32_t *u1, uint32_t *s2, size_t *tz)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i lo8 = _mm256_set1_epi16(0xFF);
    const __m256i ones = _mm256_set1_epi16(-1); /* a split: low 16 bits of s2 all ones */
    const __m256i one = _mm256_set1_epi16(1);
    __m256i u = _mm256_set1_epi16((short)(uint16_t)*u1);
    __m256i s = _mm256_set1_epi16((short)(uint16_t)*s2);
    __m256i sum_v = zero; /* 32-bit lanes: sum of v over the processed bytes, mod 2^32 */
    uint32_t zmask = 0;   /* zero bytes of the last processed block */
    __m128i t;

    while (end - i >= 32) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        __m256i old = _mm256_loadu_si256((const __m256i *)(const void *)(b + i - ZCK_WINDOW));
        uint32_t zm = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(raw, zero));
        __m256i d_e, d_o, x_o, p, u_o, u_e, v_e, v_o, v, q, s_o, s_e, hit;
        if (zm == 0xFFFFFFFFu)
            break;
        d_e = _mm256_and_si256(old, lo8);
        d_o = _mm256_srli_epi16(old, 8);
        x_o = _mm256_sub_epi16(_mm256_srli_epi16(raw, 8), d_o);
        p = prefix16_avx2(_mm256_add_epi16(_mm256_sub_epi16(_mm256_and_si256(raw, lo8), d_e), x_o));
        u_o = _mm256_add_epi16(u, p);
        u_e = _mm256_sub_epi16(u_o, x_o);
        v_e = _mm256_sub_epi16(u_e, _mm256_slli_epi16(d_e, 6));
        v_o = _mm256_sub_epi16(u_o, _mm256_slli_epi16(d_o, 6));
        v = _mm256_add_epi16(v_e, v_o); /* |v_e|, |v_o| <= 64 * 255: no overflow */
        q = prefix16_avx2(v);
        s_o = _mm256_add_epi16(s, q);
        s_e = _mm256_sub_epi16(s_o, v_o);
        hit = _mm256_or_si256(_mm256_cmpeq_epi16(s_e, ones), _mm256_cmpeq_epi16(s_o, ones));
        if (!_mm256_testz_si256(hit, hit))
            break;
        u = _mm256_add_epi16(u, last16_avx2(p));
        s = _mm256_add_epi16(s, last16_avx2(q));
        sum_v = _mm256_add_epi32(sum_v, _mm256_madd_epi16(v, one));
        zmask = zm;
        i += 32;
    }

    t = _mm_add_epi32(_mm256_castsi256_si128(sum_v), _mm256_extracti128_si256(sum_v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    *s2 += (uint32_t)_mm_cvtsi128_si32(t);
    *u1 = (uint32_t)(uint16_t)_mm_extract_epi16(_mm256_castsi256_si128(u), 0);
    *tz = (zmask >> 31) != 0 ? (size_t)__builtin_clz(~zmask) : 0;
    return i;
}

#else

static int avx2_available(void)
{
    return 0;
}

#endif

/* --------------------------------------------------------------- chunker */

zck_chunker *zck_chunker_new(void)
{
    zck_chunker *c = (zck_chunker *)malloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    c->avx2 = avx2_available();
    zck_chunker_reset(c);
    return c;
}

void zck_chunker_free(zck_chunker *c)
{
    free(c);
}

void zck_chunker_reset(zck_chunker *c)
{
    int avx2;
    if (c == NULL)
        return;
    avx2 = c->avx2;
    memset(c, 0, sizeof(*c));
    c->avx2 = avx2;
    c->s1 = ZCK_S1_INIT;
    c->s2 = ZCK_S2_INIT;
}

size_t zck_chunker_sizeof(const zck_chunker *c)
{
    return c == NULL ? 0 : sizeof(*c);
}

uint64_t zck_chunker_settled(const zck_chunker *c)
{
    if (c == NULL)
        return 0;
    return c->zrun > 0 ? c->run_start : c->pos;
}

uint64_t zck_chunker_position(const zck_chunker *c)
{
    return c == NULL ? 0 : c->pos;
}

/* Record a cut at `end` (> chunk_start, checked by callers). */
static void emit(zck_chunker *c, zck_cut_sink *o, uint64_t end, uint32_t zeros)
{
    if (c->q_len == 0 && o->n < o->cap) {
        o->cuts[o->n].end = end;
        o->cuts[o->n].zeros = zeros;
        o->n++;
    } else {
        /* Cannot overflow: processing stops after any step that queued a cut,
         * and one step emits at most ZCK_WINDOW + 1 cuts. */
        size_t slot = (c->q_head + c->q_len) % ZCK_QUEUE_CAP;
        c->queue[slot].end = end;
        c->queue[slot].zeros = zeros;
        c->q_len++;
    }
    c->chunk_start = end;
}

static void drain(zck_chunker *c, zck_cut_sink *o)
{
    while (c->q_len > 0 && o->n < o->cap) {
        o->cuts[o->n++] = c->queue[c->q_head];
        c->q_head = (c->q_head + 1) % ZCK_QUEUE_CAP;
        c->q_len--;
    }
}

/* Index of the first non-zero byte of b[i..end), or end. */
static size_t skip_zeros(const uint8_t *b, size_t i, size_t end)
{
    while (i < end && ((uintptr_t)(b + i) & 7u) != 0 && b[i] == 0)
        i++;
    while (end - i >= 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != 0)
            break;
        i += 8;
    }
    while (i < end && b[i] == 0)
        i++;
    return i;
}

/* Resolve a pending zero run that ended (by a non-zero byte or EOF) at `end`. */
static void end_run(zck_chunker *c, zck_cut_sink *o, uint64_t end)
{
    if (c->zrun >= ZCK_HOLE_MIN) {
        emit(c, o, end, 1);
    } else {
        uint32_t k;
        for (k = 0; k < c->n_tent; k++)
            emit(c, o, c->tent[k], 0);
    }
    c->zrun = 0;
    c->n_tent = 0;
}

#define ZCK_ONES64 UINT64_C(0x0101010101010101)
#define ZCK_HIGHS64 UINT64_C(0x8080808080808080)

/* Roll the non-zero byte b[i + k] (part of the 8-byte fast path of run()). */
#define ZCK_ROLL_DATA(k)                                       \
    {                                                          \
        uint32_t ch_ = b[i + (k)], d_ = b[i + (k)-ZCK_WINDOW]; \
        u1 += ch_ - d_;                                        \
        s2 += u1 - (d_ << 6);                                  \
        if ((s2 & ZCK_SPLIT_MASK) == ZCK_SPLIT_MASK) {         \
            emit(c, o, pos0 + i + (k) + 1, 0);                 \
            if (c->q_len > 0) {                                \
                i += (k) + 1;                                  \
                goto out;                                      \
            }                                                  \
        }                                                      \
    }

/* Process b[i..end).  b[i - 64 .. i) must be the 64 bytes before b[i] in the
 * stream; the stream offset of b[k] is pos0 + k (mod 2^64).  Returns the index
 * where processing stopped (end, or earlier when cuts were queued). */
static size_t run(zck_chunker *c, zck_cut_sink *o, const uint8_t *b, size_t i, size_t end, uint64_t pos0)
{
    /* Rolling a byte is s1 += ch - d; s2 += s1 - 64 * (d + 31).  With
     * u1 = s1 - 64 * 31 (the plain sum of the window) the second step is
     * s2 += u1 - 64 * d, one operation less in the hot loop. */
    uint32_t u1 = c->s1 - ZCK_S1_INIT;
    uint32_t s2 = c->s2;
#if ZCK_CHUNKER_HAVE_AVX2
    size_t simd_from = i; /* scan_avx2 is not retried before here */
#endif

    while (i < end) {
        if (c->zrun == 0) {
            /* Hot loop: non-zero data bytes, eight at a time when none of the
             * eight is zero (the usual case), else one at a time.  With AVX2,
             * scan_avx2 first takes what it can (zeros included); the block
             * it stops at is done here before it is tried again. */
            for (;;) {
                uint32_t ch, d;
#if ZCK_CHUNKER_HAVE_AVX2
                if (c->avx2 && i >= simd_from && end - i >= 32) {
                    size_t tz;
                    i = scan_avx2(b, i, end, &u1, &s2, &tz);
                    simd_from = i + 32;
                    if (tz > 0) {
                        c->zrun = tz; /* it ended inside a zero run */
                        break;
                    }
                }
#endif
                if (end - i >= 8) {
                    uint64_t v;
                    memcpy(&v, b + i, 8);
                    if (((v - ZCK_ONES64) & ~v & ZCK_HIGHS64) == 0) {
                        ZCK_ROLL_DATA(0)
                        ZCK_ROLL_DATA(1)
                        ZCK_ROLL_DATA(2)
                        ZCK_ROLL_DATA(3)
                        ZCK_ROLL_DATA(4)
                        ZCK_ROLL_DATA(5)
                        ZCK_ROLL_DATA(6)
                        ZCK_ROLL_DATA(7)
                        i += 8;
                        continue;
                    }
                } else if (i == end) {
                    goto out;
                }
                ch = b[i];
                if (ch == 0)
                    break;
                d = b[i - ZCK_WINDOW];
                u1 += ch - d;
                s2 += u1 - (d << 6);
                i++;
                if ((s2 & ZCK_SPLIT_MASK) == ZCK_SPLIT_MASK) {
                    emit(c, o, pos0 + i, 0);
                    if (c->q_len > 0)
                        goto out;
                }
            }
            c->run_start = pos0 + i - c->zrun; /* zrun: 0, or what scan_avx2 left */
        }
        /* Inside a zero run. */
        while (i < end && b[i] == 0) {
            if (c->zrun < ZCK_WINDOW) {
                uint32_t d = b[i - ZCK_WINDOW];
                u1 -= d;
                s2 += u1 - (d << 6);
                i++;
                c->zrun++;
                if ((s2 & ZCK_SPLIT_MASK) == ZCK_SPLIT_MASK)
                    c->tent[c->n_tent++] = pos0 + i; /* at most 64: only here */
            } else {
                /* The window is all zeros: the state is the initial one and
                 * stays so, and no split can happen. */
                size_t j = skip_zeros(b, i, end);
                c->zrun += (uint64_t)(j - i);
                i = j;
                if (c->zrun >= ZCK_HOLE_MIN) {
                    c->n_tent = 0;
                    if (c->run_start > c->chunk_start) {
                        emit(c, o, c->run_start, 0); /* data chunk before the hole */
                        if (c->q_len > 0)
                            goto out;
                    }
                }
            }
        }
        if (i == end)
            break;
        /* b[i] is non-zero: the run is over. */
        end_run(c, o, pos0 + i);
        if (c->q_len > 0)
            goto out;
    }
out:
    c->s1 = u1 + ZCK_S1_INIT;
    c->s2 = s2;
    return i;
}

static void finish(zck_chunker *c, zck_cut_sink *o)
{
    if (c->zrun > 0)
        end_run(c, o, c->pos);
    if (c->pos > c->chunk_start)
        emit(c, o, c->pos, 0);
    c->finished = 1;
}

int zck_chunker_feed(zck_chunker *c, const uint8_t *data, size_t len, int at_eof,
                     zck_cut *cuts, size_t cap, size_t *n_cuts, size_t *consumed)
{
    zck_cut_sink o;
    size_t used = 0;

    if (n_cuts != NULL)
        *n_cuts = 0;
    if (consumed != NULL)
        *consumed = 0;
    ZCK_RETURN_IF(c == NULL || cuts == NULL || n_cuts == NULL || consumed == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(data == NULL && len > 0, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(cap == 0, ZCK_E_CAPACITY);

    o.cuts = cuts;
    o.cap = cap;
    o.n = 0;
    drain(c, &o);
    if (c->finished) {
        *n_cuts = o.n;
        return len > 0 ? ZCK_E_STATE : ZCK_OK;
    }
    if (c->q_len > 0) {
        *n_cuts = o.n;
        return ZCK_OK;
    }
    ZCK_RETURN_IF(len > UINT64_MAX - c->pos, ZCK_E_OVERFLOW);

    if (len > 0) {
        uint8_t stage[2 * ZCK_WINDOW];
        size_t m = ZCK_MIN(len, (size_t)ZCK_WINDOW);
        uint64_t base = c->pos;

        memcpy(stage, c->hist, ZCK_WINDOW);
        memcpy(stage + ZCK_WINDOW, data, m);
        used = run(c, &o, stage, ZCK_WINDOW, ZCK_WINDOW + m, base - ZCK_WINDOW) - ZCK_WINDOW;
        if (used == m && m < len && c->q_len == 0)
            used = run(c, &o, data, ZCK_WINDOW, len, base);
        if (used >= ZCK_WINDOW)
            memcpy(c->hist, data + used - ZCK_WINDOW, ZCK_WINDOW);
        else
            memcpy(c->hist, stage + used, ZCK_WINDOW); /* old tail + data[0..used) */
        c->pos = base + used;
    }
    if (at_eof && used == len && c->q_len == 0)
        finish(c, &o);
    *n_cuts = o.n;
    *consumed = used;
    return ZCK_OK;
}
