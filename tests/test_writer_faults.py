"""The writer under failure: bad input tars, failing outputs, callers that raise or are interrupted.

Every case must end with a clear exception, no file at the destination path
(no ``.partial`` temporary either), and nothing left running or open: Python
threads (``threading.enumerate()``), OS threads including the native
compression workers (``/proc/self/task``), descriptors (``/proc/self/fd``)
and native contexts are counted before and after.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blobcraft as bc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zstd_chunked
from zstd_chunked.errors import TarError, UnsupportedTarError, UsageError, ZstdChunkedError


def _random(n: int, seed: int = 1) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


@pytest.fixture
def released() -> Iterator[None]:
    """The test must leave no thread, descriptor or native context behind."""
    bc.resources()  # warm-up: imports and caches that would otherwise look like leaks
    before = bc.resources()
    yield
    bc.assert_released(before)


def _no_output(directory: Path) -> None:
    left = sorted(p.name for p in directory.iterdir())
    assert left == [], f"left in the destination directory: {left}"


def _tar(big: int = 3 << 20) -> bytes:
    return bc.make_tar([("dir", "d"), ("file", "d/small", b"hello" * 100), ("file", "d/big", _random(big)),
                        ("symlink", "d/link", "small"), ("file", "d/last", b"end" * 1000)])


def _boundaries(tar: bytes) -> dict[str, int]:
    """Offsets inside the tar where truncation means different things."""
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        members = {m.name: m for m in tf.getmembers()}
    small, big, last = members["d/small"], members["d/big"], members["d/last"]
    return {
        "inside the first header": 100,
        "inside a later header": small.offset + 100,
        "after a header, before the payload": small.offset_data,
        "inside a small payload": small.offset_data + 10,
        "inside a large payload": big.offset_data + (1 << 20) + 5,
        "one byte short of a payload": big.offset_data + big.size - 1,
        "inside the padding": small.offset_data + small.size + 3,
        "inside the last payload": last.offset_data + 7,
        "inside the end-of-archive blocks": last.offset_data + 3072 + 100,
    }


# ---------------------------------------------------------------- input tars


@pytest.mark.parametrize("where", list(_boundaries(_tar(1 << 21))))
def test_truncated_tar_fails_loudly(where: str, tmp_path: Path, released: None) -> None:
    """The reference writer can end a blob without TOC and without error on a tar cut inside
    a file (FORMAT.md 7.15); ours raises TarError and leaves nothing behind."""
    tar = _tar(1 << 21)
    cut = tar[:_boundaries(tar)[where]]
    out = tmp_path / "layer.zst"
    with pytest.raises(TarError, match="truncated"):
        zstd_chunked.convert(io.BytesIO(cut), out, threads=2)
    _no_output(tmp_path)
    sink = io.BytesIO()
    with pytest.raises(TarError):
        zstd_chunked.convert(io.BytesIO(cut), sink, threads=2)
    with pytest.raises(TarError), zstd_chunked.Writer(out, threads=2) as w:
        for i in range(0, len(cut), 100_000):
            w.write(cut[i:i + 100_000])
    _no_output(tmp_path)


def test_failure_while_the_metadata_text_is_being_compressed(tmp_path: Path, released: None) -> None:
    """Enough entries that TOC and tar-split text have gone to their compression thread before the tar breaks."""
    names = [f"dir/{i:05d}-{'x' * 60}" for i in range(4000)]  # about 3 MB of tar-split text
    tar = bc.make_tar([("file", name, b"") for name in names])
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        last = tf.getmembers()[-1].offset
    out = tmp_path / "layer.zst"
    with pytest.raises(TarError, match="truncated"):
        zstd_chunked.convert(io.BytesIO(tar[:last + 100]), out, threads=2)
    _no_output(tmp_path)
    assert zstd_chunked.convert(io.BytesIO(tar), out, threads=2).entries == len(names)


def test_tar_ending_between_entries_is_kept_as_is(tmp_path: Path) -> None:
    """A tar cut exactly between two entries (no end-of-archive blocks) is what Go's reader
    calls a clean end; the layer then holds exactly those bytes."""
    tar = _tar(1 << 20)
    cut = tar[:_boundaries(tar)["after a header, before the payload"] - 512]
    info = zstd_chunked.convert(io.BytesIO(cut), tmp_path / "l.zst")
    assert info.diff_id == bc.sha256(cut)
    with zstd_chunked.open(tmp_path / "l.zst", info.annotations) as layer:
        out = io.BytesIO()
        layer.rebuild_tar(out)
        assert out.getvalue() == cut


def _corrupt(tar: bytes, offset: int, data: bytes) -> bytes:
    return tar[:offset] + data + tar[offset + len(data):]


@pytest.mark.parametrize("label,make,exc", [
    ("header checksum", lambda t: _corrupt(t, 0, b"X"), TarError),
    ("garbage", lambda t: b"\x01" * 4096, TarError),
    ("size field not octal", lambda t: _corrupt(t, 512 + 124, b"9" * 11), TarError),
    ("zero block then a header", lambda t: bytes(512) + t, TarError),
    ("huge size", lambda t: _fix_checksum(_corrupt(t, 512 + 124, b"\x80" + b"\0" * 3 + b"\x7f" + b"\xff" * 6), 512),
     TarError),
    ("negative size", lambda t: _fix_checksum(_corrupt(t, 512 + 124, b"\xff" * 12), 512), TarError),
    ("PAX global header", lambda t: _pax_global(), UnsupportedTarError),
])
def test_corrupt_tar(label: str, make: Any, exc: type, tmp_path: Path, released: None) -> None:
    bad = make(_tar(1 << 16))
    with pytest.raises(exc):
        zstd_chunked.convert(io.BytesIO(bad), tmp_path / "l.zst", threads=2)
    _no_output(tmp_path)


def _fix_checksum(tar: bytes, header: int) -> bytes:
    block = bytearray(tar[header:header + 512])
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return tar[:header] + bytes(block) + tar[header + 512:]


def _pax_global() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "x"}) as tf:
        info = tarfile.TarInfo("a")
        tf.addfile(info, io.BytesIO(b""))
    return out.getvalue()


def test_duplicate_paths_are_refused(tmp_path: Path, released: None) -> None:
    tar = bc.make_tar([("file", "a", b"1"), ("file", "./a", b"2")])
    with pytest.raises(UnsupportedTarError):
        zstd_chunked.convert(io.BytesIO(tar), tmp_path / "l.zst", threads=2)
    _no_output(tmp_path)


def test_a_duplicate_far_apart_is_refused_and_named(tmp_path: Path, released: None) -> None:
    """The second entry comes after more paths than the duplicate check keeps in memory."""
    from zstd_chunked.tarsplit import TarSplitEncoder

    entries: list[tuple[str, ...]] = [("dir", "d")]
    entries += [("file", f"d/f{i:05d}", b"x") for i in range(TarSplitEncoder.RUN_KEYS + 100)]
    entries.append(("symlink", "./d//f00003", "elsewhere"))
    with pytest.raises(UnsupportedTarError, match=r"duplicate path '\./d//f00003'.*cleaned: 'd/f00003', 2 entries"):
        zstd_chunked.convert(io.BytesIO(bc.make_tar(entries)), tmp_path / "l.zst", threads=2)
    _no_output(tmp_path)


def test_a_duplicate_across_runs_with_a_name_that_json_escapes(tmp_path: Path, released: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is found again by decoding the tar-split's escaped JSON string."""
    from zstd_chunked.tarsplit import TarSplitEncoder

    monkeypatch.setattr(TarSplitEncoder, "RUN_KEYS", 2)
    odd = "d\u00e9j\u00e0 <&> \u2028\t\"q\"\\x"
    entries = [("file", odd, b"1"), ("file", "b", b"2"), ("file", "c", b"3"), ("file", "./" + odd, b"4")]
    with pytest.raises(UnsupportedTarError, match="2 entries") as caught:
        zstd_chunked.convert(io.BytesIO(bc.make_tar(entries)), tmp_path / "l.zst", threads=1)
    assert repr("./" + odd) in str(caught.value)
    assert repr(odd) in str(caught.value)  # the cleaned path
    _no_output(tmp_path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(st.sampled_from(["a", "./a", "a/", "b", "b/c", "b//c", "./b/./c", "d", "e", "f"]),
                      min_size=1, max_size=12),
       run_keys=st.integers(1, 4))
