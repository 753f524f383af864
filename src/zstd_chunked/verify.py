"""Full verification of a layer: frames, metadata digests, every file, and the DiffID.

Checks, in order:

1. the blob is a clean sequence of zstd and skippable frames, and the TOC,
   tar-split and footer sit in skippable frames where the layer says;
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
from ._native import FrameScanner
from .errors import DigestMismatchError, FormatError

if TYPE_CHECKING:
    from .reader import Layer

SCAN_PIECE = 8 << 20


def scan_and_decompress(layer: Layer) -> dict[str, Any]:
    """Walk every frame and decompress the data frames; returns counts and the plain-pull DiffID."""
    data_end = layer.toc_position.offset - fmt.SKIPPABLE_HEADER_SIZE
    sha = hashlib.sha256()
    dctx = zstandard.ZstdDecompressor(max_window_size=1 << 27)
    dobj = dctx.decompressobj(read_across_frames=True) if _has_read_across(dctx) else None
    frames = []
    zstd_frames = skippable = 0
    uncompressed = 0
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
                    out = dobj.decompress(part) if dobj is not None else b""
                except zstandard.ZstdError as exc:
                    raise FormatError(f"zstd data near offset {offset}: {exc}") from None
                sha.update(out)
                uncompressed += len(out)
            offset += len(piece)
        scanner.finish()
    _check_metadata_frames(layer, frames)
    return {"zstdFrames": zstd_frames, "skippableFrames": skippable, "plainDiffID": "sha256:" + sha.hexdigest(),
            "plainSize": uncompressed}


def _has_read_across(dctx: Any) -> bool:
    try:
        dctx.decompressobj(read_across_frames=True)
    except TypeError:
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
