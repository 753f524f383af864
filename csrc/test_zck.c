/* test_zck.c - standalone test of the zck C API, meant to run under
 * AddressSanitizer/UndefinedBehaviorSanitizer and valgrind:
 *
 *     make -C csrc sanitize-test      (or: make -C csrc test / valgrind)
 *
 * Exercises every public function, including error paths.  Exits non-zero on
 * the first failed check. */
#include "zck_internal.h"
#include "zck_threads.h"

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

    /* every implementation agrees with the tables, at every length and alignment
     * around the folding thresholds (64-byte steps, 16-byte tail, 128-byte minimum) */
    uint64_t out = 0;
    CHECK(zck_crc64_impl(99, 0, buf, 1, &out) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_crc64_impl(ZCK_CRC64_TABLES, 0, buf, 1, NULL) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_crc64_impl(ZCK_CRC64_TABLES, 0, NULL, 1, &out) == ZCK_E_INVALID_ARGUMENT);
    int clmul = zck_crc64_best() == ZCK_CRC64_CLMUL;
    printf("test_zck: CRC-64 best implementation: %s\n", clmul ? "CLMUL" : "tables");
    for (size_t start = 0; start < 17; start += 3) {
        for (size_t len = 0; start + len <= sizeof(buf); len += (len < 300 ? 1 : 61)) {
            uint64_t init = (uint64_t)len * UINT64_C(0x9E3779B97F4A7C15);
            uint64_t want = 0, got = 0;
            CHECK(zck_crc64_impl(ZCK_CRC64_TABLES, init, buf + start, len, &want) == ZCK_OK);
            CHECK(zck_crc64_impl(ZCK_CRC64_AUTO, init, buf + start, len, &got) == ZCK_OK && got == want);
            int rc = zck_crc64_impl(ZCK_CRC64_CLMUL, init, buf + start, len, &got);
            if (clmul)
                CHECK(rc == ZCK_OK && got == want);
            else
                CHECK(rc == ZCK_E_UNSUPPORTED);
        }
    }
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
        CHECK_RC(t >= 2 ? zck_pool_wait_assist(p) : zck_pool_wait(p), ZCK_OK);
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
    CHECK_RC(zck_pool_wait_assist(NULL), ZCK_E_INVALID_ARGUMENT);
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
    memset(&job, 0, sizeof(job));
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
    memset(jobs, 0, sizeof(jobs));
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
            memset(&j, 0, sizeof(j));
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

    /* checks on the produced bytes: SHA-256, CRC-64, check-only jobs, bad requests */
    memset(jobs, 0, sizeof(jobs));
    for (i = 0; i < 4; i++) {
        jobs[i].src = frames[i];
        jobs[i].src_size = flen[i];
        jobs[i].dst = back[i];
        jobs[i].dst_size = sizeof(back[i]);
        jobs[i].checks = ZCK_CHECK_SHA256 | ZCK_CHECK_CRC64;
        zck_sha256(src[i], sizeof(src[i]), jobs[i].sha256);
        jobs[i].crc64 = zck_crc64_update(0, src[i], sizeof(src[i]));
    }
    CHECK_RC(zck_decompress_batch(2, jobs, 4), ZCK_OK);
    jobs[2].sha256[31] ^= 1;
    jobs[3].crc64 ^= 1;
    CHECK_RC(zck_decompress_batch(2, jobs, 4), ZCK_E_SHA256_MISMATCH);
    CHECK(jobs[0].error == ZCK_OK && jobs[2].error == ZCK_E_SHA256_MISMATCH && jobs[3].error == ZCK_E_CRC64_MISMATCH);
    /* check-only: the bytes already in dst */
    jobs[2].sha256[31] ^= 1;
    jobs[2].src = NULL;
    jobs[2].src_size = 0;
    jobs[2].checks |= ZCK_CHECK_ONLY;
    CHECK_RC(zck_decompress_batch(1, jobs + 2, 1), ZCK_OK);
    CHECK(jobs[2].produced == sizeof(back[2]));
    back[2][7] ^= 1;
    CHECK_RC(zck_decompress_batch(1, jobs + 2, 1), ZCK_E_SHA256_MISMATCH);
    jobs[2].src = frames[2]; /* check-only with a source */
    CHECK_RC(zck_decompress_batch(1, jobs + 2, 1), ZCK_E_INVALID_ARGUMENT);
    jobs[1].checks = 16u; /* unknown bit */
    CHECK_RC(zck_decompress_batch(1, jobs + 1, 1), ZCK_E_INVALID_ARGUMENT);
    jobs[1].checks = 0;
    jobs[1].reserved = 1;
    CHECK_RC(zck_decompress_batch(1, jobs + 1, 1), ZCK_E_INVALID_ARGUMENT);
    CHECK(strcmp(zck_error_name(ZCK_E_CRC64_MISMATCH), "ZCK_E_CRC64_MISMATCH") == 0);

    /* EXACT: the source must hold exactly dst_size bytes */
    {
        static uint8_t two[100000];
        uint8_t *cat = (uint8_t *)malloc(flen[0] + flen[1] + 64);
        size_t empty_len = 0, pos;
        uint8_t *empty = compress_copy(src[0], 0, 1, &empty_len);
        zck_djob j;
        CHECK(cat != NULL && empty != NULL);
        if (cat != NULL && empty != NULL) {
            memcpy(cat, frames[0], flen[0]);
            pos = flen[0];
            memcpy(cat + pos, empty, empty_len); /* an empty frame ... */
            pos += empty_len;
            (void)zck_skippable_write(0, cat + pos); /* ... and an empty skippable one */
            pos += 8;
            memset(&j, 0, sizeof(j));
            j.src = cat;
            j.src_size = pos;
            j.dst = two;
            j.dst_size = 50000;
            j.checks = ZCK_CHECK_EXACT;
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_OK);
            CHECK(j.produced == 50000 && memcmp(two, src[0], 50000) == 0);
            memcpy(cat + pos, frames[1], flen[1]); /* a frame with bytes after the expected ones */
            j.src_size = pos + flen[1];
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_E_EXTRA_DATA);
            j.checks = 0; /* without EXACT the rest is ignored */
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_OK);
            j.checks = ZCK_CHECK_EXACT;
            j.src_size = pos + flen[1] - 3; /* input cut inside the extra frame */
            CHECK(zck_decompress_batch(1, &j, 1) != ZCK_OK);
            j.src_size = flen[0] - 2; /* cut inside the expected frame */
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_E_DATA_TRUNCATED);
            j.dst_size = 40000; /* fewer bytes expected than the frame holds */
            j.src_size = flen[0];
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_E_EXTRA_DATA);
            j.dst_size = 0; /* nothing expected: only empty frames allowed */
            j.src = empty;
            j.src_size = empty_len;
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_OK);
            j.src = cat;
            j.src_size = flen[0];
            CHECK_RC(zck_decompress_batch(1, &j, 1), ZCK_E_EXTRA_DATA);
        }
        free(cat);
        free(empty);
    }
    for (i = 0; i < N; i++)
        free(frames[i]);
}

/* -------------------------------------------------------------- SHA-256 */

