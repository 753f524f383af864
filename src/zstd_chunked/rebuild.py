"""Rebuild the exact original tar from the tar-split and the TOC's file contents.

This is what a partial pull does to prove a layer: segments (headers, padding,
trailing bytes) come verbatim from the authenticated tar-split, file bodies
from their chunk ranges (each chunk and file digest checked), every body's
CRC-64 must match the tar-split, and the sha256 of the result is the DiffID.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Optional

from . import format as fmt
from ._collector import collector_paused
from ._hashing import BackgroundSha256
from ._native import DecodeJobs, crc64
from .errors import DigestMismatchError, FormatError, MissingTarSplitError
from .outputs import Output
from .reader import digest_of, merge_ranges, sha256_raw

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
SMALL_FILE = 32 << 20
#: A file at least this large gets its SHA-256 and its CRC-64 checked by two parallel jobs.
SPLIT_CHECKS = 1 << 20
#: Chunk ranges closer than this are fetched with one read.
READ_GAP = 256 << 10


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


#: What one check covers: a file's name, and the blob offset of the chunk (None: the whole file).
_What = tuple[str, Optional[int]]


def _describe(what: _What) -> tuple[str, str]:
    """The subject of a failed check, and the message for a CRC-64 failure of its file."""
    name, chunk_offset = what
    label = repr(name) if chunk_offset is None else f"chunk at {chunk_offset}"
    return label, f"file integrity checksum failed for {name!r}"


class _Batch:
    """Lays out one batch of the tar in an arena and checks it on the native threads.

    Segments are copied in; each data chunk is decoded straight into its place
    by a job that also checks the chunk digest; a file's digest and CRC-64 are
    checked by the same job when the file is a single chunk, else by a second
    round of check-only jobs over the assembled file.  Digests of an algorithm
    other than sha256 are checked here in Python.
    """

    def __init__(self, layer: Layer, batch: list[Any], exact_frames: bool = False) -> None:
        self.layer = layer
        self.batch = batch
        self.exact_frames = exact_frames
        total = 0
        for item in batch:
            total += item.content.entry.size if isinstance(item, _File) else len(item)
        self.arena = bytearray(total)
        self.first = DecodeJobs(self.arena)
        self.second = DecodeJobs(self.arena)
        # what each job checks, as (file name, chunk offset or None for the whole file);
        # the error texts are made only when a check fails
        self.first_what: list[_What] = []
        self.second_what: list[_What] = []
        self.python_checks: list[tuple[int, int, str, str]] = []

    def _sources(self) -> dict[int, tuple[int, int, int]]:
        """Read the batch's data chunks with few requests: chunk offset -> (source, start, length)."""
        data_chunks = [c for item in self.batch if isinstance(item, _File) for c in item.content.chunks
                       if self.exact_frames or not c.zeros]
        where: dict[int, tuple[int, int, int]] = {}
        if not data_chunks:
            return where
        spans = merge_ranges(((c.offset, c.end) for c in data_chunks), READ_GAP)
        index = 0
        handle = -1
        span_start = span_end = 0
        for c in sorted(data_chunks, key=lambda c: c.offset):
            if handle < 0 or c.end > span_end:
                while spans[index][0] + spans[index][1] < c.end:
                    index += 1
                span_start, length = spans[index]
                span_end = span_start + length
                handle = self.first.source(self.layer.read_range(span_start, length))
            where[c.offset] = (handle, c.offset - span_start, c.end - c.offset)
        return where

    def _native_digest(self, dst: int, size: int, digest: str, what: _What) -> Optional[bytes]:
        """The raw sha256 for a native job to check; other algorithms are left to Python (None)."""
        raw = sha256_raw(digest) if digest else None
        if digest and raw is None:
            self.python_checks.append((dst, size, digest, _describe(what)[0]))
        return raw

    def _check(self, jobs: DecodeJobs, whats: list[_What], dst: int, size: int, digest: str,
               crc: Optional[int], what: _What) -> None:
        raw = self._native_digest(dst, size, digest, what)
        if raw is not None and crc is not None and size >= SPLIT_CHECKS:
            # two jobs, so that both checks of one large file run at the same time
            jobs.check(dst, size, raw, None)
            whats.append(what)
            raw = None
        if raw is not None or crc is not None:
            jobs.check(dst, size, raw, crc)
            whats.append(what)

    def run(self) -> memoryview:
        arena = self.arena
        where = self._sources()
        first, second = self.first, self.second
        pos = 0
        for item in self.batch:
            if not isinstance(item, _File):
                arena[pos:pos + len(item)] = item
                pos += len(item)
                continue
            entry = item.content.entry
            name = item.name
            crc = int.from_bytes(item.crc, "big") if item.crc is not None and len(item.crc) == 8 else None
            if crc is None:
                raise DigestMismatchError(f"file integrity checksum failed for {name!r}")
            file_digest = entry.digest or fmt.EMPTY_SHA256
            file_what: _What = (name, None)
            chunks = item.content.chunks
            single = len(chunks) == 1 and chunks[0].digest in ("", file_digest)
            at = pos
            for c in chunks:
                chunk_what: _What = (name, c.offset)
                zeros = c.zeros and not self.exact_frames
                if single:  # one job checks the chunk, the file and its CRC
                    if zeros:
                        self._check(first, self.first_what, at, c.size, file_digest, crc, file_what)
                    else:
                        raw = self._native_digest(at, c.size, file_digest, file_what)
                        source, offset, length = where[c.offset]
                        first.decode(source, offset, length, at, c.size, raw, crc, exact=self.exact_frames)
                        self.first_what.append(file_what)
                elif zeros:
                    if c.digest:
                        self._check(first, self.first_what, at, c.size, c.digest, None, chunk_what)
                else:
                    raw = self._native_digest(at, c.size, c.digest, chunk_what)
                    source, offset, length = where[c.offset]
                    first.decode(source, offset, length, at, c.size, raw, exact=self.exact_frames)
                    self.first_what.append(chunk_what)
                at += c.size
            if not single:
                self._check(second, self.second_what, pos, entry.size, file_digest, crc, file_what)
            pos += entry.size
        threads = self.layer.threads
        for jobs, whats in ((first, self.first_what), (second, self.second_what)):
            failure = jobs.run(threads)
            if failure is not None:
                index, exc = failure
                what, crc_text = _describe(whats[index])
                if isinstance(exc, DigestMismatchError):
                    if "CRC-64" in str(exc):
                        raise DigestMismatchError(crc_text)
                    raise DigestMismatchError(f"{what} does not match its TOC digest")
                raise type(exc)(f"{what}: {exc}")
        view = memoryview(arena)
        for dst, size, digest, what in self.python_checks:
            _check_digest(view[dst:dst + size], digest, what)
        return view


