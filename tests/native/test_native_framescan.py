"""The incremental frame scanner on the golden blobs and on damaged input."""

from __future__ import annotations

import random
import struct

import pytest

from zstd_chunked._native import FrameInfo, FrameScanner, compress_frame, scan_frames, skippable_header
from zstd_chunked.errors import FormatError, UsageError

zstandard = pytest.importorskip("zstandard")


def check_tiling(frames: list[FrameInfo], size: int) -> None:
    pos = 0
    for f in frames:
        assert f.offset == pos
        assert f.size > 0
        pos = f.end
    assert pos == size


def scan_in_pieces(blob: bytes, pieces: list[int]) -> list[FrameInfo]:
    out: list[FrameInfo] = []
    with FrameScanner() as s:
        pos = i = 0
        while pos < len(blob):
            n = pieces[i % len(pieces)]
            i += 1
            out += s.feed(memoryview(blob)[pos : pos + n])
            pos += n
        s.finish()
    return out


def test_vector_blobs(vector_case) -> None:  # type: ignore[no-untyped-def]
    blob = vector_case.blob_bytes()
    frames = scan_frames(blob)
    check_tiling(frames, len(blob))
    skippable = [f.skippable for f in frames]
    if vector_case.old_format:
        assert skippable[-2:] == [True, True] and not any(skippable[:-2])
    else:
        assert skippable[-3:] == [True, True, True] and not any(skippable[:-3])
    # every zstd frame decompresses on its own, to its declared content size if any
    total = 0
    for f in frames[:50]:
        if f.skippable:
            continue
        out = zstandard.ZstdDecompressor().decompressobj().decompress(blob[f.offset : f.end])
        if f.content_size is not None:
            assert len(out) == f.content_size
        total += len(out)
    assert frames == scan_in_pieces(blob, [1, 2, 3, 5, 8, 13, 4096, 100000])


def test_frames_of_our_compressor() -> None:
    data = random.Random(1).randbytes(300000) + bytes(200000)
    blob = compress_frame(data, 3) + skippable_header(5) + b"hello" + compress_frame(b"", 1)
    frames = scan_frames(blob)
    check_tiling(frames, len(blob))
    assert [f.skippable for f in frames] == [False, True, False]
    assert frames[0].content_size == len(data)
    assert frames[2].content_size == 0


def test_empty_input() -> None:
    assert scan_frames(b"") == []


def test_skippable_magic_range_and_empty_payload() -> None:
    blob = b"".join(struct.pack("<II", 0x184D2A50 + k, k) + bytes(k) for k in range(16))
    frames = scan_frames(blob)
    assert [(f.offset, f.size, f.skippable) for f in frames][:3] == [(0, 8, True), (8, 9, True), (17, 10, True)]
    check_tiling(frames, len(blob))


def test_garbage_reports_offset() -> None:
    good = compress_frame(b"abc" * 1000, 3)
    blob = good + b"\x00\x01\x02\x03" + good
    with pytest.raises(FormatError, match=f"ZCK_E_FRAME_GARBAGE.*at offset {len(good)}"):
        scan_frames(blob)