static void hex32(const uint8_t *d, char *out)
{
    static const char digits[] = "0123456789abcdef";
    int i;
    for (i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = 0;
}

static void test_sha256(void)
{
    /* FIPS 180-2 appendix B / NIST example vectors */
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    int impls[2] = {ZCK_SHA256_PORTABLE, ZCK_SHA256_SHANI};
    int have_ni = zck_sha256_best() == ZCK_SHA256_SHANI;
    size_t big = 1000000, i, n;
    uint8_t *a = (uint8_t *)malloc(big), d1[32], d2[32];
    char hex[65];
    int k;

    CHECK(a != NULL);
    if (a == NULL)
        return;
    printf("test_zck: SHA-256 auto implementation: %s\n", have_ni ? "SHA-NI" : "portable");
    memset(a, 'a', big);
    for (k = 0; k < 2; k++) {
        if (impls[k] == ZCK_SHA256_SHANI && !have_ni) {
            CHECK_RC(zck_sha256_impl(ZCK_SHA256_SHANI, a, 3, d1), ZCK_E_UNSUPPORTED);
            continue;
        }
        for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
            CHECK_RC(zck_sha256_impl(impls[k], (const uint8_t *)v[i].msg, strlen(v[i].msg), d1), ZCK_OK);
            hex32(d1, hex);
            CHECK(strcmp(hex, v[i].hex) == 0);
        }
        CHECK_RC(zck_sha256_impl(impls[k], a, big, d1), ZCK_OK);
        hex32(d1, hex);
        CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
        CHECK_RC(zck_sha256_impl(impls[k], NULL, 0, d2), ZCK_OK);
        hex32(d2, hex);
        CHECK(strcmp(hex, v[0].hex) == 0);
    }
    /* both implementations and the incremental API agree at every length
     * around the block and padding boundaries, and on random lengths */
    fill_random(a, big, 77, 0);
    for (n = 0; n < 3000; n += (n < 200 ? 1 : 97)) {
        zck_sha256_ctx c;
        size_t cut = n / 3, cut2 = n - n / 5;
        CHECK_RC(zck_sha256_impl(ZCK_SHA256_PORTABLE, a, n, d1), ZCK_OK);
        CHECK_RC(zck_sha256_impl(ZCK_SHA256_AUTO, a, n, d2), ZCK_OK);
        CHECK(memcmp(d1, d2, 32) == 0);
        zck_sha256_init(&c, have_ni);
        zck_sha256_update(&c, a, cut);
        zck_sha256_update(&c, a + cut, cut2 - cut);
        zck_sha256_update(&c, a + cut2, n - cut2);
        zck_sha256_final(&c, d2);
        CHECK(memcmp(d1, d2, 32) == 0);
    }
    zck_sha256(a, big, d1);
    CHECK_RC(zck_sha256_impl(ZCK_SHA256_PORTABLE, a, big, d2), ZCK_OK);
    CHECK(memcmp(d1, d2, 32) == 0);
    CHECK_RC(zck_sha256_impl(ZCK_SHA256_AUTO, NULL, 1, d1), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_sha256_impl(ZCK_SHA256_AUTO, a, 1, NULL), ZCK_E_INVALID_ARGUMENT);
    CHECK_RC(zck_sha256_impl(3, a, 1, d1), ZCK_E_INVALID_ARGUMENT);
    free(a);
}

/* --------------------------------------------------------- payload jobs */

/* Check one finished FILE job against the separate APIs: chunker cuts,
 * zck_compress_frame (or a zck_cstream frame above oneshot_max) per chunk,
 * SHA-256 per chunk and of the whole payload, CRC-64. */
static void check_file_job(const zck_pjob *j, int level)
{
    static cut_list cuts;
    size_t i, start = 0, off = 0;
    uint8_t d[32];
    CHECK_RC(j->error, ZCK_OK);
    if (j->error != ZCK_OK)
        return;
    CHECK_RC(chunk(j->src, j->src_size, j->src_size + 1, 64, &cuts), ZCK_OK);
    CHECK(j->n_chunks == cuts.n);
    if (j->n_chunks != cuts.n)
        return;
    CHECK(j->crc64 == zck_crc64_update(0, j->src, j->src_size));
    zck_sha256(j->src, j->src_size, d);
    CHECK(memcmp(d, j->sha256, 32) == 0);
    for (i = 0; i < cuts.n; i++) {
        const zck_chunk_out *c = &j->chunks[i];
        size_t len = (size_t)cuts.cuts[i].end - start, got = 0;
        uint8_t *ref = NULL;
        CHECK(c->end == cuts.cuts[i].end && c->zeros == cuts.cuts[i].zeros && c->reserved == 0);
        if (j->oneshot_max > 0 && len > j->oneshot_max) {
            zck_cstream *cs = zck_cstream_new(level, NULL);
            size_t cap = zck_compress_bound(len) + 64, w, used;
            int done = 0;
            ref = (uint8_t *)malloc(cap);
            CHECK(cs != NULL && ref != NULL);
            if (cs != NULL && ref != NULL) {
                /* in 1 MiB pieces, as the writer streams */
                size_t pos = 0;
                while (pos < len) {
                    size_t piece = ZCK_MIN((size_t)1 << 20, len - pos), o = 0;
                    while (o < piece) {
                        CHECK_RC(zck_cstream_compress(cs, j->src + start + pos + o, piece - o, 0, ref + got, cap - got,
                                                      &w, &used, &done), ZCK_OK);
                        got += w;
                        o += used;
                    }
                    pos += piece;
                }
                while (!done) {
                    CHECK_RC(zck_cstream_compress(cs, NULL, 0, 1, ref + got, cap - got, &w, &used, &done), ZCK_OK);
                    got += w;
                }
            }
            zck_cstream_free(cs);
        } else {
            ref = compress_copy(j->src + start, len, level, &got);
        }
        CHECK(ref != NULL && c->frame_size == got && off + got <= j->dst_size);
        if (ref != NULL && c->frame_size == got && off + got <= j->dst_size)
            CHECK(memcmp(j->dst + off, ref, got) == 0);
        free(ref);
        if (cuts.n > 1) {
            zck_sha256(j->src + start, len, d);
            CHECK(memcmp(d, c->sha256, 32) == 0);
        } else {
            static const uint8_t zero[32];
            CHECK(memcmp(c->sha256, zero, 32) == 0);
        }
        off += (size_t)c->frame_size;
        start += len;
    }
    CHECK(off == j->dst_size && start == j->src_size);
}

static void set_pjob(zck_pjob *j, const uint8_t *src, size_t n, uint32_t flags)
{
    size_t cap = flags == ZCK_PJOB_FILE ? zck_pjob_chunks_hint(n) : 0;
    memset(j, 0, sizeof(*j));
    j->src = src;
    j->src_size = n;
    j->flags = flags;
    j->dst_capacity = zck_pjob_dst_bound(n, cap);
    j->dst = (uint8_t *)malloc(j->dst_capacity);
    j->chunks_cap = cap;
    j->chunks = cap ? (zck_chunk_out *)malloc(cap * sizeof(zck_chunk_out)) : NULL;
}

static void free_pjob(zck_pjob *j)
{
    free(j->dst);
    free(j->chunks);
    j->dst = NULL;
    j->chunks = NULL;
}

#define PJOBS 14

typedef struct {
    zck_pool *pool;
    int rc;
} waiter;

static void wait_thread(void *arg)
{
    waiter *w = (waiter *)arg;
    w->rc = zck_pool_wait_assist(w->pool);
}

/* Two threads wait (and run jobs) on the same batch at once: exactly one
 * collects it, and the jobs run exactly once. */
static void test_concurrent_waiters(const zck_pjob *model, size_t n)
{
    static zck_pjob jobs[PJOBS];
    zck_thread_t th[2];
    waiter w[2];
    size_t i;
    int k, err;
    zck_pool *p = zck_pool_new(1, 3, &err);
    CHECK(p != NULL);
    if (p == NULL)
        return;
    for (i = 0; i < n; i++) {
        jobs[i] = model[i];
        jobs[i].dst = (uint8_t *)malloc(jobs[i].dst_capacity);
        jobs[i].chunks = jobs[i].chunks_cap ? (zck_chunk_out *)malloc(jobs[i].chunks_cap * sizeof(zck_chunk_out))
                                            : NULL;
    }
    CHECK_RC(zck_pool_submit_pjobs(p, jobs, n), ZCK_OK);
    for (k = 0; k < 2; k++) {
        w[k].pool = p;
        w[k].rc = -1;
        CHECK(zck_thread_create(&th[k], wait_thread, &w[k]) == 0);
    }
    for (k = 0; k < 2; k++)
        CHECK(zck_thread_join(th[k]) == 0);
    CHECK((w[0].rc == ZCK_OK && w[1].rc == ZCK_E_NOT_SUBMITTED) ||
          (w[1].rc == ZCK_OK && w[0].rc == ZCK_E_NOT_SUBMITTED));
    for (i = 0; i < n; i++) {
        CHECK(jobs[i].error == ZCK_OK && jobs[i].dst_size == model[i].dst_size);
        CHECK(memcmp(jobs[i].dst, model[i].dst, model[i].dst_size) == 0);
        free(jobs[i].dst);
        free(jobs[i].chunks);
    }
    zck_pool_free(p);
}

