/* zck_toctext.c - the entries of the writer's TOC, encoded in C.
 *
 * containers/storage marshals each TOC entry (minimal.FileMetadata) with
 * json-iterator in standard-library mode: keys in struct order, every field
 * but "type" and "name" omitted when empty or zero, strings HTML-escaped.
 * The entries of the "entries" array accumulate in one buffer, with the
 * commas between them; the caller writes the document's opening and closing
 * text and takes the entries (zck_toctext_take) when it likes. */
#include "zck_internal.h"

struct zck_toctext {
    zck_textbuf out;  /* entry text not yet taken */
    uint64_t entries; /* entries written so far */
};

zck_toctext *zck_toctext_new(void)
{
    return calloc(1, sizeof(zck_toctext));
}

void zck_toctext_free(zck_toctext *t)
{
    if (t == NULL)
        return;
    zck_textbuf_free(&t->out);
    free(t);
}

size_t zck_toctext_sizeof(const zck_toctext *t)
{
    return t == NULL ? 0 : sizeof *t + t->out.cap;
}

uint64_t zck_toctext_count(const zck_toctext *t)
{
    return t == NULL ? 0 : t->entries;
}

const uint8_t *zck_toctext_text(const zck_toctext *t, size_t *n)
{
    if (t == NULL || n == NULL)
        return NULL;
    *n = t->out.len;
    return t->out.data;
}

void zck_toctext_clear(zck_toctext *t)
{
    if (t != NULL)
        t->out.len = 0;
}

/* The longest key with its punctuation: ,"accesstime":"" (16 bytes). */
#define KEY_ROOM 18u
#define FIELDS 20u
#define TEXTS 10u

/* Room for one string field: key, quotes, escaped text.  0 on overflow. */
static size_t string_room(size_t n)
{
    size_t q = zck_json_quote_bound(n);
    return q == 0 || q > SIZE_MAX - KEY_ROOM ? 0 : q + KEY_ROOM;
}

/* Adds b to *total; 0 when b is 0 (an overflowed room) or the sum overflows. */
static int add_room(size_t *total, size_t b)
{
    if (b == 0 || b > SIZE_MAX - *total)
        return 0;
    *total += b;
    return 1;
}

static size_t put_string_field(uint8_t *d, const char *key, size_t key_len, const uint8_t *p, size_t n)
{
    size_t o = zck_put_bytes(d, key, key_len);
    return o + zck_put_json_string(d + o, p, n, ZCK_JSON_JSONITER);
}

static size_t put_int_field(uint8_t *d, const char *key, size_t key_len, int64_t v)
{
    size_t o = zck_put_bytes(d, key, key_len);
    return o + zck_put_i64(d + o, v);
}

/* Text written as it is, between quotes (times). */
static size_t put_raw_string_field(uint8_t *d, const char *key, size_t key_len, const uint8_t *s, size_t n)
{
    size_t o = zck_put_bytes(d, key, key_len);
    d[o++] = '"';
    if (n > 0)
        memcpy(d + o, s, n);
    o += n;
    d[o++] = '"';
    return o;
}

#define STR_FIELD(key, p, n) put_string_field(d + o, key, sizeof(key) - 1, (p), (n))
#define INT_FIELD(key, v) put_int_field(d + o, key, sizeof(key) - 1, (v))
#define RAW_FIELD(key, s, n) put_raw_string_field(d + o, key, sizeof(key) - 1, (s), (n))

