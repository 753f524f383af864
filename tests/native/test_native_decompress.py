"""Batch decompression."""

from __future__ import annotations

import os
import random
import struct

import pytest

from zstd_chunked._native import (
    DecodeJobs,
    compress_frame,
    crc64,
    decompress_batch,
    decompress_into,
    sha256,
    skippable_header,
)
from zstd_chunked.errors import DigestMismatchError, FormatError, LimitExceededError

zstandard = pytest.importorskip("zstandard")


def frames_of(data: bytes, piece: int, level: int = 3) -> bytes:
    return b"".join(compress_frame(data[i : i + piece], level) for i in range(0, len(data), piece))


@pytest.mark.parametrize("threads", [0, 1, 2, 4])
def test_batch_round_trip(threads: int) -> None:
    rng = random.Random(threads)
    datas = [rng.randbytes(rng.randrange(0, 300000)) + bytes(rng.randrange(0, 5000)) for _ in range(25)]
    jobs = [(frames_of(d, 70000) if d else b"", len(d)) for d in datas]
    outs = decompress_batch(jobs, threads)
    assert [bytes(o) for o in outs] == datas
    assert all(isinstance(o, bytearray) for o in outs)


def test_mixed_frames_and_extra_trailing_frames_ignored() -> None:
    data = b"hello " * 5000
    src = compress_frame(data[:100], 3) + skippable_header(4) + b"skip" + compress_frame(data[100:], 1)
    src += compress_frame(b"EXTRA" * 100, 3) + b"trailing garbage is never read"
    (out,) = decompress_batch([(src, len(data))])
    assert bytes(out) == data


def test_streamed_frame_without_content_size() -> None:
    data = random.Random(3).randbytes(500000)
    cobj = zstandard.ZstdCompressor(level=3, write_checksum=True, write_content_size=False).compressobj()
    src = cobj.compress(data) + cobj.flush()
    dst = bytearray(len(data))
    decompress_into(src, dst)
    assert dst == data
    view = memoryview(bytearray(100))
    decompress_into(src, view)
    assert bytes(view) == data[:100]


def test_truncated_input() -> None:
    data = random.Random(4).randbytes(100000)
    src = compress_frame(data, 3)
    with pytest.raises(FormatError, match="ZCK_E_DATA_TRUNCATED"):
        decompress_batch([(src[:-10], len(data))])
    with pytest.raises(FormatError, match="ZCK_E_DATA_TRUNCATED"):
        decompress_batch([(src, len(data) + 1)])
    with pytest.raises(FormatError, match="ZCK_E_DATA_TRUNCATED"):
        decompress_batch([(b"", 1)])
    with pytest.raises(FormatError, match=r"job 1\b"):
        decompress_batch([(src, len(data)), (src[:50], len(data))], threads=2)


def test_corrupt_input() -> None:
    data = b"abcdefgh" * 10000
    src = bytearray(compress_frame(data, 3))
    src[-1] ^= 0xFF  # checksum
    with pytest.raises(FormatError, match="ZCK_E_CHECKSUM"):
        decompress_batch([(bytes(src), len(data))])
    with pytest.raises(FormatError, match="ZCK_E_NOT_ZSTD|ZCK_E_CORRUPT"):
        decompress_batch([(b"not zstd at all", 5)])


def test_zero_size_jobs() -> None:
    assert decompress_batch([]) == []
    assert decompress_batch([(b"", 0), (b"junk", 0)]) == [bytearray(), bytearray()]


def test_window_limit() -> None:
    # A frame header that asks for a 2 GiB window (window descriptor exponent 21 -> 2^31).
    frame = struct.pack("<I", 0xFD2FB528) + bytes([0x00, 21 << 3]) + struct.pack("<I", 1 | (1 << 1) | (5 << 3))[:3]
    frame += b"x"
    with pytest.raises(LimitExceededError, match="ZCK_E_WINDOW_TOO_LARGE"):
        decompress_batch([(frame, 5)])


def test_many_jobs_threads() -> None:
    rng = random.Random(8)
    datas = [rng.randbytes(rng.randrange(1, 5000)) for _ in range(500)]
    outs = decompress_batch([(compress_frame(d, 1), len(d)) for d in datas], threads=3)
    assert [bytes(o) for o in outs] == datas


