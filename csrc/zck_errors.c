/* zck_errors.c - names of zck error codes, libzstd error mapping, versions. */
#include "zck_internal.h"

#include <zstd_errors.h>

const char *zck_error_name(int code)
{
    switch (code) {
    case ZCK_OK: return "ZCK_OK";
    case ZCK_E_NOMEM: return "ZCK_E_NOMEM";
    case ZCK_E_INVALID_ARGUMENT: return "ZCK_E_INVALID_ARGUMENT";
    case ZCK_E_STATE: return "ZCK_E_STATE";
    case ZCK_E_BUSY: return "ZCK_E_BUSY";
    case ZCK_E_NOT_SUBMITTED: return "ZCK_E_NOT_SUBMITTED";
    case ZCK_E_THREAD: return "ZCK_E_THREAD";
    case ZCK_E_ZSTD: return "ZCK_E_ZSTD";
    case ZCK_E_DST_TOO_SMALL: return "ZCK_E_DST_TOO_SMALL";
    case ZCK_E_OVERFLOW: return "ZCK_E_OVERFLOW";
    case ZCK_E_LEVEL: return "ZCK_E_LEVEL";
    case ZCK_E_CAPACITY: return "ZCK_E_CAPACITY";
    case ZCK_E_UNSUPPORTED: return "ZCK_E_UNSUPPORTED";
    case ZCK_E_SKIPPABLE_MAGIC: return "ZCK_E_SKIPPABLE_MAGIC";
    case ZCK_E_FOOTER_TRUNCATED: return "ZCK_E_FOOTER_TRUNCATED";
    case ZCK_E_FOOTER_MAGIC: return "ZCK_E_FOOTER_MAGIC";
    case ZCK_E_FOOTER_FRAME: return "ZCK_E_FOOTER_FRAME";
    case ZCK_E_FOOTER_MANIFEST_TYPE: return "ZCK_E_FOOTER_MANIFEST_TYPE";
    case ZCK_E_FOOTER_TOC_EMPTY: return "ZCK_E_FOOTER_TOC_EMPTY";
    case ZCK_E_FOOTER_TOC_OFFSET: return "ZCK_E_FOOTER_TOC_OFFSET";
    case ZCK_E_FOOTER_TOC_RANGE: return "ZCK_E_FOOTER_TOC_RANGE";
    case ZCK_E_FOOTER_TARSPLIT_PARTIAL: return "ZCK_E_FOOTER_TARSPLIT_PARTIAL";
    case ZCK_E_FOOTER_TARSPLIT_OFFSET: return "ZCK_E_FOOTER_TARSPLIT_OFFSET";
    case ZCK_E_FOOTER_TARSPLIT_RANGE: return "ZCK_E_FOOTER_TARSPLIT_RANGE";
    case ZCK_E_FOOTER_OVERLAP: return "ZCK_E_FOOTER_OVERLAP";
    case ZCK_E_FRAME_GARBAGE: return "ZCK_E_FRAME_GARBAGE";
    case ZCK_E_FRAME_TRUNCATED: return "ZCK_E_FRAME_TRUNCATED";
    case ZCK_E_FRAME_RESERVED_BIT: return "ZCK_E_FRAME_RESERVED_BIT";
    case ZCK_E_FRAME_BLOCK_TYPE: return "ZCK_E_FRAME_BLOCK_TYPE";
    case ZCK_E_FRAME_BLOCK_SIZE: return "ZCK_E_FRAME_BLOCK_SIZE";
    case ZCK_E_DATA_TRUNCATED: return "ZCK_E_DATA_TRUNCATED";
    case ZCK_E_CORRUPT: return "ZCK_E_CORRUPT";
    case ZCK_E_CHECKSUM: return "ZCK_E_CHECKSUM";
    case ZCK_E_WINDOW_TOO_LARGE: return "ZCK_E_WINDOW_TOO_LARGE";
    case ZCK_E_NOT_ZSTD: return "ZCK_E_NOT_ZSTD";
    case ZCK_E_EXTRA_DATA: return "ZCK_E_EXTRA_DATA";
    case ZCK_E_SHA256_MISMATCH: return "ZCK_E_SHA256_MISMATCH";
    case ZCK_E_CRC64_MISMATCH: return "ZCK_E_CRC64_MISMATCH";
    case ZCK_E_TAR_DUPLICATE_PATH: return "ZCK_E_TAR_DUPLICATE_PATH";
    case ZCK_E_TAR_NEGATIVE_SIZE: return "ZCK_E_TAR_NEGATIVE_SIZE";
    default: return "ZCK_E_UNKNOWN";
    }
}

