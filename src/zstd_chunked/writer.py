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
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Callable, Optional, Union

import zstandard

from . import format as fmt
from ._collector import collector_paused
from ._frames import MAX_ONESHOT_FRAME, BlobSink, FrameWriter, OpenFrame, zeros_view
from ._hashing import BackgroundSha256
from ._native import (
    Chunker,
    FrameStreamCompressor,
    PayloadResult,
    TocText,
    build_footer,
    crc64,
    skippable_header,
)
from ._spool import Spool
from .annotations import Position, format_annotations
from .errors import UnsupportedTarError, UsageError, ZstdChunkedError
from .outputs import Output
from .tarsplit import NamesWithKey, TarSplitEncoder
from .tarstream import TarReader
from .toc import TocEntry, entry_from_header, toc_json_prefix, toc_json_suffix

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO, IO[bytes], Any]

#: Payload is read from the tar in pieces of this size.
READ_SIZE = 1 << 20
#: The tar is read from its source in blocks of this size.  Payloads are copied out of
#: them at once, but blocks wait in the DiffID thread's queue and a streamed payload's
#: pieces wait for the hashing thread inside them: 1 MiB blocks peak about 10 MiB lower
#: than 4 MiB ones, 256 KiB blocks about 3 MiB lower than 1 MiB ones (and the same on the
#: bench's 256 MiB and 1 GiB layers, where 1 MiB blocks peak 2-3 MiB higher on the longer
#: one), at the same speed.
TAR_READ_SIZE = 1 << 18
#: Payloads up to this size are chunked, hashed and compressed whole on a worker thread;
#: larger ones are chunked while they stream through (bounded memory).
MAX_FILE_JOB = 8 << 20

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
    """Threads used when ``threads=None``: env ZSTD_CHUNKED_THREADS, else all usable cores.

    ``threads`` counts every thread that compresses, the caller's included:
    with ``threads=1`` everything runs in the calling thread.
    """
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
    """Reads the source once and computes the DiffID (sha256 of every byte).

    Blocks returned by :meth:`read` are immutable ``bytes``, so they are hashed
    on a helper thread while the caller parses them. Use as a context manager:
    leaving it always stops the helper thread.
    """

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._sha = BackgroundSha256("zstd-chunked-diffid")
        self.count = 0
        self._digest: Optional[str] = None

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if not data:
            return b""
        block = bytes(data)  # no copy when the source already returns bytes
        self.count += len(block)
        self._sha.update(block)
        return block

    def digest(self) -> str:
        if self._digest is None:
            self._digest = "sha256:" + self._sha.hexdigest()
        return self._digest

    def __enter__(self) -> _HashingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._sha.close()


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


class _Pending:
    """One tar entry whose tar-split lines and TOC entries wait for its payload's results.

    Tar-split lines and TOC entries must come out in tar order, but a file's
    CRC, digests and chunk offsets are only known once a worker has processed
    it: entries queue here and are emitted, in order, as soon as they are ready.
    """

    __slots__ = ("segments", "name", "size", "entry", "crc", "digest", "chunks")

    def __init__(self, segments: list[bytes], name: str, size: int, entry: TocEntry) -> None:
        self.segments = segments
        self.name = name
        self.size = size
        self.entry = entry
        self.crc: Optional[int] = None if size > 0 else 0  # size -1: segments only
        self.digest = ""
        self.chunks: list[_ChunkRec] = []

    def ready(self) -> bool:
        # frames are written in order: once the last chunk is out, all are
        return self.crc is not None and (not self.chunks or self.chunks[-1].end != 0)

    def file_done(self, result: PayloadResult, start: int) -> None:
        """Callback of a worker's file job: chunk records with their blob offsets."""
        chunks = []
        offset = start
        previous = 0
        multi = len(result.chunks) > 1
        for c in result.chunks:
            end = offset + c.frame_size
            chunks.append(_ChunkRec(previous, c.end - previous, c.zeros,
                                    "sha256:" + c.digest.hex() if multi else "", offset, end))
            offset, previous = end, c.end
        self.chunks = chunks
        self.crc = result.crc64
        self.digest = "sha256:" + result.sha256.hex()

    def emit(self, tarsplit: TarSplitEncoder, toc: _TocStream) -> None:
        for segment in self.segments:
            tarsplit.add_segment(segment)
        if self.size < 0:  # only the raw bytes that followed a payload
            return
        assert self.crc is not None
        tarsplit.add_file(self.name, self.size, self.crc.to_bytes(8, "big") if self.size > 0 else None)
        entry, chunks = self.entry, self.chunks
        entry.digest = self.digest
        if chunks:
            entry.offset = chunks[0].offset
            entry.end_offset = chunks[-1].end
        if len(chunks) > 1:
            first = chunks[0]
            entry.chunk_size = first.size
            entry.chunk_digest = first.digest
            entry.chunk_type = fmt.CHUNK_TYPE_ZEROS if first.zeros else ""
            toc.append(entry)
            for rec in chunks[1:]:
                toc.append(TocEntry(
                    type=fmt.TYPE_CHUNK, name=entry.name, offset=rec.offset, chunk_offset=rec.file_offset,
                    chunk_size=rec.size, chunk_digest=rec.digest,
                    chunk_type=fmt.CHUNK_TYPE_ZEROS if rec.zeros else "",
                ))
        else:
            toc.append(entry)