static void test_pjobs(void)
{
    static const size_t sizes[PJOBS] = {0, 1, 511, 512, 513, 1023, 1024, 5000, 70000, 300000, 600000, 600000, 200, 3000};
    static const uint32_t flags[PJOBS] = {ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_FILE,
                                          ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_FILE,
                                          ZCK_PJOB_FILE, ZCK_PJOB_FILE, ZCK_PJOB_PLAIN, ZCK_PJOB_PLAIN};
    unsigned threads[4] = {0, 1, 2, 7};
    uint8_t *src[PJOBS], d[32];
    static zck_pjob jobs[4][PJOBS], spare[PJOBS];
    int t, i, err;

    for (i = 0; i < PJOBS; i++) {
        size_t n = sizes[i];
        src[i] = (uint8_t *)malloc(n > 0 ? n : 1);
        CHECK(src[i] != NULL);
        if (src[i] == NULL)
            return;
        fill_random(src[i], n, (uint64_t)(500 + i), i % 2);
    }
    /* zero runs: a hole at the start, in the middle and at the end; a short run */
    memset(src[6], 0, 1024);
    memset(src[7], 0, 1023);
    memset(src[7] + 2000, 0, 1024);
    memset(src[9], 0, 5000);
    memset(src[9] + 100000, 0, 1024);
    memset(src[9] + 300000 - 5000, 0, 5000);
    memset(src[10], 0, 600000); /* all zeros: one hole */
    memset(src[11] + 1000, 'z', 200000);

    for (t = 0; t < 4; t++) {
        zck_pool *p = zck_pool_new(threads[t], 3, &err);
        CHECK(p != NULL && err == ZCK_OK);
        if (p == NULL)
            return;
        for (i = 0; i < PJOBS; i++)
            set_pjob(&jobs[t][i], src[i], sizes[i], flags[i]);
        jobs[t][11].oneshot_max = 65536; /* some chunks streamed */
        CHECK_RC(zck_pool_submit_pjobs(p, jobs[t], PJOBS), ZCK_OK);
        CHECK_RC(zck_pool_submit_pjobs(p, jobs[t], PJOBS), ZCK_E_BUSY);
        CHECK_RC(zck_pool_submit(p, NULL, 0), ZCK_E_BUSY);
        CHECK_RC(t % 2 ? zck_pool_wait_assist(p) : zck_pool_wait(p), ZCK_OK);
        CHECK_RC(zck_pool_wait_assist(p), ZCK_E_NOT_SUBMITTED);
        CHECK_RC(zck_pool_wait(p), ZCK_E_NOT_SUBMITTED);
        CHECK_RC(zck_pool_submit_pjobs(p, NULL, 0), ZCK_OK);
        CHECK_RC(zck_pool_wait(p), ZCK_OK);
        /* the pool still runs plain zck_job batches after payload batches */
        {
            uint8_t out[256];
            zck_job zj;
            zj.src = src[4];
            zj.src_size = 100;
            zj.dst = out;
            zj.dst_capacity = sizeof(out);
            CHECK_RC(zck_pool_submit(p, &zj, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_OK);
            CHECK(zj.error == ZCK_OK && zj.dst_size > 0);
        }
        /* free with a payload batch in flight */
        memcpy(spare, jobs[t], sizeof(spare));
        for (i = 0; i < PJOBS; i++) {
            spare[i].dst = (uint8_t *)malloc(spare[i].dst_capacity);
            spare[i].chunks = spare[i].chunks_cap ? (zck_chunk_out *)malloc(spare[i].chunks_cap * sizeof(zck_chunk_out))
                                                  : NULL;
        }
        CHECK_RC(zck_pool_submit_pjobs(p, spare, PJOBS), ZCK_OK);
        zck_pool_free(p);
        for (i = 0; i < PJOBS; i++)
            free_pjob(&spare[i]);
    }
    for (i = 0; i < PJOBS; i++) {
        const zck_pjob *j0 = &jobs[0][i];
        if (flags[i] == ZCK_PJOB_FILE) {
            check_file_job(j0, 3);
        } else {
            size_t got = 0;
            uint8_t *ref = compress_copy(src[i], sizes[i], 3, &got);
            CHECK_RC(j0->error, ZCK_OK);
            CHECK(ref != NULL && j0->dst_size == got && memcmp(j0->dst, ref, got) == 0);
            CHECK(j0->n_chunks == 0 && j0->crc64 == 0);
            free(ref);
        }
        for (t = 1; t < 4; t++) {
            const zck_pjob *jt = &jobs[t][i];
            CHECK(jt->error == ZCK_OK && jt->dst_size == j0->dst_size && jt->n_chunks == j0->n_chunks);
            CHECK(jt->crc64 == j0->crc64 && memcmp(jt->sha256, j0->sha256, 32) == 0);
            CHECK(j0->dst_size == jt->dst_size && memcmp(jt->dst, j0->dst, j0->dst_size) == 0);
            if (j0->n_chunks > 0)
                CHECK(memcmp(jt->chunks, j0->chunks, j0->n_chunks * sizeof(zck_chunk_out)) == 0);
        }
    }
    test_concurrent_waiters(jobs[0], PJOBS);
    CHECK(jobs[0][0].n_chunks == 0 && jobs[0][0].dst_size == 0);
    CHECK(jobs[0][10].n_chunks == 1 && jobs[0][10].chunks[0].zeros == 1);
    CHECK(jobs[0][6].chunks[0].zeros == 1 && jobs[0][6].chunks[0].end == 1024);
    CHECK(jobs[0][7].chunks[0].zeros == 0);
    {
        /* job 11 really has chunks above its oneshot_max (streamed frames) */
        const zck_pjob *j = &jobs[0][11];
        uint64_t prev = 0, longest = 0;
        size_t k;
        for (k = 0; k < j->n_chunks; k++) {
            longest = ZCK_MAX(longest, j->chunks[k].end - prev);
            prev = j->chunks[k].end;
        }
        CHECK(j->n_chunks > 1 && longest > j->oneshot_max);
    }

    /* capacity: too few chunk records, then too little output room */
    {
        zck_pool *p = zck_pool_new(1, 3, &err);
        zck_pjob *j = &jobs[0][9];
        size_t need = j->n_chunks, cap = j->chunks_cap, dcap = j->dst_capacity;
        CHECK(p != NULL && need > 3);
        if (p != NULL) {
            j->chunks_cap = 2;
            CHECK_RC(zck_pool_submit_pjobs(p, j, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_E_CAPACITY);
            CHECK(j->error == ZCK_E_CAPACITY && j->n_chunks == need && j->dst_size == 0 && j->crc64 == 0);
            j->chunks_cap = need;
            j->dst_capacity = zck_pjob_dst_bound(j->src_size, need);
            CHECK(j->dst_capacity <= dcap);
            CHECK_RC(zck_pool_submit_pjobs(p, j, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_OK);
            check_file_job(j, 3);
            j->dst_capacity = 1000;
            CHECK_RC(zck_pool_submit_pjobs(p, j, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_E_CAPACITY);
            CHECK(j->n_chunks == need);
            /* plain job: as zck_job */
            jobs[0][13].dst_capacity = 5;
            CHECK_RC(zck_pool_submit_pjobs(p, &jobs[0][13], 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_E_DST_TOO_SMALL);
            /* invalid jobs */
            j->dst_capacity = dcap;
            j->chunks_cap = cap;
            j->flags = 7;
            CHECK_RC(zck_pool_submit_pjobs(p, j, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_E_INVALID_ARGUMENT);
            j->flags = ZCK_PJOB_FILE;
            j->reserved = 1;
            CHECK_RC(zck_pool_submit_pjobs(p, j, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_E_INVALID_ARGUMENT);
            j->reserved = 0;
            j->src = NULL;
            CHECK_RC(zck_pool_submit_pjobs(p, j, 1), ZCK_OK);
            CHECK_RC(zck_pool_wait(p), ZCK_E_INVALID_ARGUMENT);
            j->src = src[9];
            {
                /* an empty FILE job with no buffers at all */
                zck_pjob e;
                memset(&e, 0, sizeof(e));
                e.flags = ZCK_PJOB_FILE;
                e.error = -1;
                CHECK_RC(zck_pool_submit_pjobs(p, &e, 1), ZCK_OK);
                CHECK_RC(zck_pool_wait(p), ZCK_OK);
                CHECK(e.error == ZCK_OK && e.n_chunks == 0 && e.dst_size == 0 && e.crc64 == 0);
                zck_sha256(NULL, 0, d);
                CHECK(memcmp(e.sha256, d, 32) == 0);
                /* an empty PLAIN job gives an empty frame, as zck_job */
                e.flags = ZCK_PJOB_PLAIN;
                e.dst = d;
                e.dst_capacity = sizeof(d);
                CHECK_RC(zck_pool_submit_pjobs(p, &e, 1), ZCK_OK);
                CHECK_RC(zck_pool_wait(p), ZCK_OK);
                CHECK(e.dst_size > 0 && e.dst_size <= sizeof(d));
                CHECK_RC(zck_pool_submit_pjobs(NULL, &e, 1), ZCK_E_INVALID_ARGUMENT);
                CHECK_RC(zck_pool_submit_pjobs(p, NULL, 1), ZCK_E_INVALID_ARGUMENT);
            }
            zck_pool_free(p);
        }
    }
    CHECK(zck_pjob_dst_bound(0, 0) == zck_compress_bound(0));
    CHECK(zck_pjob_dst_bound(1000, 3) == zck_compress_bound(1000) + 3 * zck_compress_bound(0));
    CHECK(zck_pjob_dst_bound(SIZE_MAX, 1) == 0 && zck_pjob_dst_bound(1000, SIZE_MAX) == 0);
    CHECK(zck_pjob_chunks_hint(0) >= 1);
    for (t = 0; t < 4; t++)
        for (i = 0; i < PJOBS; i++)
            free_pjob(&jobs[t][i]);
    for (i = 0; i < PJOBS; i++)
        free(src[i]);
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

static void test_pathset(void)
{
    zck_pathset *s = zck_pathset_new();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    int added = -1;
    CHECK(zck_pathset_add(s, NULL, 0, &added) == ZCK_OK && added == 1);
    CHECK(zck_pathset_add(s, NULL, 0, &added) == ZCK_OK && added == 0);
    CHECK(zck_pathset_add(s, (const uint8_t *)"a", 1, NULL) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_pathset_add(NULL, (const uint8_t *)"a", 1, &added) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_pathset_add(s, NULL, 1, &added) == ZCK_E_INVALID_ARGUMENT);
    /* enough members to grow the table several times; every one is new once, then known */
    char name[64];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20000; i++) {
            int n = snprintf(name, sizeof name, "usr/lib/file-%d", i);
            CHECK(zck_pathset_add(s, (const uint8_t *)name, (size_t)n, &added) == ZCK_OK);
            CHECK(added == (round == 0));
        }
    }
    CHECK(zck_pathset_count(s) == 20001);
    CHECK(zck_pathset_sizeof(s) > 20001u * 16u);
    /* a prefix or an extension of a member is another member */
    CHECK(zck_pathset_add(s, (const uint8_t *)"usr/lib/file-1", 13, &added) == ZCK_OK && added == 1);
    CHECK(zck_pathset_add(s, (const uint8_t *)"usr/lib/file-10", 15, &added) == ZCK_OK && added == 0);
    zck_pathset_free(s);
    zck_pathset_free(NULL);
}

static void test_pathset_drain(void)
{
    zck_pathset *s = zck_pathset_new();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    int added = 0;
    char name[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(name, sizeof name, "d/%d", i);
        CHECK(zck_pathset_add(s, (const uint8_t *)name, (size_t)n, &added) == ZCK_OK && added == 1);
    }
    uint8_t *out = malloc(3000 * ZCK_PATHSET_KEY);
    CHECK(out != NULL);
    if (out == NULL) {
        zck_pathset_free(s);
        return;
    }
    size_t n = 7;
    /* too little room: refused, nothing moved */
    CHECK(zck_pathset_drain_sorted(s, out, 2999, &n) == ZCK_E_DST_TOO_SMALL && n == 0);
    CHECK(zck_pathset_count(s) == 3000);
    CHECK(zck_pathset_drain_sorted(s, NULL, 1, &n) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_pathset_drain_sorted(s, out, 3000, &n) == ZCK_OK && n == 3000);
    CHECK(zck_pathset_count(s) == 0);
    for (size_t i = 1; i < n; i++)
        CHECK(memcmp(out + (i - 1) * ZCK_PATHSET_KEY, out + i * ZCK_PATHSET_KEY, ZCK_PATHSET_KEY) < 0);
    /* emptied: the same paths are new again */
    CHECK(zck_pathset_add(s, (const uint8_t *)"d/7", 3, &added) == ZCK_OK && added == 1);
    CHECK(zck_pathset_drain_sorted(s, out, 3000, &n) == ZCK_OK && n == 1);
    CHECK(zck_pathset_drain_sorted(s, out, 0, &n) == ZCK_OK && n == 0);
    free(out);
    zck_pathset_free(s);
}

static int key_order(const void *a, const void *b)
{
    return memcmp(a, b, ZCK_PATHSET_KEY);
}

/* Merge `runs` sorted runs (run r: keys[r], counts[r] keys), feeding in pieces of `piece`
 * keys; returns what zck_keymerge_next finally returned, dup set on a duplicate. */
static int merge_runs(const uint8_t *const *keys, const size_t *counts, size_t runs, size_t piece, uint8_t *dup)
{
    zck_keymerge *m = zck_keymerge_new(runs);
    CHECK(m != NULL);
    if (m == NULL)
        return ZCK_E_NOMEM;
    size_t pos[8] = {0};
    int rc;
    for (;;) {
        int want = -1;
        size_t need = 0;
        rc = zck_keymerge_next(m, &want, &need, dup);
        if (rc != ZCK_OK || !want)
            break;
        CHECK(need < runs);
        size_t n = counts[need] - pos[need] < piece ? counts[need] - pos[need] : piece;
        CHECK(zck_keymerge_feed(m, need, keys[need] + pos[need] * ZCK_PATHSET_KEY, n) == ZCK_OK);
        pos[need] += n;
    }
    zck_keymerge_free(m);
    return rc;
}

static void test_keymerge(void)
{
    /* three runs made by draining a set, as the writer makes them */
    enum { RUNS = 3, PER = 500 };
    uint8_t *run[RUNS];
    size_t counts[RUNS];
    zck_pathset *s = zck_pathset_new();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    char name[32];
    int added = 0;
    for (int r = 0; r < RUNS; r++) {
        run[r] = malloc(PER * ZCK_PATHSET_KEY);
        CHECK(run[r] != NULL);
        if (run[r] == NULL)
            return;
        for (int i = 0; i < PER; i++) {
            int n = snprintf(name, sizeof name, "p/%d", r * PER + i);
            CHECK(zck_pathset_add(s, (const uint8_t *)name, (size_t)n, &added) == ZCK_OK);
        }
        CHECK(zck_pathset_drain_sorted(s, run[r], PER, &counts[r]) == ZCK_OK && counts[r] == PER);
    }
    const uint8_t *const views[RUNS] = {run[0], run[1], run[2]};
    uint8_t dup[ZCK_PATHSET_KEY];
    /* all distinct, whatever the piece size */
    CHECK(merge_runs(views, counts, RUNS, ZCK_KEYMERGE_FEED, dup) == ZCK_OK);
    CHECK(merge_runs(views, counts, RUNS, 1, dup) == ZCK_OK);
    CHECK(merge_runs(views, counts, RUNS, 7, dup) == ZCK_OK);
    /* one key of run 2 also in run 0 (kept sorted): found, and named */
    memcpy(run[2] + 100 * ZCK_PATHSET_KEY, run[0] + 321 * ZCK_PATHSET_KEY, ZCK_PATHSET_KEY);
    qsort(run[2], PER, ZCK_PATHSET_KEY, key_order);
    memset(dup, 0, sizeof dup);
    CHECK(merge_runs(views, counts, RUNS, 5, dup) == ZCK_E_TAR_DUPLICATE_PATH);
    CHECK(memcmp(dup, run[0] + 321 * ZCK_PATHSET_KEY, ZCK_PATHSET_KEY) == 0);
    /* no runs, empty runs */
    CHECK(merge_runs(views, counts, 0, 3, dup) == ZCK_OK);
    size_t zero[RUNS] = {0, 0, 0};
    CHECK(merge_runs(views, zero, RUNS, 3, dup) == ZCK_OK);
    /* protocol errors */
    zck_keymerge *m = zck_keymerge_new(2);
    CHECK(m != NULL);
    if (m != NULL) {
        int want = 0;
        size_t need = 9;
        CHECK(zck_keymerge_feed(m, 0, run[0], 1) == ZCK_E_STATE); /* not asked yet */
        CHECK(zck_keymerge_next(m, &want, &need, dup) == ZCK_OK && want == 1 && need == 0);
        CHECK(zck_keymerge_next(m, &want, &need, dup) == ZCK_E_STATE); /* not fed */
        CHECK(zck_keymerge_feed(m, 1, run[0], 1) == ZCK_E_STATE);      /* another run */
        CHECK(zck_keymerge_feed(m, 0, run[0], ZCK_KEYMERGE_FEED + 1) == ZCK_E_INVALID_ARGUMENT);
        CHECK(zck_keymerge_feed(m, 0, NULL, 1) == ZCK_E_INVALID_ARGUMENT);
        CHECK(zck_keymerge_feed(m, 0, run[0], 1) == ZCK_OK);
        CHECK(zck_keymerge_next(NULL, &want, &need, dup) == ZCK_E_INVALID_ARGUMENT);
        CHECK(zck_keymerge_sizeof(m) > 2 * ZCK_KEYMERGE_FEED * ZCK_PATHSET_KEY);
        zck_keymerge_free(m);
    }
    zck_keymerge_free(NULL);
    for (int r = 0; r < RUNS; r++)
        free(run[r]);
    zck_pathset_free(s);
}

static void test_tarsplit_runs(void)
{
    zck_tarsplit *t = zck_tarsplit_new();
    CHECK(t != NULL);
    if (t == NULL)
        return;
    size_t n = 9;
    CHECK(zck_tarsplit_set_run_keys(NULL, 4) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tarsplit_set_run_keys(t, 4) == ZCK_OK);
    CHECK(zck_tarsplit_end_run(t) == ZCK_OK); /* nothing recorded: no run */
    CHECK(zck_tarsplit_run(t, &n) != NULL || n == 0);
    CHECK(n == 0);
    char name[16];
    for (int i = 0; i < 3; i++) {
        int len = snprintf(name, sizeof name, "f%d", i);
        CHECK(zck_tarsplit_file(t, (const uint8_t *)name, (size_t)len, 0, NULL) == ZCK_OK);
    }
    /* a duplicate within the set is still refused at once */
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"./f1", 4, 0, NULL) == ZCK_E_TAR_DUPLICATE_PATH);
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"f3", 2, 0, NULL) == ZCK_OK);
    zck_tarsplit_run(t, &n);
    CHECK(n == 0); /* drained by the next file call, not before */
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"f4", 2, 0, NULL) == ZCK_OK);
    const uint8_t *run = zck_tarsplit_run(t, &n);
    CHECK(n == 4 && run != NULL);
    /* f0..f3 are now in the run: the set takes f1 again (the merge finds it) */
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"f1", 2, 0, NULL) == ZCK_OK);
    CHECK(zck_tarsplit_position(t) == 6);
    /* a run is waiting: no second one */
    CHECK(zck_tarsplit_end_run(t) == ZCK_E_STATE);
    for (int i = 5; i < 12; i++) {
        int len = snprintf(name, sizeof name, "f%d", i);
        CHECK(zck_tarsplit_file(t, (const uint8_t *)name, (size_t)len, 0, NULL) == ZCK_OK);
    }
    zck_tarsplit_run(t, &n);
    CHECK(n == 4); /* the set grew past 4 while the run waited */
    zck_tarsplit_run_clear(t);
    CHECK(zck_tarsplit_end_run(t) == ZCK_OK);
    zck_tarsplit_run(t, &n);
    CHECK(n == 9); /* f4, f1, f5 .. f11 */
    CHECK(zck_tarsplit_sizeof(t) >= 9u * ZCK_PATHSET_KEY);
    zck_tarsplit_free(t);
}

