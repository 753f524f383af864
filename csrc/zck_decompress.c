/* zck_decompress.c - decompress many independent byte ranges at once.
 *
 * Each job's source is a run of zstd frames (skippable frames are skipped by
 * libzstd) that must yield exactly dst_size bytes.  Decoding goes through
 * ZSTD_decompressStream, which crosses frame boundaries and does not need
 * content sizes.  The caller's thread works too; nthreads - 1 helper threads
 * are started for the call, each with its own ZSTD_DCtx.  A job may ask for
 * its output to be checked (SHA-256, CRC-64) on the same thread, right after
 * it was produced. */
#include "zck_internal.h"
#include "zck_threads.h"

typedef struct {
    zck_mutex_t mu;
    zck_djob *jobs;
    size_t n;
    size_t next;
    unsigned windowlog_max;
    int sha_ni; /* zck_sha256_ni_available(), asked once per batch */
} zck_dbatch;

#define ZCK_CHECK_ALL ((uint32_t)(ZCK_CHECK_SHA256 | ZCK_CHECK_CRC64 | ZCK_CHECK_ONLY | ZCK_CHECK_EXACT))

/* The checks a job asked for, on the dst_size bytes at dst. */
static int check_output(const zck_djob *j, int sha_ni)
{
    if (j->checks & ZCK_CHECK_SHA256) {
        zck_sha256_ctx c;
        uint8_t got[32];
        zck_sha256_init(&c, sha_ni);
        zck_sha256_update(&c, j->dst, j->dst_size);
        zck_sha256_final(&c, got);
        if (memcmp(got, j->sha256, sizeof(got)) != 0)
            return ZCK_E_SHA256_MISMATCH;
    }
    if ((j->checks & ZCK_CHECK_CRC64) && zck_crc64_update(0, j->dst, j->dst_size) != j->crc64)
        return ZCK_E_CRC64_MISMATCH;
    return ZCK_OK;
}

static const uint8_t zck_dempty = 0;

/* A libzstd error while decoding.  Streaming never needs a larger output
 * buffer, so "destination too small" can only come from a frame whose
 * blocks hold more than its header declares: corrupt data. */
static int decode_error(size_t r)
{
    int e = zck_from_zstd_error(r);
    return e == ZCK_E_DST_TOO_SMALL ? ZCK_E_CORRUPT : e;
}

/* ZCK_CHECK_EXACT, once dst is full: the rest of the input must hold no more
 * bytes.  The current frame is finished (its checksum read), every later
 * frame must be empty or skippable, and the input must end on a frame
 * boundary.  r is libzstd's last return value (0: a frame just ended). */
static int drain_exact(ZSTD_DCtx *d, ZSTD_inBuffer *in, size_t r)
{
    uint8_t spare;
    for (;;) {
        ZSTD_outBuffer o;
        size_t in_before = in->pos;
        if (r == 0 && in->pos == in->size)
            return ZCK_OK;
        o.dst = &spare;
        o.size = 1;
        o.pos = 0;
        r = ZSTD_decompressStream(d, &o, in);
        if (ZSTD_isError(r))
            return decode_error(r);
        if (o.pos > 0)
            return ZCK_E_EXTRA_DATA;
        if (in->pos == in_before)
            return in->pos == in->size ? ZCK_E_DATA_TRUNCATED : ZCK_E_CORRUPT;
    }
}

static void decode_job(ZSTD_DCtx *d, zck_djob *j)
{
    ZSTD_inBuffer in;
    ZSTD_outBuffer out;
    size_t r = 0;
    int exact = (j->checks & ZCK_CHECK_EXACT) != 0;

    if (j->dst_size == 0 && !exact)
        return;
    if (d == NULL) {
        j->error = ZCK_E_NOMEM;
        return;
    }
    (void)ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    in.src = j->src != NULL ? j->src : &zck_dempty;
    in.size = j->src_size;
    in.pos = 0;
    out.dst = j->dst;
    out.size = j->dst_size;
    out.pos = 0;
    while (out.pos < out.size) {
        size_t in_before = in.pos, out_before = out.pos;
        r = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(r)) {
            j->error = decode_error(r);
            j->produced = out.pos;
            return;
        }
        if (in.pos == in_before && out.pos == out_before) {
            j->error = ZCK_E_DATA_TRUNCATED; /* input exhausted */
            j->produced = out.pos;
            return;
        }
    }
    if (exact) {
        j->error = drain_exact(d, &in, r);
        j->produced = out.pos;
        return;
    }
    /* All bytes are there.  If the frame that produced the last of them is
     * not finished yet, let libzstd read what remains of it (normally just
     * its checksum) so that the checksum is verified.  Stop when it completes,
     * or when it wants more output: the frame holds more than was asked for,
     * which is allowed.  Running out of input first means it was cut short. */
    while (r != 0) {
        size_t in_before = in.pos;
        r = ZSTD_decompressStream(d, &out, &in);
        if (ZSTD_isError(r)) {
            j->error = decode_error(r);
            break;
        }
        if (in.pos == in_before) {
            if (in.pos == in.size)
                j->error = ZCK_E_DATA_TRUNCATED;
            break;
        }
    }
    j->produced = out.pos;
}

