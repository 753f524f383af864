/* zck_tarsplit.c - the writer's tar-split lines, encoded in C.
 *
 * tar-split (vbatts/tar-split, tar/storage) records a tar as JSON lines, one
 * storage.Entry each, written by Go's encoding/json Encoder:
 *
 *   {"type":2,"payload":"<base64 of raw tar bytes>","position":N}
 *   {"type":1,"name":"<name>","size":S,"payload":"<base64 CRC-64>","position":N}
 *
 * A file entry's "name" is the header name as an encoding/json string when it
 * is valid UTF-8; otherwise it goes, base64, to "name_raw".  An empty name
 * and a zero size are omitted; a file without a checksum (size 0) has
 * "payload":null.  The packer refuses a second file entry whose name cleans
 * (Go's filepath.Clean) to a path it has seen: that check is made here too,
 * with a zck_pathset.
 *
 * Lines accumulate in one buffer that the caller takes (zck_tarsplit_lines)
 * and empties (zck_tarsplit_clear) when it likes.  A call that fails leaves
 * the encoder as it was: no line, same position, path not recorded. */
#include "zck_internal.h"

struct zck_tarsplit {
    zck_pathset *seen;
    uint64_t position; /* entries written so far */
    uint64_t total;    /* bytes of lines written so far */
    zck_textbuf out;   /* lines not yet taken */
    uint8_t *scratch;  /* the cleaned path of the current file entry */
    size_t scratch_cap;
    size_t run_keys;   /* 0, or drain `seen` into `run` once it holds this many */
    uint8_t *run;      /* sorted keys drained from `seen`, not yet taken */
    size_t run_n;      /* keys in `run` (0: no run waiting) */
    size_t run_cap;    /* keys `run` has room for */
};

