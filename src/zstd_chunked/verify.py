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

import hashlib
from typing import TYPE_CHECKING, Any, Optional

import zstandard

from . import format as fmt
from ._native import FrameScanner, parse_footer
from .errors import DigestMismatchError, FormatError

if TYPE_CHECKING:
    from .reader import Layer

SCAN_PIECE = 8 << 20


class _HashSink:
    """Receives decompressed output piece by piece: hashes and counts it, keeps nothing."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self.count = 0

    def write(self, data: Any) -> int:
        self.sha.update(data)
        self.count += len(data)
        return len(data)


def scan_and_decompress(layer: Layer) -> dict[str, Any]:
    """Walk every frame and decompress the data frames; returns counts and the plain-pull DiffID.

    Memory stays bounded whatever the frames expand to: output is handed over
    (and hashed) in pieces of at most 1 MiB.
    """
    data_end = layer.toc_position.offset - fmt.SKIPPABLE_HEADER_SIZE
    sink = _HashSink()
    out: Any = sink
    writer = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_writer(out, write_size=1 << 20,
                                                                               closefd=False)
    frames = []
    zstd_frames = skippable = 0
    with FrameScanner() as scanner:
        offset = 0
        while offset < layer.size:
            piece = layer.read_range(offset, min(SCAN_PIECE, layer.size - offset))
            for f in scanner.feed(piece):
                if f.skippable:
                    skippable += 1
                    frames.append(f)
                else:
                    zstd_frames += 1
                    if f.offset + f.size > data_end:
                        raise FormatError(f"zstd frame at {f.offset} runs into the layer metadata")
            if offset < data_end:
                part = piece[: max(0, min(len(piece), data_end - offset))]
                try:
                    writer.write(part)
                except zstandard.ZstdError as exc:
                    raise FormatError(f"zstd data near offset {offset}: {exc}") from None
            offset += len(piece)
        scanner.finish()
    _check_metadata_frames(layer, frames)
    return {"zstdFrames": zstd_frames, "skippableFrames": skippable, "plainDiffID": "sha256:" + sink.sha.hexdigest(),
            "plainSize": sink.count}


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
    from .rebuild import write_tar

    report: dict[str, Any] = {"authenticated": layer.authenticated}
    report.update(scan_and_decompress(layer))
    files = [e for e in layer.entries() if e.type == fmt.TYPE_REG and e.size > 0]
    report["filesVerified"] = len(files)
    if not layer.has_tarsplit:  # otherwise the rebuild below reads (and checks) every file
        for entry in files:
            for _ in layer.iter_file(layer.content_of(entry)):
                pass
    else:
        rebuilt = write_tar(layer, lambda _piece: None)
        report["rebuiltDiffID"] = rebuilt
        if rebuilt != report["plainDiffID"]:
            raise DigestMismatchError(
                f"the blob decompresses to {report['plainDiffID']} but its tar-split rebuilds {rebuilt}")
    report["diffID"] = report.get("rebuiltDiffID", report["plainDiffID"])
    if diff_id is not None:
        if report["diffID"] != diff_id:
            raise DigestMismatchError(f"layer DiffID is {report['diffID']}, expected {diff_id}")
        report["diffIDMatches"] = True
    return report
