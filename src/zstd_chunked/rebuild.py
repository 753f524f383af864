"""Rebuild the exact original tar from the tar-split and the TOC's file contents.

This is what a partial pull does to prove a layer: segments (headers, padding,
trailing bytes) come verbatim from the authenticated tar-split, file bodies
from their chunk ranges (each chunk and file digest checked), every body's
CRC-64 must match the tar-split, and the sha256 of the result is the DiffID.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import format as fmt
from ._native import crc64, decompress_batch
from .errors import DigestMismatchError, FormatError, MissingTarSplitError
from .outputs import Output
from .reader import digest_of, merge_ranges

if TYPE_CHECKING:
    from .reader import FileContent, Layer


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


#: Small files are fetched, decompressed (in parallel) and checked in batches of this many bytes.
BATCH_BYTES = 16 << 20
#: Files larger than this are streamed one by one instead.
SMALL_FILE = 4 << 20
#: Chunk ranges closer than this are fetched with one read.
READ_GAP = 256 << 10


class BackgroundSha256:
    """sha256 of a byte stream, computed on a helper thread (hashlib releases the GIL).

    Only hand it buffers that are not modified afterwards. Always call
    :meth:`hexdigest` or :meth:`close` so the thread ends.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        # bounded: if hashing falls behind, the producer waits instead of piling up buffers
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, name="zstd-chunked-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            self._sha.update(data)

    def update(self, data: Any) -> None:
        self._queue.put(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()


class _File:
    __slots__ = ("name", "content", "crc")

    def __init__(self, name: str, content: FileContent, crc: Optional[bytes]) -> None:
        self.name = name
        self.content = content
        self.crc = crc


def _check_digest(data: Any, expected: str, what: str) -> None:
    actual = digest_of(data, expected)
    if actual != expected:
        raise DigestMismatchError(f"{what} has digest {actual}, TOC says {expected}")


def _flush(layer: Layer, batch: list[Any], out: Callable[[Any], None]) -> None:
    """Fetch, decompress and check every chunk of the batch's files, then emit the batch in order."""
    data_chunks = [c for item in batch if isinstance(item, _File) for c in item.content.chunks if not c.zeros]
    outputs: dict[int, Any] = {}
    if data_chunks:
        spans = merge_ranges(((c.offset, c.end) for c in data_chunks), READ_GAP)
        blobs = [(start, memoryview(layer.read_range(start, length))) for start, length in spans]
        jobs = []
        index = 0
        for c in sorted(data_chunks, key=lambda c: c.offset):
            while blobs[index][0] + len(blobs[index][1]) < c.end:
                index += 1
            start, view = blobs[index]
            jobs.append((c, view[c.offset - start:c.end - start]))
        try:
            results = decompress_batch([(view, c.size) for c, view in jobs], layer.threads)
        except FormatError as exc:
            raise FormatError(f"chunk data near offset {jobs[0][0].offset}: {exc}") from None
        for (c, _view), result in zip(jobs, results):
            if c.digest:
                _check_digest(result, c.digest, f"chunk at {c.offset}")
            outputs[c.offset] = result
    for item in batch:
        if not isinstance(item, _File):
            out(item)
            continue
        entry = item.content.entry
        pieces = [bytes(c.size) if c.zeros else outputs[c.offset] for c in item.content.chunks]
        if len(pieces) == 1:
            _check_digest(pieces[0], entry.digest or fmt.EMPTY_SHA256, repr(entry.name))
        else:
            sha = hashlib.new((entry.digest or fmt.EMPTY_SHA256).split(":", 1)[0])
            for piece in pieces:
                sha.update(piece)
            if f"{sha.name}:{sha.hexdigest()}" != (entry.digest or fmt.EMPTY_SHA256):
                raise DigestMismatchError(f"{entry.name!r} does not match its TOC digest")
        crc = 0
        for piece in pieces:
            crc = crc64(piece, crc)
            out(piece)
        if item.crc is None or crc.to_bytes(8, "big") != item.crc:
            raise DigestMismatchError(f"file integrity checksum failed for {item.name!r}")


def _batchable(content: FileContent) -> bool:
    return content.entry.size <= SMALL_FILE and all(c.end - c.offset <= SMALL_FILE for c in content.chunks)


def write_tar(layer: Layer, write: Any, *, batched: bool = True) -> str:
    """Emit the rebuilt tar through ``write`` and return its sha256 digest.

    With ``batched``, small files are handled in batches: their chunk ranges
    are read from the blob with few requests and decompressed together on the
    native threads; large files are streamed. Without it every file is read
    through ``layer.iter_file`` (for wrappers that supply contents from
    elsewhere). Every chunk digest, file digest and tar-split CRC is checked.
    """
    hasher = BackgroundSha256()
    try:
        def out(data: Any) -> None:
            hasher.update(data)
            write(data)

        batch: list[Any] = []
        batch_bytes = 0
        for entry in layer.tarsplit_entries():
            if entry.type == fmt.TARSPLIT_SEGMENT_TYPE:
                if entry.payload:
                    batch.append(entry.payload)
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
            if toc_entry.type != fmt.TYPE_REG or toc_entry.size == 0:
                if entry.payload != (0).to_bytes(8, "big"):  # the CRC of no bytes
                    raise DigestMismatchError(f"file integrity checksum failed for {name!r}")
                continue
            content = layer.content_of(toc_entry)
            if batched and _batchable(content):
                batch.append(_File(name, content, entry.payload))
                batch_bytes += toc_entry.size
                if batch_bytes >= BATCH_BYTES:
                    _flush(layer, batch, out)
                    batch, batch_bytes = [], 0
                continue
            _flush(layer, batch, out)
            batch, batch_bytes = [], 0
            crc = 0
            for piece in layer.iter_file(content):
                crc = crc64(piece, crc)
                out(piece)
            if entry.payload is None or crc.to_bytes(8, "big") != entry.payload:
                raise DigestMismatchError(f"file integrity checksum failed for {name!r}")
        _flush(layer, batch, out)
        return "sha256:" + hasher.hexdigest()
    finally:
        hasher.close()
