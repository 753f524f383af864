/* test_zck.c - standalone test of the zck C API, meant to run under
 * AddressSanitizer/UndefinedBehaviorSanitizer and valgrind:
 *
 *     make -C csrc sanitize-test      (or: make -C csrc test / valgrind)
 *
 * Exercises every public function, including error paths.  Exits non-zero on
 * the first failed check. */
#include "zck_internal.h"

#include <stdio.h>

static int failures = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                    \
        }                                                                  \
    } while (0)

#define CHECK_RC(expr, want)                                               \
    do {                                                                   \
        int rc_ = (expr);                                                  \
        if (rc_ != (want)) {                                               \
            fprintf(stderr, "%s:%d: %s returned %s, want %s\n", __FILE__, __LINE__, #expr, \
                    zck_error_name(rc_), zck_error_name(want));            \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* Deterministic pseudo-random bytes (xorshift64). */
static void fill_random(uint8_t *p, size_t n, uint64_t seed, int nonzero)
{
    uint64_t x = seed * 2654435761u + 88172645463325252u;
    size_t i;
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
        if (nonzero && p[i] == 0)
            p[i] = 1;
    }
}

/* ------------------------------------------------------------------ crc */

static void test_crc64(void)
{
    static const struct {
        const char *s;
        uint64_t crc;
    } v[] = {
        {"foo", UINT64_C(0x3c3c303000000000)},
        {"bar", UINT64_C(0x2dc416f000000000)},
        {"123456789", UINT64_C(0xb90956c775a41001)},
        {"hello", UINT64_C(0x3c3eeee2d8100000)},
        {"imma hurr til I derp", UINT64_C(0x0274a4b1abec6b4e)},
    };
    uint8_t buf[1000];
    size_t i, cut;
    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        CHECK(zck_crc64_update(0, (const uint8_t *)v[i].s, strlen(v[i].s)) == v[i].crc);
    fill_random(buf, sizeof(buf), 1, 0);
    for (cut = 0; cut <= sizeof(buf); cut += 37) {
        uint64_t a = zck_crc64_update(0, buf, cut);
        CHECK(zck_crc64_update(a, buf + cut, sizeof(buf) - cut) == zck_crc64_update(0, buf, sizeof(buf)));
    }
    CHECK(zck_crc64_update(0, NULL, 0) == 0);
    CHECK(zck_crc64_update(42, NULL, 0) == 42);
}

/* -------------------------------------------------------------- chunker */

#define MAX_CUTS 4096

typedef struct {
    zck_cut cuts[MAX_CUTS];
    size_t n;
} cut_list;

/* Chunk data fed in pieces of `piece` bytes with an output array of `cap`. */
static int chunk(const uint8_t *data, size_t len, size_t piece, size_t cap, cut_list *out)
{
    zck_chunker *c = zck_chunker_new();
    zck_cut *tmp = (zck_cut *)malloc(cap * sizeof(*tmp));
    size_t pos = 0;
    int rc = ZCK_OK;
    out->n = 0;
    if (c == NULL || tmp == NULL) {
        zck_chunker_free(c);
        free(tmp);
        return ZCK_E_NOMEM;
    }
    for (;;) {
        size_t n = ZCK_MIN(piece, len - pos);
        int eof = pos + n == len;
        size_t off = 0;
        for (;;) {
            size_t got, used, k;
            rc = zck_chunker_feed(c, data + pos + off, n - off, eof, tmp, cap, &got, &used);
            if (rc != ZCK_OK)
                goto done;
            for (k = 0; k < got && out->n < MAX_CUTS; k++)
                out->cuts[out->n++] = tmp[k];
            off += used;
            if (off == n && got < cap)
                break;
        }
        pos += n;
        if (eof)
            break;
    }
done:
    zck_chunker_free(c);
    free(tmp);
    return rc;
}

static int same_cuts(const cut_list *a, const cut_list *b)
{
    size_t i;
    if (a->n != b->n)
        return 0;
    for (i = 0; i < a->n; i++) {
        if (a->cuts[i].end != b->cuts[i].end || a->cuts[i].zeros != b->cuts[i].zeros)
            return 0;
    }
    return 1;
}

static int has_cut(const cut_list *l, uint64_t end, uint32_t zeros)
{
    size_t i;
    for (i = 0; i < l->n; i++) {
        if (l->cuts[i].end == end && l->cuts[i].zeros == zeros)
            return 1;
    }
    return 0;
}

static void test_chunker(void)
{
    static cut_list a, b;
    size_t len = 600000, i;
    uint8_t *data = (uint8_t *)malloc(len);
    zck_chunker *c;
    zck_cut cuts[4];
    size_t n, used;
    static const size_t pieces[] = {1, 7, 63, 64, 65, 4096, 100000};
    static const size_t caps[] = {1, 2, 100};

    CHECK(data != NULL);
    if (data == NULL)
        return;
    /* random data (no zeros) with a 5000-zero hole at 100000 and a 1000-zero
     * run (data) at 300000 */
    fill_random(data, len, 7, 1);
    memset(data + 100000, 0, 5000);
    memset(data + 300000, 0, 1000);
    CHECK_RC(chunk(data, len, len, 100, &a), ZCK_OK);
    CHECK(a.n > 3);
    CHECK(a.cuts[a.n - 1].end == len);
    CHECK(has_cut(&a, 100000, 0));
    CHECK(has_cut(&a, 105000, 1));
    for (i = 0; i < a.n; i++)
        CHECK(a.cuts[i].zeros == (a.cuts[i].end == 105000));
    for (i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        size_t k;
        for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
            CHECK_RC(chunk(data, len, pieces[i], caps[k], &b), ZCK_OK);
            CHECK(same_cuts(&a, &b));
        }
    }

    /* zero runs at the edges */
    memset(data, 0, 3000);
    CHECK_RC(chunk(data, 3000, 3000, 10, &b), ZCK_OK);
    CHECK(b.n == 1 && b.cuts[0].end == 3000 && b.cuts[0].zeros == 1);
    CHECK_RC(chunk(data, 1024, 1, 1, &b), ZCK_OK);
    CHECK(b.n == 1 && b.cuts[0].zeros == 1);
    CHECK_RC(chunk(data, 1023, 5, 1, &b), ZCK_OK);
    CHECK(b.n == 1 && b.cuts[0].end == 1023 && b.cuts[0].zeros == 0);
    CHECK_RC(chunk(data, 0, 1, 1, &b), ZCK_OK);
    CHECK(b.n == 0);

    /* API errors and state */
    c = zck_chunker_new();
    CHECK(c != NULL);
    CHECK_RC(zck_chunker_feed(NULL, data, 1, 0, cuts, 4, &n, &used), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_chunker_feed(c, NULL, 1, 0, cuts, 4, &n, &used), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_chunker_feed(c, data, 1, 0, NULL, 4, &n, &used), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_chunker_feed(c, data, 1, 0, cuts, 0, &n, &used), ZCK_E_CAPACITY);
    fill_random(data, 10, 3, 1);
    memset(data + 10, 0, 20);
    CHECK_RC(zck_chunker_feed(c, data, 30, 0, cuts, 4, &n, &used), ZCK_OK);
    CHECK(used == 30 && zck_chunker_settled(c) == 10 && zck_chunker_position(c) == 30);
    CHECK_RC(zck_chunker_feed(c, NULL, 0, 1, cuts, 4, &n, &used), ZCK_OK);
    CHECK(n >= 1 && cuts[n - 1].end == 30);
    CHECK_RC(zck_chunker_feed(c, data, 1, 0, cuts, 4, &n, &used), ZCK_E_STATE);
    CHECK_RC(zck_chunker_feed(c, NULL, 0, 1, cuts, 4, &n, &used), ZCK_OK);
    CHECK(n == 0);
    zck_chunker_reset(c);
    CHECK(zck_chunker_position(c) == 0 && zck_chunker_settled(c) == 0);
    CHECK(zck_chunker_sizeof(c) > 0 && zck_chunker_sizeof(NULL) == 0);
    zck_chunker_free(c);
    zck_chunker_free(NULL);
    zck_chunker_reset(NULL);
    free(data);
}