class _CompressedText:
    """Text compressed into one zstd frame as it is produced.

    Only the compressed bytes are kept (see :class:`_Spool`); their SHA-256 is
    computed as they are produced.  With a ``helper`` (a one-thread executor,
    which runs its tasks in order), blocks are compressed and hashed there, so
    the caller's thread goes on; at most :data:`MAX_QUEUED` blocks wait.
    """

    #: Text is compressed in blocks of about this size; at most MAX_QUEUED wait for the helper
    #: (so at most about 3 x FLUSH of text is held per stream).
    FLUSH = 1 << 18
    MAX_QUEUED = 2

    def __init__(self, level: int, helper: Optional[ThreadPoolExecutor] = None) -> None:
        self._cs = FrameStreamCompressor(level)
        self._parts: list[bytes] = []
        self._buffered = 0
        self._spool = Spool()
        self._sha = hashlib.sha256()
        self._helper = helper
        self._queued: deque[Future[None]] = deque()
        #: Bytes of text taken in / compressed bytes produced.
        self.uncompressed = 0
        self.compressed_size = 0

    def __call__(self, data: bytes) -> None:
        self._parts.append(data)
        self._buffered += len(data)
        if self._buffered >= self.FLUSH:
            self._flush()

    def _keep(self, data: memoryview) -> None:
        # a view of the compressor's output buffer: copied by the spool, not kept
        self._sha.update(data)
        self._spool.write(data)
        self.compressed_size += len(data)

    def _compress(self, block: bytes) -> None:
        self._cs.compress_to(block, self._keep)

    def _flush(self) -> None:
        if self._parts:
            block = b"".join(self._parts)
            self.uncompressed += len(block)
            self._parts, self._buffered = [], 0
            if self._helper is None:
                self._compress(block)
                return
            while len(self._queued) >= self.MAX_QUEUED:
                self._queued.popleft().result()
            self._queued.append(self._helper.submit(self._compress, block))

    def _settle(self) -> None:
        """Wait for the blocks on the helper thread (re-raising the first error)."""
        while self._queued:
            self._queued.popleft().result()

    def finish(self) -> str:
        """End the frame; return the ``sha256:`` digest of its compressed bytes."""
        self._flush()
        self._settle()
        self._cs.end_to(self._keep)
        return "sha256:" + self._sha.hexdigest()

    def copy_to(self, write: Callable[[Union[bytes, bytearray]], None]) -> None:
        """Pass the compressed frame (after :meth:`finish`) to ``write``, in pieces."""
        self._spool.copy_to(write)

    def close(self) -> None:
        # blocks still queued use the compressor: drop those not started, wait for the one running
        queued, self._queued = self._queued, deque()
        for future in queued:
            if not future.cancel():
                try:
                    future.result()
                except Exception:  # noqa: BLE001 - closing after a failure: the caller has its error
                    pass
        self._cs.close()
        self._spool.close()


