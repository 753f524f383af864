/* zck_toc_scan.c - the reader's fast path for the TOC document.
 *
 * Decodes a TOC whose keys are all spelt as writers spell them (the top-level
 * "version", "entries" and "tarSplitDigest"; the 20 minimal.FileMetadata
 * keys of each entry), with the values of the types they must have: integers
 * (no fraction or exponent, within int64), strings, null.  As in the Python
 * decoder the last of repeated keys counts, and null there means "not set".  Anything else - another key, another type, invalid JSON,
 * a key with an escape, a repeated top-level key - makes the whole document
 * "not for the fast path" (*canonical = 0), and the caller decodes it with its
 * general decoder, which also words the errors.  An entry with "xattrs" is
 * marked ZCK_TOCSCAN_PYTHON: the caller decodes that one entry itself.
 *
 * Strings are unescaped as Go does (a lone UTF-16 surrogate becomes U+FFFD);
 * the caller has already checked that the document is valid UTF-8. */
#include "zck_internal.h"

#define FIELDS ZCK_TOCSCAN_FIELDS

/* Entry keys, in the order of the string and integer fields. */
enum key_kind { KEY_INT, KEY_STR, KEY_XATTRS };
typedef struct {
    const char *name;
    uint8_t len;
    uint8_t kind;
    uint8_t slot; /* field index (integers) or string index (strings) */
} entry_key;

#define KEY(s, kind, slot) {s, (uint8_t)(sizeof(s) - 1), kind, slot}
static const entry_key KEYS[] = {
    KEY("type", KEY_STR, 0),
    KEY("name", KEY_STR, 1),
    KEY("linkName", KEY_STR, 2),
    KEY("mode", KEY_INT, ZCK_TOCSCAN_MODE),
    KEY("size", KEY_INT, ZCK_TOCSCAN_SIZE),
    KEY("uid", KEY_INT, ZCK_TOCSCAN_UID),
    KEY("gid", KEY_INT, ZCK_TOCSCAN_GID),
    KEY("modtime", KEY_STR, 3),
    KEY("accesstime", KEY_STR, 4),
    KEY("changetime", KEY_STR, 5),
    KEY("devMajor", KEY_INT, ZCK_TOCSCAN_DEVMAJOR),
    KEY("devMinor", KEY_INT, ZCK_TOCSCAN_DEVMINOR),
    KEY("xattrs", KEY_XATTRS, 0),
    KEY("digest", KEY_STR, 6),
    KEY("offset", KEY_INT, ZCK_TOCSCAN_OFFSET),
    KEY("endOffset", KEY_INT, ZCK_TOCSCAN_ENDOFFSET),
    KEY("chunkSize", KEY_INT, ZCK_TOCSCAN_CHUNKSIZE),
    KEY("chunkOffset", KEY_INT, ZCK_TOCSCAN_CHUNKOFFSET),
    KEY("chunkDigest", KEY_STR, 7),
    KEY("chunkType", KEY_STR, 8),
};
#define NSTR 9

static const char *const ENTRY_TYPES[] = {"reg", "chunk", "hardlink", "symlink", "dir", "char", "block", "fifo"};

/* The parse position: p moves toward end; every read is bounds-checked. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor;

/* A string value found in the input: its text between the quotes. */
typedef struct {
    const uint8_t *at;
    size_t len;
    int escaped;
    int set;
} span;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int take_char(cursor *c, uint8_t ch)
{
    skip_ws(c);
    if (c->p == c->end || *c->p != ch)
        return 0;
    c->p++;
    return 1;
}

static int take_null(cursor *c)
{
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= 4 && memcmp(c->p, "null", 4) == 0) {
        c->p += 4;
        return 1;
    }
    return 0;
}