static void decompress_job(ZSTD_DCtx *d, zck_djob *j, int sha_ni)
{
    j->produced = 0;
    j->error = ZCK_OK;
    if ((j->src == NULL && j->src_size > 0) || (j->dst == NULL && j->dst_size > 0) ||
        (j->checks & ~ZCK_CHECK_ALL) != 0 || j->reserved != 0 ||
        ((j->checks & ZCK_CHECK_ONLY) && j->src != NULL)) {
        j->error = ZCK_E_INVALID_ARGUMENT;
        return;
    }
    if (j->checks & ZCK_CHECK_ONLY)
        j->produced = j->dst_size;
    else
        decode_job(d, j);
    if (j->error == ZCK_OK)
        j->error = check_output(j, sha_ni);
}

static ZSTD_DCtx *make_dctx(unsigned windowlog_max)
{
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (d == NULL)
        return NULL;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, (int)windowlog_max))) {
        ZSTD_freeDCtx(d);
        return NULL;
    }
    return d;
}

static void run_batch(void *arg)
{
    zck_dbatch *b = (zck_dbatch *)arg;
    ZSTD_DCtx *d = make_dctx(b->windowlog_max);
    for (;;) {
        zck_djob *j;
        zck_mutex_lock(&b->mu);
        j = b->next < b->n ? &b->jobs[b->next++] : NULL;
        zck_mutex_unlock(&b->mu);
        if (j == NULL)
            break;
        decompress_job(d, j, b->sha_ni);
    }
    ZSTD_freeDCtx(d);
}

int zck_decompress_batch_ex(unsigned nthreads, unsigned windowlog_max, zck_djob *jobs, size_t n)
{
    zck_dbatch b;
    zck_thread_t *threads = NULL;
    unsigned helpers = 0, started = 0, i;
    size_t k;

    ZCK_RETURN_IF(jobs == NULL && n > 0, ZCK_E_INVALID_ARGUMENT);
    if (windowlog_max == 0)
        windowlog_max = ZCK_DEFAULT_WINDOWLOG_MAX;
    ZCK_RETURN_IF(windowlog_max < 10 || windowlog_max > 31, ZCK_E_INVALID_ARGUMENT);
    if (n == 0)
        return ZCK_OK;
    for (k = 0; k < n; k++) {
        jobs[k].produced = 0;
        jobs[k].error = ZCK_OK;
    }
    b.jobs = jobs;
    b.n = n;
    b.next = 0;
    b.windowlog_max = windowlog_max;
    b.sha_ni = zck_sha256_ni_available();
    ZCK_RETURN_IF(zck_mutex_init(&b.mu) != 0, ZCK_E_THREAD);

    if (nthreads > 1 && n > 1) {
        helpers = (unsigned)ZCK_MIN((size_t)(nthreads - 1), n - 1);
        threads = (zck_thread_t *)calloc(helpers, sizeof(*threads));
        if (threads == NULL)
            helpers = 0; /* degrade to the caller's thread alone */
    }
    for (i = 0; i < helpers; i++) {
        if (zck_thread_create(&threads[i], run_batch, &b) != 0)
            break; /* fewer helpers; the caller still finishes every job */
        started++;
    }
    run_batch(&b);
    for (i = 0; i < started; i++)
        (void)zck_thread_join(threads[i]);
    free(threads);
    zck_mutex_destroy(&b.mu);

    for (k = 0; k < n; k++) {
        if (jobs[k].error != ZCK_OK)
            return jobs[k].error;
    }
    return ZCK_OK;
}

int zck_decompress_batch(unsigned nthreads, zck_djob *jobs, size_t n)
{
    return zck_decompress_batch_ex(nthreads, 0, jobs, n);
}
