"""Ordered, parallel frame output for the writer.

The writer cuts the tar stream into frames (header runs and file chunks). This
module compresses them on the native worker pool in batches, writes the results
to the output in input order, and reports each frame's blob offsets back
through a callback. While one batch compresses (GIL released), the caller
prepares the next one.

Frames larger than :data:`MAX_ONESHOT_FRAME` are not held in memory: the
pipeline is drained and the frame is streamed through a single compressor in
fixed-size pieces, so memory stays bounded and the bytes do not depend on how
the input arrived.
"""

from __future__ import annotations

import hashlib
from typing import Any, BinaryIO, Callable, Optional

from ._native import (
    Chunker,
    ChunkOut,
    CompressPool,
    FrameStreamCompressor,
    PayloadResult,
    compress_frame,
    crc64,
)
from .errors import UsageError
from .outputs import write_all

#: Frames up to this size are compressed in one shot on the pool.
MAX_ONESHOT_FRAME = 8 << 20
#: Longer frames are fed to a streaming compressor in pieces of exactly this size.
STREAM_PIECE = 1 << 20
#: Work handed to the pool at once (the pool runs one batch while the next is built).
BATCH_BYTES = 8 << 20
BATCH_FRAMES = 4096
#: Compressed frames of a batch are written to the output in pieces of about this size.
WRITE_BYTES = 1 << 20

OffsetCallback = Callable[[int, int], None]
FileCallback = Callable[[PayloadResult, int], None]
_ZEROS = bytes(MAX_ONESHOT_FRAME)


