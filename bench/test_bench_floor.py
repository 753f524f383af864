"""The floor: the work no implementation of the format can skip, timed piece by piece.

A target of issue 4 can only be met if the work it cannot avoid fits in the
time it allows.  These benchmarks time that work on the ``realistic`` corpus,
each piece alone on one thread and with no Python per entry in the way:

* ``floor-compress`` (per level): compress the tar into the frames our blob
  has (one frame per chunk, one per run of headers: the reference's layout,
  which the TOC's offsets pin down), each with the same libzstd call and
  parameters as the writer's pool;
* ``floor-sha-files``: the SHA-256 of every regular file (the TOC's file
  digests; a file of one chunk needs no other);
* ``floor-sha-tar``: the SHA-256 of the whole tar (the DiffID); the blob's own
  digest costs the same per byte, so the report scales it by the blob's size;
* ``floor-write``: writing the tar to a file (what rebuild and ``zstd -d`` both do).

Decoding the frames is the ``libzstd-frames-blob`` row of ``test_bench_read``.
The report adds the pieces an operation needs and divides by the cores: the
time of a perfect implementation with every core busy from start to end.  Left
out, so the floor is lower than the truth: the chunk digests of files of
several chunks, the CRC-64 of every file, finding the chunk boundaries,
reading the input, and the TOC and tar-split themselves.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path
from typing import Any, Callable

import corpora
import pytest
import zstandard
from benchlib import LEVELS, Outputs, record, rounds

from zstd_chunked._native import compress_frame, scan_frames

CORPUS = "realistic"
OPS = tuple(("floor-compress", level) for level in LEVELS) + (
    ("floor-sha-files", 3), ("floor-sha-tar", 3), ("floor-write", 3))


def _frame_ranges(blob: Path) -> list[tuple[int, int]]:
    """The tar range ``(start, end)`` each zstd frame of ``blob`` holds, in order."""
    data = blob.read_bytes()
    view = memoryview(data)
    dctx = zstandard.ZstdDecompressor()
    ranges = []
    at = 0
    for f in scan_frames(data):
        if f.skippable:
            continue
        size = len(dctx.decompressobj().decompress(view[f.offset:f.end]))
        ranges.append((at, at + size))
        at += size
    return ranges


def _file_ranges(tar: Path) -> list[tuple[int, int]]:
    with tarfile.open(tar) as t:
        return [(m.offset_data, m.offset_data + m.size) for m in t if m.isreg() and m.size]


@pytest.mark.parametrize("op,level", OPS, ids=[f"{op}-L{level}" for op, level in OPS])
def test_floor(benchmark: Any, corpus: Callable[[str], corpora.Corpus], outputs: Outputs, work: Path,
               op: str, level: int) -> None:
    c = corpus(CORPUS)
    data = c.path.read_bytes()
    view = memoryview(data)
    extra: dict[str, Any] = {}
    if op == "floor-compress":
        ranges = _frame_ranges(outputs.blob(CORPUS, 3).path)
        assert ranges[-1][1] == len(data)
        extra["frames"] = len(ranges)

        def run() -> None:
            for start, end in ranges:
                compress_frame(view[start:end], level)
    elif op == "floor-sha-files":
        files = _file_ranges(c.path)
        extra["files"] = len(files)

        def run() -> None:
            for start, end in files:
                hashlib.sha256(view[start:end]).digest()
    elif op == "floor-sha-tar":
        def run() -> None:
            hashlib.sha256(view).digest()
    else:
        out = work / "floor-write.tar"

        def run() -> None:
            with open(out, "wb", buffering=0) as f:
                for start in range(0, len(data), 1 << 20):
                    f.write(view[start:start + (1 << 20)])

    benchmark.pedantic(run, rounds=rounds(3), iterations=1, warmup_rounds=0)
    record(benchmark, f"floor {CORPUS}", op, c, level=level, threads=1, **extra)