class _TocStream:
    """The TOC document, written entry by entry into a compressed frame.

    Entries come out of the writer in order; they are encoded in C
    (:class:`TocText`) and passed on in blocks of :data:`BLOCK_ENTRIES`, so
    only their compressed text is kept.
    """

    BLOCK_ENTRIES = 512

    def __init__(self, level: int, helper: Optional[ThreadPoolExecutor] = None) -> None:
        self.text = _CompressedText(level, helper)
        self._entries = TocText()
        self._waiting = 0
        self._opened = False
        self.text(toc_json_prefix().encode())

    def append(self, entry: TocEntry) -> None:
        entry.write_to(self._entries)
        self._waiting += 1
        if self._waiting >= self.BLOCK_ENTRIES:
            self._pass_on()

    def _pass_on(self) -> None:
        block = self._entries.take()
        self._waiting = 0
        if block:
            self.text(block if self._opened else b"[" + block)
            self._opened = True

    def finish(self, tarsplit_digest: str) -> str:
        """End the document; return the digest of its compressed frame."""
        self._pass_on()
        tail = ("]" if self._opened else "null") + toc_json_suffix(tarsplit_digest)
        self.text(tail.encode())
        return self.text.finish()

    def close(self) -> None:
        self._entries.close()
        self.text.close()


