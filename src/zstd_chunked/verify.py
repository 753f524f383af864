"""Full verification of a layer: frames, metadata digests, every file, and the DiffID.

Checks, in order:

1. the blob is a clean sequence of zstd and skippable frames, and the TOC,
   tar-split and footer sit in skippable frames where the layer says (the
   footer must agree with the annotations);
2. the TOC digest (when annotations were given) and the tar-split digest
   (done when the layer was opened), and TOC against tar-split;
3. the plain zstd decompression of the blob (what an ordinary pull sees);
4. the tar rebuilt from tar-split and file contents (what a partial pull
   sees), with every chunk digest, file digest and CRC-64 checked;
5. that 3 and 4 are the same tar, and equal the expected DiffID if given.
"""

from __future__ import annotations

import bisect
import hashlib
import io
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Optional

import zstandard

from . import format as fmt
from ._collector import collector_paused
from ._hashing import BackgroundSha256
from ._native import DecodeJobs, FrameInfo, FrameScanner, parse_footer
from .errors import DigestMismatchError, FormatError
from .reader import merge_ranges
from .rebuild import READ_GAP

if TYPE_CHECKING:
    from .reader import Layer

SCAN_PIECE = 8 << 20
#: Frames are decoded in parallel in jobs of about this many output bytes...
PLAIN_JOB = 4 << 20
#: ...gathered in batches of about this many output bytes.
PLAIN_BATCH = 32 << 20
#: The single pass reads each stretch between two files at once: longer ones (no writer
#: makes them) take the two-pass route, which reads in SCAN_PIECE pieces.
MAX_GAP = 64 << 20
#: Ranges to decode closer than READ_GAP are read together, up to this many bytes a read.
MAX_READ_SPAN = 8 << 20


