"""verify's plain-decompression pass: parallel (frames that declare their size) or streamed."""

from __future__ import annotations

import blobcraft as bc
import pytest
import zstandard

import zstd_chunked
from zstd_chunked import verify
from zstd_chunked.errors import DigestMismatchError, FormatError
from zstd_chunked.reader import merge_ranges

TAR = bc.make_tar([("dir", "d"), ("file", "d/a", b"alpha" * 5000), ("file", "d/b", bytes(3000) + b"z"),
                   ("file", "d/big", bytes(range(256)) * 2000), ("symlink", "d/l", "a")])


def _with_extra_frame(frame: bytes) -> tuple[bytes, dict[str, str]]:
    """The layer with one more zstd frame after the payload (chunk offsets do not move)."""
    blob, ann = bc.convert_tar(TAR)
    parts = bc.split_blob(blob, ann)
    return bc.assemble(parts.payload + frame, parts.toc, parts.tarsplit)


def _plain_both_ways(blob: bytes, ann: dict[str, str]) -> tuple[object, object]:
    with zstd_chunked.open(blob, ann) as layer:
        frames = verify.scan_frames_of(layer)
        return verify._plain_in_parallel(layer, frames), verify._plain_streamed(layer)


def test_parallel_and_streamed_passes_agree() -> None:
    blob, ann = bc.convert_tar(TAR)
    parallel, streamed = _plain_both_ways(blob, ann)
    assert parallel is not None and parallel == streamed
    assert parallel[1] == len(TAR)


def test_empty_frame_is_decoded_and_accepted() -> None:
    blob, ann = _with_extra_frame(bc.compress(b""))
    parallel, streamed = _plain_both_ways(blob, ann)
    assert parallel == streamed
    with zstd_chunked.open(blob, ann) as layer:
        assert layer.verify()["plainSize"] == len(TAR)


def test_frame_declaring_no_bytes_but_holding_some_is_refused() -> None:
    # an empty frame's header (content size 0, no checksum) followed by another frame's blocks
    empty = zstandard.ZstdCompressor(write_checksum=False).compress(b"")
    data = zstandard.ZstdCompressor(write_checksum=False, write_content_size=False).compress(b"x" * 100)
    assert len(empty) == 9 and len(data) > 9  # header 6 + last empty block 3; header 6 + blocks
    blob, ann = _with_extra_frame(empty[:6] + data[6:])
    with zstd_chunked.open(blob, ann) as layer:
        frames = verify.scan_frames_of(layer)
        assert [f.content_size for f in frames if not f.skippable][-1] == 0
        with pytest.raises(FormatError, match="zstd frame at"):
            verify._plain_in_parallel(layer, frames)
        with pytest.raises(FormatError):
            layer.verify()


def test_frame_without_content_size_takes_the_streamed_pass() -> None:
    extra = zstandard.ZstdCompressor(write_content_size=False).compress(b"extra bytes")
    blob, ann = _with_extra_frame(extra)
    with zstd_chunked.open(blob, ann) as layer:
        assert verify._plain_in_parallel(layer, verify.scan_frames_of(layer)) is None
        with pytest.raises(DigestMismatchError):  # plain pull sees 11 more bytes than the rebuild
            layer.verify()


def test_frame_with_content_size_and_extra_data_is_caught() -> None:
    blob, ann = _with_extra_frame(bc.compress(b"extra bytes"))
    with zstd_chunked.open(blob, ann) as layer, pytest.raises(DigestMismatchError):
        layer.verify()


# ------------------------------------------------------------------ single pass


def test_writer_and_reference_layouts_take_the_single_pass() -> None:
    import vectors_util

    blob, ann = bc.convert_tar(TAR)
    with zstd_chunked.open(blob, ann) as layer:
        report = layer.verify()
    assert report["singlePass"] is True and report["plainDiffID"] == report["rebuiltDiffID"]
    for case in vectors_util.local_cases():
        if case.old_format:
            continue
        with zstd_chunked.open(case.blob, case.annotations) as layer:
            report = layer.verify(case.expected["diffid"])
        assert report["singlePass"] is True and report["diffIDMatches"], case.name


