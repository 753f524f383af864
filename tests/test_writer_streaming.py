"""Payloads above the file-job size are chunked and hashed while they stream through."""

from __future__ import annotations

import hashlib
import io
import random

import blobcraft as bc
import pytest

import zstd_chunked
from zstd_chunked import _spool, writer


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


def test_batches_hold_at_most_batch_bytes_of_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inputs are copied into the two batch arenas, so no batch outgrows BATCH_BYTES.

    Files of 2 and 5 MiB used to pile up past BATCH_BYTES (a batch closed only once it was full).
    """
    from zstd_chunked import _frames
    from zstd_chunked._native import CompressPool

    assert writer.MAX_FILE_JOB <= _frames.BATCH_BYTES and _frames.MAX_ONESHOT_FRAME <= _frames.BATCH_BYTES
    rng = random.Random(3)
    files = [("file", f"f{i}", rng.randbytes(5 << 20 if i % 2 else 2 << 20)) for i in range(6)]
    tar = bc.make_tar([("dir", "d"), *files, ("file", "last", b"z" * 10)])
    sizes: list[int] = []
    submit = CompressPool.submit_payloads

    def recording(self: CompressPool, jobs: list[tuple[bytes, bool]], **kw: int) -> None:
        sizes.append(sum(len(data) for data, _ in jobs))
        submit(self, jobs, **kw)

    monkeypatch.setattr(CompressPool, "submit_payloads", recording)
    blob, ann = _convert(tar, threads=2)
    assert len(sizes) >= 3 and max(sizes) <= _frames.BATCH_BYTES, sizes
    with zstd_chunked.open(blob, ann) as layer:
        for _kind, name, data in files:
            assert layer.read(name) == data
        assert layer.verify()["diffID"] == "sha256:" + hashlib.sha256(tar).hexdigest()


def test_toc_and_tarsplit_spooled_to_a_file_give_the_same_blob(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SPOOL_BYTES the compressed TOC and tar-split wait in a temporary file: same bytes out."""
    tar = bc.make_tar([("dir", "d")] + [("file", f"d/{i:05d}", b"%d" % i) for i in range(3000)])
    in_memory = _convert(tar, threads=2)
    monkeypatch.setattr(_spool, "SPOOL_BYTES", 100)
    monkeypatch.setattr(_spool, "SPOOL_PIECE", 333)
    spooled = _convert(tar, threads=2)
    assert spooled == in_memory
    blob, ann = spooled
    with zstd_chunked.open(blob, ann) as layer:
        assert layer.read("d/02999") == b"2999"
        assert layer.verify()["diffID"] == "sha256:" + hashlib.sha256(tar).hexdigest()


def test_without_a_temporary_directory_the_toc_stays_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read-only file system (no temporary file possible) costs memory, not the conversion."""
    import tempfile

    tar = bc.make_tar([("file", f"f{i:04d}", b"%d" % i) for i in range(2000)])
    expected = _convert(tar, threads=1)
    calls: list[int] = []

    def no_tempfile(*args: object, **kwargs: object) -> None:
        calls.append(1)
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(_spool, "SPOOL_BYTES", 100)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_tempfile)
    assert _convert(tar, threads=1) == expected
    assert len(calls) == 3  # tried once each for the TOC, the tar-split and the path keys, then not again