class _HashSink:
    """Receives decompressed output piece by piece: hashes and counts it, keeps nothing."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.count = 0

    def write(self, data: Any) -> int:
        self.sha.update(data)
        self.count += len(data)
        return len(data)


def scan_frames_of(layer: Layer) -> list[FrameInfo]:
    """Walk every frame of the blob (headers only, nothing decoded); return them in order."""
    data_end = layer.toc_position.offset - fmt.SKIPPABLE_HEADER_SIZE
    frames = []
    with FrameScanner() as scanner:
        offset = 0
        while offset < layer.size:
            piece = layer.read_range(offset, min(SCAN_PIECE, layer.size - offset))
            for f in scanner.feed(piece):
                if not f.skippable and f.offset + f.size > data_end:
                    raise FormatError(f"zstd frame at {f.offset} runs into the layer metadata")
                frames.append(f)
            offset += len(piece)
        scanner.finish()
    return frames


def _plain_in_parallel(layer: Layer, frames: list[FrameInfo]) -> Optional[tuple[str, int]]:
    """The plain decompression's sha256 and size, frames decoded in parallel on the native threads.

    Needs every zstd frame to declare its content size (libzstd checks each
    frame against it), so that each job knows its output size; None otherwise.
    """
    zstd_frames = [f for f in frames if not f.skippable]
    if any(f.content_size is None for f in zstd_frames):
        return None
    hasher = BackgroundSha256()
    try:
        total = 0
        batch: list[list[FrameInfo]] = []
        group: list[FrameInfo] = []
        group_out = batch_out = 0
        for f in zstd_frames:
            assert f.content_size is not None
            if f.content_size == 0:
                # a job stops at its last output byte, so it would not look at an empty frame
                _decode_empty_frame(layer, f)
                continue
            if group and group_out + f.content_size > PLAIN_JOB:
                batch.append(group)
                batch_out += group_out
                group, group_out = [], 0
                if batch_out >= PLAIN_BATCH:
                    total += _decode_groups(layer, batch, hasher)
                    batch, batch_out = [], 0
            group.append(f)
            group_out += f.content_size
        if group:
            batch.append(group)
        if batch:
            total += _decode_groups(layer, batch, hasher)
        return "sha256:" + hasher.hexdigest(), total
    finally:
        hasher.close()


def _decode_empty_frame(layer: Layer, frame: FrameInfo) -> None:
    # a reader really decodes the blocks (decompress() returns b"" for a declared size of 0),
    # and asking for one byte bounds what a lying frame can make us hold
    reader = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
        io.BytesIO(layer.read_range(frame.offset, frame.size)))
    try:
        data = reader.read(1)
    except zstandard.ZstdError as exc:
        raise FormatError(f"zstd frame at {frame.offset}: {exc}") from None
    if data:
        raise FormatError(f"zstd frame at {frame.offset} holds more than the 0 bytes it declares")


def _decode_ranges(layer: Layer, ranges: list[tuple[int, int, int]],
                   exact: bool = False) -> tuple[bytearray, Optional[tuple[int, Exception]]]:
    """Decode blob ranges ``(start, end, output size)`` back to back into one arena, in parallel.

    Returns the arena and the first failure, ``(range index, exception)``, or None.
    """
    arena = bytearray(sum(size for _start, _end, size in ranges))
    jobs = DecodeJobs(arena)
    # ranges close together (the frames of the tar headers between small files) are read at once
    spans = merge_ranges(((start, end) for start, end, _size in ranges), READ_GAP, MAX_READ_SPAN)
    span_starts = [start for start, _length in spans]
    handle = span_start = span_end = -1
    at = 0
    for start, end, size in ranges:
        if not span_start <= start <= end <= span_end:
            span_start, length = spans[bisect.bisect_right(span_starts, start) - 1]
            span_end = span_start + length
            handle = jobs.source(layer.read_range(span_start, length))
        jobs.decode(handle, start - span_start, end - start, at, size, exact=exact)
        at += size
    return arena, jobs.run(layer.threads)


def _decode_groups(layer: Layer, groups: list[list[FrameInfo]], hasher: BackgroundSha256) -> int:
    """Decode runs of frames (each run contiguous apart from skippable frames) into one arena; hash it."""
    arena, failure = _decode_ranges(
        layer, [(g[0].offset, g[-1].end, sum(f.content_size or 0 for f in g)) for g in groups])
    if failure is not None:
        index, exc = failure
        raise type(exc)(f"zstd data in the frames at {groups[index][0].offset}..{groups[index][-1].end}: {exc}")
    hasher.update(memoryview(arena))
    return len(arena)


def _plain_streamed(layer: Layer) -> tuple[str, int]:
    """The plain decompression's sha256 and size, decoded as one stream (any frames)."""
    data_end = layer.toc_position.offset - fmt.SKIPPABLE_HEADER_SIZE
    sink = _HashSink()
    out: Any = sink  # any object with write() will do
    writer = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_writer(out, write_size=1 << 20,
                                                                               closefd=False)
    offset = 0
    while offset < data_end:
        piece = layer.read_range(offset, min(SCAN_PIECE, data_end - offset))
        try:
            writer.write(piece)
        except zstandard.ZstdError as exc:
            raise FormatError(f"zstd data near offset {offset}: {exc}") from None
        offset += len(piece)
    return "sha256:" + sink.sha.hexdigest(), sink.count


def scan_and_decompress(layer: Layer, frames: Optional[list[FrameInfo]] = None) -> dict[str, Any]:
    """Walk every frame and decompress the data frames; returns counts and the plain-pull DiffID.

    Memory stays bounded whatever the frames expand to: output is produced in
    batches of about PLAIN_BATCH bytes (streamed in 1 MiB pieces when a frame
    does not declare its size).
    """
    if frames is None:
        frames = scan_frames_of(layer)
        _check_metadata_frames(layer, [f for f in frames if f.skippable])
    plain = _plain_in_parallel(layer, frames) or _plain_streamed(layer)
    return {**_frame_counts(frames), "plainDiffID": plain[0], "plainSize": plain[1]}


def _frame_counts(frames: list[FrameInfo]) -> dict[str, int]:
    zstd_frames = sum(1 for f in frames if not f.skippable)
    return {"zstdFrames": zstd_frames, "skippableFrames": len(frames) - zstd_frames}