/* Whole text of the lines not yet taken equals `want`. */
static int lines_equal(const zck_tarsplit *t, const char *want)
{
    size_t n = 0;
    const uint8_t *p = zck_tarsplit_lines(t, &n);
    return n == strlen(want) && (n == 0 || memcmp(p, want, n) == 0);
}

static void test_tarsplit(void)
{
    uint8_t out[80];
    size_t n = 0;
    /* JSON quoting, both flavors */
    const uint8_t odd[] = {'a', '<', '\b', '"', 0xff, 0xe2, 0x80, 0xa9, 0xc3, 0xa9, 0x01};
    CHECK(zck_json_quote(ZCK_JSON_JSONITER, odd, sizeof odd, out, sizeof out, &n) == ZCK_OK);
    const char *want = "\"a\\u003c\\u0008\\\"\\ufffd\\u2029\xc3\xa9\\u0001\"";
    CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
    CHECK(zck_json_quote(ZCK_JSON_ENCODING_JSON, odd, 3, out, sizeof out, &n) == ZCK_OK);
    CHECK(n == 11 && memcmp(out, "\"a\\u003c\\b\"", n) == 0);
    CHECK(zck_json_quote(ZCK_JSON_JSONITER, odd, 11, out, 10, &n) == ZCK_E_DST_TOO_SMALL);
    CHECK(zck_json_quote(7, odd, 1, out, sizeof out, &n) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_json_quote_bound(SIZE_MAX) == 0);
    CHECK(zck_utf8_valid(odd + 8, 2) == 1 && zck_utf8_valid(odd, sizeof odd) == 0);
    CHECK(zck_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3) == 0); /* a surrogate */
    CHECK(zck_utf8_valid(NULL, 0) == 1);
    /* paths */
    CHECK(zck_clean_path((const uint8_t *)"a//b/./c/../", 12, out, sizeof out, &n) == ZCK_OK);
    CHECK(n == 3 && memcmp(out, "a/b", 3) == 0);
    CHECK(zck_clean_path((const uint8_t *)"/../..", 6, out, sizeof out, &n) == ZCK_OK && n == 1 && out[0] == '/');
    CHECK(zck_clean_path((const uint8_t *)"../x/..", 7, out, sizeof out, &n) == ZCK_OK);
    CHECK(n == 2 && memcmp(out, "..", 2) == 0);
    CHECK(zck_clean_path(NULL, 0, out, sizeof out, &n) == ZCK_OK && n == 1 && out[0] == '.');
    CHECK(zck_clean_path((const uint8_t *)"abc", 3, out, 3, &n) == ZCK_E_DST_TOO_SMALL);

    zck_tarsplit *t = zck_tarsplit_new();
    CHECK(t != NULL);
    if (t == NULL)
        return;
    const uint8_t crc[8] = {0x3c, 0x3e, 0xee, 0xe2, 0xd8, 0x10, 0, 0};
    CHECK(zck_tarsplit_segment(t, NULL, 0) == ZCK_OK);
    CHECK(zck_tarsplit_segment(t, (const uint8_t *)"abc", 3) == ZCK_OK);
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"d/a", 3, 5, crc) == ZCK_OK);
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"hi\xff", 3, 0, NULL) == ZCK_OK);
    CHECK(zck_tarsplit_file(t, NULL, 0, 0, NULL) == ZCK_OK);
    CHECK(lines_equal(t,
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":0}\n"
        "{\"type\":1,\"name\":\"d/a\",\"size\":5,\"payload\":\"PD7u4tgQAAA=\",\"position\":1}\n"
        "{\"type\":1,\"name_raw\":\"aGn/\",\"payload\":null,\"position\":2}\n"
        "{\"type\":1,\"payload\":null,\"position\":3}\n"));
    uint64_t total = zck_tarsplit_total(t);
    /* refused entries change nothing */
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"./d//a", 6, 0, NULL) == ZCK_E_TAR_DUPLICATE_PATH);
    CHECK(zck_tarsplit_file(t, (const uint8_t *)".", 1, 0, NULL) == ZCK_E_TAR_DUPLICATE_PATH); /* "" cleans to "." */
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"n", 1, -1, NULL) == ZCK_E_TAR_NEGATIVE_SIZE);
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"n", 1, 4, NULL) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tarsplit_file(t, (const uint8_t *)"n", 1, 0, crc) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tarsplit_file(NULL, (const uint8_t *)"n", 1, 0, NULL) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tarsplit_position(t) == 4 && zck_tarsplit_total(t) == total);
    zck_tarsplit_clear(t);
    CHECK(lines_equal(t, "") && zck_tarsplit_total(t) == total);
    /* a large segment: the buffer grows, the line is whole */
    size_t big = 1u << 20;
    uint8_t *zeros = calloc(big, 1);
    CHECK(zeros != NULL);
    if (zeros != NULL) {
        CHECK(zck_tarsplit_segment(t, zeros, big) == ZCK_OK);
        const uint8_t *p = zck_tarsplit_lines(t, &n);
        CHECK(n == 21 + (big + 2) / 3 * 4 + 13 + 1 + 2);
        CHECK(p != NULL && p[n - 1] == '\n' && p[n - 3] == '4');
        free(zeros);
    }
    zck_tarsplit_free(t);
    zck_tarsplit_free(NULL);
}

