"""Payload jobs on the compression pool: chunking, hashing and per-chunk frames on worker threads.

Every result is compared with the same work done through the separate APIs
(Chunker, compress_frame, hashlib, crc64).
"""

from __future__ import annotations

import gc
import hashlib
import random
from collections.abc import Sequence

import pytest

from zstd_chunked import _native
from zstd_chunked._native import (
    BufferLike,
    Chunker,
    ChunkOut,
    CompressPool,
    FrameStreamCompressor,
    PayloadResult,
    compress_frame,
    crc64,
)
from zstd_chunked.errors import UsageError

NO_DIGEST = bytes(32)


def stream_frame(data: bytes | memoryview, level: int) -> bytes:
    """A frame as the writer streams it: 1 MiB pieces through FrameStreamCompressor."""
    with FrameStreamCompressor(level) as cs:
        out = [cs.compress(data[pos : pos + (1 << 20)]) for pos in range(0, len(data), 1 << 20)]
        out.append(cs.end())
    return b"".join(out)


def reference(data: bytes, level: int = 3, oneshot_max: int = 0) -> PayloadResult:
    """What a file job must produce, computed with the separate APIs."""
    view = memoryview(data)
    with Chunker() as chunker:
        cuts = chunker.feed(view) + chunker.finish()
    frames = bytearray()
    chunks = []
    start = 0
    for end, zeros in cuts:
        part = view[start:end]
        if oneshot_max and len(part) > oneshot_max:
            frame = stream_frame(part, level)
        else:
            frame = compress_frame(part, level)
        frames += frame
        digest = hashlib.sha256(part).digest() if len(cuts) > 1 else NO_DIGEST
        chunks.append(ChunkOut(end=end, zeros=zeros, frame_size=len(frame), digest=digest))
        start = end
    return PayloadResult(memoryview(bytes(frames)), chunks, crc64(data), hashlib.sha256(data).digest())


def same(got: PayloadResult, want: PayloadResult) -> bool:
    return (bytes(got.frames) == bytes(want.frames) and got.chunks == want.chunks and got.crc64 == want.crc64
            and got.sha256 == want.sha256 and not got.overflow)


def run(threads: int, jobs: Sequence[tuple[BufferLike, bool]], level: int = 3, assist: bool = True,
        **kw: int) -> list[PayloadResult]:
    with CompressPool(threads, level) as pool:
        pool.submit_payloads(jobs, **kw)
        results = pool.wait_payloads(assist=assist)
        # copy the frames out: they view the pool's arena
        return [PayloadResult(memoryview(bytes(r.frames)), r.chunks, r.crc64, r.sha256, r.overflow) for r in results]


def with_zeros(base: bytes, where: str, run_len: int) -> bytes:
    zeros = bytes(run_len)
    if where == "start":
        return zeros + base
    if where == "end":
        return base + zeros
    half = len(base) // 2
    return base[:half] + zeros + base[half:]


def nonzero_random(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n).replace(b"\0", b"\1")


RNG = random.Random(2024)
CASES: dict[str, bytes] = {
    "empty": b"",
    "one-byte": b"x",
    "one-zero": b"\0",
    "511": RNG.randbytes(511),
    "512": RNG.randbytes(512),
    "513": RNG.randbytes(513),
    "all-zero-3MB": bytes(3 << 20),
    "text": b"".join(RNG.choice([b"lorem ", b"ipsum ", b"dolor\n", b"sit amet "]) for _ in range(60000)),
}
for _seed, _n in [(1, 100_000), (2, 700_000), (3, 1_500_000), (4, 3_000_000)]:
    CASES[f"random-{_n}"] = random.Random(_seed).randbytes(_n)
for _run in (1023, 1024, 5000):
    for _where in ("start", "middle", "end"):
        CASES[f"zeros-{_run}-{_where}"] = with_zeros(nonzero_random(RNG, 200_000), _where, _run)
CASES["zeros-only-1023"] = bytes(1023)
CASES["zeros-only-1024"] = bytes(1024)


@pytest.mark.parametrize("name", sorted(CASES))
def test_file_job_matches_reference(name: str) -> None:
    data = CASES[name]
    (got,) = run(1, [(data, True)])
    want = reference(data)
    assert same(got, want)
    assert sum(c.frame_size for c in got.chunks) == len(got.frames)
    if data:
        assert got.chunks[-1].end == len(data)