/* --------------------------------------------------- skippable + footer */

static void test_footer(void)
{
    uint8_t hdr[8], tail[72];
    uint32_t len, nib;
    zck_footer f, g;

    CHECK_RC(zck_skippable_write(5, hdr), ZCK_OK);
    CHECK(memcmp(hdr, "\x50\x2a\x4d\x18\x05\0\0\0", 8) == 0);
    CHECK_RC(zck_skippable_parse(hdr, &len, &nib), ZCK_OK);
    CHECK(len == 5 && nib == 0);
    CHECK_RC(zck_skippable_write(UINT64_C(1) << 32, hdr), ZCK_E_OVERFLOW);
    CHECK_RC(zck_skippable_write(1, NULL), ZCK_E_INVALID_ARGUMENT);
    hdr[0] = 0x5f;
    CHECK_RC(zck_skippable_parse(hdr, &len, &nib), ZCK_OK);
    CHECK(nib == 0xf);
    hdr[0] = 0x40;
    CHECK_RC(zck_skippable_parse(hdr, &len, &nib), ZCK_E_SKIPPABLE_MAGIC);
    CHECK_RC(zck_skippable_parse(NULL, &len, &nib), ZCK_E_INVALID_ARGUMENT);

    memset(&f, 0, sizeof(f));
    f.toc_offset = 1008;
    f.toc_length = 200;
    f.toc_uncompressed = 900;
    f.tarsplit_offset = 1216;
    f.tarsplit_length = 50;
    f.tarsplit_uncompressed = 300;
    CHECK_RC(zck_footer_write(&f, tail), ZCK_OK);
    CHECK(memcmp(tail + 64, "GNUlInUx", 8) == 0);
    CHECK_RC(zck_footer_parse(tail, 72, 1216 + 50 + 72, &g), ZCK_OK);
    CHECK(g.version == 3 && g.toc_offset == 1008 && g.manifest_type == 1 && g.tarsplit_length == 50);
    CHECK(g.frame_offset == 1216 + 50);
    CHECK_RC(zck_footer_parse(tail, 72, 1216 + 50 + 71, &g), ZCK_E_FOOTER_TARSPLIT_RANGE);
    CHECK_RC(zck_footer_parse(tail, 72, 60, &g), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_footer_parse(tail, 40, 1000, &g), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_footer_parse(NULL, 72, 1000, &g), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_footer_write(NULL, tail), ZCK_E_INVALID_ARGUMENT);
    f.toc_offset = 4;
    CHECK_RC(zck_footer_write(&f, tail), ZCK_OK);
    CHECK_RC(zck_footer_parse(tail, 72, 2000, &g), ZCK_E_FOOTER_TOC_OFFSET);
    f.toc_offset = UINT64_MAX - 10;
    CHECK_RC(zck_footer_write(&f, tail), ZCK_OK);
    CHECK_RC(zck_footer_parse(tail, 72, UINT64_MAX, &g), ZCK_E_FOOTER_TOC_RANGE);
    f.toc_offset = 1008;
    f.tarsplit_offset = 1100;
    CHECK_RC(zck_footer_write(&f, tail), ZCK_OK);
    CHECK_RC(zck_footer_parse(tail, 72, 2000, &g), ZCK_E_FOOTER_OVERLAP);
    tail[70] ^= 1;
    CHECK_RC(zck_footer_parse(tail, 72, 2000, &g), ZCK_E_FOOTER_MAGIC);
    CHECK_RC(zck_footer_parse(tail, 7, 7, &g), ZCK_E_FOOTER_TRUNCATED);
}

