/* zck_tocmatch.c - the reader's fast path for "the TOC and the tar-split
 * describe the same entries" (tocmatch.py, upstream ensureTOCMatchesTarSplit).
 *
 * The Python check parses every tar header kept in the tar-split, looks its
 * name up in the TOC and compares the fields.  For the layers writers make,
 * the headers are plain one-block USTAR or GNU headers and the TOC lists the
 * same entries in the same order; this file walks both in step and answers
 * "shown equal" or "not shown".  It never reports a mismatch itself: anything
 * it does not take (another order, meta headers, odd number layouts, non-ASCII
 * names, xattrs, times it does not write the same way, duplicates) makes it
 * answer "not shown", and the caller runs the full check, which decides and
 * words the error.
 *
 * A header is taken only when the Python fast parser (tarstream.py,
 * _parse_header_block) would take it, with the same values; the comparison is
 * the Python _same_fast, with each TOC time required to be the text Go writes
 * for the header's time (RFC 3339, UTC, whole seconds). */
#include "zck_internal.h"

#define TM_BLOCK 512u
#define TM_TYPE_SLOT ((size_t)ZCK_TOCMATCH_TYPE_SLOT)
/* 9999-12-31T23:59:59Z + 1 s: the end of the four-digit years. */
#define TM_YEAR_10000 INT64_C(253402300800)

typedef struct {
    uint8_t typeflag;
    int64_t mode, uid, gid, size, mtime, devmajor, devminor;
    uint8_t name[256]; /* prefix "/" name: at most 155 + 1 + 100 bytes */
    size_t name_len;
    const uint8_t *link;
    size_t link_len;
} tm_header;

/* A NUL-terminated field of at most n bytes: its length. */
static size_t tm_cstring(const uint8_t *p, size_t n)
{
    const uint8_t *nul = memchr(p, 0, n);
    return nul == NULL ? n : (size_t)(nul - p);
}

static int tm_ascii(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] & 0x80u)
            return 0;
    }
    return 1;
}

static int tm_is_term(uint8_t c)
{
    return c == 0 || c == ' ';
}

static int tm_is_octal(uint8_t c)
{
    return c >= '0' && c <= '7';
}

/* An octal field of width w in one of the two layouts the fast parser takes:
 * w-1 digits and a NUL/space, or w-2 digits and two.  1 with *value set, or 0. */
static int tm_octal(const uint8_t *p, size_t w, int64_t *value)
{
    size_t digits = w - 1;
    if (!tm_is_term(p[w - 1]))
        return 0;
    if (tm_is_term(p[w - 2]))
        digits = w - 2;
    uint64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        if (!tm_is_octal(p[i]))
            return 0;
        v = (v << 3) | (uint64_t)(p[i] - '0'); /* at most 11 digits: 33 bits */
    }
    *value = (int64_t)v;
    return 1;
}

/* The header block, as the Python fast parser reads it; 0 when that parser
 * would hand the block to the general one (or the block is not for us). */
static int tm_parse(const uint8_t *b, tm_header *h)
{
    int64_t chksum;
    if (!tm_octal(b + 100, 8, &h->mode) || !tm_octal(b + 108, 8, &h->uid) || !tm_octal(b + 116, 8, &h->gid) ||
        !tm_octal(b + 124, 12, &h->size) || !tm_octal(b + 136, 12, &h->mtime) || !tm_octal(b + 148, 8, &chksum))
        return 0;
    /* the unsigned checksum, the checksum field counting as eight spaces */
    int64_t sum = 8 * ' ';
    for (size_t i = 0; i < TM_BLOCK; i++) {
        if (i < 148 || i >= 156)
            sum += b[i];
    }
    if (sum != chksum)
        return 0;
    static const uint8_t no_device[16];
    if (memcmp(b + 329, no_device, sizeof no_device) == 0) {
        h->devmajor = h->devminor = 0;
    } else if (!tm_octal(b + 329, 8, &h->devmajor) || !tm_octal(b + 337, 8, &h->devminor)) {
        return 0;
    }
    size_t name_len = tm_cstring(b, 100);
    size_t prefix_len = 0;
    if (memcmp(b + 257, "ustar  \0", 8) == 0) { /* GNU */
        if (b[345] != 0 || b[357] != 0)          /* GNU atime/ctime */
            return 0;
    } else if (memcmp(b + 257, "ustar\0", 6) == 0 && memcmp(b + 508, "tar\0", 4) != 0) { /* USTAR, not STAR */
        if (b[345] != 0)
            prefix_len = tm_cstring(b + 345, 155);
    } else {
        return 0; /* V7, STAR or no magic: the general parser */
    }
    h->name_len = 0;
    if (prefix_len > 0) {
        memcpy(h->name, b + 345, prefix_len);
        h->name[prefix_len] = '/';
        h->name_len = prefix_len + 1;
    }
    memcpy(h->name + h->name_len, b, name_len);
    h->name_len += name_len;
    h->link = b + 157;
    h->link_len = b[157] != 0 ? tm_cstring(b + 157, 100) : 0;
    h->typeflag = b[156];
    return 1;
}

