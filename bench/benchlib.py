"""Helpers shared by the benchmarks: constants, scratch outputs, recording.

Every benchmark stores what the report needs in ``benchmark.extra_info``:
``op`` (what ran), ``corpus``, ``level``, ``threads``, ``input_bytes`` (tar
bytes, the unit of every throughput) and, where there is one, ``output_bytes``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import corpora

import zstd_chunked

HERE = Path(__file__).resolve().parent
ALL_THREADS = max(1, len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
LEVELS = (1, 3, 10)
#: Thread counts for the scaling rows: 1, 2 and all cores (deduplicated).
THREADS = tuple(sorted({1, min(2, ALL_THREADS), ALL_THREADS}))
#: Corpora other than ``realistic``; measured at level 3 with all threads.
OTHER_CORPORA = ("small_files", "large_files", "sparse", "incompressible")
ALL_CORPORA = ("realistic",) + OTHER_CORPORA
ZSTD = shutil.which("zstd") or "zstd"


def interleaved_rounds() -> int:
    """How many times the sequence of contenders is repeated: ``ZCK_BENCH_ROUNDS``, default 3."""
    return max(1, int(os.environ.get("ZCK_BENCH_ROUNDS") or 3))


#: Timed rounds every contender runs at each turn of the interleaved sequence; the same
#: for all, since a contender with more rounds has more chances to hit a quiet moment of
#: a shared machine (the report takes each one's best round).
TURN_ROUNDS = 2


def time_turn(benchmark: Any, fn: Callable[[], None], out: Optional[Path]) -> None:
    """Time ``fn`` for :data:`TURN_ROUNDS` rounds, removing ``out`` before each (untimed)."""

    def setup() -> None:
        if out is not None:
            out.unlink(missing_ok=True)

    benchmark.pedantic(fn, setup=setup, rounds=TURN_ROUNDS, iterations=1, warmup_rounds=0)


def rounds(default: int) -> int:
    """Rounds of a benchmark that is not interleaved; ``ZCK_BENCH_ROUNDS`` caps them."""
    cap = os.environ.get("ZCK_BENCH_ROUNDS")
    return max(1, min(default, int(cap))) if cap else default


def warm(path: Path) -> None:
    """Read a file once so every contender finds it in the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass


def run_cmd(argv: list[str], stdout: Any = None) -> None:
    subprocess.run(
        argv, check=True, stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=subprocess.PIPE
    )


# --------------------------------------------------------------------------
# Outputs shared between benchmarks (made once, by a benchmark or on demand)


@dataclass
class Blob:
    path: Path
    info: zstd_chunked.LayerInfo


class Outputs:
    """zstd:chunked blobs and plain zstd files per (corpus, level), made once per session."""

    def __init__(self, work: Path, corpus: Callable[[str], corpora.Corpus]) -> None:
        self.work = work
        self.corpus = corpus
        self.blobs: dict[tuple[str, int], Blob] = {}
        self.plain: dict[tuple[str, int], Path] = {}

    def keep_blob(self, name: str, level: int, path: Path, info: zstd_chunked.LayerInfo) -> None:
        dest = self.work / f"{name}-L{level}.zck"
        os.replace(path, dest)
        self.blobs[(name, level)] = Blob(dest, info)

    def blob(self, name: str, level: int) -> Blob:
        if (name, level) not in self.blobs:
            dest = self.work / f"{name}-L{level}.zck"
            info = zstd_chunked.convert(self.corpus(name).path, dest, level=level)
            self.blobs[(name, level)] = Blob(dest, info)
        return self.blobs[(name, level)]

    def keep_plain(self, name: str, level: int, path: Path) -> None:
        dest = self.work / f"{name}-L{level}.tar.zst"
        os.replace(path, dest)
        self.plain[(name, level)] = dest

    def plain_zst(self, name: str, level: int) -> Path:
        if (name, level) not in self.plain:
            dest = self.work / f"{name}-L{level}.tar.zst"
            run_cmd([ZSTD, "-q", "-f", "-T0", f"-{level}", str(self.corpus(name).path), "-o", str(dest)])
            self.plain[(name, level)] = dest
        return self.plain[(name, level)]


def record(benchmark: Any, group: str, op: str, corpus: corpora.Corpus, **info: Any) -> None:
    """Name the benchmark's group and store what the report needs."""
    benchmark.group = group
    benchmark.extra_info.update({"op": op, "corpus": corpus.name, "input_bytes": corpus.size, **info})