/* ------------------------------------------------------- compress etc. */

static uint8_t *compress_copy(const uint8_t *src, size_t n, int level, size_t *out_len)
{
    size_t cap = zck_compress_bound(n);
    uint8_t *dst = (uint8_t *)malloc(cap);
    if (dst == NULL)
        return NULL;
    if (zck_compress_frame(level, src, n, dst, cap, out_len) != ZCK_OK) {
        free(dst);
        return NULL;
    }
    return dst;
}

static void test_framescan(void)
{
    uint8_t data[5000], blob[20000], junk[4] = {1, 2, 3, 4};
    size_t flen = 0, blen = 0, n, used, i;
    uint8_t *frame;
    zck_framescan *s;
    zck_frame_info recs[8];

    fill_random(data, sizeof(data), 5, 0);
    frame = compress_copy(data, sizeof(data), 3, &flen);
    CHECK(frame != NULL);
    if (frame == NULL)
        return;
    memcpy(blob, frame, flen);
    blen = flen;
    CHECK_RC(zck_skippable_write(3, blob + blen), ZCK_OK);
    memcpy(blob + blen + 8, "abc", 3);
    blen += 11;
    memcpy(blob + blen, frame, flen);
    blen += flen;

    s = zck_framescan_new();
    CHECK(s != NULL);
    /* byte by byte, with room for one record per call */
    {
        size_t got = 0;
        zck_frame_info all[3];
        for (i = 0; i < blen; i++) {
            CHECK_RC(zck_framescan_feed(s, blob + i, 1, recs, 1, &n, &used), ZCK_OK);
            CHECK(used == 1);
            if (n == 1 && got < 3)
                all[got++] = recs[0];
        }
        CHECK_RC(zck_framescan_finish(s), ZCK_OK);
        CHECK(got == 3);
        if (got == 3) {
            CHECK(all[0].offset == 0 && all[0].size == flen && all[0].kind == 0 && all[0].content_size == 5000);
            CHECK(all[1].offset == flen && all[1].size == 11 && all[1].kind == 1);
            CHECK(all[2].offset == flen + 11 && all[2].size == flen);
        }
    }
    /* cap 1 on the whole blob: stops early */
    zck_framescan_reset(s);
    CHECK_RC(zck_framescan_feed(s, blob, blen, recs, 1, &n, &used), ZCK_OK);
    CHECK(n == 1 && used < blen);
    CHECK_RC(zck_framescan_feed(s, blob + used, blen - used, recs, 8, &n, &used), ZCK_OK);
    CHECK(n == 2);
    /* garbage after the blob */
    CHECK_RC(zck_framescan_feed(s, junk, 4, recs, 8, &n, &used), ZCK_E_FRAME_GARBAGE);
    CHECK(zck_framescan_error_offset(s) == blen);
    CHECK_RC(zck_framescan_feed(s, blob, 4, recs, 8, &n, &used), ZCK_E_FRAME_GARBAGE);
    CHECK_RC(zck_framescan_finish(s), ZCK_E_FRAME_GARBAGE);
    /* truncation */
    zck_framescan_reset(s);
    CHECK_RC(zck_framescan_feed(s, blob, flen - 1, recs, 8, &n, &used), ZCK_OK);
    CHECK_RC(zck_framescan_finish(s), ZCK_E_FRAME_TRUNCATED);
    CHECK(zck_framescan_error_offset(s) == 0);
    /* arguments */
    CHECK_RC(zck_framescan_feed(s, blob, 1, recs, 0, &n, &used), ZCK_E_CAPACITY);
    CHECK_RC(zck_framescan_feed(NULL, blob, 1, recs, 1, &n, &used), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_framescan_finish(NULL), ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_framescan_sizeof(s) > 0);
    zck_framescan_free(s);
    zck_framescan_free(NULL);
    free(frame);
}