def test_empty_frame_in_a_gap_keeps_the_single_pass() -> None:
    blob, ann = _with_extra_frame(bc.compress(b""))
    with zstd_chunked.open(blob, ann) as layer:
        assert layer.verify()["singlePass"] is True


def _last_zstd_frame(blob: bytes, ann: dict[str, str]) -> tuple[int, int, int]:
    with zstd_chunked.open(blob, ann) as layer:
        last = [f for f in verify.scan_frames_of(layer) if not f.skippable][-1]
    data = bc.decompress(blob[last.offset:last.end])
    return last.offset, last.end, len(data)


def test_gap_with_other_bytes_of_the_same_length_is_caught() -> None:
    """The last frame holds the end-of-archive blocks: same length, other bytes, no offset moves."""
    blob, ann = bc.convert_tar(TAR)
    start, end, size = _last_zstd_frame(blob, ann)
    parts = bc.split_blob(blob, ann)
    assert end == len(parts.payload) and size >= 1024
    forged, forged_ann = bc.assemble(parts.payload[:start] + bc.compress(b"\x01" * size), parts.toc, parts.tarsplit)
    with zstd_chunked.open(forged, forged_ann) as layer:
        gaps = verify._gaps_if_writer_layout(layer, verify.scan_frames_of(layer))
        assert gaps is not None and not verify._check_gaps(layer, gaps)
        with pytest.raises(DigestMismatchError, match="decompresses to"):
            layer.verify()


def test_a_changed_byte_in_any_gap_is_caught() -> None:
    """Every frame between two files, in turn, re-made with one header byte changed (same length)."""
    blob, ann = bc.convert_tar(TAR)
    with zstd_chunked.open(blob, ann) as layer:
        frames = verify.scan_frames_of(layer)
        gaps = verify._gaps_if_writer_layout(layer, frames)
        assert gaps is not None and verify._check_gaps(layer, gaps)
        starts = {f.offset: f for f in frames if not f.skippable}
        gap_frames = [starts[g.start] for g in gaps if g.end > g.start]
    assert len(gap_frames) >= 4  # several gaps: the check compares them as one group
    parts = bc.split_blob(blob, ann)
    tested = 0
    for frame in gap_frames:
        data = bytearray(bc.decompress(blob[frame.offset:frame.end]))
        data[0] ^= 0x20
        payload = parts.payload[:frame.offset] + bc.compress(bytes(data)) + parts.payload[frame.end:]
        if len(payload) != len(parts.payload):
            continue  # a frame of another length moves the file chunks: other checks catch that
        forged, forged_ann = bc.assemble(payload, parts.toc, parts.tarsplit)
        with zstd_chunked.open(forged, forged_ann) as layer:
            gaps = verify._gaps_if_writer_layout(layer, verify.scan_frames_of(layer))
            assert gaps is not None and not verify._check_gaps(layer, gaps), frame
        tested += 1
    assert tested >= 3


def test_read_spans_join_close_ranges_up_to_the_cap() -> None:
    gap, cap = verify.READ_GAP, verify.MAX_READ_SPAN

    def spans(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return merge_ranges(ranges, gap, cap)

    assert spans([(0, 10), (10 + gap, 20 + gap)]) == [(0, 20 + gap)]
    assert spans([(0, 10), (11 + gap, 20 + gap)]) == [(0, 10), (11 + gap, 9)]
    # joined while the read stays within the cap; a single longer range is read whole
    assert spans([(0, cap - 10), (cap - 5, cap), (cap + 1, cap + 2)]) == [(0, cap), (cap + 1, 1)]
    assert spans([(0, 2 * cap)]) == [(0, 2 * cap)]
