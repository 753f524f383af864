/* zck_tarsplit_scan.c - the reader's fast path for tar-split lines.
 *
 * Decodes the lines whose exact shape is what the reference's packer writes
 * (see zck_tarsplit.c), and stops at the first line of any other shape, which
 * the caller decodes itself with a general (strict, slower) JSON decoder:
 *
 *   {"type":2,"payload":"<B64>","position":<N>}\n
 *   {"type":1,"name":"<NAME>","size":<S>,"payload":"<11 B64 chars>=","position":<N>}\n
 *   {"type":1,"name":"<NAME>","payload":null,"position":<N>}\n
 *
 * <B64> is padded standard base64 (a multiple of 4 characters, '=' only at
 * the end; bits past the last byte are ignored, as Go's non-strict decoder
 * does); <NAME> is printable ASCII without '"' or '\\' (no escapes to undo);
 * <N> is a JSON integer below 10^18 (no leading zero); <S> the same, above 0.
 *
 * Each file entry's name is cleaned (Go's filepath.Clean) and recorded in a
 * zck_pathset; a file line whose path is already recorded is not decoded
 * here, so the caller's general path reports it. */
#include "zck_internal.h"

struct zck_tsscan {
    zck_pathset *seen;
    uint8_t *scratch; /* the cleaned path of the current name */
    size_t scratch_cap;
    int8_t b64[256];  /* value of each base64 character, -1 for the rest */
};

#define FIELDS ZCK_TSSCAN_FIELDS
#define MAX_DIGITS 18u

zck_tsscan *zck_tsscan_new(void)
{
    zck_tsscan *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->seen = zck_pathset_new();
    if (s->seen == NULL) {
        free(s);
        return NULL;
    }
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(s->b64, -1, sizeof s->b64);
    for (int8_t v = 0; v < 64; v++)
        s->b64[(uint8_t)alphabet[v]] = v;
    return s;
}

void zck_tsscan_free(zck_tsscan *s)
{
    if (s == NULL)
        return;
    zck_pathset_free(s->seen);
    free(s->scratch);
    free(s);
}

size_t zck_tsscan_sizeof(const zck_tsscan *s)
{
    return s == NULL ? 0 : sizeof *s + s->scratch_cap + zck_pathset_sizeof(s->seen);
}

/* Record the cleaned path of name[0..n); *added = 0 when it was there. */
static int record_path(zck_tsscan *s, const uint8_t *name, size_t n, int *added)
{
    ZCK_RETURN_IF(n == SIZE_MAX, ZCK_E_OVERFLOW);
    if (s->scratch_cap < n + 1) {
        uint8_t *grown = realloc(s->scratch, n + 1);
        ZCK_RETURN_IF(grown == NULL, ZCK_E_NOMEM);
        s->scratch = grown;
        s->scratch_cap = n + 1;
    }
    size_t key_len = 0;
    ZCK_FORWARD(zck_clean_path(name, n, s->scratch, s->scratch_cap, &key_len));
    return zck_pathset_add(s->seen, s->scratch, key_len, added);
}

