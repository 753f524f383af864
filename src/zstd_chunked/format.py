"""The zstd:chunked wire format: every constant in one place.

This module imports nothing from the package. Writer, reader, CLI and tests
all take the magic numbers, sizes and annotation keys from here.

Layout of a blob (docs/format.md has the long form)::

    [zstd frame]... [skippable: TOC] [skippable: tar-split] [skippable: footer]

Every skippable frame is ``50 2A 4D 18`` + little-endian u32 payload length + payload.
The current footer payload is 64 bytes: seven little-endian u64 (TOC offset,
TOC compressed length, TOC uncompressed length, manifest type, tar-split
offset, tar-split compressed length, tar-split uncompressed length) and the
magic ``GNUlInUx``.
"""

from __future__ import annotations

__format_version__ = "containers/storage v1.59 (zstd:chunked, footer v3)"

# --- zstd frames -----------------------------------------------------------
ZSTD_FRAME_MAGIC = 0xFD2FB528
SKIPPABLE_MAGIC = 0x184D2A50  # the first of the skippable range 0x184D2A50..0x184D2A5F
SKIPPABLE_MAGIC_MASK = 0xFFFFFFF0
SKIPPABLE_MAGIC_BYTES = b"\x50\x2a\x4d\x18"
SKIPPABLE_HEADER_SIZE = 8

# --- footer ----------------------------------------------------------------
FOOTER_MAGIC = b"GNUlInUx"  # v3 footer (64 bytes), containers/storage >= v1.50
FOOTER_MAGIC_OLD = b"GnUlInUx"  # v1 (40 bytes) and v2 (56 bytes) footers
FOOTER_SIZE = 64
FOOTER_SIZE_V2 = 56
FOOTER_SIZE_V1 = 40
FOOTER_FRAME_SIZE = SKIPPABLE_HEADER_SIZE + FOOTER_SIZE
MANIFEST_TYPE_CRFS = 1

# --- annotations -----------------------------------------------------------
ANNOTATION_PREFIX = "io.github.containers.zstd-chunked."
ANNOTATION_PREFIX_OLD = "io.containers.zstd-chunked."
MANIFEST_CHECKSUM_KEY = ANNOTATION_PREFIX + "manifest-checksum"
MANIFEST_POSITION_KEY = ANNOTATION_PREFIX + "manifest-position"
TARSPLIT_POSITION_KEY = ANNOTATION_PREFIX + "tarsplit-position"
TARSPLIT_CHECKSUM_KEY = ANNOTATION_PREFIX + "tarsplit-checksum"  # v1.47-v1.53 only, never trusted
MANIFEST_CHECKSUM_KEY_OLD = ANNOTATION_PREFIX_OLD + "manifest-checksum"
MANIFEST_POSITION_KEY_OLD = ANNOTATION_PREFIX_OLD + "manifest-position"
ESTARGZ_TOC_DIGEST_KEY = "containerd.io/snapshot/stargz/toc.digest"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+zstd"

# --- TOC -------------------------------------------------------------------
TOC_VERSION = 1
TYPE_REG = "reg"
TYPE_CHUNK = "chunk"
TYPE_HARDLINK = "hardlink"
TYPE_SYMLINK = "symlink"
TYPE_DIR = "dir"
TYPE_CHAR = "char"
TYPE_BLOCK = "block"
TYPE_FIFO = "fifo"
ENTRY_TYPES = (TYPE_REG, TYPE_CHUNK, TYPE_HARDLINK, TYPE_SYMLINK, TYPE_DIR, TYPE_CHAR, TYPE_BLOCK, TYPE_FIFO)
# tar typeflag -> TOC type; every other typeflag is refused by the writer.
TAR_TYPES = {
    b"0": TYPE_REG,
    b"1": TYPE_HARDLINK,
    b"2": TYPE_SYMLINK,
    b"3": TYPE_CHAR,
    b"4": TYPE_BLOCK,
    b"5": TYPE_DIR,
    b"6": TYPE_FIFO,
}
TOC_TYPE_TO_TAR = {v: k for k, v in TAR_TYPES.items()}
CHUNK_TYPE_DATA = ""
CHUNK_TYPE_ZEROS = "zeros"
XATTR_PAX_PREFIX = "SCHILY.xattr."
EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# --- chunking --------------------------------------------------------------
ROLLSUM_BITS = 16
ROLLSUM_WINDOW = 64
ROLLSUM_CHAR_OFFSET = 31
HOLES_THRESHOLD = 1024

# --- tar-split -------------------------------------------------------------
TARSPLIT_FILE_TYPE = 1
TARSPLIT_SEGMENT_TYPE = 2
TARSPLIT_PADDING_CHUNK = 1 << 20  # trailing bytes are read at most 1 MiB at a time
# The reference reads the caller's tar through an io.Pipe fed by io.Copy, which
# writes 32 KiB at a time; trailing-data segments therefore end at multiples of
# 32 KiB of the input offset. We reproduce that split for byte-identical tar-split.
TARSPLIT_TRAILING_ALIGN = 32 * 1024
TAR_BLOCK_SIZE = 512

# --- reader limits ---------------------------------------------------------
MAX_TOC_SIZE = 150 * 1024 * 1024  # containers/storage maxTocSize
MAX_TARSPLIT_SIZE = 150 * 1024 * 1024  # ours; upstream has none
RANGE_MERGE_GAP = 1024  # containers/storage autoMergePartsThreshold
MAX_RANGES_PER_REQUEST = 1024  # containers/storage maxNumberMissingChunks

# --- writer ----------------------------------------------------------------
DEFAULT_LEVEL = 3
MIN_LEVEL = 1
MAX_LEVEL = 19