/* Days from 1970-01-01 to the civil date: its year, month and day. */
static void tm_civil(int64_t days, int64_t *year, int64_t *month, int64_t *day)
{
    /* eras of 400 years from 0000-03-01; days >= 0 here */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = doy - (153 * mp + 2) / 5 + 1;
    *month = mp < 10 ? mp + 3 : mp - 9;
    *year = yoe + era * 400 + (*month <= 2 ? 1 : 0);
}

/* Go's RFC 3339 text of Unix time t (0 <= t < TM_YEAR_10000) in UTC; 20 bytes. */
static void tm_rfc3339(int64_t t, uint8_t out[20])
{
    int64_t days = t / 86400, secs = t % 86400, year, month, day;
    tm_civil(days, &year, &month, &day);
    int64_t parts[6] = {year, month, day, secs / 3600, secs / 60 % 60, secs % 60};
    static const size_t widths[6] = {4, 2, 2, 2, 2, 2};
    static const uint8_t after[6] = {'-', '-', 'T', ':', ':', 'Z'};
    size_t at = 0;
    for (size_t i = 0; i < 6; i++) {
        for (size_t d = widths[i]; d > 0; d--) {
            out[at + d - 1] = (uint8_t)('0' + parts[i] % 10);
            parts[i] /= 10;
        }
        at += widths[i];
        out[at++] = after[i];
    }
}

typedef struct {
    const int64_t *fields;
    const uint8_t *text;
    size_t text_len;
    size_t entries;
    size_t next;        /* the next entry to look at */
    size_t text_start;  /* where that entry's strings start */
} tm_toc;

typedef struct {
    int64_t flags, mode, size, uid, gid, devmajor, devminor;
    const uint8_t *str[9]; /* type, name, linkName, modtime, accesstime, changetime, ... */
    size_t len[9];
} tm_entry;

/* The strings of entry i, checked to lie in the text in order.  ZCK_E_INVALID_ARGUMENT if not. */
static int tm_entry_at(tm_toc *t, size_t i, tm_entry *e)
{
    const int64_t *f = t->fields + i * (size_t)ZCK_TOCSCAN_FIELDS;
    size_t start = t->text_start;
    for (size_t s = 0; s < 9; s++) {
        int64_t end = f[ZCK_TOCSCAN_TYPE_END + s];
        if (end < 0 || (uint64_t)end < start || (uint64_t)end > t->text_len)
            return ZCK_E_INVALID_ARGUMENT;
        e->str[s] = t->text + start;
        e->len[s] = (size_t)end - start;
        start = (size_t)end;
    }
    t->text_start = start;
    e->flags = f[ZCK_TOCSCAN_FLAGS];
    e->mode = f[ZCK_TOCSCAN_MODE];
    e->size = f[ZCK_TOCSCAN_SIZE];
    e->uid = f[ZCK_TOCSCAN_UID];
    e->gid = f[ZCK_TOCSCAN_GID];
    e->devmajor = f[ZCK_TOCSCAN_DEVMAJOR];
    e->devminor = f[ZCK_TOCSCAN_DEVMINOR];
    return ZCK_OK;
}

static int tm_same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* The next TOC entry that is not a chunk; 0 when there is none. */
static int tm_next_entry(tm_toc *t, const uint8_t *chunk_type, size_t chunk_len, tm_entry *e, int *rc)
{
    while (t->next < t->entries) {
        *rc = tm_entry_at(t, t->next, e);
        if (*rc != ZCK_OK)
            return 0;
        t->next++;
        if (!tm_same_bytes(e->str[0], e->len[0], chunk_type, chunk_len))
            return 1;
    }
    return 0;
}

/* Whether header h equals entry e as _same_fast sees them; tar_type is the
 * TOC type of h's typeflag ("" when it has none). */