int zck_tsscan_add_path(zck_tsscan *s, const uint8_t *name, size_t n, int *added)
{
    ZCK_RETURN_IF(s == NULL || added == NULL || (name == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    return record_path(s, name == NULL ? (const uint8_t *)"" : name, n, added);
}

/* ----------------------------------------------------------- one line */

/* The cursor over one line: p moves forward, end is the line's newline. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor;

static int take_literal(cursor *c, const char *lit, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, lit, n) != 0)
        return 0;
    c->p += n;
    return 1;
}
#define TAKE(c, lit) take_literal((c), (lit), sizeof(lit) - 1)

/* A JSON integer of at most MAX_DIGITS digits, no leading zero; 0 allowed
 * only when `zero_ok`. */
static int take_int(cursor *c, int zero_ok, int64_t *v)
{
    const uint8_t *p = c->p;
    if (p == c->end || *p < '0' || *p > '9')
        return 0;
    if (*p == '0') {
        if (!zero_ok)
            return 0;
        c->p = p + 1;
        *v = 0;
        return c->p == c->end || *c->p < '0' || *c->p > '9';
    }
    uint64_t acc = 0;
    size_t digits = 0;
    while (p < c->end && *p >= '0' && *p <= '9') {
        if (++digits > MAX_DIGITS)
            return 0;
        acc = acc * 10u + (uint64_t)(*p - '0');
        p++;
    }
    c->p = p;
    *v = (int64_t)acc; /* below 10^18 < 2^63 */
    return 1;
}

/* Padded base64 text up to the next '"', decoded into dst (room for its
 * length); the cursor ends on the '"'.  Returns the decoded length, or
 * SIZE_MAX when the text is not canonical base64. */
static size_t take_base64(const zck_tsscan *s, cursor *c, uint8_t *dst)
{
    const uint8_t *start = c->p;
    const uint8_t *q = memchr(start, '"', (size_t)(c->end - start));
    if (q == NULL)
        return SIZE_MAX;
    size_t len = (size_t)(q - start);
    if (len % 4 != 0)
        return SIZE_MAX;
    size_t pad = 0;
    if (len >= 1 && start[len - 1] == '=')
        pad = (len >= 2 && start[len - 2] == '=') ? 2 : 1;
    const int8_t *t = s->b64;
    size_t w = 0;
    size_t full = len - (pad ? 4 : 0); /* groups without padding */
    for (size_t i = 0; i < full; i += 4) {
        int32_t a = t[start[i]], b = t[start[i + 1]], d = t[start[i + 2]], e = t[start[i + 3]];
        if ((a | b | d | e) < 0)
            return SIZE_MAX;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)d << 6) | (uint32_t)e;
        dst[w++] = (uint8_t)(v >> 16);
        dst[w++] = (uint8_t)(v >> 8);
        dst[w++] = (uint8_t)v;
    }
    if (pad) {
        const uint8_t *g = start + full;
        int32_t a = t[g[0]], b = t[g[1]];
        int32_t d = pad == 1 ? t[g[2]] : 0;
        if ((a | b | d) < 0)
            return SIZE_MAX;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)d << 6);
        dst[w++] = (uint8_t)(v >> 16);
        if (pad == 1)
            dst[w++] = (uint8_t)(v >> 8);
    }
    c->p = q;
    return w;
}

/* A segment line after its '{"type":2,' prefix: payload decoded to dst. */
static int segment_line(const zck_tsscan *s, cursor *c, uint8_t *dst, int64_t *f)
{
    if (!TAKE(c, "\"payload\":\""))
        return 0;
    size_t n = take_base64(s, c, dst);
    if (n == SIZE_MAX || !TAKE(c, "\",\"position\":") || !take_int(c, 1, &f[1]) || !TAKE(c, "}"))
        return 0;
    f[0] = ZCK_TSSCAN_SEGMENT;
    f[2] = 0;
    f[3] = 0;                /* no name */
    f[4] = (int64_t)n;       /* payload end */
    return c->p == c->end;
}

/* A file line after its '{"type":1,' prefix: name then CRC to dst.  The
 * path is recorded only once the whole line is known to be canonical. */
