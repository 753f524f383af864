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
static size_t put_raw_string_field(uint8_t *d, const char *key, size_t key_len, const char *s, size_t n)
{
    size_t o = zck_put_bytes(d, key, key_len);
    d[o++] = '"';
    o += zck_put_bytes(d + o, s, n);
    d[o++] = '"';
    return o;
}

#define STR_FIELD(key, p, n) put_string_field(d + o, key, sizeof(key) - 1, (p), (n))
#define INT_FIELD(key, v) put_int_field(d + o, key, sizeof(key) - 1, (v))
#define RAW_FIELD(key, s, n) put_raw_string_field(d + o, key, sizeof(key) - 1, (s), (n))

int zck_toctext_entry(zck_toctext *t, const char *type, const uint8_t *name, size_t name_len,
                      const uint8_t *linkname, size_t linkname_len, int64_t mode, int64_t size, int64_t uid,
                      int64_t gid, const char *modtime, const char *accesstime, const char *changetime,
                      int64_t devmajor, int64_t devminor, const char *xattrs, const char *digest, int64_t offset,
                      int64_t end_offset, int64_t chunk_size, int64_t chunk_offset, const char *chunk_digest,
                      const char *chunk_type)
{
    ZCK_RETURN_IF(t == NULL || type == NULL || (name == NULL && name_len != 0) ||
                      (linkname == NULL && linkname_len != 0),
                  ZCK_E_INVALID_ARGUMENT);
    if (name == NULL)
        name = (const uint8_t *)"";
    const char *texts[8] = {type, modtime, accesstime, changetime, xattrs, digest, chunk_digest, chunk_type};
    size_t lens[8];
    size_t room = FIELDS * (KEY_ROOM + ZCK_MAX_DIGITS) + 4;
    int ok = add_room(&room, string_room(name_len)) && add_room(&room, string_room(linkname_len));
    for (size_t i = 0; i < 8; i++) {
        lens[i] = texts[i] == NULL ? 0 : strlen(texts[i]);
        ok = ok && add_room(&room, string_room(lens[i]));
    }
    ZCK_RETURN_IF(!ok, ZCK_E_OVERFLOW);
    ZCK_FORWARD(zck_textbuf_reserve(&t->out, room));

    uint8_t *d = t->out.data + t->out.len;
    size_t o = 0;
    if (t->entries > 0)
        d[o++] = ',';
    o += STR_FIELD("{\"type\":", (const uint8_t *)type, lens[0]);
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
        o += RAW_FIELD(",\"modtime\":", modtime, lens[1]);
    if (accesstime != NULL)
        o += RAW_FIELD(",\"accesstime\":", accesstime, lens[2]);
    if (changetime != NULL)
        o += RAW_FIELD(",\"changetime\":", changetime, lens[3]);
    if (devmajor != 0)
        o += INT_FIELD(",\"devMajor\":", devmajor);
    if (devminor != 0)
        o += INT_FIELD(",\"devMinor\":", devminor);
    if (lens[4] > 0) {
        o += ZCK_PUT_LITERAL(d + o, ",\"xattrs\":");
        o += zck_put_bytes(d + o, xattrs, lens[4]);
    }
    if (lens[5] > 0)
        o += STR_FIELD(",\"digest\":", (const uint8_t *)digest, lens[5]);
    if (offset != 0)
        o += INT_FIELD(",\"offset\":", offset);
    if (end_offset != 0)
        o += INT_FIELD(",\"endOffset\":", end_offset);
    if (chunk_size != 0)
        o += INT_FIELD(",\"chunkSize\":", chunk_size);
    if (chunk_offset != 0)
        o += INT_FIELD(",\"chunkOffset\":", chunk_offset);
    if (lens[6] > 0)
        o += STR_FIELD(",\"chunkDigest\":", (const uint8_t *)chunk_digest, lens[6]);
    if (lens[7] > 0)
        o += STR_FIELD(",\"chunkType\":", (const uint8_t *)chunk_type, lens[7]);
    d[o++] = '}';
    t->out.len += o;
    t->entries++;
    return ZCK_OK;
}
