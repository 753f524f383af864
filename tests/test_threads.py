"""Concurrency: one open layer read from many threads; one Writer used from two threads.

* Reading is safe from any number of threads: ``Layer.read``, ``iter_file``
  and separate ``Layer.open`` files, on different files and on the same one,
  over bytes, a path (``pread``) or a shared file object (a lock around
  seek+read), all return the right bytes.
* A Writer is not: a second thread calling ``write`` or ``close`` while the
  first is inside ``write`` gets :class:`UsageError` at once, and the output
  of the first thread is not disturbed.
"""

from __future__ import annotations

import hashlib
import io
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import blobcraft as bc
import pytest

import zstd_chunked
from zstd_chunked.errors import UsageError

THREADS = 8


def _layer_files() -> dict[str, bytes]:
    rng = random.Random(5)
    files = {f"small/{i}": rng.randbytes(rng.randrange(1, 3000)) for i in range(40)}
    files["multi"] = rng.randbytes(300_000) + bytes(8192) + rng.randbytes(200_000)  # several chunks and a hole
    files["ones"] = b"\x01" * (9 << 20)  # one chunk above the reader's group size: streamed
    files["empty"] = b""
    return files


@pytest.fixture(scope="module")
def layer_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, dict[str, str], dict[str, bytes]]:
    files = _layer_files()
    tar = bc.make_tar([("file", name, data) for name, data in files.items()] + [("hardlink", "hl", "multi")])
    blob, ann = bc.convert_tar(tar, threads=2)
    path = tmp_path_factory.mktemp("threads") / "layer.zst"
    path.write_bytes(blob)
    files["hl"] = files["multi"]
    return path, blob, ann, files