#define TXT(s) (const uint8_t *)(s), sizeof(s) - 1
#define NO_TXT NULL, 0

static void test_toctext(void)
{
    zck_toctext *t = zck_toctext_new();
    CHECK(t != NULL);
    if (t == NULL)
        return;
    size_t n = 0;
    CHECK(zck_toctext_entry(t, TXT("reg"), TXT("a<b"), NO_TXT, 420, 5, 0, -1, TXT("2024-01-02T03:04:05Z"), NO_TXT,
                            NO_TXT, 0, 0, NO_TXT, TXT("sha256:00"), 7, 9, 0, 0, NO_TXT, NO_TXT) == ZCK_OK);
    CHECK(zck_toctext_entry(t, TXT("chunk"), TXT("\xff"), TXT("l"), 0, 0, 0, 0, NO_TXT, NO_TXT, TXT(""), 3, 4,
                            TXT("{\"k\":\"dg==\"}"), NO_TXT, 0, 0, 2, INT64_MIN, TXT("sha256:11"),
                            TXT("z\0s")) == ZCK_OK);
    const char want[] =
        "{\"type\":\"reg\",\"name\":\"a\\u003cb\",\"mode\":420,\"size\":5,\"gid\":-1,"
        "\"modtime\":\"2024-01-02T03:04:05Z\",\"digest\":\"sha256:00\",\"offset\":7,\"endOffset\":9},"
        "{\"type\":\"chunk\",\"name\":\"\\ufffd\",\"linkName\":\"l\",\"changetime\":\"\",\"devMajor\":3,"
        "\"devMinor\":4,\"xattrs\":{\"k\":\"dg==\"},\"chunkSize\":2,\"chunkOffset\":-9223372036854775808,"
        "\"chunkDigest\":\"sha256:11\",\"chunkType\":\"z\\u0000s\"}";
    const uint8_t *p = zck_toctext_text(t, &n);
    CHECK(n == sizeof want - 1 && p != NULL && memcmp(p, want, n) == 0);
    CHECK(zck_toctext_count(t) == 2);
    /* refused: nothing written */
    CHECK(zck_toctext_entry(NULL, TXT("dir"), TXT("d"), NO_TXT, 0, 0, 0, 0, NO_TXT, NO_TXT, NO_TXT, 0, 0, NO_TXT,
                            NO_TXT, 0, 0, 0, 0, NO_TXT, NO_TXT) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_toctext_entry(t, TXT("dir"), NULL, 1, NO_TXT, 0, 0, 0, 0, NO_TXT, NO_TXT, NO_TXT, 0, 0, NO_TXT,
                            NO_TXT, 0, 0, 0, 0, NO_TXT, NO_TXT) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_toctext_entry(t, TXT("dir"), TXT("d"), NO_TXT, 0, 0, 0, 0, NO_TXT, NO_TXT, NO_TXT, 0, 0, NO_TXT,
                            NO_TXT, 0, 0, 0, 0, NO_TXT, (const uint8_t *)"x", SIZE_MAX / 2) == ZCK_E_OVERFLOW);
    CHECK(zck_toctext_count(t) == 2 && zck_toctext_text(t, &n) != NULL && n == sizeof want - 1);
    zck_toctext_clear(t);
    CHECK(zck_toctext_entry(t, NO_TXT, NO_TXT, NO_TXT, 0, 0, 0, 0, NO_TXT, NO_TXT, NO_TXT, 0, 0, NO_TXT, NO_TXT, 0,
                            0, 0, 0, NO_TXT, NO_TXT) == ZCK_OK);
    p = zck_toctext_text(t, &n);
    CHECK(n == 22 && p != NULL && memcmp(p, ",{\"type\":\"\",\"name\":\"\"}", n) == 0);
    zck_toctext_free(t);
    zck_toctext_free(NULL);
}