#define POOL_JOBS 24

static void test_pool(void)
{
    static uint8_t src[POOL_JOBS][70000];
    static zck_job jobs[4][POOL_JOBS], spare[POOL_JOBS];
    uint8_t *dst[4][POOL_JOBS];
    unsigned threads[4] = {0, 1, 2, 7};
    int err, t, j;
    zck_pool *p;

    for (j = 0; j < POOL_JOBS; j++) {
        fill_random(src[j], sizeof(src[j]), (uint64_t)j, 0);
        if (j % 3 == 0)
            memset(src[j] + 1000, 'a', 30000);
    }
    for (t = 0; t < 4; t++) {
        p = zck_pool_new(threads[t], 3, &err);
        CHECK(p != NULL && err == ZCK_OK);
        if (p == NULL)
            return;
        CHECK(zck_pool_threads(p) == threads[t] && zck_pool_sizeof(p) > 0);
        CHECK_RC(zck_pool_wait(p), ZCK_E_NOT_SUBMITTED);
        for (j = 0; j < POOL_JOBS; j++) {
            size_t n = (size_t)(j * 2917) % sizeof(src[j]);
            dst[t][j] = (uint8_t *)malloc(zck_compress_bound(n));
            jobs[t][j].src = src[j];
            jobs[t][j].src_size = n;
            jobs[t][j].dst = dst[t][j];
            jobs[t][j].dst_capacity = zck_compress_bound(n);
        }
        CHECK_RC(zck_pool_submit(p, jobs[t], POOL_JOBS), ZCK_OK);
        CHECK_RC(zck_pool_submit(p, jobs[t], POOL_JOBS), ZCK_E_BUSY);
        CHECK_RC(zck_pool_wait(p), ZCK_OK);
        CHECK_RC(zck_pool_wait(p), ZCK_E_NOT_SUBMITTED);
        CHECK_RC(zck_pool_submit(p, NULL, 0), ZCK_OK);
        CHECK_RC(zck_pool_wait(p), ZCK_OK);
        /* a failing job: output too small */
        jobs[t][0].dst_capacity = 3;
        CHECK_RC(zck_pool_submit(p, jobs[t], 2), ZCK_OK);
        CHECK_RC(zck_pool_wait(p), ZCK_E_DST_TOO_SMALL);
        CHECK(jobs[t][0].error == ZCK_E_DST_TOO_SMALL && jobs[t][1].error == ZCK_OK);
        jobs[t][0].dst_capacity = zck_compress_bound(jobs[t][0].src_size);
        CHECK_RC(zck_pool_submit(p, jobs[t], POOL_JOBS), ZCK_OK);
        CHECK_RC(zck_pool_wait(p), ZCK_OK);
        /* free with a batch in flight (a copy: with 0 threads it never runs) */
        memcpy(spare, jobs[t], sizeof(spare));
        CHECK_RC(zck_pool_submit(p, spare, POOL_JOBS), ZCK_OK);
        zck_pool_free(p);
    }
    for (j = 0; j < POOL_JOBS; j++) {
        size_t got = 0;
        uint8_t *ref = compress_copy(src[j], jobs[0][j].src_size, 3, &got);
        CHECK(ref != NULL && got == jobs[0][j].dst_size);
        for (t = 0; t < 4; t++) {
            CHECK(jobs[t][j].error == ZCK_OK && jobs[t][j].dst_size == jobs[0][j].dst_size);
            CHECK(ref != NULL && memcmp(dst[t][j], ref, got) == 0);
            free(dst[t][j]);
        }
        free(ref);
    }
    CHECK(zck_pool_new(1, 1000, &err) == NULL && err == ZCK_E_LEVEL);
    CHECK(zck_pool_new(1, 1000, NULL) == NULL);
    zck_pool_free(NULL);
    CHECK_RC(zck_pool_submit(NULL, NULL, 0), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_pool_wait(NULL), ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_level_min() < 0 && zck_level_max() >= 19);
    {
        size_t out = 1;
        uint8_t small[4];
        CHECK_RC(zck_compress_frame(3, src[0], 1000, small, sizeof(small), &out), ZCK_E_DST_TOO_SMALL);
        CHECK_RC(zck_compress_frame(1000, src[0], 1000, small, sizeof(small), &out), ZCK_E_LEVEL);
        CHECK_RC(zck_compress_frame(3, NULL, 1, small, sizeof(small), &out), ZCK_E_INVALID_ARGUMENT);
    }
}