zck_tarsplit *zck_tarsplit_new(void)
{
    zck_tarsplit *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->seen = zck_pathset_new();
    if (t->seen == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void zck_tarsplit_free(zck_tarsplit *t)
{
    if (t == NULL)
        return;
    zck_pathset_free(t->seen);
    zck_textbuf_free(&t->out);
    free(t->scratch);
    free(t->run);
    free(t);
}

size_t zck_tarsplit_sizeof(const zck_tarsplit *t)
{
    return t == NULL ? 0
                     : sizeof *t + t->out.cap + t->scratch_cap + t->run_cap * ZCK_PATHSET_KEY +
                           zck_pathset_sizeof(t->seen);
}

const uint8_t *zck_tarsplit_lines(const zck_tarsplit *t, size_t *n)
{
    if (t == NULL || n == NULL)
        return NULL;
    *n = t->out.len;
    return t->out.data;
}

void zck_tarsplit_clear(zck_tarsplit *t)
{
    if (t != NULL)
        t->out.len = 0;
}

uint64_t zck_tarsplit_position(const zck_tarsplit *t)
{
    return t == NULL ? 0 : t->position;
}

uint64_t zck_tarsplit_total(const zck_tarsplit *t)
{
    return t == NULL ? 0 : t->total;
}

/* ------------------------------------------------------------- paths */

/* Go's path.Clean (filepath.Clean on Unix) of p[0..n) into dst, which has
 * room for n + 1 bytes; returns the length.  Byte-wise: only '/' and '.'
 * mean anything. */
static size_t clean_path(uint8_t *dst, const uint8_t *p, size_t n)
{
    if (n == 0) {
        dst[0] = '.';
        return 1;
    }
    int rooted = p[0] == '/';
    size_t w = 0, r = 0, dotdot = 0;
    if (rooted) {
        dst[w++] = '/';
        r = dotdot = 1;
    }
    while (r < n) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && dst[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    dst[w++] = '/';
                dst[w++] = '.';
                dst[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                dst[w++] = '/';
            while (r < n && p[r] != '/')
                dst[w++] = p[r++];
        }
    }
    if (w == 0)
        dst[w++] = '.';
    return w;
}

int zck_clean_path(const uint8_t *p, size_t n, uint8_t *dst, size_t cap, size_t *written)
{
    ZCK_RETURN_IF(written == NULL || dst == NULL || (p == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(n == SIZE_MAX, ZCK_E_OVERFLOW);
    ZCK_RETURN_IF(cap < n + 1, ZCK_E_DST_TOO_SMALL);
    *written = clean_path(dst, p, n);
    return ZCK_OK;
}

/* -------------------------------------------------------------- lines */

/* Longest fixed text around a file line's variable parts:
 * {"type":1,"name_raw":"","size":,"payload":"","position":}\n */
#define FILE_LINE_FIXED 64u
#define SEGMENT_LINE_FIXED 48u /* {"type":2,"payload":"","position":}\n */
#define CRC_SIZE 8u

/* Close the line begun at d (o bytes so far, room reserved): its position,
 * the closing brace and newline; the line then counts as written. */
static void end_line(zck_tarsplit *t, uint8_t *d, size_t o)
{
    o += ZCK_PUT_LITERAL(d + o, ",\"position\":");
    o += zck_put_u64(d + o, t->position);
    o += ZCK_PUT_LITERAL(d + o, "}\n");
    t->out.len += o;
    t->total += o;
    t->position++;
}

int zck_tarsplit_segment(zck_tarsplit *t, const uint8_t *p, size_t n)
{
    ZCK_RETURN_IF(t == NULL || (p == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    if (n == 0)
        return ZCK_OK; /* the reference writes no empty segment */
    size_t b64 = zck_base64_len(n);
    ZCK_RETURN_IF(b64 == 0 || b64 > SIZE_MAX - SEGMENT_LINE_FIXED - ZCK_MAX_DIGITS, ZCK_E_OVERFLOW);
    ZCK_FORWARD(zck_textbuf_reserve(&t->out, b64 + SEGMENT_LINE_FIXED + ZCK_MAX_DIGITS));
    uint8_t *d = t->out.data + t->out.len;
    size_t o = ZCK_PUT_LITERAL(d, "{\"type\":2,\"payload\":\"");
    o += zck_put_base64(d + o, p, n);
    o += ZCK_PUT_LITERAL(d + o, "\"");
    end_line(t, d, o);
    return ZCK_OK;
}

int zck_tarsplit_file(zck_tarsplit *t, const uint8_t *name, size_t n, int64_t size, const uint8_t *crc)
{
    ZCK_RETURN_IF(t == NULL || (name == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(size < 0, ZCK_E_TAR_NEGATIVE_SIZE);
    /* the reference checksums every payload it reads, and none when the size is 0 */
    ZCK_RETURN_IF((crc == NULL) != (size == 0), ZCK_E_INVALID_ARGUMENT);
    if (name == NULL)
        name = (const uint8_t *)"";
    int valid = zck_utf8_valid(name, n);
    size_t name_text = valid ? zck_json_quote_bound(n) : zck_base64_len(n);
    ZCK_RETURN_IF(n != 0 && name_text == 0, ZCK_E_OVERFLOW);
    ZCK_RETURN_IF(name_text > SIZE_MAX - FILE_LINE_FIXED - 2 * ZCK_MAX_DIGITS - 12, ZCK_E_OVERFLOW);
    ZCK_RETURN_IF(n == SIZE_MAX, ZCK_E_OVERFLOW);
    if (t->scratch_cap < n + 1) {
        uint8_t *grown = realloc(t->scratch, n + 1);
        ZCK_RETURN_IF(grown == NULL, ZCK_E_NOMEM);
        t->scratch = grown;
        t->scratch_cap = n + 1;
    }
    ZCK_FORWARD(zck_textbuf_reserve(&t->out, name_text + FILE_LINE_FIXED + 2 * ZCK_MAX_DIGITS + 12));
    if (t->run_keys > 0 && t->run_n == 0 && zck_pathset_count(t->seen) >= t->run_keys)
        ZCK_FORWARD(zck_tarsplit_end_run(t));
    size_t key_len = clean_path(t->scratch, name, n);
    int added = 0;
    ZCK_FORWARD(zck_pathset_add(t->seen, t->scratch, key_len, &added));
    ZCK_RETURN_IF(!added, ZCK_E_TAR_DUPLICATE_PATH);

    uint8_t *d = t->out.data + t->out.len;
    size_t o = ZCK_PUT_LITERAL(d, "{\"type\":1");
    if (n != 0 && valid) {
        o += ZCK_PUT_LITERAL(d + o, ",\"name\":");
        o += zck_put_json_string(d + o, name, n, ZCK_JSON_ENCODING_JSON);
    } else if (n != 0) {
        o += ZCK_PUT_LITERAL(d + o, ",\"name_raw\":\"");
        o += zck_put_base64(d + o, name, n);
        d[o++] = '"';
    }
    if (crc == NULL) {
        o += ZCK_PUT_LITERAL(d + o, ",\"payload\":null");
    } else {
        o += ZCK_PUT_LITERAL(d + o, ",\"size\":");
        o += zck_put_u64(d + o, (uint64_t)size);
        o += ZCK_PUT_LITERAL(d + o, ",\"payload\":\"");
        o += zck_put_base64(d + o, crc, CRC_SIZE);
        d[o++] = '"';
    }
    end_line(t, d, o);
    return ZCK_OK;
}

int zck_tarsplit_set_run_keys(zck_tarsplit *t, size_t k)
{
    ZCK_RETURN_IF(t == NULL, ZCK_E_INVALID_ARGUMENT);
    t->run_keys = k;
    return ZCK_OK;
}

int zck_tarsplit_end_run(zck_tarsplit *t)
{
    ZCK_RETURN_IF(t == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(t->run_n != 0, ZCK_E_STATE);
    size_t count = zck_pathset_count(t->seen);
    if (count == 0)
        return ZCK_OK;
    if (t->run_cap < count) {
        ZCK_RETURN_IF(count > SIZE_MAX / ZCK_PATHSET_KEY, ZCK_E_OVERFLOW);
        uint8_t *grown = realloc(t->run, count * ZCK_PATHSET_KEY);
        ZCK_RETURN_IF(grown == NULL, ZCK_E_NOMEM);
        t->run = grown;
        t->run_cap = count;
    }
    return zck_pathset_drain_sorted(t->seen, t->run, t->run_cap, &t->run_n);
}

const uint8_t *zck_tarsplit_run(const zck_tarsplit *t, size_t *n)
{
    if (n != NULL)
        *n = t == NULL ? 0 : t->run_n;
    return t == NULL ? NULL : t->run;
}

void zck_tarsplit_run_clear(zck_tarsplit *t)
{
    if (t != NULL)
        t->run_n = 0;
}