class _Converter:
    """One conversion: owns the native contexts; ``close()`` releases them on every path."""

    def __init__(self, out: BinaryIO, *, level: int, threads: int) -> None:
        self.level = level
        self.sink = BlobSink(out)
        self.frames = FrameWriter(self.sink, level=level, threads=threads, after_batch=self._drain)
        self.chunker = Chunker()
        # with more than one thread, the TOC and tar-split texts are compressed on a thread of their own
        self.text_helper = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="zstd-chunked-text")
                            if threads > 1 else None)
        self.tarsplit_sink = _CompressedText(level, self.text_helper)
        self.toc = _TocStream(level, self.text_helper)
        self.tarsplit = TarSplitEncoder(self.tarsplit_sink, bounded_memory=True)
        self.header = OpenFrame(self.frames)
        self.pending: deque[_Pending] = deque()
        self.entry_count = 0

    def close(self) -> None:
        self.header.abort()
        self.frames.close()
        self.chunker.close()
        self.tarsplit_sink.close()
        self.tarsplit.close()
        self.toc.close()
        if self.text_helper is not None:
            self.text_helper.shutdown(wait=True)

    # -- the main loop --------------------------------------------------------

    def run(self, source: Any) -> LayerInfo:
        with _HashingReader(source) as reader:
            tar = TarReader(reader, read_size=TAR_READ_SIZE)
            while True:
                hdr = tar.next()
                raw = tar.raw_bytes()
                self.header.append(raw)
                if hdr is None:
                    break
                entry = entry_from_header(hdr)
                if hdr.size > 0 and entry.type != fmt.TYPE_REG:
                    # Go reads no payload for these, yet tar-split records the size: the reference
                    # writes a layer whose tar-split claims content nothing can supply. Refuse it.
                    raise UnsupportedTarError(
                        f"{hdr.name!r}: a {entry.type} entry with a size of {hdr.size} bytes is not supported")
                pending = _Pending([raw] if raw else [], hdr.name, hdr.size, entry)
                self.entry_count += 1
                self.pending.append(pending)
                self._payload(tar, pending)
                tail = tar.raw_bytes()
                if tail:
                    self.header.append(tail)
                    self.pending.append(_Pending([tail], "", -1, entry))
                self._drain()
            trailing = [raw] if raw else []
            for piece in tar.trailing():
                trailing.append(piece)
                self.header.append(piece)
            self.header.close(None)
            self.frames.flush()
            self._drain()
            if self.pending:
                raise ZstdChunkedError("internal error: entries left without offsets")
            for segment in trailing:
                self.tarsplit.add_segment(segment)
            diff_id = reader.digest()
            tar_size = reader.count
        return self._finish(diff_id, tar_size)

    def _payload(self, tar: TarReader, pending: _Pending) -> None:
        """Read one entry's payload; queue it as a file job, or stream it when it is large."""
        size = pending.size
        if size <= 0:
            return
        piece = tar.read(min(size, MAX_FILE_JOB))
        if not piece:
            return  # header-only type: Go reads no payload (refused above when the size is not 0)
        self.header.close(None)
        if size <= MAX_FILE_JOB:
            # copied into the batch's arena: no read buffer stays pinned by a queued job
            buf = self.frames.reserve(size)
            filled = len(piece)
            buf[:filled] = piece
            while filled < size:
                more = tar.read(size - filled)
                if not more:
                    break
                buf[filled:filled + len(more)] = more
                filled += len(more)
            self.frames.add_file(buf[:filled], pending.file_done)
            return
        self._stream_payload(tar, piece, pending)

    def _stream_payload(self, tar: TarReader, piece: memoryview, pending: _Pending) -> None:
        """A large payload: chunked here as it streams, frames queued or streamed as they close."""
        chunker = self.chunker
        chunker.reset()
        fed = 0
        with _StreamDigests() as digests:
            state = _ChunkState(self, pending.size, digests)
            while piece:
                start = fed
                fed += len(piece)
                state.apply(chunker.feed(piece), piece, start)
                state.settle(chunker.settled, piece, start, fed)
                piece = tar.read(READ_SIZE)
            state.apply(chunker.finish(), memoryview(b""), fed)
            state.done(size=fed)
            pending.digest, crc = digests.finish()
        pending.chunks = state.chunks
        pending.crc = crc

    def _drain(self) -> None:
        """Emit, in tar order, the tar-split lines and TOC entries of every entry that is ready."""
        queue_, tarsplit, texts = self.pending, self.tarsplit, self.toc
        while queue_ and queue_[0].ready():
            queue_.popleft().emit(tarsplit, texts)

    # -- trailer --------------------------------------------------------------

    def _finish(self, diff_id: str, tar_size: int) -> LayerInfo:
        tarsplit_text, toc_text = self.tarsplit_sink, self.toc.text
        self.tarsplit.flush()
        duplicate = self.tarsplit.duplicate_key()
        if duplicate is not None:
            raise UnsupportedTarError(self._duplicate_message(duplicate))
        tarsplit_digest = tarsplit_text.finish()
        toc_digest = self.toc.finish(tarsplit_digest)
        sink = self.sink
        toc_pos = Position(sink.offset + fmt.SKIPPABLE_HEADER_SIZE, toc_text.compressed_size, toc_text.uncompressed)
        sink.write(skippable_header(toc_text.compressed_size))
        toc_text.copy_to(sink.write)
        ts_pos = Position(sink.offset + fmt.SKIPPABLE_HEADER_SIZE, tarsplit_text.compressed_size,
                          tarsplit_text.uncompressed)
        sink.write(skippable_header(tarsplit_text.compressed_size))
        tarsplit_text.copy_to(sink.write)
        sink.write(build_footer(toc_pos.offset, toc_pos.length, toc_pos.uncompressed,
                                ts_pos.offset, ts_pos.length, ts_pos.uncompressed))
        return LayerInfo(
            annotations=format_annotations(toc_digest, toc_pos, ts_pos),
            diff_id=diff_id,
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
            tar_size=tar_size,
        )

    def _duplicate_message(self, key: bytes) -> str:
        """Name the entries behind a duplicate path key (read back from the tar-split written)."""
        finder = NamesWithKey(key)
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        self.tarsplit_sink.finish()
        self.tarsplit_sink.copy_to(lambda data: finder.feed(decompressor.decompress(bytes(data))))
        finder.feed(b"\n")
        names = finder.names or ["?"]
        return (f"duplicate path {names[-1]!r} in the tar (cleaned: {finder.cleaned!r}, {len(names)} entries); "
                "tar-split, and so zstd:chunked, cannot represent two entries for one path")