/* Compress src as one streamed frame in pieces of `piece` bytes. */
static size_t stream(zck_cstream *cs, const uint8_t *src, size_t len, size_t piece, uint8_t *out, size_t cap)
{
    size_t pos = 0, total = 0;
    int done = 0;
    while (!done) {
        size_t n = ZCK_MIN(piece, len - pos), off = 0;
        int end = pos + n == len;
        do {
            size_t w, c;
            if (zck_cstream_compress(cs, src + pos + off, n - off, end, out + total, ZCK_MIN((size_t)1000, cap - total),
                                     &w, &c, &done) != ZCK_OK)
                return 0;
            total += w;
            off += c;
        } while (off < n || (end && !done));
        pos += n;
    }
    return total;
}

static void test_cstream(void)
{
    size_t len = 400000, cap = zck_compress_bound(400000) + 1000, a, b;
    uint8_t *src = (uint8_t *)malloc(len), *o1 = (uint8_t *)malloc(cap), *o2 = (uint8_t *)malloc(cap);
    uint8_t *back = (uint8_t *)malloc(len);
    zck_cstream *cs;
    zck_djob job;
    int err;

    CHECK(src && o1 && o2 && back);
    if (!(src && o1 && o2 && back))
        goto out;
    fill_random(src, len, 11, 0);
    memset(src + 50000, 'x', 100000);
    cs = zck_cstream_new(3, &err);
    CHECK(cs != NULL && err == ZCK_OK && zck_cstream_sizeof(cs) > 0 && zck_cstream_out_size() > 0);
    if (cs == NULL)
        goto out;
    a = stream(cs, src, len, len, o1, cap);
    b = stream(cs, src, len, 777, o2, cap);
    CHECK(a > 0 && a == b && memcmp(o1, o2, a) == 0);
    b = stream(cs, src, len, 131072, o2, cap);
    CHECK(a == b && memcmp(o1, o2, a) == 0);
    job.src = o1;
    job.src_size = a;
    job.dst = back;
    job.dst_size = len;
    CHECK_RC(zck_decompress_batch(0, &job, 1), ZCK_OK);
    CHECK(job.produced == len && memcmp(back, src, len) == 0);
    CHECK(zck_cstream_new(1000, &err) == NULL && err == ZCK_E_LEVEL);
    {
        size_t w, c;
        int d;
        CHECK_RC(zck_cstream_compress(NULL, src, 1, 0, o1, cap, &w, &c, &d), ZCK_E_INVALID_ARGUMENT);
        CHECK_RC(zck_cstream_compress(cs, NULL, 1, 0, o1, cap, &w, &c, &d), ZCK_E_INVALID_ARGUMENT);
    }
    zck_cstream_free(cs);
    zck_cstream_free(NULL);
out:
    free(src);
    free(o1);
    free(o2);
    free(back);
}

