"""Tar stream in, zstd:chunked blob out.

The conversion follows containers/storage's ``writeZstdChunkedStream``:

* the tar is parsed once, as Go's archive/tar (tar-split fork) parses it;
* every byte that is not file payload goes into "header" frames; each file's
  payload starts a new frame, and is cut into chunks by the rolling checksum
  and the zero-run detector (one frame per chunk, ``zeros`` chunks for holes);
* the TOC lists every entry with its chunks, offsets and sha256 digests; the
  tar-split records the raw headers and a CRC-64 of each payload;
* TOC, tar-split and a 64-byte footer follow in skippable frames.

Chunk frames are compressed on native worker threads, in batches, while the
next batch is parsed; output order is input order, so the blob is identical for
every thread count.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Callable, Optional, Union

from . import format as fmt
from ._frames import MAX_ONESHOT_FRAME, BlobSink, FrameWriter, OpenFrame, zeros_view
from ._native import Chunker, FrameStreamCompressor, build_footer, compress_frame, crc64, skippable_header
from .annotations import Position, format_annotations
from .errors import UnsupportedTarError, UsageError, ZstdChunkedError
from .outputs import Output
from .tarsplit import TarSplitEncoder
from .tarstream import TarReader
from .toc import TocEntry, entry_from_header, toc_json

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO, IO[bytes]]

#: Payload is read from the tar in pieces of this size.
READ_SIZE = 1 << 20


@dataclass(frozen=True)
class LayerInfo:
    """What a conversion produced: the values an OCI manifest and config need."""

    annotations: dict[str, str]
    diff_id: str
    digest: str
    size: int
    toc_digest: str
    toc_offset: int = 0
    toc_length: int = 0
    toc_uncompressed: int = 0
    tarsplit_offset: int = 0
    tarsplit_length: int = 0
    tarsplit_uncompressed: int = 0
    entries: int = 0
    frames: int = 0
    tar_size: int = 0

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI's JSON shape: annotations, diffID, digest, size, tocDigest."""
        return {
            "annotations": dict(self.annotations),
            "diffID": self.diff_id,
            "digest": self.digest,
            "size": self.size,
            "tocDigest": self.toc_digest,
        }