class _StreamDigests:
    """SHA-256 and CRC-64 of a streamed payload, and the SHA-256 of each chunk, on a helper thread.

    The main thread hands over the payload's bytes in file order, as the
    chunker settles them (pieces that must not change afterwards, or counts
    of zero bytes for runs the chunker held back), and marks each chunk's end
    with :meth:`cut`; the chunk's record gets its digest from the helper.
    No bytes are copied here, whatever the chunk sizes (pieces are views).  :meth:`finish` waits
    for the helper and returns the payload's digest and CRC.  Use as a context
    manager: leaving it always stops the helper.
    """

    #: Messages are handed over in lists holding about this many payload bytes (one queue
    #: operation per list, not per piece: a chunk of 64 KiB gives several messages).
    #: 512 KiB peaks about 1.5 MiB lower than 1 MiB at the same speed; 256 KiB was slower.
    HANDOVER = 1 << 19

    def __init__(self) -> None:
        # bounded: if hashing falls behind, the reader waits instead of piling up input
        # (a list holds about HANDOVER bytes of views into the tar's read blocks, which stay
        # allocated until hashed: a short queue keeps peak memory down, 2-3 MiB below 8 lists)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._batch: list[Any] = []
        self._batch_bytes = 0
        self._sha = hashlib.sha256()
        self._crc = 0
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, name="zstd-chunked-payload-digests", daemon=True)
        self._thread.start()

    def _hand_over(self) -> None:
        if self._batch:
            self._queue.put(self._batch)
            self._batch, self._batch_bytes = [], 0

    def data(self, piece: memoryview) -> None:
        if len(piece):
            self._batch.append(piece)
            self._batch_bytes += len(piece)
            if self._batch_bytes >= self.HANDOVER:
                self._hand_over()

    def zeros(self, n: int) -> None:
        if n > 0:
            self._batch.append(n)

    def cut(self, rec: Optional[_ChunkRec]) -> None:
        """The bytes handed over since the last cut are the chunk ``rec`` (None: it needs no digest)."""
        self._batch.append((rec,))

    def _run(self) -> None:
        chunk = hashlib.sha256()
        try:
            while True:
                batch = self._queue.get()
                if batch is None:
                    return
                for item in batch:
                    if isinstance(item, tuple):
                        rec = item[0]
                        if rec is not None:
                            rec.digest = "sha256:" + chunk.hexdigest()
                        chunk = hashlib.sha256()
                        continue
                    pieces = [item] if not isinstance(item, int) else [
                        zeros_view(min(MAX_ONESHOT_FRAME, item - done))
                        for done in range(0, item, MAX_ONESHOT_FRAME)]
                    for piece in pieces:
                        self._sha.update(piece)
                        self._crc = crc64(piece, self._crc)
                        chunk.update(piece)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread by finish()
            self._error = exc
            while self._queue.get() is not None:  # keep the producer from blocking
                pass

    def finish(self) -> tuple[str, int]:
        self._hand_over()
        self._stop()
        if self._error is not None:
            raise self._error
        return "sha256:" + self._sha.hexdigest(), self._crc

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._batch = []
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> _StreamDigests:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()


