/* zck_compress.c - one-shot and streaming compression of single frames.
 *
 * Every frame the package writes uses the same parameters: the caller's
 * level, a content checksum (the reference writer's frames carry one) and
 * the content size whenever libzstd knows it.  ZSTD_compress2 output depends
 * only on those parameters and the input, which is what makes the pool's
 * output independent of the number of threads. */
#include "zck_internal.h"

/* A valid address for empty inputs (libzstd is never handed NULL). */
static const uint8_t zck_empty_byte = 0;

int zck_level_min(void)
{
    return ZSTD_minCLevel();
}

int zck_level_max(void)
{
    return ZSTD_maxCLevel();
}

int zck_check_level(int level)
{
    ZCK_RETURN_IF(level < ZSTD_minCLevel() || level > ZSTD_maxCLevel(), ZCK_E_LEVEL);
    return ZCK_OK;
}

int zck_cctx_setup(ZSTD_CCtx *cctx, int level)
{
    ZCK_RETURN_IF(cctx == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_FORWARD(zck_check_level(level));
    ZCK_FORWARD(zck_from_zstd_error(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)));
    ZCK_FORWARD(zck_from_zstd_error(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
    ZCK_FORWARD(zck_from_zstd_error(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)));
    return ZCK_OK;
}

size_t zck_compress_bound(size_t src_size)
{
    size_t b = ZSTD_compressBound(src_size);
    return ZSTD_isError(b) ? 0 : b;
}

int zck_compress_frame(int level, const uint8_t *src, size_t src_size,
                       uint8_t *dst, size_t dst_capacity, size_t *dst_size)
{
    ZSTD_CCtx *cctx;
    size_t r;
    int rc;

    if (dst_size != NULL)
        *dst_size = 0;
    ZCK_RETURN_IF(dst_size == NULL || (src == NULL && src_size > 0) || (dst == NULL && dst_capacity > 0),
                  ZCK_E_INVALID_ARGUMENT);
    ZCK_FORWARD(zck_check_level(level));
    cctx = ZSTD_createCCtx();
    ZCK_RETURN_IF(cctx == NULL, ZCK_E_NOMEM);
    rc = zck_cctx_setup(cctx, level);
    if (rc == ZCK_OK) {
        r = ZSTD_compress2(cctx, dst, dst_capacity, src != NULL ? src : &zck_empty_byte, src_size);
        rc = zck_from_zstd_error(r);
        if (rc == ZCK_OK)
            *dst_size = r;
    }
    ZSTD_freeCCtx(cctx);
    return rc;
}

/* ------------------------------------------------------------ streaming */

struct zck_cstream {
    ZSTD_CCtx *cctx;
    int in_frame; /* a frame has been started and not finished */
};

zck_cstream *zck_cstream_new(int level, int *err)
{
    zck_cstream *cs;
    int rc;

    if (err != NULL)
        *err = ZCK_OK;
    rc = zck_check_level(level);
    if (rc != ZCK_OK) {
        if (err != NULL)
            *err = rc;
        return NULL;
    }
    cs = (zck_cstream *)calloc(1, sizeof(*cs));
    if (cs != NULL)
        cs->cctx = ZSTD_createCCtx();
    if (cs == NULL || cs->cctx == NULL) {
        zck_cstream_free(cs);
        if (err != NULL)
            *err = ZCK_E_NOMEM;
        return NULL;
    }
    rc = zck_cctx_setup(cs->cctx, level);
    if (rc != ZCK_OK) {
        zck_cstream_free(cs);
        if (err != NULL)
            *err = rc;
        return NULL;
    }
    return cs;
}

void zck_cstream_free(zck_cstream *cs)
{
    if (cs == NULL)
        return;
    ZSTD_freeCCtx(cs->cctx);
    free(cs);
}

size_t zck_cstream_sizeof(const zck_cstream *cs)
{
    return cs == NULL ? 0 : sizeof(*cs) + ZSTD_sizeof_CCtx(cs->cctx);
}

size_t zck_cstream_out_size(void)
{
    return ZSTD_CStreamOutSize();
}

int zck_cstream_compress(zck_cstream *cs, const uint8_t *src, size_t len, int end_frame,
                         uint8_t *dst, size_t cap, size_t *written, size_t *consumed, int *done)
{
    ZSTD_inBuffer in;
    ZSTD_outBuffer out;
    size_t r;

    if (written != NULL)
        *written = 0;
    if (consumed != NULL)
        *consumed = 0;
    if (done != NULL)
        *done = 0;
    ZCK_RETURN_IF(cs == NULL || written == NULL || consumed == NULL || done == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF((src == NULL && len > 0) || (dst == NULL && cap > 0), ZCK_E_INVALID_ARGUMENT);

    out.dst = dst;
    out.size = cap;
    out.pos = 0;
    if (!cs->in_frame) {
        /* Start every frame with an empty ZSTD_e_continue call.  Otherwise a
         * frame passed whole with ZSTD_e_end would get its size pledged (and
         * parameters tuned to it), and the bytes would depend on how the
         * caller split the input. */
        in.src = &zck_empty_byte;
        in.size = 0;
        in.pos = 0;
        r = ZSTD_compressStream2(cs->cctx, &out, &in, ZSTD_e_continue);
        ZCK_FORWARD(zck_from_zstd_error(r));
        cs->in_frame = 1;
    }
    in.src = src;
    in.size = len;
    in.pos = 0;
    if (len > 0) {
        r = ZSTD_compressStream2(cs->cctx, &out, &in, ZSTD_e_continue);
        if (ZSTD_isError(r)) {
            (void)ZSTD_CCtx_reset(cs->cctx, ZSTD_reset_session_only);
            cs->in_frame = 0;
            *written = out.pos;
            return zck_from_zstd_error(r);
        }
    }
    *consumed = in.pos;
    if (end_frame && in.pos == in.size) {
        ZSTD_inBuffer none;
        none.src = &zck_empty_byte;
        none.size = 0;
        none.pos = 0;
        r = ZSTD_compressStream2(cs->cctx, &out, &none, ZSTD_e_end);
        if (ZSTD_isError(r)) {
            (void)ZSTD_CCtx_reset(cs->cctx, ZSTD_reset_session_only);
            cs->in_frame = 0;
            *written = out.pos;
            return zck_from_zstd_error(r);
        }
        if (r == 0) {
            *done = 1;
            cs->in_frame = 0;
        }
    }
    *written = out.pos;
    return ZCK_OK;
}

int zck_stream_frame(ZSTD_CCtx *cctx, const uint8_t *src, size_t n, uint8_t *dst, size_t cap, size_t *written)
{
    ZSTD_inBuffer in;
    ZSTD_outBuffer out;
    size_t r;

    *written = 0;
    ZCK_FORWARD(zck_from_zstd_error(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)));
    out.dst = dst;
    out.size = cap;
    out.pos = 0;
    /* The same calls as zck_cstream_compress: an empty ZSTD_e_continue (so
     * libzstd never learns the size), the data, then ZSTD_e_end.  Buffered
     * input makes the bytes independent of how the data is split. */
    in.src = &zck_empty_byte;
    in.size = 0;
    in.pos = 0;
    r = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue);
    in.src = src != NULL ? src : &zck_empty_byte;
    in.size = n;
    while (!ZSTD_isError(r) && in.pos < in.size) {
        size_t before_in = in.pos, before_out = out.pos;
        r = ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue);
        if (!ZSTD_isError(r) && in.pos == before_in && out.pos == before_out)
            break; /* output full: no progress possible */
    }
    if (!ZSTD_isError(r) && in.pos == in.size) {
        ZSTD_inBuffer none;
        none.src = &zck_empty_byte;
        none.size = 0;
        none.pos = 0;
        do {
            size_t before_out = out.pos;
            r = ZSTD_compressStream2(cctx, &out, &none, ZSTD_e_end);
            if (!ZSTD_isError(r) && r != 0 && out.pos == before_out)
                break;
        } while (!ZSTD_isError(r) && r != 0);
    }
    if (ZSTD_isError(r) || in.pos < in.size || r != 0) {
        (void)ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
        return ZSTD_isError(r) ? zck_from_zstd_error(r) : ZCK_E_DST_TOO_SMALL;
    }
    *written = out.pos;
    return ZCK_OK;
}