@pytest.mark.parametrize("case", ["vector-magic", "truncate"])
def test_bitflip_and_truncation_on_vector(vector_case, case: str) -> None:  # type: ignore[no-untyped-def]
    blob = bytearray(vector_case.blob_bytes())
    frames = scan_frames(bytes(blob))
    victim = frames[len(frames) // 2]
    if case == "vector-magic":
        blob[victim.offset + 1] ^= 0x10
        with pytest.raises(FormatError, match=f"ZCK_E_FRAME_GARBAGE.*at offset {victim.offset}"):
            scan_frames(bytes(blob))
        with pytest.raises(FormatError, match=f"at offset {victim.offset}"):
            scan_in_pieces(bytes(blob), [7])
    else:
        cut = victim.offset + victim.size // 2 if victim.size > 1 else victim.offset + 1
        with pytest.raises(FormatError, match=f"ZCK_E_FRAME_TRUNCATED.*at offset {victim.offset}"):
            scan_frames(bytes(blob[:cut]))


def test_header_errors() -> None:
    frame = bytearray(compress_frame(b"x" * 1000, 3))
    bad = bytearray(frame)
    bad[4] |= 0x08  # reserved bit of the frame header descriptor
    with pytest.raises(FormatError, match="ZCK_E_FRAME_RESERVED_BIT.*at offset 4"):
        scan_frames(bytes(bad))
    # hand-made frame: magic, FHD single-segment + 1-byte FCS, FCS, block header
    head = struct.pack("<I", 0xFD2FB528) + bytes([0x20, 5])

    def block(last: int, btype: int, size: int) -> bytes:
        return struct.pack("<I", last | (btype << 1) | (size << 3))[:3]

    assert scan_frames(head + block(1, 0, 5) + b"hello") == [FrameInfo(0, 14, False, 5)]
    assert scan_frames(head + block(1, 1, 5) + b"h") == [FrameInfo(0, 10, False, 5)]
    with pytest.raises(FormatError, match="ZCK_E_FRAME_BLOCK_TYPE.*at offset 6"):
        scan_frames(head + block(1, 3, 5) + b"hello")
    with pytest.raises(FormatError, match="ZCK_E_FRAME_BLOCK_SIZE.*at offset 6"):
        scan_frames(head + block(1, 0, (1 << 17) + 1))
    ok = head + block(1, 0, 1 << 17) + bytes(1 << 17)
    assert scan_frames(ok)[0].size == len(ok)
    with pytest.raises(FormatError, match="ZCK_E_FRAME_TRUNCATED"):
        scan_frames(head + block(0, 0, 5) + b"hello")  # no last block
    # content-size field widths: 2 bytes (+256), 4, 8, and none
    for fhd, fcs, want in [(0x40, b"\x01\x00", 257), (0x80, b"\x10\x00\x00\x00", 16),
                           (0xC0, struct.pack("<Q", 7), 7), (0x00, b"", None)]:
        frame_bytes = struct.pack("<I", 0xFD2FB528) + bytes([fhd, 0x50]) + fcs + block(1, 1, 3) + b"z"
        assert scan_frames(frame_bytes)[0].content_size == want
    # dictionary id (4 bytes) and checksum
    frame_bytes = struct.pack("<I", 0xFD2FB528) + bytes([0x27, 1, 2, 3, 4, 9]) + block(1, 1, 9) + b"z" + b"CRC!"
    assert scan_frames(frame_bytes) == [FrameInfo(0, len(frame_bytes), False, 9)]


def test_errors_are_sticky_and_finish_checks() -> None:
    with FrameScanner() as s:
        with pytest.raises(FormatError):
            s.feed(b"junkjunk")
        with pytest.raises(FormatError):
            s.feed(b"more")
        with pytest.raises(FormatError):
            s.finish()
        s.reset()
        assert s.feed(skippable_header(0)) == [FrameInfo(0, 8, True, None)]
        s.finish()
    with FrameScanner() as s:
        s.feed(b"\x28\xb5")
        with pytest.raises(FormatError, match="ZCK_E_FRAME_TRUNCATED.*at offset 0"):
            s.finish()


def test_many_frames_in_one_feed() -> None:
    blob = b"".join(skippable_header(0) for _ in range(2000))
    frames = scan_frames(blob)
    assert len(frames) == 2000
    check_tiling(frames, len(blob))


def test_random_garbage_never_crashes() -> None:
    rng = random.Random(7)
    base = compress_frame(rng.randbytes(5000), 1) + skippable_header(3) + b"abc"
    for _ in range(2000):
        blob = bytearray(base)
        for _ in range(rng.randrange(1, 5)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        try:
            scan_in_pieces(bytes(blob), [rng.randrange(1, 50)])
        except FormatError:
            pass


def test_closed_scanner() -> None:
    s = FrameScanner()
    s.close()
    with pytest.raises(UsageError):
        s.feed(b"")