def test_special_shapes() -> None:
    (empty, one, hole, short) = run(0, [(b"", True), (b"x", True), (bytes(3 << 20), True), (bytes(1023), True)])
    assert empty.chunks == [] and len(empty.frames) == 0 and empty.crc64 == 0
    assert empty.sha256 == hashlib.sha256(b"").digest()
    assert one.chunks == [ChunkOut(1, False, len(one.frames), NO_DIGEST)]
    assert hole.chunks == [ChunkOut(3 << 20, True, len(hole.frames), NO_DIGEST)]
    assert short.chunks[-1].end == 1023 and not any(c.zeros for c in short.chunks)
    (mid,) = run(0, [(CASES["zeros-1024-middle"], True)])
    assert [c.zeros for c in mid.chunks].count(True) == 1
    assert all(c.digest != NO_DIGEST for c in mid.chunks)


def mixed_batch(seed: int, count: int) -> list[tuple[bytes, bool]]:
    rng = random.Random(seed)
    names = sorted(CASES)
    jobs: list[tuple[bytes, bool]] = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            jobs.append((rng.randbytes(rng.choice([0, 1, 100, 512, 1536])), False))  # a header run
        elif kind == 1:
            jobs.append((CASES[rng.choice(names)], True))
        elif kind == 2:
            jobs.append((rng.randbytes(rng.randrange(1, 300_000)), True))
        else:
            jobs.append((with_zeros(rng.randbytes(rng.randrange(1, 50_000)), rng.choice(["start", "middle", "end"]),
                                    rng.choice([1023, 1024, 4096])), True))
    return jobs


@pytest.mark.parametrize("level", [1, 3])
def test_mixed_batches_identical_for_every_thread_count(level: int) -> None:
    jobs = mixed_batch(level, 60)
    single = run(0, jobs, level)
    for threads, assist in ((1, True), (1, False), (2, True), (2, False), (4, True)):
        results = run(threads, jobs, level, assist)
        assert [bytes(r.frames) for r in results] == [bytes(r.frames) for r in single]
        assert results == single or all(same(a, b) for a, b in zip(results, single))
    for (data, is_file), got in zip(jobs, single):
        if is_file:
            assert same(got, reference(data, level))
        else:
            assert bytes(got.frames) == compress_frame(data, level)
            assert got.chunks == [] and got.crc64 == 0 and got.sha256 == b""


def test_plain_jobs_equal_submit() -> None:
    frames = [b"", b"a", random.Random(5).randbytes(100_000), b"header " * 3000]
    with CompressPool(2, 3) as pool:
        pool.submit(frames)
        plain = [bytes(v) for v in pool.wait()]
        pool.submit_payloads([(f, False) for f in frames])
        assert [bytes(r.frames) for r in pool.wait_payloads()] == plain
        pool.submit(frames)
        assert [bytes(v) for v in pool.wait(assist=True)] == plain


def test_capacity_overflow_is_retried() -> None:
    # 1 data byte + a 1024-byte hole, repeated: two chunks per 1025 bytes, far
    # above the reserved ~1 per 4 KiB, so the job fails with ZCK_E_CAPACITY
    # once and is rerun with the chunk count it reported.
    dense = (b"\x01" + bytes(1024)) * 400
    n_chunks = 800
    assert n_chunks > _native.lib.zck_pjob_chunks_hint(len(dense))
    jobs = [(b"hdr", False), (dense, True), (CASES["random-100000"], True), (dense[:-1] + b"\x02", True)]
    for threads in (0, 2):
        results = run(threads, jobs)
        assert bytes(results[0].frames) == compress_frame(b"hdr", 3)
        for (data, _), got in zip(jobs[1:], results[1:]):
            assert same(got, reference(data))
        assert len(results[1].chunks) == n_chunks