int zck_toctext_entry(zck_toctext *t, const uint8_t *type, size_t type_len, const uint8_t *name, size_t name_len,
                      const uint8_t *linkname, size_t linkname_len, int64_t mode, int64_t size, int64_t uid,
                      int64_t gid, const uint8_t *modtime, size_t modtime_len, const uint8_t *accesstime,
                      size_t accesstime_len, const uint8_t *changetime, size_t changetime_len, int64_t devmajor,
                      int64_t devminor, const uint8_t *xattrs, size_t xattrs_len, const uint8_t *digest,
                      size_t digest_len, int64_t offset, int64_t end_offset, int64_t chunk_size,
                      int64_t chunk_offset, const uint8_t *chunk_digest, size_t chunk_digest_len,
                      const uint8_t *chunk_type, size_t chunk_type_len)
{
    ZCK_RETURN_IF(t == NULL, ZCK_E_INVALID_ARGUMENT);
    /* NULL with a length is an error; NULL without one is empty (omitted, for times) */
    const uint8_t *texts[TEXTS] = {type, name, linkname, modtime, accesstime, changetime, xattrs, digest,
                                   chunk_digest, chunk_type};
    const size_t lens[TEXTS] = {type_len, name_len, linkname_len, modtime_len, accesstime_len,
                                changetime_len, xattrs_len, digest_len, chunk_digest_len, chunk_type_len};
    size_t room = FIELDS * (KEY_ROOM + ZCK_MAX_DIGITS) + 4;
    int ok = 1;
    for (size_t i = 0; i < TEXTS; i++) {
        ZCK_RETURN_IF(texts[i] == NULL && lens[i] != 0, ZCK_E_INVALID_ARGUMENT);
        ok = ok && add_room(&room, string_room(lens[i]));
    }
    ZCK_RETURN_IF(!ok, ZCK_E_OVERFLOW);
    ZCK_FORWARD(zck_textbuf_reserve(&t->out, room));
    static const uint8_t nothing = 0;
    if (type == NULL)
        type = &nothing;
    if (name == NULL)
        name = &nothing;

    uint8_t *d = t->out.data + t->out.len;
    size_t o = 0;
    if (t->entries > 0)
        d[o++] = ',';
    o += STR_FIELD("{\"type\":", type, type_len);
    o += STR_FIELD(",\"name\":", name, name_len);
    if (linkname_len > 0)
        o += STR_FIELD(",\"linkName\":", linkname, linkname_len);
    if (mode != 0)
        o += INT_FIELD(",\"mode\":", mode);
    if (size != 0)
        o += INT_FIELD(",\"size\":", size);
    if (uid != 0)
        o += INT_FIELD(",\"uid\":", uid);
    if (gid != 0)
        o += INT_FIELD(",\"gid\":", gid);
    if (modtime != NULL)
        o += RAW_FIELD(",\"modtime\":", modtime, modtime_len);
    if (accesstime != NULL)
        o += RAW_FIELD(",\"accesstime\":", accesstime, accesstime_len);
    if (changetime != NULL)
        o += RAW_FIELD(",\"changetime\":", changetime, changetime_len);
    if (devmajor != 0)
        o += INT_FIELD(",\"devMajor\":", devmajor);
    if (devminor != 0)
        o += INT_FIELD(",\"devMinor\":", devminor);
    if (xattrs_len > 0) {
        o += ZCK_PUT_LITERAL(d + o, ",\"xattrs\":");
        memcpy(d + o, xattrs, xattrs_len);
        o += xattrs_len;
    }
    if (digest_len > 0)
        o += STR_FIELD(",\"digest\":", digest, digest_len);
    if (offset != 0)
        o += INT_FIELD(",\"offset\":", offset);
    if (end_offset != 0)
        o += INT_FIELD(",\"endOffset\":", end_offset);
    if (chunk_size != 0)
        o += INT_FIELD(",\"chunkSize\":", chunk_size);
    if (chunk_offset != 0)
        o += INT_FIELD(",\"chunkOffset\":", chunk_offset);
    if (chunk_digest_len > 0)
        o += STR_FIELD(",\"chunkDigest\":", chunk_digest, chunk_digest_len);
    if (chunk_type_len > 0)
        o += STR_FIELD(",\"chunkType\":", chunk_type, chunk_type_len);
    d[o++] = '}';
    t->out.len += o;
    t->entries++;
    return ZCK_OK;
}