class BlobSink:
    """Counts, hashes and writes the output blob."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._sha = hashlib.sha256()
        self.offset = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if not n:
            return
        self._sha.update(data)
        write_all(self._out, data)
        self.offset += n

    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


class FrameWriter:
    """Compress frames and whole file payloads in order and write them to a :class:`BlobSink`.

    Two kinds of job share one ordered queue:

    * a *frame* (header bytes): compressed as one frame; ``on_offsets(start, end)``
      gets its blob offsets;
    * a *file* payload: the worker thread cuts it into chunks, hashes it
      (sha256 of the file and of each chunk, CRC-64) and compresses each chunk
      as its own frame; ``on_file(result, start)`` gets the result and the
      blob offset of its first frame.
    """

    def __init__(self, sink: BlobSink, *, level: int, threads: int,
                 after_batch: Optional[Callable[[], None]] = None) -> None:
        self.sink = sink
        self._after_batch = after_batch
        self.level = level
        self._pool = CompressPool(threads - 1, level)  # the calling thread is the last worker
        self._pending: list[tuple[bytes | bytearray | memoryview, bool]] = []
        self._pending_cbs: list[Any] = []
        self._pending_bytes = 0
        self._inflight_cbs: list[Any] | None = None
        self._inflight_refs: list[tuple[bytes | bytearray | memoryview, bool]] = []
        # inputs are copied into these, one per batch in turn (see reserve)
        self._arenas: list[Optional[bytearray]] = [None, None]
        self._arena_turn = 0
        self._arena_used = 0
        self.frames_written = 0

    def add(self, data: bytes | bytearray | memoryview, on_offsets: Optional[OffsetCallback] = None) -> None:
        """Queue one frame (``data`` must stay unchanged until it is written)."""
        if not len(data):
            return  # the reference never writes an empty frame
        self._queue(data, False, on_offsets)

    def add_file(self, data: bytes | bytearray | memoryview, on_file: FileCallback) -> None:
        """Queue a whole file payload to be chunked, hashed and compressed on a worker."""
        self._queue(data, True, on_file)

    def reserve(self, n: int) -> memoryview:
        """Room for ``n`` bytes of input in the batch being built: fill it, then queue it at once.

        Inputs copied here leave the tar's read buffers and the writer's frame
        buffers free at once, so the batches being built and compressed hold at
        most 2 x :data:`BATCH_BYTES` of input, in two arenas allocated once,
        whatever the sizes of the files and of the reads.
        """
        if n < 0:
            raise ValueError(f"cannot reserve {n} bytes")
        self._make_room(n)
        if n > BATCH_BYTES:  # larger than any batch (the writer never asks): a buffer of its own
            return memoryview(bytearray(n))
        arena = self._arenas[self._arena_turn]
        if arena is None:
            arena = self._arenas[self._arena_turn] = bytearray(BATCH_BYTES)
        start = self._arena_used
        if start + n > BATCH_BYTES:  # cannot happen while reserved bytes are queued as soon as filled
            raise UsageError("input buffers were reserved but not queued")
        self._arena_used = start + n
        return memoryview(arena)[start:start + n]

    def _make_room(self, n: int) -> None:
        """Start a new batch if ``n`` more bytes would take this one past BATCH_BYTES.

        Every batch stays within BATCH_BYTES (a single job is at most
        MAX_ONESHOT_FRAME), so peak memory does not depend on where large files fall.
        """
        if self._pending and self._pending_bytes + n > BATCH_BYTES:
            self._rotate()

    def _queue(self, data: bytes | bytearray | memoryview, is_file: bool, callback: Any) -> None:
        self._make_room(len(data))  # a no-op for bytes just reserved: reserve() made the room
        self._pending.append((data, is_file))
        self._pending_cbs.append(callback)
        self._pending_bytes += len(data)
        if self._pending_bytes >= BATCH_BYTES or len(self._pending) >= BATCH_FRAMES:
            self._rotate()

    def _rotate(self) -> None:
        """Hand the queued jobs to the pool, then write the previous batch while they run.

        The pool keeps two output arenas, so a finished batch's frames stay valid
        while the next batch is compressing.
        """
        finished = self._wait() if self._inflight_cbs is not None else None
        if self._pending:
            self._pool.submit_payloads(self._pending, oneshot_max=MAX_ONESHOT_FRAME)
            self._inflight_cbs = self._pending_cbs
            self._inflight_refs = self._pending
            self._pending, self._pending_cbs, self._pending_bytes = [], [], 0
            # the other arena's batch was waited for above: the next batch may fill it
            self._arena_turn, self._arena_used = 1 - self._arena_turn, 0
        if finished is not None:
            self._write(*finished)

    def _wait(self) -> tuple[list[tuple[bytes | bytearray | memoryview, bool]], list[PayloadResult], list[Any]]:
        results = self._pool.wait_payloads()  # the calling thread helps compress
        jobs, callbacks = self._inflight_refs, self._inflight_cbs or []
        self._inflight_cbs, self._inflight_refs = None, []
        return jobs, results, callbacks

    def _collect(self) -> None:
        self._write(*self._wait())

    def _write(self, jobs: list[tuple[bytes | bytearray | memoryview, bool]], results: list[PayloadResult],
               callbacks: list[Any]) -> None:
        # offsets first; small frames are joined into writes of about WRITE_BYTES, large ones
        # written as they are (no copy of the whole batch)
        offset = self.sink.offset
        parts: list[Any] = []
        for (data, is_file), result, callback in zip(jobs, results, callbacks):
            if is_file and result.overflow:
                result = self._file_in_python(data)
            start = offset
            offset += len(result.frames)
            parts.append(result.frames)
            if offset - self.sink.offset >= WRITE_BYTES:
                self._write_parts(parts)
                parts = []
            if is_file:
                self.frames_written += len(result.chunks)
                callback(result, start)
            else:
                self.frames_written += 1
                if callback is not None:
                    callback(start, offset)
        self._write_parts(parts)
        if self._after_batch is not None:
            self._after_batch()

    def _write_parts(self, parts: list[Any]) -> None:
        if parts:
            self.sink.write(parts[0] if len(parts) == 1 else b"".join(parts))

    def _file_in_python(self, data: bytes | bytearray | memoryview) -> PayloadResult:
        """The same result as a worker's, for a payload too odd for the job's fixed capacity."""
        view = memoryview(data)
        with Chunker() as chunker:
            cuts = chunker.feed(view) + chunker.finish()
        frames = bytearray()
        chunks = []
        start = 0
        for end, zeros in cuts:
            part = view[start:end]
            frame = compress_frame(part, self.level)
            frames += frame
            digest = hashlib.sha256(part).digest() if len(cuts) > 1 else bytes(32)
            chunks.append(ChunkOut(end=end, zeros=zeros, frame_size=len(frame), digest=digest))
            start = end
        return PayloadResult(frames=memoryview(bytes(frames)), chunks=chunks, crc64=crc64(view),
                             sha256=hashlib.sha256(view).digest(), overflow=False)

    def flush(self) -> None:
        """Write every queued frame."""
        self._rotate()
        if self._inflight_cbs is not None:
            self._collect()

    def stream(self) -> StreamedFrame:
        """Drain the queue and open a frame that is written as it is compressed."""
        self.flush()
        return StreamedFrame(self)

    def close(self) -> None:
        self._pool.close()
        self._pending, self._pending_cbs, self._inflight_refs = [], [], []
        self._arenas = [None, None]

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamedFrame:
    """One long frame compressed incrementally and written straight to the sink."""

    def __init__(self, writer: FrameWriter) -> None:
        self._writer = writer
        self._cs = FrameStreamCompressor(writer.level)
        self.start = writer.sink.offset
        self._carry = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._carry += data
        if len(self._carry) >= STREAM_PIECE:
            whole = len(self._carry) - len(self._carry) % STREAM_PIECE
            view = memoryview(self._carry)
            for pos in range(0, whole, STREAM_PIECE):
                self._writer.sink.write(self._cs.compress(view[pos:pos + STREAM_PIECE]))
            view.release()
            del self._carry[:whole]

    def end(self) -> int:
        """Finish the frame; returns its end offset."""
        try:
            if self._carry:
                self._writer.sink.write(self._cs.compress(self._carry))
            self._writer.sink.write(self._cs.end())
            self._writer.frames_written += 1
        finally:
            self._cs.close()
        return self._writer.sink.offset

    def abort(self) -> None:
        self._cs.close()


class OpenFrame:
    """Bytes collected for one frame; spills into a :class:`StreamedFrame` when large."""

    def __init__(self, writer: FrameWriter) -> None:
        self._writer = writer
        self.buf = bytearray()
        self.size = 0
        self._stream: StreamedFrame | None = None

    def append(self, data: bytes | bytearray | memoryview) -> None:
        n = len(data)
        if not n:
            return
        self.size += n
        if self._stream is not None:
            self._stream.feed(data)
            return
        self.buf += data
        if len(self.buf) > MAX_ONESHOT_FRAME:
            self._stream = self._writer.stream()
            self._stream.feed(self.buf)
            self.buf = bytearray()

    def append_zeros(self, n: int) -> None:
        while n > 0:
            step = min(n, len(_ZEROS))
            self.append(memoryview(_ZEROS)[:step])
            n -= step

    def close(self, on_offsets: Optional[OffsetCallback]) -> None:
        """Emit the frame (nothing when no bytes were appended)."""
        if self._stream is not None:
            start = self._stream.start
            end = self._stream.end()
            self._stream = None
            if on_offsets is not None:
                on_offsets(start, end)
        elif self.size:
            room = self._writer.reserve(len(self.buf))  # at most MAX_ONESHOT_FRAME bytes
            room[:] = self.buf
            self._writer.add(room, on_offsets)
        self.buf = bytearray()
        self.size = 0

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.abort()
            self._stream = None


def zeros_view(n: int) -> memoryview:
    """A read-only view of ``n`` zero bytes (``n`` <= MAX_ONESHOT_FRAME)."""
    return memoryview(_ZEROS)[:n]