class _BatchRunner:
    """Runs batches on one helper thread, in order, while the caller lays out the next one.

    At most one batch is in flight: :meth:`submit` first waits for the previous
    one (re-raising its error), so memory stays at two batches.  ``out`` is
    called from the helper thread, never from two threads at once.
    """

    def __init__(self, out: Callable[[Any], None]) -> None:
        self._out = out
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zstd-chunked-rebuild")
        self._inflight: Optional[Future[None]] = None

    def _run(self, batch: _Batch) -> None:
        self._out(batch.run())

    def submit(self, batch: _Batch) -> None:
        self.wait()
        self._inflight = self._pool.submit(self._run, batch)

    def wait(self) -> None:
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def close(self) -> None:
        """Wait for the helper thread to finish (errors of an abandoned batch are dropped)."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            try:
                inflight.result()
            except BaseException:  # noqa: BLE001 - the caller is already failing with its own error
                pass
        self._pool.shutdown(wait=True)


def batchable(content: FileContent) -> bool:
    """Whether a file is small enough to go into a batch (else it is streamed)."""
    if content.entry.size > SMALL_FILE:
        return False
    chunks = content.chunks
    if len(chunks) == 1:  # most files
        return chunks[0].end - chunks[0].offset <= SMALL_FILE
    return all(c.end - c.offset <= SMALL_FILE for c in chunks)


def write_tar(layer: Layer, write: Any, *, batched: bool = True, exact_frames: bool = False) -> str:
    """Emit the rebuilt tar through ``write`` and return its sha256 digest.

    With ``batched``, small files are handled in batches: their chunk ranges
    are read from the blob with few requests and decompressed together on the
    native threads; large files are streamed. Without it every file is read
    through ``layer.iter_file`` (for wrappers that supply contents from
    elsewhere). Every chunk digest, file digest and tar-split CRC is checked.
    With ``exact_frames`` (used by verify) the frames of every chunk of a
    batched file must hold exactly its bytes, zero chunks included (they are
    decoded instead of written as zeros).
    """
    with collector_paused():
        return _write_tar(layer, write, batched, exact_frames)


def _write_tar(layer: Layer, write: Any, batched: bool, exact_frames: bool) -> str:
    hasher = BackgroundSha256()
    def out(data: Any) -> None:
        hasher.update(data)
        write(data)

    runner = _BatchRunner(out)
    try:
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
            if batched and batchable(content):
                batch.append(_File(name, content, entry.payload))
                batch_bytes += toc_entry.size
                if batch_bytes >= BATCH_BYTES:
                    runner.submit(_Batch(layer, batch, exact_frames))
                    batch, batch_bytes = [], 0
                continue
            if batch:
                runner.submit(_Batch(layer, batch, exact_frames))
                batch, batch_bytes = [], 0
            runner.wait()
            crc = 0
            for piece in layer.iter_file(content):
                crc = crc64(piece, crc)
                out(piece)
            if entry.payload is None or crc.to_bytes(8, "big") != entry.payload:
                raise DigestMismatchError(f"file integrity checksum failed for {name!r}")
        if batch:
            runner.submit(_Batch(layer, batch, exact_frames))
        runner.wait()
        return "sha256:" + hasher.hexdigest()
    finally:
        runner.close()
        hasher.close()