const char *zck_error_message(int code)
{
    switch (code) {
    case ZCK_OK: return "no error";
    case ZCK_E_NOMEM: return "out of memory";
    case ZCK_E_INVALID_ARGUMENT: return "invalid argument";
    case ZCK_E_STATE: return "not allowed in the current state";
    case ZCK_E_BUSY: return "a batch is already in flight";
    case ZCK_E_NOT_SUBMITTED: return "no batch was submitted";
    case ZCK_E_THREAD: return "could not create a thread or lock";
    case ZCK_E_ZSTD: return "libzstd error";
    case ZCK_E_DST_TOO_SMALL: return "output buffer too small";
    case ZCK_E_OVERFLOW: return "size too large";
    case ZCK_E_LEVEL: return "compression level out of range";
    case ZCK_E_CAPACITY: return "output array has no room";
    case ZCK_E_UNSUPPORTED: return "not supported by this CPU or build";
    case ZCK_E_SKIPPABLE_MAGIC: return "not a skippable frame header";
    case ZCK_E_FOOTER_TRUNCATED: return "blob too short for a footer";
    case ZCK_E_FOOTER_MAGIC: return "no zstd:chunked footer magic at the end of the blob";
    case ZCK_E_FOOTER_FRAME: return "footer is not inside a matching skippable frame";
    case ZCK_E_FOOTER_MANIFEST_TYPE: return "footer manifest type is not 1";
    case ZCK_E_FOOTER_TOC_EMPTY: return "footer gives an empty TOC";
    case ZCK_E_FOOTER_TOC_OFFSET: return "footer TOC offset leaves no room for its frame header";
    case ZCK_E_FOOTER_TOC_RANGE: return "footer TOC range does not end before the footer frame";
    case ZCK_E_FOOTER_TARSPLIT_PARTIAL: return "footer tar-split fields are only partly set";
    case ZCK_E_FOOTER_TARSPLIT_OFFSET: return "footer tar-split offset leaves no room for its frame header";
    case ZCK_E_FOOTER_TARSPLIT_RANGE: return "footer tar-split range does not end before the footer frame";
    case ZCK_E_FOOTER_OVERLAP: return "footer TOC and tar-split frames overlap";
    case ZCK_E_FRAME_GARBAGE: return "not a zstd or skippable frame";
    case ZCK_E_FRAME_TRUNCATED: return "data ends inside a frame";
    case ZCK_E_FRAME_RESERVED_BIT: return "zstd frame header has the reserved bit set";
    case ZCK_E_FRAME_BLOCK_TYPE: return "zstd block of reserved type";
    case ZCK_E_FRAME_BLOCK_SIZE: return "zstd block larger than 128 KiB";
    case ZCK_E_DATA_TRUNCATED: return "compressed data ends before the expected size";
    case ZCK_E_CORRUPT: return "corrupt compressed data";
    case ZCK_E_CHECKSUM: return "zstd content checksum mismatch";
    case ZCK_E_WINDOW_TOO_LARGE: return "zstd frame needs a window above the limit";
    case ZCK_E_NOT_ZSTD: return "not zstd data";
    case ZCK_E_EXTRA_DATA: return "frames hold more bytes than expected";
    case ZCK_E_SHA256_MISMATCH: return "SHA-256 digest mismatch";
    case ZCK_E_CRC64_MISMATCH: return "CRC-64 mismatch";
    case ZCK_E_TAR_DUPLICATE_PATH: return "a second tar entry for one path";
    case ZCK_E_TAR_NEGATIVE_SIZE: return "a tar entry with a negative size";
    default: return "unknown error";
    }
}

int zck_from_zstd_error(size_t zstd_result)
{
    if (!ZSTD_isError(zstd_result))
        return ZCK_OK;
    switch (ZSTD_getErrorCode(zstd_result)) {
    case ZSTD_error_memory_allocation:
        return ZCK_E_NOMEM;
    case ZSTD_error_dstSize_tooSmall:
        return ZCK_E_DST_TOO_SMALL;
    case ZSTD_error_srcSize_wrong:
        return ZCK_E_CORRUPT;
    case ZSTD_error_corruption_detected:
    case ZSTD_error_frameParameter_unsupported:
    case ZSTD_error_dictionary_corrupted:
    case ZSTD_error_dictionary_wrong:
        return ZCK_E_CORRUPT;
    case ZSTD_error_checksum_wrong:
        return ZCK_E_CHECKSUM;
    case ZSTD_error_frameParameter_windowTooLarge:
        return ZCK_E_WINDOW_TOO_LARGE;
    case ZSTD_error_prefix_unknown:
        return ZCK_E_NOT_ZSTD;
    default:
        return ZCK_E_ZSTD;
    }
}

const char *zck_zstd_version(void)
{
    return ZSTD_versionString();
}

unsigned zck_zstd_version_number(void)
{
    return ZSTD_versionNumber();
}