# ------------------------------------------------------------------ single pass
#
# The plain decompression P is what the zstd frames of the payload hold, in
# blob order; the rebuilt tar R is the tar-split's segments with the file
# bodies in between, each body made of its chunks' byte ranges.  When those
# ranges are laid out as writers lay them out (whole frames, each file's
# chunks back to back, files in tar-split order), the payload splits into the
# chunk ranges and the "gaps" between files.  The rebuild decodes every chunk
# range requiring it to hold exactly the chunk (zero chunks included); if also
# every gap holds exactly the segments between the same two files, then
# P == R, byte for byte.  The gaps (tar headers, a few percent of the data)
# are decoded and compared, and the data is decoded and hashed once instead of
# twice.  Any other layout takes the two-pass route.


class _Gap:
    """A byte range of the payload between two files' chunks, and the segments it must hold."""

    __slots__ = ("start", "end", "segments")

    def __init__(self, start: int) -> None:
        self.start = start
        self.end = start
        self.segments: list[bytes] = []


def _gaps_if_writer_layout(layer: Layer, frames: list[FrameInfo]) -> Optional[list[_Gap]]:
    """The gaps to compare when the layout allows the single pass; None when it does not."""
    from .rebuild import batchable

    data_end = layer.toc_position.offset - fmt.SKIPPABLE_HEADER_SIZE
    starts = {f.offset for f in frames if f.offset < data_end}
    bounds = starts | {f.end for f in frames if f.end <= data_end} | {0}
    gaps = [_Gap(0)]
    for entry in layer.tarsplit_entries():
        if entry.type == fmt.TARSPLIT_SEGMENT_TYPE:
            if entry.payload:
                gaps[-1].segments.append(entry.payload)
            continue
        if entry.size <= 0:
            continue
        try:
            toc_entry = layer.entry_exact(entry.raw_name.decode("utf-8", "surrogateescape"))
        except KeyError:
            return None  # the rebuild reports it
        if toc_entry.type != fmt.TYPE_REG or toc_entry.size != entry.size:
            return None
        content = layer.content_of(toc_entry)
        if not content.chunks or not batchable(content):
            return None  # streamed files are not decoded with exact frames
        gap = gaps[-1]
        gap.end = content.chunks[0].offset
        if gap.end < gap.start or gap.end not in starts or gap.end - gap.start > MAX_GAP:
            return None
        position = gap.end
        for c in content.chunks:
            if c.offset != position or c.end not in bounds:
                return None  # something between two chunks of one file, or a cut frame
            position = c.end
        gaps.append(_Gap(position))
    gaps[-1].end = data_end
    if data_end - gaps[-1].start > MAX_GAP:
        return None
    return gaps


def _gap_groups(gaps: list[_Gap]) -> Iterator[tuple[list[_Gap], list[int]]]:
    """The gaps that hold or should hold bytes, in groups of about PLAIN_JOB bytes, with their sizes."""
    group: list[_Gap] = []
    sizes: list[int] = []
    total = 0
    for g in gaps:
        if g.end == g.start and not g.segments:
            continue
        size = sum(len(s) for s in g.segments)
        group.append(g)
        sizes.append(size)
        total += size
        if total >= PLAIN_JOB or len(group) >= 4096:
            yield group, sizes
            group, sizes, total = [], [], 0
    if group:
        yield group, sizes


def _check_gaps(layer: Layer, gaps: list[_Gap]) -> bool:
    """Decode every gap (in parallel); True when each holds exactly its segments."""
    for group, sizes in _gap_groups(gaps):
        if any(g.end == g.start and size for g, size in zip(group, sizes)):
            return False  # segments with no frames to hold them
        ranges = [(g.start, g.end, size) for g, size in zip(group, sizes) if g.end > g.start]
        arena, failure = _decode_ranges(layer, ranges, exact=True)
        if failure is not None:
            return False  # the two-pass route reports what is wrong
        # each range decoded to exactly its size, back to back in gap order: the arena equals
        # the group's segments joined exactly when every gap holds its own segments
        if arena != b"".join([s for g in group for s in g.segments]):
            return False
    return True