static int tm_same(const tm_header *h, const tm_entry *e, const uint8_t *tar_type, size_t tar_type_len)
{
    const int64_t refused = ZCK_TOCSCAN_PYTHON | ZCK_TOCSCAN_BAD | ZCK_TOCSCAN_NONASCII | ZCK_TOCSCAN_HAS_ACCESSTIME |
                            ZCK_TOCSCAN_HAS_CHANGETIME;
    if ((e->flags & refused) != 0 || tar_type_len == 0 || !tm_same_bytes(e->str[0], e->len[0], tar_type, tar_type_len))
        return 0;
    if (!tm_same_bytes(e->str[1], e->len[1], h->name, h->name_len) ||
        !tm_same_bytes(e->str[2], e->len[2], h->link, h->link_len) || !tm_ascii(h->name, h->name_len) ||
        !tm_ascii(h->link, h->link_len))
        return 0;
    if (e->mode != h->mode || e->size != h->size || e->uid != h->uid || e->gid != h->gid ||
        e->devmajor != h->devmajor || e->devminor != h->devminor)
        return 0;
    if (h->mtime == 0) { /* no time: the TOC has none, or the Unix epoch or Go's zero time as Go writes them */
        return (e->flags & ZCK_TOCSCAN_HAS_MODTIME) == 0 ||
               tm_same_bytes(e->str[3], e->len[3], (const uint8_t *)"1970-01-01T00:00:00Z", 20) ||
               tm_same_bytes(e->str[3], e->len[3], (const uint8_t *)"0001-01-01T00:00:00Z", 20);
    }
    if (h->mtime >= TM_YEAR_10000 || (e->flags & ZCK_TOCSCAN_HAS_MODTIME) == 0)
        return 0;
    uint8_t text[20];
    tm_rfc3339(h->mtime, text);
    return tm_same_bytes(e->str[3], e->len[3], text, sizeof text);
}

static int tm_all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return 0;
    }
    return 1;
}

/* The typeflag after the reader's fix-up ('\0' is a directory when the name ends in '/'). */
static uint8_t tm_typeflag(const tm_header *h)
{
    if (h->typeflag != 0)
        return h->typeflag;
    return h->name_len > 0 && h->name[h->name_len - 1] == '/' ? '5' : '0';
}

struct zck_tocmatch {
    tm_toc toc;
    const uint8_t *chunk_type;
    size_t chunk_type_len;
    const uint8_t *type_names;
    zck_pathset *names; /* the TOC names matched so far */
    size_t pending;     /* padding expected at the start of the next segment */
    int64_t count;      /* headers matched */
    int started;
    int differ;         /* not shown: only finish() and free() remain */
    tm_entry held;      /* the entry a stopped segment must match... */
    int held_valid;     /* ...if there is one */
    size_t held_next, held_text; /* the TOC cursor before it */
    int holding;        /* a stopped segment waits for zck_tocmatch_take */
};