def test_overflow_flag_when_the_retry_fails_too(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _native._payload_sizes

    def starved(n: int, is_file: bool, chunks_cap: int | None = None) -> tuple[int, int]:
        # the retry passes the exact count: hand it one record less
        return real(n, is_file, None if chunks_cap is None else chunks_cap - 1)

    monkeypatch.setattr(_native, "_payload_sizes", starved)
    dense = (b"\x01" + bytes(1024)) * 100
    results = run(1, [(dense, True), (b"ok", True)])
    assert results[0].overflow and results[0].chunks == [] and len(results[0].frames) == 0
    assert same(results[1], reference(b"ok"))


@pytest.mark.parametrize("threads", [0, 2])
def test_oneshot_max_streams_large_chunks(threads: int) -> None:
    hole = bytes(3 << 20)
    data = random.Random(7).randbytes(400_000) + bytes(4096) + b"tail" * 50_000
    jobs = [(hole, True), (data, True), (b"h" * 200_000, False)]
    results = run(threads, jobs, oneshot_max=100_000)
    assert same(results[0], reference(hole, oneshot_max=100_000))
    assert same(results[1], reference(data, oneshot_max=100_000))
    assert bytes(results[2].frames) == stream_frame(b"h" * 200_000, 3)
    # at the writer's threshold nothing below it changes
    (plain,) = run(threads, [(data, True)], oneshot_max=8 << 20)
    assert same(plain, reference(data))


def test_accepts_buffer_types() -> None:
    data = CASES["random-100000"]
    want = reference(data)
    results = run(1, [(data, True), (bytearray(data), True), (memoryview(b"xx" + data)[2:], True)])
    assert all(same(r, want) for r in results)


def test_arena_reuse_and_growth() -> None:
    with CompressPool(2, 3) as pool:
        pool.submit_payloads([(b"a" * 100, True)])
        (small,) = pool.wait_payloads()
        kept = bytes(small.frames)
        pool.submit_payloads([(random.Random(1).randbytes(2_000_000), True)])  # grows the arenas
        (big,) = pool.wait_payloads()
        assert bytes(small.frames) == kept  # the old arena stays alive while viewed
        for seed in range(4):
            jobs = mixed_batch(100 + seed, 5 + 10 * seed)
            pool.submit_payloads(jobs)
            for (data, is_file), got in zip(jobs, pool.wait_payloads()):
                if is_file:
                    assert same(got, reference(data))
                else:
                    assert bytes(got.frames) == compress_frame(data, 3)
        pool.submit_payloads([])
        assert pool.wait_payloads() == []


def test_results_survive_the_next_batch() -> None:
    # wait, submit the next batch at once, then consume: the frames must still be intact
    batches = [mixed_batch(200 + i, 12) for i in range(5)]
    with CompressPool(2, 3) as pool:
        pool.submit_payloads(batches[0])
        for k in range(len(batches)):
            results = pool.wait_payloads()
            if k + 1 < len(batches):
                pool.submit_payloads(batches[k + 1])
            for (data, is_file), got in zip(batches[k], results):
                if is_file:
                    assert same(got, reference(data))
                else:
                    assert bytes(got.frames) == compress_frame(data, 3)


def test_batch_kinds_do_not_mix() -> None:
    with CompressPool(1, 3) as pool:
        pool.submit_payloads([(b"x" * 100_000, True)])
        assert pool.busy
        with pytest.raises(UsageError, match="ZCK_E_BUSY"):
            pool.submit([b"y"])
        with pytest.raises(UsageError, match="ZCK_E_BUSY"):
            pool.submit_payloads([(b"y", True)])
        with pytest.raises(UsageError, match="wait_payloads"):
            pool.wait()
        assert len(pool.wait_payloads()) == 1
        assert not pool.busy
        with pytest.raises(UsageError, match="ZCK_E_NOT_SUBMITTED"):
            pool.wait_payloads()
        pool.submit([b"z"])
        with pytest.raises(UsageError, match="use wait"):
            pool.wait_payloads()
        assert len(pool.wait()) == 1
        with pytest.raises(ValueError):
            pool.submit_payloads([(b"z", True)], oneshot_max=-1)
    with pytest.raises(UsageError, match="closed"):
        pool.submit_payloads([(b"z", True)])


@pytest.mark.parametrize("threads", [0, 1, 2])
def test_close_while_busy(threads: int) -> None:
    pool = CompressPool(threads, 3)
    pool.submit_payloads(mixed_batch(9, 20))
    pool.close()
    assert pool.closed


def test_garbage_collected_while_busy() -> None:
    pool = CompressPool(2, 3)
    pool.submit_payloads([(random.Random(i).randbytes(300_000), True) for i in range(12)])
    del pool
    gc.collect()


def test_job_sizes_helpers() -> None:
    lib = _native.lib
    assert lib.zck_pjob_dst_bound(1000, 0) == lib.zck_compress_bound(1000)
    assert lib.zck_pjob_dst_bound(1000, 5) == lib.zck_compress_bound(1000) + 5 * lib.zck_compress_bound(0)
    assert lib.zck_pjob_chunks_hint(0) >= 1
    assert lib.zck_pjob_chunks_hint(1 << 20) >= (1 << 20) // 4096
