/* zck_internal.h - what every zck_*.c file includes: standard headers, the
 * public API, libzstd (stable API only), and small helpers. */
#ifndef ZCK_INTERNAL_H
#define ZCK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#ifdef ZSTD_STATIC_LINKING_ONLY
#error "zstd_chunked uses only the stable libzstd API; do not define ZSTD_STATIC_LINKING_ONLY"
#endif

/* ZSTD_findFrameCompressedSize, ZSTD_compress2 and the parameter API are
 * stable from v1.4.0 on. */
#if !defined(ZSTD_VERSION_NUMBER) || ZSTD_VERSION_NUMBER < 10400
#error "zstd_chunked needs libzstd >= 1.4.0 (zstd.h reports an older version)"
#endif

#include "zck.h"

/* Our sources are kept clean under these; they are switched on here rather than
 * on the command line so that cffi's generated glue is not held to them. */
#if defined(__GNUC__)
#pragma GCC diagnostic warning "-Wconversion"
#pragma GCC diagnostic warning "-Wsign-conversion"
#pragma GCC diagnostic warning "-Wshadow"
#endif

#define ZCK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ZCK_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Return code `err` from the current function if `cond` holds. */
#define ZCK_RETURN_IF(cond, err) \
    do {                         \
        if (cond) {              \
            return (err);        \
        }                        \
    } while (0)

/* Evaluate an int-returning call; return its code unless it is ZCK_OK. */
#define ZCK_FORWARD(expr)          \
    do {                           \
        int zck_fwd_rc_ = (expr);  \
        if (zck_fwd_rc_ != ZCK_OK) \
            return zck_fwd_rc_;    \
    } while (0)

#define ZCK_SKIPPABLE_HEADER_SIZE 8u
#define ZCK_SKIPPABLE_MAGIC 0x184D2A50u
#define ZCK_SKIPPABLE_MASK 0xFFFFFFF0u
#define ZCK_ZSTD_MAGIC 0xFD2FB528u
#define ZCK_BLOCK_MAX ((uint32_t)1 << 17)
#define ZCK_DEFAULT_WINDOWLOG_MAX 27u

static inline uint32_t zck_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint64_t zck_load_le64(const uint8_t *p)
{
    return (uint64_t)zck_load_le32(p) | ((uint64_t)zck_load_le32(p + 4) << 32);
}

static inline void zck_store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void zck_store_le64(uint8_t *p, uint64_t v)
{
    zck_store_le32(p, (uint32_t)v);
    zck_store_le32(p + 4, (uint32_t)(v >> 32));
}

/* a + b into *out; returns 0 on overflow. */
static inline int zck_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b)
        return 0;
    *out = a + b;
    return 1;
}

/* Go JSON output pieces (zck_json.c).  Each writes at dst, which the caller
 * has sized, and returns the bytes written. */
static inline size_t zck_put_bytes(uint8_t *dst, const char *s, size_t n)
{
    memcpy(dst, s, n);
    return n;
}
#define ZCK_PUT_LITERAL(dst, lit) zck_put_bytes((dst), (lit), sizeof(lit) - 1)
#define ZCK_MAX_DIGITS 20u /* decimal digits of any 64-bit integer, sign included */
size_t zck_put_u64(uint8_t *dst, uint64_t v);
size_t zck_put_i64(uint8_t *dst, int64_t v);
/* Padded standard base64 of n bytes: its length (0 on overflow, n > 0), the text. */
size_t zck_base64_len(size_t n);
size_t zck_put_base64(uint8_t *dst, const uint8_t *p, size_t n);
/* p[0..n) quoted (enum zck_json_flavor); dst has room for zck_json_quote_bound(n). */
size_t zck_put_json_string(uint8_t *dst, const uint8_t *p, size_t n, int flavor);

/* A growable text buffer: data[0..len) written, cap allocated. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} zck_textbuf;
/* Room for `extra` more bytes after len.  Errors: ZCK_E_OVERFLOW, ZCK_E_NOMEM
 * (the buffer is unchanged). */
int zck_textbuf_reserve(zck_textbuf *b, size_t extra);
void zck_textbuf_free(zck_textbuf *b);

/* Map a libzstd error result to a zck code (needs zstd_errors.h, a stable header). */
int zck_from_zstd_error(size_t zstd_result);

/* Compression context set up the same way everywhere (level, checksum on,
 * content size on).  Returns ZCK_OK or an error code. */
int zck_cctx_setup(ZSTD_CCtx *cctx, int level);
/* ZCK_OK if level is inside libzstd's supported range. */
int zck_check_level(int level);

/* Incremental SHA-256 (zck_sha256.c).  `ni` selects the SHA-NI block
 * function; pass zck_sha256_ni_available() (cached by the caller: on some
 * compilers it executes cpuid, which may trap to a hypervisor). */
typedef struct {
    uint32_t h[8];
    uint64_t total;  /* bytes hashed so far */
    uint8_t buf[64];
    size_t buf_len;
    int ni;
} zck_sha256_ctx;

int zck_sha256_ni_available(void);
void zck_sha256_init(zck_sha256_ctx *c, int use_ni);
void zck_sha256_update(zck_sha256_ctx *c, const uint8_t *p, size_t n);
void zck_sha256_final(zck_sha256_ctx *c, uint8_t out[32]);

/* Compress src into one frame exactly as zck_cstream would (an empty
 * ZSTD_e_continue first, no content size) on an already set-up cctx.
 * Errors: ZCK_E_DST_TOO_SMALL, ZCK_E_NOMEM, ZCK_E_ZSTD. */
int zck_stream_frame(ZSTD_CCtx *cctx, const uint8_t *src, size_t n, uint8_t *dst, size_t cap, size_t *written);

/* What a pool worker needs to run payload jobs (zck_payload.c). */
typedef struct {
    ZSTD_CCtx *cctx;       /* set up with zck_cctx_setup */
    zck_chunker *chunker;
    int sha_ni;            /* zck_sha256_ni_available(), cached */
} zck_pjob_worker;

/* Run one payload job; fills its output fields. */
void zck_pjob_run(zck_pjob_worker *w, zck_pjob *j);

#endif /* ZCK_INTERNAL_H */