def _check_metadata_frames(layer: Layer, skippables: list[Any]) -> None:
    starts = {f.offset: f for f in skippables}
    wanted = [("TOC", layer.toc_position)]
    if layer.tarsplit_position is not None:
        wanted.append(("tar-split", layer.tarsplit_position))
    for what, pos in wanted:
        frame = starts.get(pos.offset - fmt.SKIPPABLE_HEADER_SIZE)
        if frame is None or frame.size != pos.length + fmt.SKIPPABLE_HEADER_SIZE:
            raise FormatError(f"{what} is not a whole skippable frame at {pos.offset - fmt.SKIPPABLE_HEADER_SIZE}")
    _check_footer(layer)


def _check_footer(layer: Layer) -> None:
    """The footer must exist and point where the annotations do.

    Readers with annotations never look at it, but tools without them do: a
    footer naming another TOC would show them another layer.
    """
    if layer.footer is not None:
        return  # the layer was opened through it
    tail_len = min(layer.size, fmt.FOOTER_FRAME_SIZE)
    try:
        footer = parse_footer(layer.read_range(layer.size - tail_len, tail_len), layer.size)
    except FormatError as exc:
        raise FormatError(f"footer: {exc}") from None
    toc = layer.toc_position
    if (footer.toc_offset, footer.toc_length, footer.toc_uncompressed) != (toc.offset, toc.length, toc.uncompressed):
        raise FormatError(f"the footer locates the TOC at {footer.toc_offset}:{footer.toc_length}:"
                          f"{footer.toc_uncompressed}, the annotations at {toc.offset}:{toc.length}:{toc.uncompressed}")
    ts = layer.tarsplit_position
    if footer.version >= 3 and ts is not None and (
            (footer.tarsplit_offset, footer.tarsplit_length, footer.tarsplit_uncompressed)
            != (ts.offset, ts.length, ts.uncompressed)):
        raise FormatError(
            f"the footer locates the tar-split at {footer.tarsplit_offset}:{footer.tarsplit_length}:"
            f"{footer.tarsplit_uncompressed}, the annotations at {ts.offset}:{ts.length}:{ts.uncompressed}")


def verify_layer(layer: Layer, diff_id: Optional[str] = None) -> dict[str, Any]:
    """Run every check; raise the first failure; return a report of what was checked."""
    with collector_paused():
        return _verify(layer, diff_id)


def _verify(layer: Layer, diff_id: Optional[str]) -> dict[str, Any]:
    from .rebuild import write_tar

    report: dict[str, Any] = {"authenticated": layer.authenticated}
    frames = scan_frames_of(layer)
    _check_metadata_frames(layer, [f for f in frames if f.skippable])
    files = [e for e in layer.entries() if e.type == fmt.TYPE_REG and e.size > 0]
    gaps = _gaps_if_writer_layout(layer, frames) if layer.has_tarsplit else None
    if gaps is not None and _check_gaps(layer, gaps):
        # one pass: the plain stream is the rebuilt tar, frame for frame
        rebuilt = write_tar(layer, lambda _piece: None, exact_frames=True)
        report.update(_frame_counts(frames))
        report.update(plainDiffID=rebuilt, plainSize=layer.tar_size, rebuiltDiffID=rebuilt, singlePass=True)
    else:
        report.update(scan_and_decompress(layer, frames))
        report["singlePass"] = False
        if layer.has_tarsplit:
            rebuilt = write_tar(layer, lambda _piece: None)
            report["rebuiltDiffID"] = rebuilt
            if rebuilt != report["plainDiffID"]:
                raise DigestMismatchError(
                    f"the blob decompresses to {report['plainDiffID']} but its tar-split rebuilds {rebuilt}")
        else:  # without a tar-split, read (and check) every file
            for entry in files:
                for _ in layer.iter_file(layer.content_of(entry)):
                    pass
    report["filesVerified"] = len(files)
    report["diffID"] = report.get("rebuiltDiffID", report["plainDiffID"])
    if diff_id is not None:
        if report["diffID"] != diff_id:
            raise DigestMismatchError(f"layer DiffID is {report['diffID']}, expected {diff_id}")
        report["diffIDMatches"] = True
    return report