/* Scan text[0..strlen) with room for cap lines; returns the stop reason. */
static int tsscan(zck_tsscan *s, const char *text, size_t max_line, int64_t *f, size_t cap, uint8_t *out,
                  size_t *lines, size_t *used, size_t *out_len)
{
    int stop = -1;
    size_t n = strlen(text);
    CHECK(zck_tsscan_lines(s, (const uint8_t *)text, n, max_line, f, cap, out, n, lines, used, out_len, &stop) ==
          ZCK_OK);
    return stop;
}

static void test_tarsplit_scan(void)
{
    zck_tsscan *s = zck_tsscan_new();
    CHECK(s != NULL);
    if (s == NULL)
        return;
    int64_t f[4 * ZCK_TSSCAN_FIELDS];
    uint8_t out[256];
    size_t lines = 0, used = 0, out_len = 0;
    const char *doc =
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":0}\n"
        "{\"type\":1,\"name\":\"d/a\",\"size\":5,\"payload\":\"PD7u4tgQAAA=\",\"position\":1}\n"
        "{\"type\":1,\"name\":\"\",\"payload\":null,\"position\":2}\n"
        "{\"type\":2,\"payload\":\"YQ==\",\"position\":30}\n";
    CHECK(tsscan(s, doc, 1000, f, 4, out, &lines, &used, &out_len) == ZCK_TSSCAN_END);
    CHECK(lines == 4 && used == strlen(doc) && out_len == 3 + 3 + 8 + 1);
    CHECK(memcmp(out, "abcd/a\x3c\x3e\xee\xe2\xd8\x10\0\0a", out_len) == 0);
    const int64_t want[] = {2, 0, 0, 0, 3, 1, 1, 5, 6, 14, 1, 2, 0, 14, 14, 2, 30, 0, 14, 15};
    CHECK(memcmp(f, want, sizeof want) == 0);

    /* "./d//a" cleans to the recorded "d/a": the scan stops there, and add_path agrees */
    const char *dup = "{\"type\":1,\"name\":\"./d//a\",\"payload\":null,\"position\":4}\n";
    CHECK(tsscan(s, dup, 1000, f, 4, out, &lines, &used, &out_len) == ZCK_TSSCAN_OTHER && lines == 0 && used == 0);
    int added = 1;
    CHECK(zck_tsscan_add_path(s, (const uint8_t *)"d/a/", 4, &added) == ZCK_OK && added == 0);
    CHECK(zck_tsscan_add_path(s, (const uint8_t *)"e", 1, &added) == ZCK_OK && added == 1);

    /* lines the fast path leaves alone: each stops the scan after the good line before it */
    const char *others[] = {
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":01}\n",          /* leading zero */
        "{\"type\":2,\"payload\":\"YWJ\",\"position\":1}\n",            /* not a multiple of 4 */
        "{\"type\":2,\"payload\":\"YW=j\",\"position\":1}\n",           /* '=' inside */
        "{\"type\":2,\"payload\":\"Y===\",\"position\":1}\n",           /* three '=' */
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":-1}\n",          /* negative */
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":1234567890123456789}\n", /* 19 digits */
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":1} \n",          /* space */
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":1}\r\n",         /* CR */
        "{\"type\":3,\"payload\":\"YWJj\",\"position\":1}\n",           /* unknown type */
        "{\"type\":1,\"name\":\"x\\\"y\",\"payload\":null,\"position\":1}\n", /* escape */
        "{\"type\":1,\"name\":\"\xc3\xa9\",\"payload\":null,\"position\":1}\n", /* non-ASCII */
        "{\"type\":1,\"name\":\"z\",\"size\":0,\"payload\":null,\"position\":1}\n", /* size 0 */
        "{\"type\":1,\"name\":\"z\",\"size\":5,\"payload\":null,\"position\":1}\n", /* size, no CRC */
        "{\"type\":1,\"name\":\"z\",\"payload\":\"PD7u4tgQAAA=\",\"position\":1}\n", /* CRC, no size */
        "{\"type\":1,\"name\":\"z\",\"size\":5,\"payload\":\"PD7u4tgQAA==\",\"position\":1}\n", /* 7 bytes */
        "{\"type\":1,\"name\":\"z\",\"size\":5,\"payload\":\"PD7u4tgQAAAA\",\"position\":1}\n", /* 9 bytes */
        "{\"type\":2,\"payload\":\"YWJj\",\"position\":1}",             /* no newline */
        "\n",
    };
    char text[256];
    const char *good = "{\"type\":2,\"payload\":\"\",\"position\":0}\n";
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        snprintf(text, sizeof text, "%s%s", good, others[i]);
        CHECK(tsscan(s, text, 1000, f, 4, out, &lines, &used, &out_len) == ZCK_TSSCAN_OTHER);
        CHECK(lines == 1 && used == strlen(good) && out_len == 0);
    }
    /* the path of a refused line is not recorded */
    CHECK(zck_tsscan_add_path(s, (const uint8_t *)"z", 1, &added) == ZCK_OK && added == 1);
    /* a full field array, and a line longer than max_line */
    snprintf(text, sizeof text, "%s%s", good, good);
    CHECK(tsscan(s, text, 1000, f, 1, out, &lines, &used, &out_len) == ZCK_TSSCAN_FULL && lines == 1);
    CHECK(tsscan(s, text, strlen(good), f, 4, out, &lines, &used, &out_len) == ZCK_TSSCAN_END && lines == 2);
    CHECK(tsscan(s, text, strlen(good) - 1, f, 4, out, &lines, &used, &out_len) == ZCK_TSSCAN_OTHER && lines == 0);
    /* out too small for the first line; bad arguments */
    int stop = 0;
    CHECK(zck_tsscan_lines(s, (const uint8_t *)doc, strlen(doc), 1000, f, 4, out, 2, &lines, &used, &out_len,
                           &stop) == ZCK_E_DST_TOO_SMALL);
    CHECK(zck_tsscan_lines(NULL, (const uint8_t *)doc, 1, 1000, f, 4, out, 2, &lines, &used, &out_len, &stop) ==
          ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tsscan_add_path(s, NULL, 1, &added) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tsscan_sizeof(s) > sizeof(void *));
    zck_tsscan_free(s);
    zck_tsscan_free(NULL);
}

