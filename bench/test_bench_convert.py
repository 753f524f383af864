"""Compression: our convert against the zstd CLI and python-zstandard, on the same tar bytes.

Every contender reads the same tar (from the page cache) and writes its output
to a file in the same directory; the previous output is removed before each
round, outside the timed region.

The contenders of one comparison run back to back, and the whole sequence is
repeated ``ZCK_BENCH_ROUNDS`` times (default 3) rather than running each
contender's rounds in a row: on a shared machine, load that comes and goes then
hits both sides of a ratio alike. The report takes the best round of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import corpora
import pytest
import zstandard
from benchlib import (
    ALL_THREADS,
    LEVELS,
    OTHER_CORPORA,
    THREADS,
    ZSTD,
    Outputs,
    interleaved_rounds,
    record,
    run_cmd,
    time_turn,
)

import zstd_chunked


def _cases() -> list[Any]:
    cases = []
    for r in range(interleaved_rounds()):
        for level in LEVELS:
            contenders = [("convert", t) for t in THREADS] + [("zstd-cli", 0), ("python-zstandard", ALL_THREADS)]
            if level == 3:
                contenders.append(("zstd-cli", 1))
            for op, threads in contenders:
                cases.append(
                    pytest.param("realistic", level, op, threads, id=f"realistic-L{level}-{op}-T{threads}-r{r}")
                )
        for name in OTHER_CORPORA:
            for op, threads in (("convert", ALL_THREADS), ("zstd-cli", 0), ("python-zstandard", ALL_THREADS)):
                cases.append(pytest.param(name, 3, op, threads, id=f"{name}-L3-{op}-T{threads}-r{r}"))
    return cases


@pytest.mark.parametrize("name,level,op,threads", _cases())
def test_compress(
    benchmark: Any,
    corpus: Callable[[str], corpora.Corpus],
    outputs: Outputs,
    work: Path,
    name: str,
    level: int,
    op: str,
    threads: int,
) -> None:
    c = corpus(name)
    group = f"compress {name} L{level}"
    if op == "convert":
        out = work / f"convert-{name}-L{level}-T{threads}.zck"
        result: dict[str, zstd_chunked.LayerInfo] = {}

        def run() -> None:
            result["info"] = zstd_chunked.convert(c.path, out, level=level, threads=threads)

        time_turn(benchmark, run, out)
        info = result["info"]
        assert info.tar_size == c.size and out.stat().st_size == info.size
        record(
            benchmark, group, op, c, level=level, threads=threads, output_bytes=info.size, entries=info.entries,
            frames=info.frames, toc_bytes=info.toc_length, toc_uncompressed=info.toc_uncompressed,
            tarsplit_bytes=info.tarsplit_length,
        )  # fmt: skip
        if threads == ALL_THREADS:
            outputs.keep_blob(name, level, out, info)
    elif op == "zstd-cli":
        out = work / f"zstd-{name}-L{level}-T{threads}.tar.zst"
        argv = [ZSTD, "-q", "-f", f"-T{threads}", f"-{level}", str(c.path), "-o", str(out)]
        time_turn(benchmark, lambda: run_cmd(argv), out)
        record(
            benchmark, group, op, c, level=level, threads=threads or ALL_THREADS, cli_threads=f"-T{threads}",
            output_bytes=out.stat().st_size,
        )  # fmt: skip
        if threads == 0:
            outputs.keep_plain(name, level, out)
    else:
        out = work / f"pyzstd-{name}-L{level}.tar.zst"

        def run() -> None:
            cctx = zstandard.ZstdCompressor(level=level, threads=-1)
            with open(c.path, "rb") as fin, open(out, "wb") as fout:
                cctx.copy_stream(fin, fout, read_size=1 << 20, write_size=1 << 20)

        time_turn(benchmark, run, out)
        record(benchmark, group, op, c, level=level, threads=ALL_THREADS, output_bytes=out.stat().st_size)
        out.unlink()
