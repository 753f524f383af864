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
    uint8_t *out;      /* lines not yet taken */
    size_t len;
    size_t cap;
    uint8_t *scratch;  /* the cleaned path of the current file entry */
    size_t scratch_cap;
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
    free(t->out);
    free(t->scratch);
    free(t);
}

size_t zck_tarsplit_sizeof(const zck_tarsplit *t)
{
    return t == NULL ? 0 : sizeof *t + t->cap + t->scratch_cap + zck_pathset_sizeof(t->seen);
}

const uint8_t *zck_tarsplit_lines(const zck_tarsplit *t, size_t *n)
{
    if (t == NULL || n == NULL)
        return NULL;
    *n = t->len;
    return t->out;
}

void zck_tarsplit_clear(zck_tarsplit *t)
{
    if (t != NULL)
        t->len = 0;
}

uint64_t zck_tarsplit_position(const zck_tarsplit *t)
{
    return t == NULL ? 0 : t->position;
}

uint64_t zck_tarsplit_total(const zck_tarsplit *t)
{
    return t == NULL ? 0 : t->total;
}

/* ------------------------------------------------------------ buffers */

/* Make room for `extra` more bytes after t->len. */
static int ts_reserve(zck_tarsplit *t, size_t extra)
{
    ZCK_RETURN_IF(extra > SIZE_MAX - t->len, ZCK_E_OVERFLOW);
    size_t need = t->len + extra;
    if (need <= t->cap)
        return ZCK_OK;
    size_t cap = t->cap < 4096 ? 4096 : t->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *grown = realloc(t->out, cap);
    ZCK_RETURN_IF(grown == NULL, ZCK_E_NOMEM);
    t->out = grown;
    t->cap = cap;
    return ZCK_OK;
}

static size_t put_bytes(uint8_t *dst, const char *s, size_t n)
{
    memcpy(dst, s, n);
    return n;
}

#define PUT_LITERAL(dst, lit) put_bytes((dst), (lit), sizeof(lit) - 1)

/* Decimal digits of v; at most 20 bytes. */
static size_t put_u64(uint8_t *dst, uint64_t v)
{
    uint8_t tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* ------------------------------------------------------------- base64 */

/* Length of the padded standard base64 of n bytes, or 0 on overflow (n > 0). */
static size_t base64_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > SIZE_MAX / 4)
        return 0;
    return groups * 4;
}

static size_t put_base64(uint8_t *dst, const uint8_t *p, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0, i = 0;
    for (; n - i >= 3; i += 3) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) | p[i + 2];
        dst[o++] = (uint8_t)alphabet[v >> 18];
        dst[o++] = (uint8_t)alphabet[(v >> 12) & 63];
        dst[o++] = (uint8_t)alphabet[(v >> 6) & 63];
        dst[o++] = (uint8_t)alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        dst[o++] = (uint8_t)alphabet[v >> 18];
        dst[o++] = (uint8_t)alphabet[(v >> 12) & 63];
        dst[o++] = '=';
        dst[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8);
        dst[o++] = (uint8_t)alphabet[v >> 18];
        dst[o++] = (uint8_t)alphabet[(v >> 12) & 63];
        dst[o++] = (uint8_t)alphabet[(v >> 6) & 63];
        dst[o++] = '=';
    }
    return o;
}

/* ---------------------------------------------------------- JSON text */

/* Length of the valid UTF-8 sequence at p[0..n) (n >= 1), or 0 where Go's
 * utf8.DecodeRune fails: no overlong forms, no surrogates, nothing above
 * U+10FFFF. */
static size_t utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t lead = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (lead < 0x80)
        return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 1;
    } else if (lead == 0xE0) {
        need = 2;
        lo = 0xA0;
    } else if (lead == 0xED) {
        need = 2;
        hi = 0x9F;
    } else if (lead >= 0xE1 && lead <= 0xEF) {
        need = 2;
    } else if (lead == 0xF0) {
        need = 3;
        lo = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
        need = 3;
    } else if (lead == 0xF4) {
        need = 3;
        hi = 0x8F;
    } else {
        return 0;
    }
    if (n <= need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++) {
        if (p[k] < 0x80 || p[k] > 0xBF)
            return 0;
    }
    return need + 1;
}

