/* zck_footer.c - encode, decode and validate the zstd:chunked footer
 * (FORMAT.md 1.6-1.7).
 *
 * The footer is the payload of the blob's last skippable frame:
 *   v3 (64 bytes): toc offset, toc length, toc uncompressed length, manifest
 *       type, tar-split offset, length, uncompressed length, "GNUlInUx";
 *   v2 (56 bytes): the first four fields, "GnUlInUx", 16 zero bytes;
 *   v1 (40 bytes): the first four fields, "GnUlInUx".
 * All integers are little-endian u64.  Offsets point at frame payloads, just
 * after their 8-byte skippable headers.  Nothing here is trusted for
 * security; validation only guarantees that the ranges are usable. */
#include "zck_internal.h"

#define ZCK_FOOTER_V3_SIZE 64u
#define ZCK_FOOTER_V2_SIZE 56u
#define ZCK_FOOTER_V1_SIZE 40u
#define ZCK_FOOTER_FRAME_MAX (ZCK_SKIPPABLE_HEADER_SIZE + ZCK_FOOTER_V3_SIZE)

static const uint8_t magic_v3[8] = {'G', 'N', 'U', 'l', 'I', 'n', 'U', 'x'};
static const uint8_t magic_old[8] = {'G', 'n', 'U', 'l', 'I', 'n', 'U', 'x'};
static const uint8_t zeros16[16] = {0};

int zck_footer_write(const zck_footer *f, uint8_t *out72)
{
    uint8_t *p;
    ZCK_RETURN_IF(f == NULL || out72 == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_FORWARD(zck_skippable_write(ZCK_FOOTER_V3_SIZE, out72));
    p = out72 + ZCK_SKIPPABLE_HEADER_SIZE;
    zck_store_le64(p + 0, f->toc_offset);
    zck_store_le64(p + 8, f->toc_length);
    zck_store_le64(p + 16, f->toc_uncompressed);
    zck_store_le64(p + 24, 1);
    zck_store_le64(p + 32, f->tarsplit_offset);
    zck_store_le64(p + 40, f->tarsplit_length);
    zck_store_le64(p + 48, f->tarsplit_uncompressed);
    memcpy(p + 56, magic_v3, 8);
    return ZCK_OK;
}

/* Payload range [offset - 8, offset + length) of a skippable frame must lie
 * before `limit`.  Returns ZCK_OK, bad_offset or bad_range. */
static int check_range(uint64_t offset, uint64_t length, uint64_t limit, uint64_t *frame_end,
                       int bad_offset, int bad_range)
{
    ZCK_RETURN_IF(offset < ZCK_SKIPPABLE_HEADER_SIZE, bad_offset);
    ZCK_RETURN_IF(!zck_add_u64(offset, length, frame_end), bad_range);
    ZCK_RETURN_IF(*frame_end > limit, bad_range);
    return ZCK_OK;
}

int zck_footer_parse(const uint8_t *tail, size_t tail_len, uint64_t blob_size, zck_footer *out)
{
    const uint8_t *end, *hdr, *p;
    uint32_t size_field, nibble;
    uint32_t payload_size, version;
    uint64_t frame_offset, toc_end, ts_end;
    zck_footer f;

    ZCK_RETURN_IF(tail == NULL || out == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF((uint64_t)tail_len > blob_size, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(tail_len < ZCK_MIN(blob_size, (uint64_t)ZCK_FOOTER_FRAME_MAX), ZCK_E_INVALID_ARGUMENT);
    end = tail + tail_len;

    /* Which footer is it?  Decided by the magic, then checked against the
     * skippable frame header that must precede it. */
    if (tail_len >= 8 && memcmp(end - 8, magic_v3, 8) == 0) {
        version = 3;
        payload_size = ZCK_FOOTER_V3_SIZE;
    } else if (tail_len >= 8 && memcmp(end - 8, magic_old, 8) == 0) {
        version = 1;
        payload_size = ZCK_FOOTER_V1_SIZE;
    } else if (tail_len >= 24 && memcmp(end - 24, magic_old, 8) == 0 && memcmp(end - 16, zeros16, 16) == 0) {
        version = 2;
        payload_size = ZCK_FOOTER_V2_SIZE;
    } else {
        return tail_len < ZCK_SKIPPABLE_HEADER_SIZE + ZCK_FOOTER_V1_SIZE ? ZCK_E_FOOTER_TRUNCATED
                                                                         : ZCK_E_FOOTER_MAGIC;
    }
    ZCK_RETURN_IF(tail_len < ZCK_SKIPPABLE_HEADER_SIZE + payload_size, ZCK_E_FOOTER_TRUNCATED);
    hdr = end - payload_size - ZCK_SKIPPABLE_HEADER_SIZE;
    ZCK_RETURN_IF(zck_skippable_parse(hdr, &size_field, &nibble) != ZCK_OK, ZCK_E_FOOTER_FRAME);
    ZCK_RETURN_IF(size_field != payload_size, ZCK_E_FOOTER_FRAME);
    frame_offset = blob_size - (uint64_t)(payload_size + ZCK_SKIPPABLE_HEADER_SIZE);

    p = hdr + ZCK_SKIPPABLE_HEADER_SIZE;
    memset(&f, 0, sizeof(f));
    f.version = version;
    f.toc_offset = zck_load_le64(p + 0);
    f.toc_length = zck_load_le64(p + 8);
    f.toc_uncompressed = zck_load_le64(p + 16);
    f.manifest_type = zck_load_le64(p + 24);
    if (version == 3) {
        f.tarsplit_offset = zck_load_le64(p + 32);
        f.tarsplit_length = zck_load_le64(p + 40);
        f.tarsplit_uncompressed = zck_load_le64(p + 48);
    }
    f.frame_offset = frame_offset;

    ZCK_RETURN_IF(f.manifest_type != 1, ZCK_E_FOOTER_MANIFEST_TYPE);
    ZCK_RETURN_IF(f.toc_length == 0, ZCK_E_FOOTER_TOC_EMPTY);
    ZCK_FORWARD(check_range(f.toc_offset, f.toc_length, frame_offset, &toc_end, ZCK_E_FOOTER_TOC_OFFSET,
                            ZCK_E_FOOTER_TOC_RANGE));
    if (f.tarsplit_offset == 0 && f.tarsplit_length == 0) {
        ZCK_RETURN_IF(f.tarsplit_uncompressed != 0, ZCK_E_FOOTER_TARSPLIT_PARTIAL);
    } else {
        ZCK_RETURN_IF(f.tarsplit_offset == 0 || f.tarsplit_length == 0, ZCK_E_FOOTER_TARSPLIT_PARTIAL);
        ZCK_FORWARD(check_range(f.tarsplit_offset, f.tarsplit_length, frame_offset, &ts_end,
                                ZCK_E_FOOTER_TARSPLIT_OFFSET, ZCK_E_FOOTER_TARSPLIT_RANGE));
        /* Frames including their headers must not overlap. */
        ZCK_RETURN_IF(!(toc_end <= f.tarsplit_offset - ZCK_SKIPPABLE_HEADER_SIZE ||
                        ts_end <= f.toc_offset - ZCK_SKIPPABLE_HEADER_SIZE),
                      ZCK_E_FOOTER_OVERLAP);
    }
    *out = f;
    return ZCK_OK;
}
