/* zck_skippable.c - 8-byte zstd skippable frame headers (RFC 8878 3.1.2).
 *
 * Written and parsed here rather than with ZSTD_writeSkippableFrame /
 * ZSTD_readSkippableFrame, which are only in libzstd's static-linking API. */
#include "zck_internal.h"

int zck_skippable_write(uint64_t payload_len, uint8_t *out8)
{
    ZCK_RETURN_IF(out8 == NULL, ZCK_E_INVALID_ARGUMENT);
    ZCK_RETURN_IF(payload_len > UINT32_MAX, ZCK_E_OVERFLOW);
    zck_store_le32(out8, ZCK_SKIPPABLE_MAGIC);
    zck_store_le32(out8 + 4, (uint32_t)payload_len);
    return ZCK_OK;
}

int zck_skippable_parse(const uint8_t *in8, uint32_t *payload_len, uint32_t *magic_nibble)
{
    uint32_t magic;
    ZCK_RETURN_IF(in8 == NULL, ZCK_E_INVALID_ARGUMENT);
    magic = zck_load_le32(in8);
    ZCK_RETURN_IF((magic & ZCK_SKIPPABLE_MASK) != ZCK_SKIPPABLE_MAGIC, ZCK_E_SKIPPABLE_MAGIC);
    if (payload_len != NULL)
        *payload_len = zck_load_le32(in8 + 4);
    if (magic_nibble != NULL)
        *magic_nibble = magic & 0xFu;
    return ZCK_OK;
}
