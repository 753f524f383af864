/* zck_json.c - the pieces of Go's JSON output the writer needs: string
 * quoting (encoding/json and json-iterator flavors), Go's UTF-8 validity,
 * decimal integers and padded standard base64 (how Go writes []byte). */
#include "zck_internal.h"

/* Decimal digits of v; at most 20 bytes. */
size_t zck_put_u64(uint8_t *dst, uint64_t v)
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

size_t zck_put_i64(uint8_t *dst, int64_t v)
{
    if (v >= 0)
        return zck_put_u64(dst, (uint64_t)v);
    dst[0] = '-';
    /* -(v + 1) + 1 is |v| without overflowing at INT64_MIN */
    return 1 + zck_put_u64(dst + 1, (uint64_t)(-(v + 1)) + 1u);
}

/* Length of the padded standard base64 of n bytes, or 0 on overflow (n > 0). */
size_t zck_base64_len(size_t n)
{
    size_t groups = n / 3 + (n % 3 != 0);
    if (groups > SIZE_MAX / 4)
        return 0;
    return groups * 4;
}

size_t zck_put_base64(uint8_t *dst, const uint8_t *p, size_t n)
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
size_t zck_put_json_string(uint8_t *dst, const uint8_t *p, size_t n, int flavor)
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
            o += ZCK_PUT_LITERAL(dst + o, "\\\"");
            break;
        case '\\':
            o += ZCK_PUT_LITERAL(dst + o, "\\\\");
            break;
        case '\n':
            o += ZCK_PUT_LITERAL(dst + o, "\\n");
            break;
        case '\r':
            o += ZCK_PUT_LITERAL(dst + o, "\\r");
            break;
        case '\t':
            o += ZCK_PUT_LITERAL(dst + o, "\\t");
            break;
        case '\b':
        case '\f':
            if (flavor == ZCK_JSON_ENCODING_JSON) {
                o += c == '\b' ? ZCK_PUT_LITERAL(dst + o, "\\b") : ZCK_PUT_LITERAL(dst + o, "\\f");
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
    *written = zck_put_json_string(dst, p != NULL ? p : (const uint8_t *)"", n, flavor);
    return ZCK_OK;
}


int zck_textbuf_reserve(zck_textbuf *b, size_t extra)
{
    ZCK_RETURN_IF(extra > SIZE_MAX - b->len, ZCK_E_OVERFLOW);
    size_t need = b->len + extra;
    if (need <= b->cap)
        return ZCK_OK;
    size_t cap = b->cap < 4096 ? 4096 : b->cap;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    uint8_t *grown = realloc(b->data, cap);
    ZCK_RETURN_IF(grown == NULL, ZCK_E_NOMEM);
    b->data = grown;
    b->cap = cap;
    return ZCK_OK;
}

void zck_textbuf_free(zck_textbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