static int hex_value(uint8_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A JSON string at the cursor (after optional whitespace): its raw text.
 * 0 for anything that is not a valid JSON string. */
static int take_string(cursor *c, span *s)
{
    if (!take_char(c, '"'))
        return 0;
    const uint8_t *start = c->p;
    int escaped = 0;
    while (c->p < c->end) {
        uint8_t ch = *c->p;
        if (ch == '"') {
            s->at = start;
            s->len = (size_t)(c->p - start);
            s->escaped = escaped;
            s->set = 1;
            c->p++;
            return 1;
        }
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            escaped = 1;
            if (c->end - c->p < 2)
                return 0;
            uint8_t e = c->p[1];
            if (e == 'u') {
                if (c->end - c->p < 6)
                    return 0;
                for (int i = 2; i < 6; i++)
                    if (hex_value(c->p[i]) < 0)
                        return 0;
                c->p += 6;
                continue;
            }
            if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't')
                return 0;
            c->p += 2;
            continue;
        }
        c->p++;
    }
    return 0;
}

/* A JSON integer within int64 (no fraction, no exponent). */
static int take_int(cursor *c, int64_t *v)
{
    skip_ws(c);
    const uint8_t *p = c->p;
    int neg = 0;
    if (p < c->end && *p == '-') {
        neg = 1;
        p++;
    }
    if (p == c->end || *p < '0' || *p > '9')
        return 0;
    uint64_t acc = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    if (*p == '0') {
        p++;
    } else {
        while (p < c->end && *p >= '0' && *p <= '9') {
            uint64_t d = (uint64_t)(*p - '0');
            if (acc > (limit - d) / 10u)
                return 0; /* outside int64: the general path decides */
            acc = acc * 10u + d;
            p++;
        }
    }
    if (p < c->end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return 0; /* a float, or a leading zero */
    c->p = p;
    if (neg)
        *v = acc == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)acc;
    else
        *v = (int64_t)acc;
    return 1;
}