def default_threads() -> int:
    """Worker threads used when ``threads=None``: env ZSTD_CHUNKED_THREADS, else all usable cores."""
    env = os.environ.get("ZSTD_CHUNKED_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or not fmt.MIN_LEVEL <= level <= fmt.MAX_LEVEL:
        raise ValueError(f"level must be an integer from {fmt.MIN_LEVEL} to {fmt.MAX_LEVEL}, got {level!r}")
    return level


def _check_threads(threads: Optional[int]) -> int:
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    return threads


class _HashingReader:
    """Reads the source once, hashing every byte for the DiffID."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._sha = hashlib.sha256()
        self.count = 0
        self._readinto = getattr(raw, "readinto", None)

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._sha.update(data)
            self.count += len(data)
        return bytes(data) if data is not None else b""

    def readinto(self, buf: Any) -> int:
        if self._readinto is None:
            data = self.read(len(buf))
            buf[: len(data)] = data
            return len(data)
        n = self._readinto(buf) or 0
        if n:
            view = memoryview(buf)[:n]
            self._sha.update(view)
            self.count += n
        return n

    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


@dataclass
class _ChunkRec:
    """One chunk of a file payload; ``offset``/``end`` are set once its frame is written."""

    file_offset: int
    size: int
    zeros: bool
    digest: str = ""
    offset: int = 0
    end: int = 0

    def written(self, start: int, end: int) -> None:
        self.offset, self.end = start, end


class _EntryGroup:
    """TOC entries of one tar entry, waiting for the offsets of their frames."""

    __slots__ = ("entries", "chunks")

    def __init__(self, entries: list[TocEntry], chunks: list[_ChunkRec]) -> None:
        self.entries = entries
        self.chunks = chunks

    def ready(self) -> bool:
        # frames are written in order: once the last chunk is out, all are
        return not self.chunks or self.chunks[-1].end != 0

    def texts(self) -> list[str]:
        chunks, entries = self.chunks, self.entries
        if chunks:
            main = entries[0]
            main.offset = chunks[0].offset
            main.end_offset = chunks[-1].end
            if len(chunks) > 1:
                for entry, rec in zip(entries, chunks):
                    entry.offset = rec.offset
        return [e.to_json() for e in entries]


class _TarSplitSink:
    """Collects tar-split JSON lines, compressing them as they come."""

    FLUSH = 1 << 20

    def __init__(self, level: int) -> None:
        self._cs = FrameStreamCompressor(level)
        self._buf = bytearray()
        self.compressed = bytearray()
        self.uncompressed = 0

    def __call__(self, line: bytes) -> None:
        self._buf += line
        self.uncompressed += len(line)
        if len(self._buf) >= self.FLUSH:
            self.compressed += self._cs.compress(self._buf)
            self._buf = bytearray()

    def finish(self) -> bytes:
        if self._buf:
            self.compressed += self._cs.compress(self._buf)
            self._buf = bytearray()
        self.compressed += self._cs.end()
        return bytes(self.compressed)

    def close(self) -> None:
        self._cs.close()


class _Converter:
    """One conversion: owns the native contexts; ``close()`` releases them on every path."""

    def __init__(self, out: BinaryIO, *, level: int, threads: int) -> None:
        self.level = level
        self.sink = BlobSink(out)
        self.frames = FrameWriter(self.sink, level=level, threads=threads, after_batch=self._drain_groups)
        self.chunker = Chunker()
        self.tarsplit_sink = _TarSplitSink(level)
        self.tarsplit = TarSplitEncoder(self.tarsplit_sink)
        self.header = OpenFrame(self.frames)
        self.groups: deque[_EntryGroup] = deque()
        self.toc_texts: list[str] = []
        self.entry_count = 0

    def close(self) -> None:
        self.header.abort()
        self.frames.close()
        self.chunker.close()
        self.tarsplit_sink.close()

    # -- the main loop --------------------------------------------------------

    def run(self, source: Any) -> LayerInfo:
        reader = _HashingReader(source)
        tar = TarReader(reader)
        while True:
            hdr = tar.next()
            raw = tar.raw_bytes()
            self.tarsplit.add_segment(raw)
            self.header.append(raw)
            if hdr is None:
                break
            entry = entry_from_header(hdr)
            if hdr.size > 0 and entry.type != fmt.TYPE_REG:
                # Go reads no payload for these, yet tar-split records the size: the reference
                # writes a layer whose tar-split claims content nothing can supply. Refuse it.
                raise UnsupportedTarError(
                    f"{hdr.name!r}: a {entry.type} entry with a size of {hdr.size} bytes is not supported")
            chunks, crc, digest = self._payload(tar, hdr.size)
            self.tarsplit.add_file(hdr.name, hdr.size, crc.to_bytes(8, "big") if hdr.size > 0 else None)
            tail = tar.raw_bytes()
            if tail:
                self.tarsplit.add_segment(tail)
                self.header.append(tail)
            self._add_entries(entry, chunks, digest)
        for piece in tar.trailing():
            self.tarsplit.add_segment(piece)
            self.header.append(piece)
        self.header.close(None, want_digest=False)
        self.frames.flush()
        self._drain_groups()
        if self.groups:
            raise ZstdChunkedError("internal error: TOC entries left without offsets")
        return self._finish(reader)

    def _payload(self, tar: TarReader, size: int) -> tuple[list[_ChunkRec], int, str]:
        """Read one entry's payload, cutting it into chunk frames."""
        piece = tar.read(READ_SIZE)
        if not piece:
            return [], 0, ""
        self.header.close(None, want_digest=False)
        if len(piece) == size:
            return self._whole_payload(piece)
        chunker = self.chunker
        chunker.reset()
        file_sha = hashlib.sha256()
        crc = 0
        fed = 0
        state = _ChunkState(self, size)
        while piece:
            file_sha.update(piece)
            crc = crc64(piece, crc)
            start = fed
            fed += len(piece)
            state.apply(chunker.feed(piece), piece, start)
            state.settle(chunker.settled, piece, start, fed)
            piece = tar.read(READ_SIZE)
        state.apply(chunker.finish(), memoryview(b""), fed)
        state.done(size=fed)
        return state.chunks, crc, "sha256:" + file_sha.hexdigest()

    def _whole_payload(self, data: memoryview) -> tuple[list[_ChunkRec], int, str]:
        """Fast path for a payload that arrived in one piece (most files): no copies, one hash.

        ``data`` views an immutable input buffer, so the frames can reference it
        until they are compressed.
        """
        chunker = self.chunker
        chunker.reset()
        cuts = chunker.feed(data)
        cuts += chunker.finish()
        crc = crc64(data)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        frames = self.frames
        if len(cuts) == 1:
            rec = _ChunkRec(0, len(data), cuts[0][1])
            frames.add(data, rec.written)
            return [rec], crc, digest
        chunks = []
        start = 0
        for end, zeros in cuts:
            part = data[start:end]
            rec = _ChunkRec(start, end - start, zeros, "sha256:" + hashlib.sha256(part).hexdigest())
            frames.add(part, rec.written)
            chunks.append(rec)
            start = end
        return chunks, crc, digest

    def _add_entries(self, entry: TocEntry, chunks: list[_ChunkRec], digest: str) -> None:
        self.entry_count += 1
        entry.digest = digest
        entries = [entry]
        if len(chunks) > 1:
            entry.chunk_size = chunks[0].size
            entry.chunk_digest = chunks[0].digest
            entry.chunk_type = fmt.CHUNK_TYPE_ZEROS if chunks[0].zeros else ""
            for rec in chunks[1:]:
                entries.append(TocEntry(
                    type=fmt.TYPE_CHUNK, name=entry.name, chunk_offset=rec.file_offset, chunk_size=rec.size,
                    chunk_digest=rec.digest, chunk_type=fmt.CHUNK_TYPE_ZEROS if rec.zeros else "",
                ))
        self.groups.append(_EntryGroup(entries, chunks))
        self._drain_groups()

    def _drain_groups(self) -> None:
        """Serialize, in order, every TOC entry whose offsets are all known."""
        groups = self.groups
        while groups and groups[0].ready():
            self.toc_texts.extend(groups.popleft().texts())

    # -- trailer --------------------------------------------------------------

    def _finish(self, reader: _HashingReader) -> LayerInfo:
        tarsplit_data = self.tarsplit_sink.finish()
        tarsplit_digest = "sha256:" + hashlib.sha256(tarsplit_data).hexdigest()
        toc_text = toc_json(self.toc_texts, tarsplit_digest)
        toc_data = compress_frame(toc_text, self.level)
        toc_digest = "sha256:" + hashlib.sha256(toc_data).hexdigest()
        sink = self.sink
        toc_pos = Position(sink.offset + fmt.SKIPPABLE_HEADER_SIZE, len(toc_data), len(toc_text))
        sink.write(skippable_header(len(toc_data)))
        sink.write(toc_data)
        ts_pos = Position(sink.offset + fmt.SKIPPABLE_HEADER_SIZE, len(tarsplit_data),
                          self.tarsplit_sink.uncompressed)
        sink.write(skippable_header(len(tarsplit_data)))
        sink.write(tarsplit_data)
        sink.write(build_footer(toc_pos.offset, toc_pos.length, toc_pos.uncompressed,
                                ts_pos.offset, ts_pos.length, ts_pos.uncompressed))
        return LayerInfo(
            annotations=format_annotations(toc_digest, toc_pos, ts_pos),
            diff_id=reader.digest(),
            digest=sink.digest(),
            size=sink.offset,
            toc_digest=toc_digest,
            toc_offset=toc_pos.offset,
            toc_length=toc_pos.length,
            toc_uncompressed=toc_pos.uncompressed,
            tarsplit_offset=ts_pos.offset,
            tarsplit_length=ts_pos.length,
            tarsplit_uncompressed=ts_pos.uncompressed,
            entries=self.entry_count,
            frames=self.frames.frames_written,
            tar_size=reader.count,
        )


class _ChunkState:
    """Turns chunker cuts over a payload into chunk frames."""

    def __init__(self, conv: _Converter, size: int) -> None:
        self.conv = conv
        self.size = size
        self.chunks: list[_ChunkRec] = []
        self.chunk_start = 0
        self.appended_end = 0
        self.data = OpenFrame(conv.frames)

    # bytes [a, b) of the file, where the piece holds [piece_start, piece_start + len(piece))
    # and anything before piece_start that was held back is a pending run of zeros.
    def _append(self, a: int, b: int, piece: memoryview, piece_start: int) -> None:
        if b <= a:
            return
        if a < piece_start:
            self.data.append_zeros(min(b, piece_start) - a)
        if b > piece_start:
            self.data.append(piece[max(a, piece_start) - piece_start:b - piece_start])
        self.appended_end = b

    def apply(self, cuts: list[tuple[int, bool]], piece: memoryview, piece_start: int) -> None:
        for end, zeros in cuts:
            rec = _ChunkRec(file_offset=self.chunk_start, size=end - self.chunk_start, zeros=zeros)
            if zeros:
                if self.data.size:
                    raise ZstdChunkedError("internal error: data bytes inside a zero run")
                self._emit_zeros(rec)
            else:
                self._append(self.appended_end, end, piece, piece_start)
                single = self.chunk_start == 0 and end == self.size  # the whole file: no chunk digest
                rec.digest = self.data.close(rec.written, want_digest=not single)
            self.chunks.append(rec)
            self.chunk_start = self.appended_end = end

    def settle(self, settled: int, piece: memoryview, piece_start: int, fed: int) -> None:
        """Move the bytes the chunker has decided are data into the open frame."""
        self._append(self.appended_end, min(settled, fed), piece, piece_start)

    def done(self, size: int) -> None:
        if len(self.chunks) == 1:
            self.chunks[0].digest = ""
        if self.chunk_start != size:
            raise ZstdChunkedError("internal error: chunks do not cover the payload")

    def _emit_zeros(self, rec: _ChunkRec) -> None:
        n = rec.size
        sha = hashlib.sha256()
        left = n
        while left:
            step = min(left, MAX_ONESHOT_FRAME)
            sha.update(zeros_view(step))
            left -= step
        rec.digest = "sha256:" + sha.hexdigest()
        frames = self.conv.frames
        if n <= MAX_ONESHOT_FRAME:
            frames.add(zeros_view(n), rec.written)
            return
        stream = frames.stream()
        try:
            left = n
            while left:
                step = min(left, MAX_ONESHOT_FRAME)
                stream.feed(zeros_view(step))
                left -= step
        except BaseException:
            stream.abort()
            raise
        rec.written(stream.start, stream.end())


# --------------------------------------------------------------------------
# Sources and destinations


class _Source:
    """The tar to read: a path, ``"-"`` for standard input, or a binary file object."""

    def __init__(self, src: PathOrFile) -> None:
        self._owned: Optional[IO[bytes]] = None
        if isinstance(src, (str, os.PathLike)):
            if os.fspath(src) == "-":
                self.stream: Any = sys.stdin.buffer
            else:
                self._owned = open(os.fspath(src), "rb", buffering=0)  # noqa: SIM115 - closed in close()
                self.stream = self._owned
        elif hasattr(src, "read"):
            self.stream = src
        else:
            raise TypeError(f"source must be a path, '-', or a binary file object, not {type(src).__name__}")

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
            self._owned = None


def _run_conversion(source: Any, dest: Output, level: int, threads: int) -> LayerInfo:
    conv = _Converter(dest.stream, level=level, threads=threads)
    try:
        info = conv.run(source)
    finally:
        conv.close()
    return info


def convert(src: PathOrFile, dst: PathOrFile, *, level: int = fmt.DEFAULT_LEVEL,
            threads: Optional[int] = None) -> LayerInfo:
    """Convert a tar (path, ``"-"`` or binary file) into a zstd:chunked blob at ``dst``.

    The tar is read once, in bounded memory. When ``dst`` is a path, the blob is
    written to a temporary file in the same directory and renamed into place
    only when everything succeeded; on any error nothing is left behind.
    """
    level = _check_level(level)
    nthreads = _check_threads(threads)
    source = _Source(src)
    try:
        dest = Output(dst)
        try:
            info = _run_conversion(source.stream, dest, level, nthreads)
            dest.commit()
        except BaseException:
            dest.abort()
            raise
    finally:
        source.close()
    return info


# --------------------------------------------------------------------------
# The push-style writer


class _Pipe:
    """A bounded byte pipe between ``Writer.write`` and the conversion thread."""

    def __init__(self, max_items: int = 16) -> None:
        self._q: "queue.Queue[Optional[bytes]]" = queue.Queue(max_items)
        self._buf = memoryview(b"")
        self._eof = False
        self.cancelled = threading.Event()

    def put(self, data: Optional[bytes], alive: Callable[[], bool]) -> None:
        while True:
            if not alive():
                return
            try:
                self._q.put(data, timeout=0.05)
                return
            except queue.Full:
                continue

    def readinto(self, buf: Any) -> int:
        while not self._buf:
            if self._eof:
                return 0
            if self.cancelled.is_set():
                raise _Cancelled()
            try:
                item = self._q.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is None:
                self._eof = True
                return 0
            self._buf = memoryview(item)
        n = min(len(buf), len(self._buf))
        buf[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def read(self, n: int = -1) -> bytes:
        out = bytearray(max(n, 0) if n >= 0 else 1 << 20)
        got = self.readinto(out)
        return bytes(out[:got])


class _Cancelled(BaseException):
    """Raised inside the conversion thread when the writer is aborted."""


class Writer:
    """Stream a tar in with :meth:`write`; :meth:`close` finishes the blob.

    Use it as a context manager: if the block raises, the conversion is
    cancelled, its native threads are joined and a destination path is left
    untouched (no partial file)::

        with zstd_chunked.Writer("layer.zst") as w:
            for piece in tar_pieces:
                w.write(piece)
        info = w.info
    """

    def __init__(self, dst: PathOrFile, *, level: int = fmt.DEFAULT_LEVEL, threads: Optional[int] = None) -> None:
        self._level = _check_level(level)
        self._threads = _check_threads(threads)
        self._dest = Output(dst)
        self._pipe = _Pipe()
        self._lock = threading.Lock()
        self._result: Optional[LayerInfo] = None
        self._error: Optional[BaseException] = None
        self._closed = False
        self._entered = False
        self.info: Optional[LayerInfo] = None
        self._thread = threading.Thread(target=self._run, name="zstd-chunked-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = _run_conversion(self._pipe, self._dest, self._level, self._threads)
        except _Cancelled:
            pass
        except BaseException as exc:  # reported to the caller by write()/close()
            self._error = exc

    def _guard(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise UsageError("Writer used from two threads at once")

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Feed tar bytes. Raises the conversion's error as soon as it is known."""
        self._guard()
        try:
            if self._closed:
                raise UsageError("write to a closed Writer")
            if self._error is not None:
                raise self._error
            n = len(data)
            if n:
                self._pipe.put(bytes(data), self._thread.is_alive)
            if self._error is not None:
                raise self._error
            return n
        finally:
            self._lock.release()

    def close(self) -> LayerInfo:
        """Finish the tar stream, write TOC, tar-split and footer, and return the result."""
        self._guard()
        try:
            if self._closed:
                if self.info is None:
                    raise UsageError("Writer was aborted")
                return self.info
            self._closed = True
            self._pipe.put(None, self._thread.is_alive)
            self._thread.join()
            if self._error is not None or self._result is None:
                self._dest.abort()
                raise self._error or ZstdChunkedError("conversion ended without a result")
            try:
                self._dest.commit()
            except BaseException:
                self._dest.abort()
                raise
            self.info = self._result
            return self.info
        finally:
            self._lock.release()

    def abort(self) -> None:
        """Cancel the conversion: join its threads and remove any partial output."""
        if self._closed and self._thread.ident is not None and not self._thread.is_alive():
            if self.info is None:
                self._dest.abort()
            return
        self._closed = True
        self._pipe.cancelled.set()
        self._thread.join()
        self._dest.abort()

    def __enter__(self) -> "Writer":
        if self._entered:
            raise UsageError("Writer is not reentrant")
        self._entered = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()