static int file_line(zck_tsscan *s, cursor *c, uint8_t *dst, int64_t *f, int *rc)
{
    if (!TAKE(c, "\"name\":\""))
        return 0;
    const uint8_t *name = c->p;
    while (c->p < c->end && *c->p >= 0x20 && *c->p <= 0x7e && *c->p != '"' && *c->p != '\\')
        c->p++;
    size_t name_len = (size_t)(c->p - name);
    if (!TAKE(c, "\","))
        return 0;
    int64_t size = 0;
    if (TAKE(c, "\"size\":") && (!take_int(c, 0, &size) || !TAKE(c, ",")))
        return 0;
    if (!TAKE(c, "\"payload\":"))
        return 0;
    size_t crc_len = 0;
    if (TAKE(c, "\"")) {
        /* exactly the 12 characters of 8 bytes */
        if ((size_t)(c->end - c->p) < 13 || c->p[11] != '=' || c->p[12] != '"')
            return 0;
        crc_len = take_base64(s, c, dst + name_len);
        if (crc_len != 8 || !TAKE(c, "\""))
            return 0;
    } else if (!TAKE(c, "null")) {
        return 0;
    }
    if ((size == 0) != (crc_len == 0))
        return 0; /* a size without a CRC or the reverse: the general path reports it */
    if (!TAKE(c, ",\"position\":") || !take_int(c, 1, &f[1]) || !TAKE(c, "}") || c->p != c->end)
        return 0;
    int added = 0;
    *rc = record_path(s, name, name_len, &added);
    if (*rc != ZCK_OK || !added)
        return 0;
    memcpy(dst, name, name_len);
    f[0] = ZCK_TSSCAN_FILE;
    f[2] = size;
    f[3] = (int64_t)name_len;
    f[4] = (int64_t)(name_len + crc_len);
    return 1;
}

/* Decode one line (newline excluded: line[0..n)) into dst; fills f with
 * offsets relative to dst.  1 when decoded, 0 when not canonical. */
static int scan_line(zck_tsscan *s, const uint8_t *line, size_t n, uint8_t *dst, int64_t *f, int *rc)
{
    cursor c = {line, line + n};
    if (TAKE(&c, "{\"type\":2,"))
        return segment_line(s, &c, dst, f);
    if (TAKE(&c, "{\"type\":1,"))
        return file_line(s, &c, dst, f, rc);
    return 0;
}

int zck_tsscan_lines(zck_tsscan *s, const uint8_t *in, size_t n, size_t max_line, int64_t *fields, size_t cap,
                     uint8_t *out, size_t out_cap, size_t *lines, size_t *consumed, size_t *out_len, int *stop)
{
    ZCK_RETURN_IF(s == NULL || (in == NULL && n != 0) || (fields == NULL && cap != 0) ||
                      (out == NULL && out_cap != 0) || lines == NULL || consumed == NULL || out_len == NULL ||
                      stop == NULL,
                  ZCK_E_INVALID_ARGUMENT);
    size_t count = 0, r = 0, w = 0;
    int rc = ZCK_OK;
    *stop = ZCK_TSSCAN_END;
    while (r < n) {
        if (count == cap) {
            *stop = ZCK_TSSCAN_FULL;
            break;
        }
        const uint8_t *line = in + r;
        /* a line (newline included) longer than max_line is the general path's to refuse */
        size_t window = ZCK_MIN(n - r, max_line);
        const uint8_t *nl = window ? memchr(line, '\n', window) : NULL;
        if (nl == NULL) {
            *stop = ZCK_TSSCAN_OTHER;
            break;
        }
        size_t len = (size_t)(nl - line); /* newline excluded */
        if (len > out_cap - w) {
            /* decoded text is never longer than its line: only a short buffer stops here */
            ZCK_RETURN_IF(count == 0, ZCK_E_DST_TOO_SMALL);
            *stop = ZCK_TSSCAN_FULL;
            break;
        }
        int64_t *f = fields + (size_t)FIELDS * count;
        if (!scan_line(s, line, len, out + w, f, &rc)) {
            if (rc != ZCK_OK)
                break;
            *stop = ZCK_TSSCAN_OTHER;
            break;
        }
        /* offsets in out, from the start of this call's output */
        f[3] += (int64_t)w;
        f[4] += (int64_t)w;
        w = (size_t)f[4];
        r += len + 1;
        count++;
    }
    *lines = count;
    *consumed = r;
    *out_len = w;
    return rc;
}
