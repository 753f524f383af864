/* zck_framescan.c - walk a blob frame by frame, incrementally.
 *
 * The blob arrives in pieces of any size.  Frame and block headers (at most 18
 * bytes) are gathered in a small buffer; block bodies and skippable payloads
 * are skipped by counting, so memory use is constant and nothing is
 * allocated per frame.  Frame layout per RFC 8878:
 *
 *   zstd frame:      magic FD2FB528 (LE) | header descriptor | [window
 *                    descriptor] | [dictionary id] | [content size] |
 *                    blocks (3-byte header + body) | [4-byte checksum]
 *   skippable frame: magic 184D2A5? (LE) | LE u32 size | payload
 */
#include "zck_internal.h"

enum {
    ST_MAGIC = 0,     /* gathering the 4 magic bytes of the next frame */
    ST_SKIP_SIZE,     /* gathering a skippable frame's size field */
    ST_SKIP_BODY,     /* skipping a skippable payload */
    ST_FHD,           /* gathering the frame header descriptor */
    ST_FHEADER,       /* gathering the rest of the frame header */
    ST_BLOCK_HDR,     /* gathering a 3-byte block header */
    ST_BLOCK_BODY,    /* skipping a block body */
    ST_CHECKSUM,      /* skipping the 4-byte content checksum */
    ST_ERROR
};

struct zck_framescan {
    int state;
    int error;
    uint64_t pos;          /* bytes consumed so far */
    uint64_t frame_start;  /* offset of the current frame */
    uint64_t field_start;  /* offset of the header being gathered */
    uint64_t err_offset;
    uint64_t skip;         /* bytes left in the body being skipped */
    uint64_t content_size;
    uint32_t kind;
    uint32_t magic_nibble;
    uint32_t have, need;   /* bytes in buf / bytes wanted */
    uint32_t fhd;
    uint32_t checksum;
    uint32_t last_block;
    uint8_t buf[16];
};

zck_framescan *zck_framescan_new(void)
{
    zck_framescan *s = (zck_framescan *)malloc(sizeof(*s));
    if (s == NULL)
        return NULL;
    zck_framescan_reset(s);
    return s;
}

void zck_framescan_free(zck_framescan *s)
{
    free(s);
}

static void expect(zck_framescan *s, int state, uint32_t need)
{
    s->state = state;
    s->have = 0;
    s->need = need;
    s->field_start = s->pos;
}

void zck_framescan_reset(zck_framescan *s)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof(*s));
    expect(s, ST_MAGIC, 4);
}

size_t zck_framescan_sizeof(const zck_framescan *s)
{
    return s == NULL ? 0 : sizeof(*s);
}

uint64_t zck_framescan_offset(const zck_framescan *s)
{
    return s == NULL ? 0 : s->frame_start;
}

uint64_t zck_framescan_error_offset(const zck_framescan *s)
{
    if (s == NULL)
        return 0;
    return s->state == ST_ERROR ? s->err_offset : s->frame_start;
}

static int fail(zck_framescan *s, int code, uint64_t offset)
{
    s->state = ST_ERROR;
    s->error = code;
    s->err_offset = offset;
    return code;
}

static void emit(zck_framescan *s, zck_frame_info *recs, size_t *n)
{
    zck_frame_info *r = &recs[*n];
    r->offset = s->frame_start;
    r->size = s->pos - s->frame_start;
    r->kind = s->kind;
    r->magic_nibble = s->magic_nibble;
    r->content_size = s->content_size;
    (*n)++;
    s->frame_start = s->pos;
    expect(s, ST_MAGIC, 4);
}

/* A block (or the whole header when there are no blocks yet) is done. */
static void after_block(zck_framescan *s, zck_frame_info *recs, size_t *n)
{
    if (!s->last_block) {
        expect(s, ST_BLOCK_HDR, 3);
    } else if (s->checksum) {
        s->state = ST_CHECKSUM;
        s->skip = 4;
    } else {
        emit(s, recs, n);
    }
}

static uint64_t content_size_of(const uint8_t *p, uint32_t size)
{
    switch (size) {
    case 1: return p[0];
    case 2: return ((uint64_t)p[0] | ((uint64_t)p[1] << 8)) + 256u;
    case 4: return zck_load_le32(p);
    case 8: return zck_load_le64(p);
    default: return UINT64_MAX;
    }
}

