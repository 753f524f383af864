"""Rebuild the exact original tar from the tar-split and the TOC's file contents.

This is what a partial pull does to prove a layer: segments (headers, padding,
trailing bytes) come verbatim from the authenticated tar-split, file bodies
from their chunk ranges (each chunk and file digest checked), every body's
CRC-64 must match the tar-split, and the sha256 of the result is the DiffID.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import format as fmt
from ._native import crc64
from .errors import DigestMismatchError, FormatError, MissingTarSplitError
from .outputs import Output

if TYPE_CHECKING:
    from .reader import Layer


def rebuild_tar(layer: Layer, out: Any, diff_id: Optional[str] = None,
                on_progress: Optional[Callable[[int], None]] = None) -> str:
    """Stream the original tar into ``out`` (path, ``"-"`` or binary file); return its DiffID.

    ``on_progress`` is called with the number of bytes each time some are written.
    """
    if not layer.has_tarsplit:
        raise MissingTarSplitError(
            "this layer has no tar-split (written before containers/storage v1.47): "
            "the exact tar cannot be rebuilt; decompress the blob instead")
    if diff_id is not None and not diff_id.startswith("sha256:"):
        raise ValueError(f"diff_id must be a sha256 digest, got {diff_id!r}")
    with Output(out) as dest:
        write = dest.write
        if on_progress is not None:
            def write(data: Any, _write: Callable[[Any], None] = dest.write,
                      _report: Callable[[int], None] = on_progress) -> None:
                _write(data)
                _report(len(data))
        actual = write_tar(layer, write)
        if diff_id is not None and actual != diff_id:
            raise DigestMismatchError(f"rebuilt tar has DiffID {actual}, expected {diff_id}")
        dest.commit()
    return actual


def write_tar(layer: Layer, write: Any) -> str:
    """Emit the rebuilt tar through ``write`` and return its sha256 digest."""
    sha = hashlib.sha256()
    for entry in layer.tarsplit_entries():
        if entry.type == fmt.TARSPLIT_SEGMENT_TYPE:
            if entry.payload:
                sha.update(entry.payload)
                write(entry.payload)
            continue
        if entry.size <= 0:
            continue
        name = entry.raw_name.decode("utf-8", "surrogateescape")
        try:
            toc_entry = layer.entry_exact(name)
        except KeyError:
            raise FormatError(f"tar-split names {name!r}, which the TOC does not have") from None
        if toc_entry.type == fmt.TYPE_REG and toc_entry.size != entry.size:
            # upstream copies the whole file whatever the entry says, and its tar size is then wrong
            raise FormatError(f"tar-split gives {name!r} {entry.size} bytes, the TOC {toc_entry.size}")
        crc = 0
        if toc_entry.type == fmt.TYPE_REG and toc_entry.size > 0:
            for piece in layer.iter_file(layer.content_of(toc_entry)):
                crc = crc64(piece, crc)
                sha.update(piece)
                write(piece)
        if entry.payload is None or crc.to_bytes(8, "big") != entry.payload:
            raise DigestMismatchError(f"file integrity checksum failed for {name!r}")
    return "sha256:" + sha.hexdigest()
