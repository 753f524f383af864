"""Compression pool, one-shot and streaming frame compression."""

from __future__ import annotations

import gc
import random
import threading

import pytest

from zstd_chunked._native import (
    CompressPool,
    FrameStreamCompressor,
    compress_bound,
    compress_frame,
    level_range,
    scan_frames,
)
from zstd_chunked.errors import UsageError

zstandard = pytest.importorskip("zstandard")


def decompress(frame: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(frame)


def mixed_frames(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    text = b"".join(rng.choice([b"lorem ", b"ipsum ", b"dolor ", b"sit ", b"amet\n"]) for _ in range(20000))
    out = []
    for _ in range(count):
        kind = rng.randrange(4)
        n = rng.choice([1, 7, 100, 4096, 65536, 100000, 300000])
        if kind == 0:
            out.append(rng.randbytes(n))
        elif kind == 1:
            out.append(bytes(n))
        else:
            start = rng.randrange(len(text))
            out.append((text[start:] + text)[:n])
    return out


def run_pool(threads: int, frames: list[bytes], level: int = 3) -> list[bytes]:
    with CompressPool(threads, level) as pool:
        pool.submit(frames)
        return [bytes(v) for v in pool.wait()]


@pytest.mark.parametrize("level", [1, 3, 10])
def test_threaded_output_equals_single_thread(level: int) -> None:
    frames = mixed_frames(level, 40)
    single = run_pool(0, frames, level)
    assert run_pool(1, frames, level) == single
    assert run_pool(2, frames, level) == single
    assert run_pool(5, frames, level) == single
    assert [compress_frame(f, level) for f in frames] == single
    for src, out in zip(frames, single):
        assert decompress(out) == src
        (info,) = scan_frames(out)
        assert info.content_size == len(src)
        assert out[4] & 0x04, "content checksum flag must be set"


def test_many_batches_reuse_pool() -> None:
    with CompressPool(2, 3) as pool:
        for seed in range(6):
            frames = mixed_frames(100 + seed, 1 + seed * 7)
            pool.submit([memoryview(f) for f in frames])
            outs = pool.wait()
            assert [decompress(bytes(o)) for o in outs] == frames


def test_views_survive_arena_growth() -> None:
    with CompressPool(2, 1) as pool:
        pool.submit([b"a" * 100])
        small = pool.wait()
        first = bytes(small[0])
        pool.submit([random.Random(1).randbytes(2_000_000)])  # grows the arena
        pool.wait()
        assert bytes(small[0]) == first  # old arena still alive while referenced


def test_accepts_buffer_types() -> None:
    data = b"hello world " * 1000
    with CompressPool(1, 3) as pool:
        pool.submit([data, bytearray(data), memoryview(data)[10:]])
        outs = [bytes(o) for o in pool.wait()]
    assert outs[0] == outs[1] == compress_frame(data, 3)
    assert decompress(outs[2]) == data[10:]


def test_empty_batch_and_empty_input() -> None:
    with CompressPool(2, 3) as pool:
        pool.submit([])
        assert pool.wait() == []
        pool.submit([b""])
        (out,) = pool.wait()
        assert decompress(bytes(out)) == b""
        assert bytes(out) == compress_frame(b"", 3)


def test_wait_without_submit() -> None:
    with CompressPool(1, 3) as pool, pytest.raises(UsageError, match="ZCK_E_NOT_SUBMITTED"):
        pool.wait()


def test_submit_while_busy() -> None:
    with CompressPool(1, 3) as pool:
        pool.submit([b"x" * 100000])
        assert pool.busy
        with pytest.raises(UsageError, match="ZCK_E_BUSY"):
            pool.submit([b"y"])
        assert decompress(bytes(pool.wait()[0])) == b"x" * 100000
        assert not pool.busy


@pytest.mark.parametrize("threads", [0, 1, 2])
def test_close_while_busy(threads: int) -> None:
    frames = mixed_frames(3, 30)
    pool = CompressPool(threads, 3)
    pool.submit(frames)
    pool.close()
    assert pool.closed
    with pytest.raises(UsageError):
        pool.submit(frames)


def test_garbage_collected_while_busy() -> None:
    pool = CompressPool(2, 3)
    pool.submit([random.Random(i).randbytes(200000) for i in range(20)])
    del pool
    gc.collect()


def test_bad_arguments() -> None:
    low, high = level_range()
    assert low < 0 < 19 < high
    with pytest.raises(ValueError):
        CompressPool(1, high + 1)
    with pytest.raises(ValueError):
        CompressPool(-1, 3)
    with pytest.raises(ValueError):
        compress_frame(b"", high + 1)
    with pytest.raises(TypeError):
        compress_frame(b"", True)


def test_compress_bound() -> None:
    assert compress_bound(0) > 0
    assert compress_bound(1 << 20) >= 1 << 20


def test_pool_from_several_threads_fails_loudly() -> None:
    pool = CompressPool(1, 19)
    data = [random.Random(1).randbytes(4_000_000)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        try:
            pool.submit(data)
            pool.wait()
        except UsageError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    assert len(errors) <= 1


# ----------------------------------------------------------------- streaming


def stream(data: bytes, pieces: list[int], level: int = 3) -> bytes:
    with FrameStreamCompressor(level) as cs:
        out = []
        pos = i = 0
        while pos < len(data):
            n = pieces[i % len(pieces)]
            i += 1
            out.append(cs.compress(data[pos : pos + n]))
            pos += n
        out.append(cs.end())
    return b"".join(out)


def test_stream_independent_of_split() -> None:
    data = b"".join(mixed_frames(9, 12))
    ref = stream(data, [len(data) or 1])
    assert decompress(ref) == data
    for pieces in ([1 << 20], [131072], [1, 100, 65536, 7], [len(data) // 3 + 1]):
        assert stream(data, pieces) == ref
    (info,) = scan_frames(ref)
    assert info.content_size is None
    assert ref[4] & 0x04


def test_stream_to_a_writer_gives_the_same_bytes() -> None:
    """compress_to/end_to pass views of one reused buffer: the writer must copy, and gets every byte."""
    data = b"".join(mixed_frames(5, 8)) * 3
    ref = stream(data, [65536])
    views: list[memoryview] = []
    copies: list[bytes] = []

    def write(piece: memoryview) -> None:
        views.append(piece)
        copies.append(bytes(piece))

    with FrameStreamCompressor(3) as cs:
        for pos in range(0, len(data), 65536):
            cs.compress_to(data[pos:pos + 65536], write)
        cs.end_to(write)
    assert b"".join(copies) == ref
    assert all(isinstance(v, memoryview) and len(v) > 0 for v in views)
    assert len(copies) >= 2  # output larger than the compressor's buffer comes in several pieces


def test_stream_several_frames_and_empty() -> None:
    with FrameStreamCompressor(1) as cs:
        a = cs.compress(b"abc" * 1000) + cs.end()
        b = cs.end()  # an empty frame
        c = cs.compress(b"xyz") + cs.end()
    assert decompress(a) == b"abc" * 1000
    assert decompress(b) == b""
    assert decompress(c) == b"xyz"
    assert [f.size for f in scan_frames(a + b + c)] == [len(a), len(b), len(c)]
