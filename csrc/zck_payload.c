/* zck_payload.c - payload jobs: everything the writer does per byte of a
 * file payload (chunk cuts, CRC-64, SHA-256 of the file and of each chunk,
 * one zstd frame per chunk), run by one pool worker.
 *
 * The payload is walked in pieces of ZCK_PJOB_PIECE bytes: each piece is
 * checksummed, hashed and fed to the chunker while it is in cache, and every
 * chunk the chunker completes is hashed and compressed at once.  The frames
 * are the ones zck_compress_frame makes for each chunk (or, above
 * oneshot_max, the ones zck_cstream makes), so the output does not depend on
 * which worker ran the job. */
#include "zck_internal.h"

#define ZCK_PJOB_PIECE ((size_t)256 << 10)
#define ZCK_PJOB_CUTS 64u

size_t zck_pjob_dst_bound(size_t src_size, size_t chunks_cap)
{
    /* ZSTD_compressBound(n) is n + n/256 plus a margin of at most
     * ZSTD_compressBound(0) (64 bytes, for n < 128 KiB): the sum over chunks
     * of total size src_size is at most compressBound(src_size) plus one
     * margin per chunk.  Streamed frames stay within compressBound too. */
    size_t whole = zck_compress_bound(src_size);
    size_t margin = zck_compress_bound(0);
    if (whole == 0 || (chunks_cap > 0 && margin > (SIZE_MAX - whole) / chunks_cap))
        return 0;
    return whole + chunks_cap * margin;
}

size_t zck_pjob_chunks_hint(size_t src_size)
{
    return src_size / 4096 + 16;
}

/* One frame of src[0..n) into dst; the one-shot or the streamed form. */
static int make_frame(zck_pjob_worker *w, const uint8_t *src, size_t n, size_t oneshot_max,
                      uint8_t *dst, size_t cap, size_t *written)
{
    static const uint8_t empty = 0;
    size_t r;
    *written = 0;
    if (oneshot_max > 0 && n > oneshot_max)
        return zck_stream_frame(w->cctx, src, n, dst, cap, written);
    r = ZSTD_compress2(w->cctx, dst, cap, src != NULL ? src : &empty, n);
    ZCK_FORWARD(zck_from_zstd_error(r));
    *written = r;
    return ZCK_OK;
}

typedef struct {
    zck_pjob_worker *w;
    zck_pjob *j;
    size_t chunk_start; /* where the next chunk starts */
    size_t n;           /* chunks seen */
    size_t out;         /* bytes written to dst */
    int err;            /* first error; after ZCK_E_CAPACITY chunks are still counted */
} zck_file_state;

static void on_chunk(zck_file_state *s, size_t end, uint32_t zeros)
{
    zck_pjob *j = s->j;
    size_t start = s->chunk_start;
    s->chunk_start = end;
    s->n++;
    if (s->err != ZCK_OK)
        return;
    if (s->n > j->chunks_cap) {
        s->err = ZCK_E_CAPACITY;
    } else {
        zck_chunk_out *c = &j->chunks[s->n - 1];
        size_t fsize = 0;
        uint8_t *dst = j->dst != NULL ? j->dst + s->out : NULL;
        int rc = make_frame(s->w, j->src + start, end - start, j->oneshot_max, dst, j->dst_capacity - s->out,
                            &fsize);
        if (rc != ZCK_OK) {
            s->err = rc == ZCK_E_DST_TOO_SMALL ? ZCK_E_CAPACITY : rc;
            return;
        }
        s->out += fsize;
        c->end = (uint64_t)end;
        c->zeros = zeros;
        c->reserved = 0;
        c->frame_size = (uint64_t)fsize;
        if (start == 0 && end == j->src_size) {
            memset(c->sha256, 0, sizeof(c->sha256)); /* the only chunk: no digest */
        } else {
            zck_sha256_ctx sha;
            zck_sha256_init(&sha, s->w->sha_ni);
            zck_sha256_update(&sha, j->src + start, end - start);
            zck_sha256_final(&sha, c->sha256);
        }
    }
}

static int run_file(zck_pjob_worker *w, zck_pjob *j)
{
    static const uint8_t empty = 0;
    const uint8_t *src = j->src != NULL ? j->src : &empty;
    zck_cut cuts[ZCK_PJOB_CUTS];
    zck_file_state s;
    zck_sha256_ctx sha;
    uint64_t crc = 0;
    size_t pos = 0;

    s.w = w;
    s.j = j;
    s.chunk_start = 0;
    s.n = 0;
    s.out = 0;
    s.err = ZCK_OK;
    zck_chunker_reset(w->chunker);
    zck_sha256_init(&sha, w->sha_ni);
    for (;;) {
        size_t len = ZCK_MIN(ZCK_PJOB_PIECE, j->src_size - pos);
        const uint8_t *piece = src + pos;
        int eof = pos + len == j->src_size;
        size_t off = 0;
        if (s.err == ZCK_OK && len > 0) {
            crc = zck_crc64_update(crc, piece, len);
            zck_sha256_update(&sha, piece, len);
        }
        for (;;) {
            size_t got = 0, used = 0, k;
            int rc = zck_chunker_feed(w->chunker, piece + off, len - off, eof, cuts, ZCK_PJOB_CUTS, &got, &used);
            if (rc != ZCK_OK)
                return rc; /* cannot happen: fresh state, valid arguments */
            for (k = 0; k < got; k++) {
                /* cuts never pass the bytes fed, so they fit in size_t */
                on_chunk(&s, (size_t)cuts[k].end, cuts[k].zeros);
                if (s.err != ZCK_OK && s.err != ZCK_E_CAPACITY)
                    return s.err;
            }
            off += used;
            if (off == len && got < ZCK_PJOB_CUTS)
                break;
        }
        pos += len;
        if (eof)
            break;
    }
    j->n_chunks = s.n;
    if (s.err != ZCK_OK)
        return s.err;
    j->dst_size = s.out;
    j->crc64 = crc;
    zck_sha256_final(&sha, j->sha256);
    return ZCK_OK;
}

void zck_pjob_run(zck_pjob_worker *w, zck_pjob *j)
{
    int rc;
    j->dst_size = 0;
    j->n_chunks = 0;
    j->crc64 = 0;
    memset(j->sha256, 0, sizeof(j->sha256));
    if ((j->src == NULL && j->src_size > 0) || (j->dst == NULL && j->dst_capacity > 0) ||
        (j->chunks == NULL && j->chunks_cap > 0) || j->reserved != 0 ||
        (j->flags != ZCK_PJOB_PLAIN && j->flags != ZCK_PJOB_FILE)) {
        j->error = ZCK_E_INVALID_ARGUMENT;
        return;
    }
    if (j->flags == ZCK_PJOB_PLAIN) {
        size_t written = 0;
        rc = make_frame(w, j->src, j->src_size, j->oneshot_max, j->dst, j->dst_capacity, &written);
        if (rc == ZCK_OK)
            j->dst_size = written;
    } else {
        rc = run_file(w, j);
        if (rc != ZCK_OK) {
            j->dst_size = 0;
            j->crc64 = 0;
            memset(j->sha256, 0, sizeof(j->sha256));
        }
    }
    j->error = rc;
}
