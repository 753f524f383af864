"""Payloads above the file-job size are chunked and hashed while they stream through."""

from __future__ import annotations

import hashlib
import io
import random

import blobcraft as bc
import pytest

import zstd_chunked
from zstd_chunked import writer


def _payload() -> bytes:
    rng = random.Random(7)
    return (rng.randbytes(6 << 20) + bytes(3 << 20) + rng.randbytes(5 << 20) + bytes(10)
            + rng.randbytes(1 << 20) + bytes(2000))


@pytest.fixture(scope="module")
def big_tar() -> bytes:
    data = _payload()
    assert len(data) > writer.MAX_FILE_JOB
    return bc.make_tar([("dir", "d"), ("file", "d/small", b"x" * 100), ("file", "d/big", data),
                        ("file", "d/after", b"y" * 5000)])


def _convert(tar: bytes, threads: int) -> tuple[bytes, dict[str, str]]:
    out = io.BytesIO()
    info = zstd_chunked.convert(io.BytesIO(tar), out, level=1, threads=threads)
    return out.getvalue(), dict(info.annotations)


def test_streamed_payload_chunks_and_digests(big_tar: bytes) -> None:
    data = _payload()
    blob, ann = _convert(big_tar, threads=2)
    with zstd_chunked.open(blob, ann) as layer:
        content = layer.file("d/big")
        assert content.entry.digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert len(content.chunks) > 2 and any(c.zeros for c in content.chunks)
        for c in content.chunks:
            piece = data[c.file_offset:c.file_offset + c.size]
            assert c.digest == "sha256:" + hashlib.sha256(piece).hexdigest()
            assert c.zeros == (piece.count(0) == len(piece) and len(piece) >= 1024)
        assert layer.read("d/big") == data
        assert layer.verify()["diffID"] == "sha256:" + hashlib.sha256(big_tar).hexdigest()


def test_streamed_and_whole_file_jobs_make_the_same_blob(big_tar: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    streamed = _convert(big_tar, threads=2)
    monkeypatch.setattr(writer, "MAX_FILE_JOB", 64 << 20)  # the big file becomes one worker job
    assert _convert(big_tar, threads=2) == streamed
    assert _convert(big_tar, threads=1) == streamed


def test_memory_stays_bounded_for_a_long_chunk() -> None:
    """A 64 MiB payload that never splits is one chunk; nothing holds all of it."""
    import tracemalloc

    size = 64 << 20
    source = io.BytesIO(bc.make_tar([("file", "ff", b"\xff" * size)]))
    out = io.BytesIO()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        info = zstd_chunked.convert(source, out, level=1, threads=2)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"peak {peak >> 20} MiB"  # the input tar lives outside, in the BytesIO
    with zstd_chunked.open(out.getvalue(), dict(info.annotations)) as layer:
        content = layer.file("ff")
        assert len(content.chunks) == 1 and content.entry.size == size
        assert content.entry.digest == "sha256:" + hashlib.sha256(b"\xff" * size).hexdigest()
