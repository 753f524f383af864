"""Fuzz target: the footer parser (``zstd_chunked._native.parse_footer``, C ``zck_footer_parse``).

Input: the tail of a blob. When the input is longer than 72 bytes, its first
8 bytes (little-endian) add to the blob size, so footers of blobs far larger
than the input are parsed too. Checked: only FormatError on refusal; on
success every range lies inside the blob, before the footer frame, without
overlap, and a v3 footer re-encodes to the same 72 bytes (up to the skippable
magic's low nibble).
"""

from __future__ import annotations

import sys

from _harness import fuzz, instrument_if_main

instrument_if_main(__name__)

from zstd_chunked import format as fmt  # noqa: E402
from zstd_chunked._native import build_footer, parse_footer  # noqa: E402
from zstd_chunked.errors import FormatError  # noqa: E402

_U64 = (1 << 64) - 1


def check(data: bytes) -> None:
    tail = data
    blob_size = len(data)
    if len(data) > 80:
        extra = int.from_bytes(data[:8], "little") % (1 << 63)
        tail = data[8:]
        blob_size = len(tail) + extra
    try:
        f = parse_footer(tail, blob_size)
    except FormatError:
        return
    assert f.version in (1, 2, 3), f
    assert f.manifest_type == fmt.MANIFEST_TYPE_CRFS, f
    payload = {3: 64, 2: 56, 1: 40}[f.version]
    assert f.frame_offset == blob_size - payload - fmt.SKIPPABLE_HEADER_SIZE, f
    ranges = [(f.toc_offset, f.toc_length)]
    assert f.toc_length > 0
    if f.tarsplit_offset or f.tarsplit_length:
        assert f.version == 3 and f.tarsplit_offset and f.tarsplit_length, f
        ranges.append((f.tarsplit_offset, f.tarsplit_length))
    else:
        assert f.tarsplit_uncompressed == 0, f
    for offset, length in ranges:
        assert fmt.SKIPPABLE_HEADER_SIZE <= offset <= _U64 and length <= _U64, f
        assert offset + length <= f.frame_offset, f
    if len(ranges) == 2:
        (a, al), (b, bl) = ranges
        assert a + al <= b - fmt.SKIPPABLE_HEADER_SIZE or b + bl <= a - fmt.SKIPPABLE_HEADER_SIZE, f
    if f.version == 3:
        # The footer frame may use any of the 16 skippable magics (0x184D2A5?); we write the first.
        again = build_footer(f.toc_offset, f.toc_length, f.toc_uncompressed,
                             f.tarsplit_offset, f.tarsplit_length, f.tarsplit_uncompressed)
        original = bytes(tail[-fmt.FOOTER_FRAME_SIZE:])
        assert original[0] & 0xF0 == again[0] and again[1:] == original[1:], (again, original)


if __name__ == "__main__":
    fuzz(check)
    sys.exit(0)
