"""convert, rebuild and verify pause Python's cyclic garbage collector and always restore it.

They create many objects per entry and no reference cycles, so a paused
collector saves the walks over every live object (``_collector.py``).  What
must hold: the collector is off while they run, back as it was afterwards,
also when they fail, and a collector the program switched off stays off.
"""

from __future__ import annotations

import gc
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

import zstd_chunked
from zstd_chunked.errors import DigestMismatchError, TarError

WRONG_DIFF_ID = "sha256:" + "0" * 64


@pytest.fixture(params=[True, False], ids=["collector-on", "collector-off"])
def collector(request: pytest.FixtureRequest) -> Iterator[bool]:
    was = gc.isenabled()
    (gc.enable if request.param else gc.disable)()
    try:
        yield request.param
    finally:
        (gc.enable if was else gc.disable)()


class _Recorder(io.RawIOBase):
    """A binary stream that notes whether the collector was on at each read or write."""

    def __init__(self, data: bytes = b"") -> None:
        self._data = io.BytesIO(data)
        self.seen: set[bool] = set()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        self.seen.add(gc.isenabled())
        return self._data.readinto(b)

    def write(self, b: Any) -> int:
        self.seen.add(gc.isenabled())
        return len(b)


def _tar(files: int = 40) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
        for i in range(files):
            data = bytes([i]) * (i * 997)
            info = tarfile.TarInfo(f"dir/file{i}")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _blob(tmp_path: Path) -> tuple[Path, zstd_chunked.LayerInfo]:
    blob = tmp_path / "layer.zck"
    return blob, zstd_chunked.convert(io.BytesIO(_tar()), blob)


def test_convert(collector: bool, tmp_path: Path) -> None:
    source = _Recorder(_tar())
    zstd_chunked.convert(source, tmp_path / "ok.zck")
    assert source.seen == {False}
    assert gc.isenabled() == collector
    with pytest.raises(TarError):
        zstd_chunked.convert(io.BytesIO(_tar()[:1500]), tmp_path / "cut.zck")  # ends inside a payload
    assert gc.isenabled() == collector


@pytest.mark.parametrize("op", ["rebuild", "verify"])
def test_rebuild_and_verify(collector: bool, tmp_path: Path, op: str) -> None:
    blob, info = _blob(tmp_path)
    out = _Recorder()
    runs: dict[str, Callable[[zstd_chunked.Layer, str], Any]] = {
        "rebuild": lambda layer, diff_id: layer.rebuild_tar(out, diff_id=diff_id),
        "verify": lambda layer, diff_id: layer.verify(diff_id),
    }
    with zstd_chunked.open(blob, annotations=info.annotations) as layer:
        runs[op](layer, info.diff_id)
        assert gc.isenabled() == collector
        with pytest.raises(DigestMismatchError):
            runs[op](layer, WRONG_DIFF_ID)
        assert gc.isenabled() == collector
    if op == "rebuild":
        assert out.seen == {False}