int zck_utf8_valid(const uint8_t *p, size_t n)
{
    if (p == NULL)
        return n == 0;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq_len(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

size_t zck_json_quote_bound(size_t n)
{
    /* every input byte becomes at most 6 output bytes (\u00XX, \ufffd) */
    if (n > (SIZE_MAX - 2) / 6)
        return 0;
    return n * 6 + 2;
}

static size_t put_u_escape(uint8_t *dst, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    dst[0] = '\\';
    dst[1] = 'u';
    dst[2] = (uint8_t)hex[(v >> 12) & 15];
    dst[3] = (uint8_t)hex[(v >> 8) & 15];
    dst[4] = (uint8_t)hex[(v >> 4) & 15];
    dst[5] = (uint8_t)hex[v & 15];
    return 6;
}

/* p[0..n) as a quoted JSON string; dst has room for zck_json_quote_bound(n). */
static size_t put_json_string(uint8_t *dst, const uint8_t *p, size_t n, int flavor)
{
    size_t o = 0, i = 0;
    dst[o++] = '"';
    while (i < n) {
        uint8_t c = p[i];
        if (c >= 0x80) {
            size_t k = utf8_seq_len(p + i, n - i);
            if (k == 0) {
                o += put_u_escape(dst + o, 0xFFFD);
                i++;
            } else if (k == 3 && c == 0xE2 && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) {
                o += put_u_escape(dst + o, p[i + 2] == 0xA8 ? 0x2028u : 0x2029u);
                i += 3;
            } else {
                memcpy(dst + o, p + i, k);
                o += k;
                i += k;
            }
            continue;
        }
        i++;
        switch (c) {
        case '"':
            o += PUT_LITERAL(dst + o, "\\\"");
            break;
        case '\\':
            o += PUT_LITERAL(dst + o, "\\\\");
            break;
        case '\n':
            o += PUT_LITERAL(dst + o, "\\n");
            break;
        case '\r':
            o += PUT_LITERAL(dst + o, "\\r");
            break;
        case '\t':
            o += PUT_LITERAL(dst + o, "\\t");
            break;
        case '\b':
        case '\f':
            if (flavor == ZCK_JSON_ENCODING_JSON) {
                o += c == '\b' ? PUT_LITERAL(dst + o, "\\b") : PUT_LITERAL(dst + o, "\\f");
                break;
            }
            o += put_u_escape(dst + o, c);
            break;
        case '<':
        case '>':
        case '&':
            o += put_u_escape(dst + o, c);
            break;
        default:
            if (c < 0x20)
                o += put_u_escape(dst + o, c);
            else
                dst[o++] = c;
        }
    }
    dst[o++] = '"';
    return o;
}

int zck_json_quote(int flavor, const uint8_t *p, size_t n, uint8_t *dst, size_t cap, size_t *written)
{
    ZCK_RETURN_IF(written == NULL || dst == NULL || (p == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(flavor != ZCK_JSON_JSONITER && flavor != ZCK_JSON_ENCODING_JSON, ZCK_E_INVALID_ARGUMENT);
    size_t bound = zck_json_quote_bound(n);
    ZCK_RETURN_IF(bound == 0, ZCK_E_OVERFLOW);
    ZCK_RETURN_IF(cap < bound, ZCK_E_DST_TOO_SMALL);
    *written = put_json_string(dst, p != NULL ? p : (const uint8_t *)"", n, flavor);
    return ZCK_OK;
}

/* ------------------------------------------------------------ paths */

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
#define MAX_DIGITS 20u

int zck_tarsplit_segment(zck_tarsplit *t, const uint8_t *p, size_t n)
{
    ZCK_RETURN_IF(t == NULL || (p == NULL && n != 0), ZCK_E_INVALID_ARGUMENT);
    if (n == 0)
        return ZCK_OK; /* the reference writes no empty segment */
    size_t b64 = base64_len(n);
    ZCK_RETURN_IF(b64 == 0 || b64 > SIZE_MAX - SEGMENT_LINE_FIXED - MAX_DIGITS, ZCK_E_OVERFLOW);
    ZCK_FORWARD(ts_reserve(t, b64 + SEGMENT_LINE_FIXED + MAX_DIGITS));
    uint8_t *d = t->out + t->len;
    size_t o = PUT_LITERAL(d, "{\"type\":2,\"payload\":\"");
    o += put_base64(d + o, p, n);
    o += PUT_LITERAL(d + o, "\",\"position\":");
    o += put_u64(d + o, t->position);
    o += PUT_LITERAL(d + o, "}\n");
    t->len += o;
    t->total += o;
    t->position++;
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
    size_t name_text = valid ? zck_json_quote_bound(n) : base64_len(n);
    ZCK_RETURN_IF(n != 0 && name_text == 0, ZCK_E_OVERFLOW);
    ZCK_RETURN_IF(name_text > SIZE_MAX - FILE_LINE_FIXED - 2 * MAX_DIGITS - 12, ZCK_E_OVERFLOW);
    ZCK_RETURN_IF(n == SIZE_MAX, ZCK_E_OVERFLOW);
    if (t->scratch_cap < n + 1) {
        uint8_t *grown = realloc(t->scratch, n + 1);
        ZCK_RETURN_IF(grown == NULL, ZCK_E_NOMEM);
        t->scratch = grown;
        t->scratch_cap = n + 1;
    }
    ZCK_FORWARD(ts_reserve(t, name_text + FILE_LINE_FIXED + 2 * MAX_DIGITS + 12));
    size_t key_len = clean_path(t->scratch, name, n);
    int added = 0;
    ZCK_FORWARD(zck_pathset_add(t->seen, t->scratch, key_len, &added));
    ZCK_RETURN_IF(!added, ZCK_E_TAR_DUPLICATE_PATH);

    uint8_t *d = t->out + t->len;
    size_t o = PUT_LITERAL(d, "{\"type\":1");
    if (n != 0 && valid) {
        o += PUT_LITERAL(d + o, ",\"name\":");
        o += put_json_string(d + o, name, n, ZCK_JSON_ENCODING_JSON);
    } else if (n != 0) {
        o += PUT_LITERAL(d + o, ",\"name_raw\":\"");
        o += put_base64(d + o, name, n);
        d[o++] = '"';
    }
    if (crc == NULL) {
        o += PUT_LITERAL(d + o, ",\"payload\":null");
    } else {
        o += PUT_LITERAL(d + o, ",\"size\":");
        o += put_u64(d + o, (uint64_t)size);
        o += PUT_LITERAL(d + o, ",\"payload\":\"");
        o += put_base64(d + o, crc, CRC_SIZE);
        d[o++] = '"';
    }
    o += PUT_LITERAL(d + o, ",\"position\":");
    o += put_u64(d + o, t->position);
    o += PUT_LITERAL(d + o, "}\n");
    t->len += o;
    t->total += o;
    t->position++;
    return ZCK_OK;
}