def _run_all(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs on THREADS threads, all released at the same moment."""
    go = threading.Event()

    def wrapped(job: Callable[[], Any]) -> Any:
        go.wait(timeout=10)
        return job()

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(wrapped, job) for job in jobs]
        time.sleep(0.05)
        go.set()
        return [f.result() for f in futures]


def _read_exactly(f: Any, n: int) -> bytes:
    """LayerFile is a raw file: a read may stop at a chunk boundary, as raw reads may."""
    out = bytearray()
    while len(out) < n:
        piece = f.read(n - len(out))
        if not piece:
            break
        out += piece
    return bytes(out)


def _random_reads(layer: zstd_chunked.Layer, name: str, expected: bytes, seed: int, count: int = 30) -> bool:
    rng = random.Random(seed)
    positions = [rng.randrange(0, max(1, len(expected))) for _ in range(count)]
    if len(expected) > 8 << 20:
        positions.sort()  # a streamed chunk restarts on every backward seek: keep it to one
        positions.append(rng.randrange(0, len(expected)))
    with layer.open(name) as f:
        for pos in positions:
            n = rng.randrange(0, 70_000)
            f.seek(pos)
            if _read_exactly(f, n) != expected[pos:pos + n]:
                return False
    return True


@pytest.mark.parametrize("source", ["bytes", "path", "fileobj"])
def test_one_layer_many_threads(source: str, layer_data: Any) -> None:
    path, blob, ann, files = layer_data
    src: Any = {"bytes": blob, "path": path, "fileobj": None}[source]
    handle = None
    if source == "fileobj":
        handle = src = io.BytesIO(blob)  # no fileno(): reads go through the source's lock
    try:
        with zstd_chunked.open(src, ann, threads=2) as layer:
            names = sorted(files)
            jobs: list[Callable[[], Any]] = []
            for name in names:  # every file, each from its own thread
                jobs.append(lambda n=name: layer.read(n) == files[n])
            for i in range(THREADS):  # the same files from all threads at once
                jobs.append(lambda: layer.read("multi") == files["multi"])
                jobs.append(lambda: b"".join(layer.iter_file("ones")) == files["ones"])
                jobs.append(lambda i=i: _random_reads(layer, "multi", files["multi"], i))
                jobs.append(lambda i=i: _random_reads(layer, "ones", files["ones"], 100 + i, count=8))
            assert all(_run_all(jobs))
    finally:
        if handle is not None:
            handle.close()


def test_one_layer_file_object_shared_by_threads_is_refused_or_correct(layer_data: Any) -> None:
    """A single LayerFile is a file position: sharing it makes no sense, but must not corrupt
    what other readers of the layer see."""
    _path, blob, ann, files = layer_data
    with zstd_chunked.open(blob, ann) as layer:
        shared = layer.open("multi")

        def hammer(seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(50):
                try:
                    shared.seek(rng.randrange(len(files["multi"])))
                    shared.read(rng.randrange(1, 5000))
                except (ValueError, zstd_chunked.ZstdChunkedError):
                    pass

        _run_all([lambda s=s: hammer(s) for s in range(THREADS)])
        shared.close()
        assert layer.read("multi") == files["multi"]


def test_verify_rebuild_and_extract_concurrently(layer_data: Any, tmp_path: Path) -> None:
    path, _blob, ann, files = layer_data
    with zstd_chunked.open(path, ann, threads=2) as layer:
        diff = layer.verify()["diffID"]
        jobs: list[Callable[[], Any]] = [
            lambda: layer.verify()["diffID"] == diff,
            lambda: layer.rebuild_tar(io.BytesIO()) == diff,
            lambda: layer.rebuild_tar(io.BytesIO()) == diff,
        ]
        for i in range(3):
            jobs.append(lambda i=i: layer.extract(tmp_path / f"x{i}").files == len(files) - 1)
        assert all(_run_all(jobs))
    for i in range(3):
        assert (tmp_path / f"x{i}" / "multi").read_bytes() == files["multi"]


# ------------------------------------------------------------------ Writer


class _GatedSink(io.RawIOBase):
    """An output that blocks its first write until released, so the writer's pipe fills up."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.entered.set()
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the sink")
        return self.buf.write(data)


def _big_tar() -> bytes:
    rng = random.Random(11)
    piece = rng.randbytes(4 << 20)
    return bc.make_tar([("file", f"f{i}", piece) for i in range(12)])


def test_writer_from_two_threads(released_resources: None) -> None:
    tar = _big_tar()
    sink = _GatedSink()
    w = zstd_chunked.Writer(sink, threads=2)
    inside = threading.Event()
    done = threading.Event()
    errors: list[BaseException] = []

    def feeder() -> None:
        try:
            for i in range(0, len(tar), 1 << 20):
                inside.set()
                w.write(tar[i:i + (1 << 20)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    t = threading.Thread(target=feeder)
    t.start()
    try:
        assert sink.entered.wait(timeout=30), "the conversion never reached the output"
        # the sink is blocked, so the pipe fills and the feeder stays inside write(): wait for it
        time.sleep(0.5)
        assert not done.is_set()
        with pytest.raises(UsageError, match="two threads"):
            w.write(b"\0" * 512)
        with pytest.raises(UsageError, match="two threads"):
            w.close()
    finally:
        sink.release.set()
        t.join(timeout=60)
    assert not errors, errors
    info = w.close()
    # the refused calls did not disturb the stream: same blob as a single-threaded conversion
    expected = io.BytesIO()
    reference = zstd_chunked.convert(io.BytesIO(tar), expected, threads=2)
    assert sink.buf.getvalue() == expected.getvalue()
    assert info.diff_id == reference.diff_id == bc.sha256(tar)


def test_writer_many_threads_racing(released_resources: None) -> None:
    """Unserialized callers: calls that collide are refused with UsageError; the writer never
    mixes bytes, and with the callers' own lock every write goes through in order."""
    w = zstd_chunked.Writer(io.BytesIO(), threads=2)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def racer() -> None:
        barrier.wait()
        for _ in range(300):
            try:
                w.write(b"\0" * 512)
                outcomes.append("ok")
            except UsageError:
                outcomes.append("refused")

    racers = [threading.Thread(target=racer) for _ in range(4)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    w.abort()
    assert len(outcomes) == 1200 and set(outcomes) <= {"ok", "refused"}

    tar = bc.make_tar([("file", f"f{i}", bytes([i]) * 70_000) for i in range(30)])
    pieces = iter([tar[i:i + 4096] for i in range(0, len(tar), 4096)])
    lock = threading.Lock()
    out = io.BytesIO()
    w = zstd_chunked.Writer(out, threads=2)

    def serialized() -> None:
        while True:
            with lock:
                piece = next(pieces, None)
                if piece is None:
                    return
                w.write(piece)

    feeders = [threading.Thread(target=serialized) for _ in range(4)]
    for t in feeders:
        t.start()
    for t in feeders:
        t.join()
    assert w.close().diff_id == bc.sha256(tar)


@pytest.fixture
def released_resources() -> Any:
    bc.resources()
    before = bc.resources()
    yield
    bc.assert_released(before)


def test_thread_count_does_not_change_the_blob() -> None:
    tar = bc.make_tar([("file", f"f{i}", random.Random(i).randbytes(900_000)) for i in range(4)])
    blobs = set()
    for threads in (1, 2, 4):
        out = io.BytesIO()
        zstd_chunked.convert(io.BytesIO(tar), out, threads=threads)
        blobs.add(hashlib.sha256(out.getvalue()).hexdigest())
    assert len(blobs) == 1