static void test_decompress(void)
{
    enum { N = 12 };
    static uint8_t src[N][50000], back[N][50000];
    uint8_t *frames[N];
    size_t flen[N];
    uint8_t *joined;
    zck_djob jobs[N];
    size_t total = 0;
    int i;

    for (i = 0; i < N; i++) {
        fill_random(src[i], sizeof(src[i]), (uint64_t)(100 + i), 0);
        memset(src[i], 'q', (size_t)i * 3000);
        frames[i] = compress_copy(src[i], sizeof(src[i]), 1, &flen[i]);
        CHECK(frames[i] != NULL);
        if (frames[i] == NULL)
            return;
        total += flen[i];
    }
    for (i = 0; i < N; i++) {
        jobs[i].src = frames[i];
        jobs[i].src_size = flen[i];
        jobs[i].dst = back[i];
        jobs[i].dst_size = sizeof(back[i]);
    }
    CHECK_RC(zck_decompress_batch(3, jobs, N), ZCK_OK);
    for (i = 0; i < N; i++)
        CHECK(jobs[i].produced == sizeof(back[i]) && memcmp(back[i], src[i], sizeof(back[i])) == 0);

    /* several frames + skippable in one source, extra trailing frames ignored */
    joined = (uint8_t *)malloc(total + 16);
    CHECK(joined != NULL);
    if (joined != NULL) {
        size_t pos = 0;
        memcpy(joined, frames[0], flen[0]);
        pos += flen[0];
        (void)zck_skippable_write(4, joined + pos);
        memcpy(joined + pos + 8, "abcd", 4);
        pos += 12;
        memcpy(joined + pos, frames[1], flen[1]);
        pos += flen[1];
        memcpy(joined + pos, frames[2], flen[2]);
        pos += flen[2];
        {
            static uint8_t two[100000];
            zck_djob j;
            j.src = joined;
            j.src_size = pos;
            j.dst = two;
            j.dst_size = sizeof(two);
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_OK);
            CHECK(memcmp(two, src[0], 50000) == 0 && memcmp(two + 50000, src[1], 50000) == 0);
            j.src_size = flen[0] + 12 + flen[1] - 1;
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_E_DATA_TRUNCATED);
            joined[flen[0] + 12 + flen[1] - 1] ^= 0x55; /* checksum byte of frame 2 */
            j.src_size = pos;
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_E_CHECKSUM);
        }
        free(joined);
    }
    jobs[5].src_size = 10;
    jobs[7].src = (const uint8_t *)"garbage!garbage!";
    jobs[7].src_size = 16;
    CHECK_RC(zck_decompress_batch(4, jobs, N), ZCK_E_DATA_TRUNCATED);
    CHECK(jobs[5].error == ZCK_E_DATA_TRUNCATED && jobs[7].error == ZCK_E_NOT_ZSTD && jobs[6].error == ZCK_OK);
    CHECK_RC(zck_decompress_batch(0, NULL, 0), ZCK_OK);
    CHECK_RC(zck_decompress_batch(0, NULL, 1), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_decompress_batch_ex(0, 5, jobs, 1), ZCK_E_INVALID_ARGUMENT);
    for (i = 0; i < N; i++)
        free(frames[i]);
}

static void test_errors(void)
{
    int code;
    for (code = 0; code < 100; code++) {
        CHECK(zck_error_name(code) != NULL && zck_error_message(code) != NULL);
    }
    CHECK(strcmp(zck_error_name(ZCK_E_FRAME_GARBAGE), "ZCK_E_FRAME_GARBAGE") == 0);
    CHECK(strcmp(zck_error_name(-1), "ZCK_E_UNKNOWN") == 0);
    CHECK(zck_zstd_version_number() >= 10400 && strlen(zck_zstd_version()) >= 5);
}

int main(void)
{
    test_errors();
    test_crc64();
    test_chunker();
    test_footer();
    test_framescan();
    test_pool();
    test_cstream();
    test_decompress();
    if (failures != 0) {
        fprintf(stderr, "test_zck: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_zck: all checks passed (libzstd %s)\n", zck_zstd_version());
    return 0;
}