/* UTF-8 of code point cp at d; returns its length. */
static size_t put_utf8(uint8_t *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (uint8_t)(0xC0 | (cp >> 6));
        d[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (uint8_t)(0xE0 | (cp >> 12));
        d[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        d[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | (cp >> 18));
    d[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    d[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    d[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const uint8_t *p)
{
    return (uint32_t)(hex_value(p[0]) << 12 | hex_value(p[1]) << 8 | hex_value(p[2]) << 4 | hex_value(p[3]));
}

/* The text of a string checked by take_string, unescaped to d (room for
 * s->len bytes: unescaping never grows it); returns the length. */
static size_t unescape(uint8_t *d, const span *s)
{
    if (!s->escaped) {
        memcpy(d, s->at, s->len);
        return s->len;
    }
    const uint8_t *p = s->at, *end = s->at + s->len;
    size_t w = 0;
    while (p < end) {
        if (*p != '\\') {
            d[w++] = *p++;
            continue;
        }
        uint8_t e = p[1];
        if (e != 'u') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            d[w++] = (uint8_t)to[strchr(from, e) - from];
            p += 2;
            continue;
        }
        uint32_t cp = hex4(p + 2);
        p += 6;
        if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
            uint32_t low = hex4(p + 2);
            if (low >= 0xDC00 && low < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            }
        }
        if (cp >= 0xD800 && cp < 0xE000)
            cp = 0xFFFD; /* a lone surrogate, as Go decodes it */
        w += put_utf8(d + w, cp);
    }
    return w;
}

/* Skip an xattrs value: null or a flat object of strings. */
static int skip_xattrs(cursor *c, int *present)
{
    if (take_null(c))
        return 1;
    if (!take_char(c, '{'))
        return 0;
    *present = 1;
    if (take_char(c, '}'))
        return 1;
    span k, v;
    do {
        if (!take_string(c, &k) || !take_char(c, ':') || !take_string(c, &v))
            return 0;
    } while (take_char(c, ','));
    return take_char(c, '}');
}

static int is_digest(const uint8_t *p, size_t n)
{
    size_t hex;
    if (n == 7 + 64 && memcmp(p, "sha256:", 7) == 0)
        hex = 64;
    else if (n == 7 + 96 && memcmp(p, "sha384:", 7) == 0)
        hex = 96;
    else if (n == 7 + 128 && memcmp(p, "sha512:", 7) == 0)
        hex = 128;
    else
        return 0;
    for (size_t i = 7; i < 7 + hex; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return 0;
    return 1;
}

/* Everything the Python layer's _validate_entry refuses; ZCK_TOCSCAN_BAD makes
 * it run there (and word the error). */
static int entry_is_bad(const int64_t *f, const uint8_t *out, const size_t *starts)
{
    const uint8_t *type = out + starts[0];
    size_t type_len = starts[1] - starts[0];
    int known = 0;
    for (size_t i = 0; i < sizeof ENTRY_TYPES / sizeof ENTRY_TYPES[0]; i++)
        if (strlen(ENTRY_TYPES[i]) == type_len && memcmp(ENTRY_TYPES[i], type, type_len) == 0)
            known = 1;
    size_t name_len = starts[2] - starts[1];
    if (!known || name_len == 0 || memchr(out + starts[1], 0, name_len) != NULL ||
        memchr(out + starts[2], 0, starts[3] - starts[2]) != NULL)
        return 1;
    if (f[ZCK_TOCSCAN_SIZE] < 0 || f[ZCK_TOCSCAN_OFFSET] < 0 || f[ZCK_TOCSCAN_ENDOFFSET] < 0 ||
        f[ZCK_TOCSCAN_CHUNKSIZE] < 0 || f[ZCK_TOCSCAN_CHUNKOFFSET] < 0)
        return 1;
    for (size_t k = 6; k <= 7; k++) {
        size_t n = starts[k + 1] - starts[k];
        if (n != 0 && !is_digest(out + starts[k], n))
            return 1;
    }
    return 0;
}

/* One entry object at the cursor into f (FIELDS int64s) and its strings to
 * out at *w.  0: not for the fast path. */
static int scan_entry(cursor *c, const uint8_t *base, int64_t *f, uint8_t *out, size_t *w)
{
    span str[NSTR];
    memset(str, 0, sizeof str);
    memset(f, 0, sizeof(int64_t) * FIELDS);
    skip_ws(c);
    f[ZCK_TOCSCAN_START] = (int64_t)(c->p - base);
    if (!take_char(c, '{'))
        return 0;
    int flags = 0;
    if (!take_char(c, '}')) {
        do {
            span key;
            if (!take_string(c, &key) || key.escaped || !take_char(c, ':'))
                return 0;
            const entry_key *k = NULL;
            for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++) {
                if (KEYS[i].len == key.len && memcmp(KEYS[i].name, key.at, key.len) == 0) {
                    k = &KEYS[i];
                    break;
                }
            }
            if (k == NULL)
                return 0;
            if (k->kind == KEY_XATTRS) {
                int present = 0;
                if (!skip_xattrs(c, &present))
                    return 0;
                if (present)
                    flags |= ZCK_TOCSCAN_PYTHON;
            } else if (take_null(c)) {
                /* the last of repeated keys counts, and null means "not set" */
                if (k->kind == KEY_INT)
                    f[k->slot] = 0;
                else
                    str[k->slot].set = 0;
            } else if (k->kind == KEY_INT) {
                if (!take_int(c, &f[k->slot]))
                    return 0;
            } else if (!take_string(c, &str[k->slot])) {
                return 0;
            }
        } while (take_char(c, ','));
        if (!take_char(c, '}'))
            return 0;
    }
    f[ZCK_TOCSCAN_END] = (int64_t)(c->p - base);
    size_t starts[NSTR + 1];
    for (size_t i = 0; i < NSTR; i++) {
        starts[i] = *w;
        if (str[i].set)
            *w += unescape(out + *w, &str[i]);
        f[ZCK_TOCSCAN_TYPE_END + i] = (int64_t)*w;
    }
    starts[NSTR] = *w;
    if (str[3].set)
        flags |= ZCK_TOCSCAN_HAS_MODTIME;
    if (str[4].set)
        flags |= ZCK_TOCSCAN_HAS_ACCESSTIME;
    if (str[5].set)
        flags |= ZCK_TOCSCAN_HAS_CHANGETIME;
    if (entry_is_bad(f, out, starts))
        flags |= ZCK_TOCSCAN_BAD;
    for (size_t i = starts[0]; i < starts[NSTR]; i++) {
        if (out[i] >= 0x80) {
            flags |= ZCK_TOCSCAN_NONASCII;
            break;
        }
    }
    f[ZCK_TOCSCAN_FLAGS] = flags;
    return 1;
}

int zck_toc_scan(const uint8_t *in, size_t n, size_t max_entries, int64_t *fields, size_t cap, uint8_t *out,
                 size_t out_cap, int64_t *top, size_t *entries, size_t *out_len, int *canonical)
{
    ZCK_RETURN_IF((in == NULL && n != 0) || (fields == NULL && cap != 0) || top == NULL || entries == NULL ||
                      out_len == NULL || canonical == NULL || (out == NULL && out_cap != 0),
                  ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(out_cap < n, ZCK_E_DST_TOO_SMALL); /* unescaped text never outgrows the input */
    *canonical = 0;
    *entries = 0;
    *out_len = 0;
    memset(top, 0, sizeof(int64_t) * ZCK_TOCSCAN_TOP);
    cursor c = {in, in + n};
    size_t count = 0, w = 0;
    span digest = {NULL, 0, 0, 0};
    int seen_version = 0, seen_entries = 0, seen_digest = 0;
    if (!take_char(&c, '{'))
        return ZCK_OK;
    if (!take_char(&c, '}')) {
        do {
            span key;
            if (!take_string(&c, &key) || key.escaped || !take_char(&c, ':'))
                return ZCK_OK;
            if (key.len == 7 && memcmp(key.at, "version", 7) == 0 && !seen_version) {
                seen_version = 1;
                if (!take_int(&c, &top[ZCK_TOCSCAN_VERSION]))
                    return ZCK_OK; /* null included: the general path refuses it */
                top[ZCK_TOCSCAN_HAS_VERSION] = 1;
            } else if (key.len == 7 && memcmp(key.at, "entries", 7) == 0 && !seen_entries) {
                seen_entries = 1;
                if (take_null(&c))
                    continue;
                if (!take_char(&c, '['))
                    return ZCK_OK;
                if (take_char(&c, ']'))
                    continue;
                do {
                    if (count == max_entries)
                        return ZCK_OK; /* the general path reports the limit */
                    ZCK_RETURN_IF(count == cap, ZCK_E_CAPACITY);
                    if (!scan_entry(&c, in, fields + FIELDS * count, out, &w))
                        return ZCK_OK;
                    count++;
                } while (take_char(&c, ','));
                if (!take_char(&c, ']'))
                    return ZCK_OK;
            } else if (key.len == 14 && memcmp(key.at, "tarSplitDigest", 14) == 0 && !seen_digest) {
                seen_digest = 1;
                if (!take_null(&c) && !take_string(&c, &digest))
                    return ZCK_OK;
            } else {
                return ZCK_OK; /* another key, or a repeated one */
            }
        } while (take_char(&c, ','));
        if (!take_char(&c, '}'))
            return ZCK_OK;
    }
    skip_ws(&c);
    if (c.p != c.end)
        return ZCK_OK;
    top[ZCK_TOCSCAN_DIGEST_START] = (int64_t)w;
    if (digest.set)
        w += unescape(out + w, &digest);
    top[ZCK_TOCSCAN_DIGEST_END] = (int64_t)w;
    *entries = count;
    *out_len = w;
    *canonical = 1;
    return ZCK_OK;
}