class _ChunkState:
    """Turns chunker cuts over a payload into chunk frames."""

    def __init__(self, conv: _Converter, size: int, digests: _StreamDigests) -> None:
        self.conv = conv
        self.digests = digests
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
            n = min(b, piece_start) - a
            self.data.append_zeros(n)
            self.digests.zeros(n)
        if b > piece_start:
            part = piece[max(a, piece_start) - piece_start:b - piece_start]
            self.data.append(part)
            self.digests.data(part)
        self.appended_end = b

    def apply(self, cuts: list[tuple[int, bool]], piece: memoryview, piece_start: int) -> None:
        for end, zeros in cuts:
            rec = _ChunkRec(file_offset=self.chunk_start, size=end - self.chunk_start, zeros=zeros)
            if zeros:
                if self.data.size:
                    raise ZstdChunkedError("internal error: data bytes inside a zero run")
                self._emit_zeros(rec)
                self.digests.zeros(rec.size)
            else:
                self._append(self.appended_end, end, piece, piece_start)
                self.data.close(rec.written)
            whole = self.chunk_start == 0 and end == self.size  # a single chunk: no chunk digest
            self.digests.cut(None if whole else rec)
            self.chunks.append(rec)
            self.chunk_start = self.appended_end = end

    def settle(self, settled: int, piece: memoryview, piece_start: int, fed: int) -> None:
        """Move the bytes the chunker has decided are data into the open frame."""
        self._append(self.appended_end, min(settled, fed), piece, piece_start)

    def done(self, size: int) -> None:
        if self.chunk_start != size:
            raise ZstdChunkedError("internal error: chunks do not cover the payload")

    def _emit_zeros(self, rec: _ChunkRec) -> None:
        n = rec.size
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

    ``threads`` is the number of threads that chunk, hash and compress file
    data (the calling thread is one of them; ``None`` means all cores). The
    blob is byte-identical for every thread count.

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
            with collector_paused():
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
        self._q: queue.Queue[Optional[bytes]] = queue.Queue(max_items)
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


class _WriterJob:
    """The conversion behind a :class:`Writer`, run on its own thread.

    It holds no reference to the Writer, so a Writer dropped without close()
    can be collected; its finalizer cancels the job, which then releases its
    native resources and removes any partial output.
    """

    def __init__(self, dest: Output, level: int, threads: int) -> None:
        self.dest = dest
        self.level = level
        self.threads = threads
        self.pipe = _Pipe()
        self.result: Optional[LayerInfo] = None
        self.error: Optional[BaseException] = None

    def run(self) -> None:
        try:
            self.result = _run_conversion(self.pipe, self.dest, self.level, self.threads)
        except _Cancelled:
            self.dest.abort()
        except BaseException as exc:  # reported to the caller by write()/close()
            self.error = exc


def _cancel_job(job: _WriterJob) -> None:
    job.pipe.cancelled.set()


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
        level, nthreads = _check_level(level), _check_threads(threads)  # before any file is created
        job = _WriterJob(Output(dst), level, nthreads)
        self._job = job
        self._lock = threading.Lock()
        self._closed = False
        self._entered = False
        self.info: Optional[LayerInfo] = None
        self._thread = threading.Thread(target=job.run, name="zstd-chunked-writer", daemon=True)
        self._thread.start()
        self._finalizer = weakref.finalize(self, _cancel_job, job)

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
            job = self._job
            if self._closed:
                raise UsageError("write to a closed Writer")
            if job.error is not None:
                raise job.error
            n = len(data)
            if n:
                job.pipe.put(bytes(data), self._thread.is_alive)
            if job.error is not None:
                raise job.error
            return n
        finally:
            self._lock.release()

    def close(self) -> LayerInfo:
        """Finish the tar stream, write TOC, tar-split and footer, and return the result."""
        self._guard()
        try:
            job = self._job
            if self._closed:
                if self.info is None:
                    raise UsageError("Writer was aborted")
                return self.info
            self._closed = True
            job.pipe.put(None, self._thread.is_alive)
            self._thread.join()
            self._finalizer.detach()
            if job.error is not None or job.result is None:
                job.dest.abort()
                raise job.error or ZstdChunkedError("conversion ended without a result")
            try:
                job.dest.commit()
            except BaseException:
                job.dest.abort()
                raise
            self.info = job.result
            return self.info
        finally:
            self._lock.release()

    def abort(self) -> None:
        """Cancel the conversion: join its threads and remove any partial output."""
        self._finalizer.detach()
        job = self._job
        if self._closed and not self._thread.is_alive():
            if self.info is None:
                job.dest.abort()
            return
        self._closed = True
        job.pipe.cancelled.set()
        self._thread.join()
        job.dest.abort()

    def __enter__(self) -> Writer:
        if self._entered:
            raise UsageError("Writer is not reentrant")
        self._entered = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._closed:
            self.close()