zck_tocmatch *zck_tocmatch_new(void)
{
    zck_tocmatch *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->names = zck_pathset_new();
    if (m->names == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void zck_tocmatch_free(zck_tocmatch *m)
{
    if (m == NULL)
        return;
    zck_pathset_free(m->names);
    free(m);
}

size_t zck_tocmatch_sizeof(const zck_tocmatch *m)
{
    return m == NULL ? 0 : sizeof *m + zck_pathset_sizeof(m->names);
}

int zck_tocmatch_start(zck_tocmatch *m, const int64_t *toc_fields, size_t toc_entries, const uint8_t *toc_text,
                       size_t toc_text_len, const uint8_t *chunk_type, size_t chunk_type_len,
                       const uint8_t *type_names)
{
    ZCK_RETURN_IF(m == NULL || m->started || type_names == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(chunk_type == NULL && chunk_type_len > 0, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF((toc_fields == NULL && toc_entries > 0) || (toc_text == NULL && toc_text_len > 0),
                  ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(toc_entries > SIZE_MAX / (size_t)ZCK_TOCSCAN_FIELDS, ZCK_E_OVERFLOW);
    m->toc = (tm_toc){toc_fields, toc_text, toc_text_len, toc_entries, 0, 0};
    m->chunk_type = chunk_type;
    m->chunk_type_len = chunk_type_len;
    m->type_names = type_names;
    m->started = 1;
    return ZCK_OK;
}

/* Record entry e as matched; 0 when its name was matched before (or the set failed: *rc). */
static int tm_record(zck_tocmatch *m, const tm_entry *e, int *rc)
{
    int added = 0;
    *rc = zck_pathset_add(m->names, e->str[1], e->len[1], &added);
    if (*rc != ZCK_OK || !added)
        return 0;
    m->count++;
    return 1;
}

int zck_tocmatch_run(zck_tocmatch *m, const uint8_t *segs, const size_t *seg_ends, size_t nsegs, size_t *index,
                     int *status, int64_t *entry, size_t *pending)
{
    ZCK_RETURN_IF(m == NULL || !m->started || m->holding || index == NULL || status == NULL || entry == NULL ||
                      pending == NULL,
                  ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF((segs == NULL || seg_ends == NULL) && nsegs > 0, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(*index > nsegs, ZCK_E_INVALID_ARGUMENT);
    *status = ZCK_TOCMATCH_DIFFER;
    *entry = -1;
    *pending = 0;
    if (m->differ)
        return ZCK_OK;
    int rc = ZCK_OK;
    tm_header h;
    tm_entry e;
    for (size_t i = *index; i < nsegs; i++) {
        size_t seg_start = i == 0 ? 0 : seg_ends[i - 1];
        ZCK_RETURN_IF(seg_ends[i] < seg_start, ZCK_E_INVALID_ARGUMENT);
        size_t len = seg_ends[i] - seg_start;
        const uint8_t *seg = segs + seg_start;
        *index = i;
        if (len < m->pending)
            goto differ; /* the full check words the error */
        const uint8_t *body = seg + m->pending;
        size_t blen = len - m->pending;
        if (blen == 0 || (blen >= 2 * TM_BLOCK && tm_all_zero(body, blen))) {
            m->pending = 0; /* nothing, or the end-of-archive blocks */
            continue;
        }
        int plain = blen >= TM_BLOCK && !tm_all_zero(body, TM_BLOCK) && body[156] != 'x' && body[156] != 'g' &&
                    body[156] != 'L' && body[156] != 'K' && tm_parse(body, &h);
        size_t next_before = m->toc.next, text_before = m->toc.text_start;
        int have = tm_next_entry(&m->toc, m->chunk_type, m->chunk_type_len, &e, &rc);
        if (rc != ZCK_OK)
            return rc;
        uint8_t typeflag = plain ? tm_typeflag(&h) : 0;
        const uint8_t *tar_type = m->type_names + (size_t)typeflag * TM_TYPE_SLOT;
        if (!plain || !have || !tm_same(&h, &e, tar_type, tm_cstring(tar_type, TM_TYPE_SLOT))) {
            /* not a plain header, or one that _same_fast may still find equal in another
             * spelling: the caller reads it, compares it with the entry and reports back */
            m->held = e;
            m->held_valid = have;
            m->held_next = next_before;
            m->held_text = text_before;
            m->holding = 1;
            *entry = have ? (int64_t)(m->toc.next - 1) : -1;
            *pending = m->pending;
            *status = ZCK_TOCMATCH_STOP;
            return ZCK_OK;
        }
        if (!tm_record(m, &e, &rc)) {
            if (rc != ZCK_OK)
                return rc;
            goto differ; /* a name twice (or a key collision): the full check decides */
        }
        /* the payload: none for links, devices, directories and FIFOs */
        uint64_t payload = (typeflag >= '1' && typeflag <= '6') ? 0 : (uint64_t)h.size;
        m->pending = (size_t)((TM_BLOCK - payload % TM_BLOCK) % TM_BLOCK);
    }
    *index = nsegs;
    *status = ZCK_TOCMATCH_DONE;
    return ZCK_OK;
differ:
    m->differ = 1;
    return ZCK_OK;
}

int zck_tocmatch_take(zck_tocmatch *m, int matched, size_t pending_after, int *status)
{
    ZCK_RETURN_IF(m == NULL || !m->holding || status == NULL, ZCK_E_INVALID_ARGUMENT);
    m->holding = 0;
    m->pending = pending_after;
    *status = ZCK_TOCMATCH_DIFFER;
    if (m->differ)
        return ZCK_OK;
    if (!matched) {
        /* no header in the segment: the entry held for it is still to be matched */
        m->toc.next = m->held_next;
        m->toc.text_start = m->held_text;
        *status = ZCK_TOCMATCH_DONE;
        return ZCK_OK;
    }
    int rc = ZCK_OK;
    if (!m->held_valid || !tm_record(m, &m->held, &rc)) {
        m->differ = 1;
        return rc;
    }
    *status = ZCK_TOCMATCH_DONE;
    return ZCK_OK;
}

int zck_tocmatch_finish(zck_tocmatch *m, int64_t *shown)
{
    ZCK_RETURN_IF(m == NULL || !m->started || m->holding || shown == NULL, ZCK_E_INVALID_ARGUMENT);
    *shown = -1;
    if (m->differ)
        return ZCK_OK;
    int rc = ZCK_OK;
    tm_entry e;
    if (tm_next_entry(&m->toc, m->chunk_type, m->chunk_type_len, &e, &rc) || rc != ZCK_OK)
        return rc; /* a TOC entry no header matched */
    *shown = m->count;
    return ZCK_OK;
}