# ------------------------------------------------------------ DecodeJobs (decode + checks)


def _arena_jobs(parts: list[bytes]) -> tuple[bytearray, DecodeJobs, list[bytes]]:
    arena = bytearray(sum(len(p) for p in parts))
    jobs = DecodeJobs(arena)
    frames = [compress_frame(p, 3) for p in parts]
    return arena, jobs, frames


@pytest.mark.parametrize("arena", [memoryview(bytearray(8)), bytes(8)], ids=["memoryview", "bytes"])
def test_decode_jobs_arena_is_a_bytearray(arena: object) -> None:
    # a memoryview arena in a reference cycle crashed the interpreter during a collection
    with pytest.raises(TypeError, match="bytearray"):
        DecodeJobs(arena)  # type: ignore[arg-type]


@pytest.mark.parametrize("threads", [0, 1, 3])
def test_decode_jobs_check_sha256_and_crc(threads: int) -> None:
    parts = [os.urandom(1000), b"a" * 70_000, b"", b"xyz"]
    arena, jobs, frames = _arena_jobs(parts)
    at = 0
    for part, frame in zip(parts, frames):
        src = jobs.source(frame)
        jobs.decode(src, 0, len(frame), at, len(part), sha256(part), crc64(part))
        at += len(part)
    assert jobs.run(threads) is None
    assert bytes(arena) == b"".join(parts)
    # a second round checks the whole arena as it is
    whole = DecodeJobs(arena)
    whole.check(0, len(arena), sha256(bytes(arena)), crc64(bytes(arena)))
    whole.check(0, 0, sha256(b""), 0)
    assert whole.run(threads) is None


@pytest.mark.parametrize("which", ["sha", "crc"])
def test_decode_jobs_report_the_first_mismatch(which: str) -> None:
    parts = [b"one" * 100, b"two" * 100, b"three" * 100]
    arena, jobs, frames = _arena_jobs(parts)
    at = 0
    for i, (part, frame) in enumerate(zip(parts, frames)):
        wrong = i >= 1
        sha = sha256(b"other") if wrong and which == "sha" else sha256(part)
        crc = crc64(part) ^ (1 if wrong and which == "crc" else 0)
        jobs.decode(jobs.source(frame), 0, len(frame), at, len(part), sha, crc)
        at += len(part)
    failure = jobs.run(2)
    assert failure is not None
    index, exc = failure
    assert index == 1  # the lowest failing job, whatever the thread order
    assert isinstance(exc, DigestMismatchError)
    assert ("SHA-256" if which == "sha" else "CRC-64") in str(exc)


def test_decode_jobs_corrupt_and_short_frames_are_format_errors() -> None:
    part = os.urandom(5000)
    arena, jobs, frames = _arena_jobs([part, part])
    bad = bytearray(frames[0])
    bad[len(bad) // 2] ^= 0xFF
    jobs.decode(jobs.source(frames[1][:-10]), 0, len(frames[1]) - 10, 0, len(part))
    failure = jobs.run(1)
    assert failure is not None and failure[0] == 0 and isinstance(failure[1], FormatError)
    jobs = DecodeJobs(arena)
    jobs.decode(jobs.source(bytes(bad)), 0, len(bad), 0, len(part), sha256(part))
    failure = jobs.run(1)
    assert failure is not None and isinstance(failure[1], (FormatError, DigestMismatchError))


def test_decode_jobs_refuse_ranges_outside_their_buffers() -> None:
    arena = bytearray(10)
    jobs = DecodeJobs(arena)
    src = jobs.source(b"12345")
    with pytest.raises(ValueError):
        jobs.decode(src, 3, 3, 0, 1)
    with pytest.raises(ValueError):
        jobs.decode(src, 0, 5, 8, 3)
    with pytest.raises(ValueError):
        jobs.check(-1, 2)
    with pytest.raises(ValueError):
        jobs.check(0, 1, b"short")
    assert len(jobs) == 0 and jobs.run(0) is None