def test_duplicates_are_refused_whatever_the_runs(tmp_path_factory: pytest.TempPathFactory,
                                                  monkeypatch: pytest.MonkeyPatch, names: list[str],
                                                  run_keys: int) -> None:
    """With tiny runs, duplicates fall within one run or across runs: refused either way, and only they."""
    from zstd_chunked.tarsplit import TarSplitEncoder
    from zstd_chunked.tarstream import go_clean_path

    monkeypatch.setattr(TarSplitEncoder, "RUN_KEYS", run_keys)
    out = tmp_path_factory.mktemp("dup") / "l.zst"
    cleaned = [go_clean_path(n) for n in names]
    tar = bc.make_tar([("file", n, b"%d" % i) for i, n in enumerate(names)])
    if len(set(cleaned)) == len(cleaned):
        zstd_chunked.convert(io.BytesIO(tar), out, threads=1)
        assert out.exists()
    else:
        with pytest.raises(UnsupportedTarError, match="duplicate path"):
            zstd_chunked.convert(io.BytesIO(tar), out, threads=1)
        assert not out.exists()


class _FailingReader(io.RawIOBase):
    def __init__(self, data: bytes, after: int, exc: BaseException) -> None:
        self._data = io.BytesIO(data)
        self._after = after
        self._exc = exc
        self.tasks_when_raised = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._data.tell() >= self._after:
            self.tasks_when_raised = len(os.listdir("/proc/self/task"))
            raise self._exc
        return self._data.readinto(memoryview(buf)[:max(1, min(len(buf), self._after - self._data.tell()))])