/* zck_toc_scan on text (NUL-terminated); returns *canonical. */
static int tocscan(const char *text, size_t max_entries, int64_t *f, size_t cap, uint8_t *out, int64_t *top,
                   size_t *entries, size_t *out_len)
{
    int canonical = -1;
    size_t n = strlen(text);
    CHECK(zck_toc_scan((const uint8_t *)text, n, max_entries, f, cap, out, n, top, entries, out_len, &canonical) ==
          ZCK_OK);
    return canonical;
}

static void test_toc_scan(void)
{
    int64_t f[3 * ZCK_TOCSCAN_FIELDS];
    int64_t top[ZCK_TOCSCAN_TOP];
    uint8_t out[512];
    size_t entries = 0, out_len = 0;
    const char *doc = "{\"version\":1,\"entries\":[{\"type\":\"reg\",\"name\":\"a\\u003c\\ud83d\\ude00\",\"size\":-0,"
                      "\"modtime\":\"T\",\"mode\":7,\"mode\":null},"
                      "{\"type\":\"dir\",\"name\":\"\\ud800x\",\"xattrs\":{\"k\":\"v\"},\"size\":-1}],"
                      "\"tarSplitDigest\":\"d\"}";
    CHECK(tocscan(doc, 10, f, 3, out, top, &entries, &out_len) == 1);
    CHECK(entries == 2 && top[ZCK_TOCSCAN_VERSION] == 1 && top[ZCK_TOCSCAN_HAS_VERSION] == 1);
    /* strings back to back: "reg" "a<" U+1F600 "" "T" ... then "dir" "\xef\xbf\xbdx" ..., then the digest */
    const char want[] = "rega<\xf0\x9f\x98\x80T" "dir\xef\xbf\xbdx" "d";
    CHECK(out_len == sizeof want - 1 && memcmp(out, want, out_len) == 0);
    CHECK(f[ZCK_TOCSCAN_MODE] == 0 && f[ZCK_TOCSCAN_SIZE] == 0); /* null unsets; -0 is 0 */
    CHECK(f[ZCK_TOCSCAN_FLAGS] == (ZCK_TOCSCAN_HAS_MODTIME | ZCK_TOCSCAN_NONASCII));
    CHECK(f[ZCK_TOCSCAN_TYPE_END] == 3 && f[ZCK_TOCSCAN_TYPE_END + 1] == 9 && f[ZCK_TOCSCAN_TYPE_END + 3] == 10);
    const int64_t *g = f + ZCK_TOCSCAN_FIELDS;
    CHECK(g[ZCK_TOCSCAN_FLAGS] == (ZCK_TOCSCAN_PYTHON | ZCK_TOCSCAN_BAD | ZCK_TOCSCAN_NONASCII));
    CHECK(g[ZCK_TOCSCAN_SIZE] == -1 && doc[g[ZCK_TOCSCAN_START]] == '{' && doc[g[ZCK_TOCSCAN_END] - 1] == '}');
    CHECK(top[ZCK_TOCSCAN_DIGEST_START] == 17 && top[ZCK_TOCSCAN_DIGEST_END] == 18);

    /* documents left to the general decoder */
    const char *others[] = {
        "", "[]", "{\"version\":1,\"Entries\":[]}", "{\"version\":null}", "{\"version\":1,\"version\":1}",
        "{\"entries\":[{\"type\":1}]}", "{\"entries\":[{\"mode\":1.5}]}", "{\"entries\":[{\"mode\":01}]}",
        "{\"entries\":[{\"mode\":9223372036854775808}]}", "{\"entries\":[{\"name\":\"a\\x\"}]}",
        "{\"entries\":[{\"name\":\"a\x01\"}]}", "{\"entries\":[{\"n\\u0061me\":\"a\"}]}", "{} x",
        "{\"entries\":[{\"xattrs\":{\"a\":{}}}]}", "{\"entries\":[{\"name\":\"a\"}", "{\"entries\":[{},{},{},{}]}",
        "{\"entries\":[{\"name\":\"\\u12\"}]}", "{\"entries\":[{\"mode\":-}]}", "{\"tarSplitDigest\":1}",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        CHECK(tocscan(others[i], 3, f, 3, out, top, &entries, &out_len) == 0);
    CHECK(tocscan("  {\"entries\":null}\n", 3, f, 3, out, top, &entries, &out_len) == 1 && entries == 0);
    CHECK(tocscan("{\"version\":-9223372036854775808}", 3, f, 3, out, top, &entries, &out_len) == 1);
    CHECK(top[ZCK_TOCSCAN_VERSION] == INT64_MIN);
    /* errors */
    int canonical = 0;
    CHECK(zck_toc_scan((const uint8_t *)"{\"entries\":[{},{}]}", 19, 9, f, 1, out, sizeof out, top, &entries,
                       &out_len, &canonical) == ZCK_E_CAPACITY);
    CHECK(zck_toc_scan((const uint8_t *)doc, strlen(doc), 9, f, 3, out, 4, top, &entries, &out_len, &canonical) ==
          ZCK_E_DST_TOO_SMALL);
    CHECK(zck_toc_scan(NULL, 1, 9, f, 3, out, 4, top, &entries, &out_len, &canonical) == ZCK_E_INVALID_ARGUMENT);
}

/* A ustar header block for name with the given typeflag, size and mtime, checksum set. */
static void tm_header_block(uint8_t b[512], const char *name, char typeflag, unsigned size, unsigned mtime)
{
    memset(b, 0, 512);
    memcpy(b, name, strlen(name));
    snprintf((char *)b + 100, 8, "%07o", 0644u);
    snprintf((char *)b + 108, 8, "%07o", 0u);
    snprintf((char *)b + 116, 8, "%07o", 0u);
    snprintf((char *)b + 124, 12, "%011o", size);
    snprintf((char *)b + 136, 12, "%011o", mtime);
    b[156] = (uint8_t)typeflag;
    memcpy(b + 257, "ustar\0" "00", 8);
    memset(b + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += b[i];
    snprintf((char *)b + 148, 8, "%06o", sum);
}

static void test_tocmatch(void)
{
    const char *doc = "{\"version\":1,\"entries\":[{\"type\":\"dir\",\"name\":\"d/\",\"mode\":420,"
                      "\"modtime\":\"2023-11-14T22:13:20Z\"},{\"type\":\"reg\",\"name\":\"d/f\",\"mode\":420,"
                      "\"size\":3,\"modtime\":\"1970-01-01T00:00:01Z\"},{\"type\":\"chunk\",\"name\":\"d/f\"}]}";
    int64_t f[3 * ZCK_TOCSCAN_FIELDS];
    int64_t top[ZCK_TOCSCAN_TOP];
    uint8_t text[512];
    size_t entries = 0, text_len = 0;
    CHECK(tocscan(doc, 3, f, 3, text, top, &entries, &text_len) == 1 && entries == 3);
    uint8_t types[256 * ZCK_TOCMATCH_TYPE_SLOT] = {0};
    memcpy(types + '0' * ZCK_TOCMATCH_TYPE_SLOT, "reg", 3);
    memcpy(types + '5' * ZCK_TOCMATCH_TYPE_SLOT, "dir", 3);
    /* segments: header d/, header d/f (3 bytes of data follow in the file entry), padding + end blocks */
    uint8_t segs[512 * 2 + 509 + 1024] = {0};
    tm_header_block(segs, "d/", '5', 0, 1700000000u);
    tm_header_block(segs + 512, "d/f", '0', 3, 1u);
    size_t ends[3] = {512, 1024, sizeof segs};
    size_t index = 0, pending = 0;
    int status = -1;
    int64_t entry = 0, shown = 0;

    zck_tocmatch *m = zck_tocmatch_new();
    CHECK(m != NULL && zck_tocmatch_sizeof(m) > 0);
    CHECK(zck_tocmatch_run(m, segs, ends, 3, &index, &status, &entry, &pending) == ZCK_E_INVALID_ARGUMENT);
    CHECK(zck_tocmatch_start(m, f, entries, text, text_len, (const uint8_t *)"chunk", 5, types) == ZCK_OK);
    CHECK(zck_tocmatch_run(m, segs, ends, 3, &index, &status, &entry, &pending) == ZCK_OK);
    CHECK(status == ZCK_TOCMATCH_DONE && index == 3);
    CHECK(zck_tocmatch_finish(m, &shown) == ZCK_OK && shown == 2);
    zck_tocmatch_free(m);

    /* another mtime in the header: a stop at the segment, for the caller to compare */
    tm_header_block(segs + 512, "d/f", '0', 3, 2u);
    m = zck_tocmatch_new();
    CHECK(m != NULL);
    CHECK(zck_tocmatch_start(m, f, entries, text, text_len, (const uint8_t *)"chunk", 5, types) == ZCK_OK);
    index = 0;
    CHECK(zck_tocmatch_run(m, segs, ends, 3, &index, &status, &entry, &pending) == ZCK_OK);
    CHECK(status == ZCK_TOCMATCH_STOP && index == 1 && entry == 1 && pending == 0);
    CHECK(zck_tocmatch_finish(m, &shown) == ZCK_E_INVALID_ARGUMENT); /* the stop must be reported first */
    CHECK(zck_tocmatch_take(m, 1, 509, &status) == ZCK_OK && status == ZCK_TOCMATCH_DONE);
    index = 2;
    CHECK(zck_tocmatch_run(m, segs, ends, 3, &index, &status, &entry, &pending) == ZCK_OK);
    CHECK(status == ZCK_TOCMATCH_DONE && index == 3);
    CHECK(zck_tocmatch_finish(m, &shown) == ZCK_OK && shown == 2);
    zck_tocmatch_free(m);

    /* the headers in another order than the TOC: not shown */
    tm_header_block(segs, "d/f", '0', 0, 1u);
    tm_header_block(segs + 512, "d/", '5', 0, 1700000000u);
    m = zck_tocmatch_new();
    CHECK(m != NULL);
    CHECK(zck_tocmatch_start(m, f, entries, text, text_len, (const uint8_t *)"chunk", 5, types) == ZCK_OK);
    index = 0;
    CHECK(zck_tocmatch_run(m, segs, ends, 3, &index, &status, &entry, &pending) == ZCK_OK);
    CHECK(status == ZCK_TOCMATCH_STOP && entry == 0); /* the caller finds the names differ and gives up */
    CHECK(zck_tocmatch_take(m, 0, 0, &status) == ZCK_OK && status == ZCK_TOCMATCH_DONE);
    zck_tocmatch_free(m);
    zck_tocmatch_free(NULL);
    CHECK(zck_tocmatch_take(NULL, 1, 0, &status) == ZCK_E_INVALID_ARGUMENT);
}

int main(void)
{
    test_errors();
    test_crc64();
    test_sha256();
    test_chunker();
    test_footer();
    test_framescan();
    test_pool();
    test_pjobs();
    test_cstream();
    test_decompress();
    test_pathset();
    test_pathset_drain();
    test_keymerge();
    test_tarsplit_runs();
    test_tarsplit();
    test_tarsplit_scan();
    test_toc_scan();
    test_tocmatch();
    test_toctext();
    if (failures != 0) {
        fprintf(stderr, "test_zck: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_zck: all checks passed (libzstd %s)\n", zck_zstd_version());
    return 0;
}
