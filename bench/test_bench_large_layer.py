"""The 256 MiB / 1 GiB pair: peak memory of a conversion, and the cost of reading one small file.

Peak memory is also measured for 100k and 400k empty files (for scale, not a target).

Each conversion runs in its own child process; its peak RSS is the child's
``ru_maxrss`` from ``os.wait4``. A bare interpreter importing the package and
``zstd -T0 -3`` on the same tars are measured the same way, for scale.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import corpora
import pytest
from benchlib import ALL_THREADS, ZSTD, Blob, Outputs, record, rounds

import zstd_chunked

pytestmark = pytest.mark.large_layer

LEVEL = 3
PAIR = ("256m", "1g")
#: For scale: the same measure against the number of entries (many empty files).
ENTRY_PAIR = ("entries100k", "entries400k")

CONVERT = """
import dataclasses, json, sys
import zstd_chunked
info = zstd_chunked.convert(sys.argv[1], sys.argv[2], level=int(sys.argv[3]))
with open("/proc/self/status") as f:
    hwm = [int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")]
json.dump({"info": dataclasses.asdict(info), "vmhwm": hwm[0] if hwm else 0}, sys.stdout)
"""


#: Runs argv[2:] and writes its peak RSS (KiB) to the file argv[1]. The measured process is
#: forked from this small launcher, not from pytest: on Linux a child's ru_maxrss starts from
#: the RSS of the process it was forked from, which for pytest is well over 100 MiB.
LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
proc.returncode = os.waitstatus_to_exitcode(status)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(proc.returncode)
"""


def _child(argv: list[str], work: Path) -> tuple[bytes, int]:
    """Run ``argv``; return its standard output and its peak RSS in bytes."""
    report = work / "maxrss.txt"
    report.unlink(missing_ok=True)
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *argv], stdout=subprocess.PIPE, check=True)
    return proc.stdout, int(report.read_text()) * 1024  # KiB on Linux


def test_rss_baseline(benchmark: Any, corpus: Callable[[str], corpora.Corpus], work: Path) -> None:
    """The floor: an interpreter that only imports zstd_chunked (and its native core)."""
    c = corpus("256m")
    result: dict[str, int] = {}

    def run() -> None:
        _, result["rss"] = _child([sys.executable, "-c", "import zstd_chunked, zstd_chunked._native"], work)

    benchmark.pedantic(run, rounds=rounds(3), iterations=1)
    record(benchmark, "peak RSS", "rss-import", c, peak_rss=result["rss"])


@pytest.mark.parametrize("name", PAIR + ENTRY_PAIR)
def test_rss_convert(
    benchmark: Any, corpus: Callable[[str], corpora.Corpus], outputs: Outputs, work: Path, name: str
) -> None:
    c = corpus(name)
    out = work / f"rss-{name}.zck"
    result: dict[str, Any] = {}

    def run() -> None:
        text, result["rss"] = _child([sys.executable, "-c", CONVERT, str(c.path), str(out), str(LEVEL)], work)
        reply = json.loads(text)
        result["info"] = zstd_chunked.LayerInfo(**reply["info"])
        result["vmhwm"] = reply["vmhwm"]

    benchmark.pedantic(run, rounds=1, iterations=1)
    info: zstd_chunked.LayerInfo = result["info"]
    assert info.tar_size == c.size
    record(
        benchmark,
        "peak RSS",
        "rss-convert",
        c,
        level=LEVEL,
        threads=ALL_THREADS,
        peak_rss=result["rss"],
        vmhwm=result["vmhwm"],
        output_bytes=info.size,
        entries=info.entries,
        toc_bytes=info.toc_length,
        toc_uncompressed=info.toc_uncompressed,
        tarsplit_bytes=info.tarsplit_length,
        tarsplit_uncompressed=info.tarsplit_uncompressed,
    )
    outputs.keep_blob(name, LEVEL, out, info)


@pytest.mark.parametrize("name", PAIR)
def test_rss_zstd_cli(benchmark: Any, corpus: Callable[[str], corpora.Corpus], work: Path, name: str) -> None:
    c = corpus(name)
    out = work / f"rss-{name}.tar.zst"
    result: dict[str, int] = {}

    def run() -> None:
        _, result["rss"] = _child([ZSTD, "-q", "-f", "-T0", f"-{LEVEL}", str(c.path), "-o", str(out)], work)

    benchmark.pedantic(run, rounds=1, iterations=1)
    record(
        benchmark,
        "peak RSS",
        "rss-zstd-cli",
        c,
        level=LEVEL,
        threads=ALL_THREADS,
        peak_rss=result["rss"],
        output_bytes=out.stat().st_size,
    )
    out.unlink()


def _pick_small_file(blob: Blob) -> tuple[str, int]:
    """A small regular file (1-16 KiB) from the middle of the layer, the same one every run."""
    with zstd_chunked.open(blob.path, annotations=blob.info.annotations) as layer:
        small = [e for e in layer.entries() if e.type == "reg" and 1024 <= e.size <= 16384]
    assert small, "the layer has no small file"
    entry = small[len(small) // 2]
    return entry.name, entry.size


def test_read_one_small_file(benchmark: Any, corpus: Callable[[str], corpora.Corpus], outputs: Outputs) -> None:
    """Open the 1 GiB layer through a counting range source and read one small file."""
    c = corpus("1g")
    blob = outputs.blob("1g", LEVEL)
    path, size = _pick_small_file(blob)
    result: dict[str, Any] = {}

    def run() -> None:
        inner = zstd_chunked.FileSource(blob.path)
        src = zstd_chunked.CountingSource(inner)
        try:
            # a partial reader needs the TOC, not the tar-split: lazy_tarsplit defers it
            with zstd_chunked.open(src, annotations=blob.info.annotations, lazy_tarsplit=True) as layer:
                opened = src.bytes_read
                data = layer.read(path)
        finally:
            inner.close()
        result.update(open_bytes=opened, bytes_read=src.bytes_read, requests=len(src.requests), got=len(data))

    benchmark.pedantic(run, rounds=rounds(3), iterations=1)
    assert result["got"] == size
    record(
        benchmark,
        "partial read",
        "read-one-file",
        c,
        level=LEVEL,
        threads=ALL_THREADS,
        file=path,
        file_size=size,
        blob_bytes=blob.info.size,
        bytes_read=result["bytes_read"],
        open_bytes=result["open_bytes"],
        requests=result["requests"],
        toc_bytes=blob.info.toc_length,
        tarsplit_bytes=blob.info.tarsplit_length,
    )