def test_input_read_error(tmp_path: Path, released: None) -> None:
    exc = OSError(errno.EIO, "input/output error")
    with pytest.raises(OSError) as info:
        zstd_chunked.convert(_FailingReader(_tar(), 1 << 20, exc), tmp_path / "l.zst", threads=2)
    assert info.value is exc
    _no_output(tmp_path)


# --------------------------------------------------------------- the output


class _FailingSink(io.RawIOBase):
    """Accepts ``limit`` bytes, then fails every write with ENOSPC."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        room = self.limit - self.written
        if room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = min(room, len(data))
        self.written += n
        return n


@pytest.mark.parametrize("limit", [0, 1, 4096, 1 << 20, 2_500_000])
def test_sink_fails_after_n_bytes(limit: int, released: None) -> None:
    sink = _FailingSink(limit)
    with pytest.raises(OSError) as info:
        zstd_chunked.convert(io.BytesIO(_tar()), sink, threads=2)
    assert info.value.errno == errno.ENOSPC
    assert sink.written == limit
    sink = _FailingSink(limit)
    with pytest.raises(OSError), zstd_chunked.Writer(sink, threads=2) as w:
        w.write(_tar())


def test_sink_fails_in_the_trailer(released: None) -> None:
    """The TOC, tar-split and footer are written last: fail there too."""
    tar = _tar(1 << 16)
    size = zstd_chunked.convert(io.BytesIO(tar), io.BytesIO()).size
    for limit in (size - 1, size - 72, size - 100):
        with pytest.raises(OSError):
            zstd_chunked.convert(io.BytesIO(tar), _FailingSink(limit), threads=2)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and permission to mount); skipped otherwise."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                              capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("cannot run mount")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {proc.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=20)


def test_full_disk(tiny_fs: Path, released: None) -> None:
    out = tiny_fs / "layer.zst"
    with pytest.raises(OSError) as info:
        zstd_chunked.convert(io.BytesIO(_tar(3 << 20)), out, threads=2)
    assert info.value.errno == errno.ENOSPC
    _no_output(tiny_fs)
    with pytest.raises(OSError), zstd_chunked.Writer(out, threads=2) as w:
        w.write(_tar(3 << 20))
    _no_output(tiny_fs)
    # and the file system is usable again: a small layer fits
    zstd_chunked.convert(io.BytesIO(_tar(1 << 10)), out)
    assert out.exists()


def test_destination_directory_missing(tmp_path: Path, released: None) -> None:
    with pytest.raises(FileNotFoundError):
        zstd_chunked.convert(io.BytesIO(_tar(1 << 10)), tmp_path / "no" / "such" / "l.zst")
    with pytest.raises(FileNotFoundError):
        zstd_chunked.Writer(tmp_path / "no" / "l.zst")


def test_bad_arguments_create_nothing(tmp_path: Path, released: None) -> None:
    for kw in ({"level": 0}, {"level": 99}, {"threads": 0}, {"threads": -1}, {"level": True}):
        with pytest.raises(ValueError):
            zstd_chunked.convert(io.BytesIO(_tar(1 << 10)), tmp_path / "l.zst", **kw)
        with pytest.raises(ValueError):
            zstd_chunked.Writer(tmp_path / "l.zst", **kw)
    _no_output(tmp_path)


# ------------------------------------------------------- the caller fails


class _CallerError(Exception):
    pass


@pytest.mark.parametrize("fed", [0, 1000, 5 << 20])
def test_exception_inside_the_with_block(fed: int, tmp_path: Path, released: None) -> None:
    tar = _tar(8 << 20)
    out = tmp_path / "layer.zst"
    error = _CallerError("the caller gave up")
    with pytest.raises(_CallerError) as info, zstd_chunked.Writer(out, threads=2) as w:
        w.write(tar[:fed])
        raise error
    assert info.value is error
    _no_output(tmp_path)
    assert w.info is None
    with pytest.raises(UsageError):
        w.close()
    with pytest.raises(UsageError):
        w.write(b"more")


def test_keyboard_interrupt_while_native_threads_compress(tmp_path: Path, released: None) -> None:
    """The input raises KeyboardInterrupt while the previous batch compresses on the worker pool."""
    tar = _tar(24 << 20)
    source = _FailingReader(tar, 17 << 20, KeyboardInterrupt())
    before = len(os.listdir("/proc/self/task"))
    with pytest.raises(KeyboardInterrupt):
        zstd_chunked.convert(source, tmp_path / "layer.zst", threads=2, level=3)
    assert source.tasks_when_raised > before, "the native pool was not running when the interrupt came"
    _no_output(tmp_path)


def test_keyboard_interrupt_in_a_writer_block(tmp_path: Path, released: None) -> None:
    tar = _tar(24 << 20)
    before = len(os.listdir("/proc/self/task"))
    busy = 0
    with pytest.raises(KeyboardInterrupt), zstd_chunked.Writer(tmp_path / "layer.zst", threads=2) as w:
        for i in range(0, 20 << 20, 1 << 20):
            w.write(tar[i:i + (1 << 20)])
        busy = len(os.listdir("/proc/self/task"))
        raise KeyboardInterrupt
    assert busy > before + 1, "the conversion thread and its pool were not running"
    _no_output(tmp_path)


def test_asynchronous_keyboard_interrupt(tmp_path: Path, released: None) -> None:
    """A real Ctrl-C (interrupt_main) lands wherever the main thread is; cleanup must still run."""
    import _thread

    tar = _tar(24 << 20)
    landed = 0
    for delay in (0.02, 0.08, 0.15, 0.3):
        timer = threading.Timer(delay, _thread.interrupt_main)
        timer.start()
        try:
            try:
                zstd_chunked.convert(io.BytesIO(tar), tmp_path / "layer.zst", threads=2)
            finally:
                timer.cancel()
                timer.join()
        except KeyboardInterrupt:
            landed += 1
            _no_output(tmp_path)
        else:
            (tmp_path / "layer.zst").unlink()
    assert landed, "no interrupt arrived during a conversion"


def test_conversion_error_surfaces_from_write_or_close(tmp_path: Path, released: None) -> None:
    bad = b"\x01" * 4096
    w = zstd_chunked.Writer(tmp_path / "l.zst", threads=2)
    with pytest.raises(TarError):
        for _ in range(100):
            w.write(bad)
        w.close()
    w.abort()
    _no_output(tmp_path)


def test_writer_misuse(tmp_path: Path, released: None) -> None:
    out = tmp_path / "l.zst"
    with zstd_chunked.Writer(out, threads=1) as w:
        w.write(_tar(1 << 10))
        with pytest.raises(UsageError):
            w.__enter__()
    info = w.info
    assert info is not None and out.exists()
    assert w.close() is info
    with pytest.raises(UsageError):
        w.write(b"x")


def test_abort_without_a_with_block(tmp_path: Path, released: None) -> None:
    w = zstd_chunked.Writer(tmp_path / "l.zst", threads=2)
    w.write(_tar(1 << 20)[: 1 << 19])
    w.abort()
    w.abort()  # idempotent
    _no_output(tmp_path)
    with pytest.raises(UsageError):
        w.close()


def test_errors_are_package_errors_or_os_errors(tmp_path: Path) -> None:
    for data in (b"", b"\0" * 1024, b"\0" * 512 + b"x", bytes(range(256)) * 4):
        try:
            zstd_chunked.convert(io.BytesIO(data), io.BytesIO())
        except ZstdChunkedError:
            pass


def test_writer_dropped_without_close_cleans_up(tmp_path: Path, released: None) -> None:
    import gc
    import time

    dst = tmp_path / "l.zst"
    writer = zstd_chunked.Writer(dst, threads=2)
    writer.write(_tar(1 << 16)[:4096])
    del writer
    gc.collect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(t.name == "zstd-chunked-writer" for t in threading.enumerate()):
        time.sleep(0.02)
    assert not any(t.name == "zstd-chunked-writer" for t in threading.enumerate())
    assert list(tmp_path.iterdir()) == []