/* A header field in s->buf is complete: act on it.  Returns ZCK_OK or an error. */
static int on_field(zck_framescan *s, zck_frame_info *recs, size_t *n)
{
    switch (s->state) {
    case ST_MAGIC: {
        uint32_t magic = zck_load_le32(s->buf);
        if (magic == ZCK_ZSTD_MAGIC) {
            s->kind = 0;
            s->magic_nibble = 0;
            expect(s, ST_FHD, 1);
        } else if ((magic & ZCK_SKIPPABLE_MASK) == ZCK_SKIPPABLE_MAGIC) {
            s->kind = 1;
            s->magic_nibble = magic & 0xFu;
            expect(s, ST_SKIP_SIZE, 4);
        } else {
            return fail(s, ZCK_E_FRAME_GARBAGE, s->frame_start);
        }
        return ZCK_OK;
    }
    case ST_SKIP_SIZE:
        s->content_size = zck_load_le32(s->buf);
        s->skip = s->content_size;
        if (s->skip == 0)
            emit(s, recs, n);
        else
            s->state = ST_SKIP_BODY;
        return ZCK_OK;
    case ST_FHD: {
        static const uint32_t did_size[4] = {0, 1, 2, 4};
        uint32_t fhd = s->buf[0];
        uint32_t single = (fhd >> 5) & 1u;
        uint32_t fcs_flag = fhd >> 6;
        uint32_t fcs_size = fcs_flag == 0 ? single : (1u << fcs_flag);
        uint32_t rest = (single ? 0u : 1u) + did_size[fhd & 3u] + fcs_size;
        if (fhd & 0x08u)
            return fail(s, ZCK_E_FRAME_RESERVED_BIT, s->field_start);
        s->fhd = fhd;
        s->checksum = (fhd >> 2) & 1u;
        s->last_block = 0;
        s->content_size = UINT64_MAX;
        if (rest == 0)
            expect(s, ST_BLOCK_HDR, 3);
        else
            expect(s, ST_FHEADER, rest);
        return ZCK_OK;
    }
    case ST_FHEADER: {
        uint32_t fhd = s->fhd;
        uint32_t single = (fhd >> 5) & 1u;
        uint32_t fcs_flag = fhd >> 6;
        uint32_t fcs_size = fcs_flag == 0 ? single : (1u << fcs_flag);
        s->content_size = content_size_of(s->buf + (s->need - fcs_size), fcs_size);
        expect(s, ST_BLOCK_HDR, 3);
        return ZCK_OK;
    }
    case ST_BLOCK_HDR: {
        uint32_t h = (uint32_t)s->buf[0] | ((uint32_t)s->buf[1] << 8) | ((uint32_t)s->buf[2] << 16);
        uint32_t type = (h >> 1) & 3u;
        uint32_t size = h >> 3;
        if (type == 3)
            return fail(s, ZCK_E_FRAME_BLOCK_TYPE, s->field_start);
        if (size > ZCK_BLOCK_MAX)
            return fail(s, ZCK_E_FRAME_BLOCK_SIZE, s->field_start);
        s->last_block = h & 1u;
        s->skip = type == 1 ? 1u : size; /* RLE: one byte repeated `size` times */
        if (s->skip > 0)
            s->state = ST_BLOCK_BODY;
        else
            after_block(s, recs, n);
        return ZCK_OK;
    }
    default:
        return fail(s, ZCK_E_STATE, s->pos);
    }
}

int zck_framescan_feed(zck_framescan *s, const uint8_t *data, size_t len,
                       zck_frame_info *recs, size_t cap, size_t *n, size_t *consumed)
{
    size_t i = 0;
    if (n != NULL)
        *n = 0;
    if (consumed != NULL)
        *consumed = 0;
    ZCK_RETURN_IF(s == NULL || recs == NULL || n == NULL || consumed == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(data == NULL && len > 0, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(cap == 0, ZCK_E_CAPACITY);
    if (s->state == ST_ERROR)
        return s->error;
    ZCK_RETURN_IF((uint64_t)len > UINT64_MAX - s->pos, ZCK_E_OVERFLOW);

    while (i < len) {
        size_t avail = len - i;
        switch (s->state) {
        case ST_SKIP_BODY:
        case ST_BLOCK_BODY:
        case ST_CHECKSUM: {
            size_t take = s->skip < (uint64_t)avail ? (size_t)s->skip : avail;
            i += take;
            s->pos += take;
            s->skip -= take;
            if (s->skip == 0) {
                if (s->state == ST_BLOCK_BODY)
                    after_block(s, recs, n);
                else
                    emit(s, recs, n);
            }
            break;
        }
        default: {
            size_t take;
            int rc;
            if (s->state == ST_MAGIC && s->have == 0 && *n == cap)
                goto out; /* room for this frame's record is not guaranteed */
            take = ZCK_MIN((size_t)(s->need - s->have), avail);
            memcpy(s->buf + s->have, data + i, take);
            s->have += (uint32_t)take;
            i += take;
            s->pos += take;
            if (s->have == s->need) {
                rc = on_field(s, recs, n);
                if (rc != ZCK_OK) {
                    *consumed = i;
                    return rc;
                }
            }
            break;
        }
        }
    }
out:
    *consumed = i;
    return ZCK_OK;
}

int zck_framescan_finish(zck_framescan *s)
{
    ZCK_RETURN_IF(s == NULL, ZCK_E_INVALID_ARGUMENT);
    if (s->state == ST_ERROR)
        return s->error;
    if (s->state == ST_MAGIC && s->have == 0)
        return ZCK_OK;
    return fail(s, ZCK_E_FRAME_TRUNCATED, s->frame_start);
}
