"""Reading back: rebuild (with DiffID check) and verify, against plain zstd decompression.

All at level 3. ``rebuild`` writes the tar to a file, so it is compared with
``zstd -d`` writing a file; ``verify`` writes nothing, so it is compared with
``zstd -d`` writing to /dev/null. Both of ours include opening the layer
(reading and authenticating the TOC and tar-split). For scale, libzstd also
decodes our blob's frames one by one in one thread, without the zstd CLI's
per-frame costs. Throughput is tar bytes per second in every row. As in ``test_bench_convert``, the contenders for one
corpus run back to back and the sequence is repeated ``ZCK_BENCH_ROUNDS`` times.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any, Callable

import corpora
import pytest
import zstandard
from benchlib import ALL_CORPORA, ALL_THREADS, ZSTD, Outputs, interleaved_rounds, record, run_cmd, time_turn

import zstd_chunked
from zstd_chunked._native import scan_frames

LEVEL = 3
OPS = ("rebuild", "verify", "zstd-cli-d-file", "zstd-cli-d-null", "zstd-cli-d-blob", "libzstd-frames-blob",
       "python-zstandard-d")


def _cases() -> list[Any]:
    return [
        pytest.param(name, op, id=f"{name}-{op}-r{r}")
        for r in range(interleaved_rounds())
        for name in ALL_CORPORA
        for op in OPS
    ]


@pytest.mark.parametrize("name,op", _cases())
def test_decompress(
    benchmark: Any,
    corpus: Callable[[str], corpora.Corpus],
    outputs: Outputs,
    work: Path,
    name: str,
    op: str,
) -> None:
    c = corpus(name)
    group = f"decompress {name}"
    out = work / f"{op}-{name}.tar"
    if op in ("rebuild", "verify"):
        blob = outputs.blob(name, LEVEL)
        result: dict[str, Any] = {}

        def run() -> None:
            with zstd_chunked.open(blob.path, annotations=blob.info.annotations) as layer:
                if op == "rebuild":
                    result["diff_id"] = layer.rebuild_tar(out, diff_id=blob.info.diff_id)
                else:
                    result["diff_id"] = layer.verify(blob.info.diff_id)["diffID"]

        time_turn(benchmark, run, out)
        assert result["diff_id"] == blob.info.diff_id
        if op == "rebuild":
            assert out.stat().st_size == c.size
        record(benchmark, group, op, c, level=LEVEL, threads=ALL_THREADS, compressed_bytes=blob.info.size)
    elif op.startswith("zstd-cli-d"):
        # the plain ``zstd -T0 -3`` output of the same tar; for -blob, our blob
        src = outputs.blob(name, LEVEL).path if op == "zstd-cli-d-blob" else outputs.plain_zst(name, LEVEL)
        dest = "/dev/null" if op == "zstd-cli-d-null" else str(out)
        argv = [ZSTD, "-d", "-q", "-f", str(src), "-o", dest]
        time_turn(benchmark, lambda: run_cmd(argv), out)
        if dest != "/dev/null":
            assert out.stat().st_size == c.size
        record(benchmark, group, op, c, level=LEVEL, threads=1, compressed_bytes=src.stat().st_size)
    elif op == "libzstd-frames-blob":
        # our blob's zstd frames decoded one by one by libzstd (one thread, output dropped):
        # what the frames cost to decode, without the zstd CLI's per-frame overhead
        blob = outputs.blob(name, LEVEL)
        data = blob.path.read_bytes()
        frames = [(f.offset, f.end) for f in scan_frames(data) if not f.skippable]
        view = memoryview(data)
        decoded = [0]

        def run() -> None:
            dctx = zstandard.ZstdDecompressor()
            total = 0
            for start, end in frames:
                total += len(dctx.decompress(view[start:end]))
            decoded[0] = total

        time_turn(benchmark, run, out)
        assert decoded[0] == c.size
        record(benchmark, group, op, c, level=LEVEL, threads=1, compressed_bytes=blob.info.size)
    else:
        src = outputs.plain_zst(name, LEVEL)

        def run() -> None:
            dctx = zstandard.ZstdDecompressor()
            with open(src, "rb") as fin, open(out, "wb") as fout:
                dctx.copy_stream(fin, fout, read_size=1 << 20, write_size=1 << 20)

        time_turn(benchmark, run, out)
        assert out.stat().st_size == c.size
        record(benchmark, group, op, c, level=LEVEL, threads=1, compressed_bytes=src.stat().st_size)
    out.unlink(missing_ok=True)


def test_zstd_cli_reads_blob(outputs: Outputs) -> None:
    """Sanity (not timed): plain ``zstd -d`` of our blob gives back the tar's DiffID."""
    blob = outputs.blob("realistic", LEVEL)
    proc = subprocess.Popen([ZSTD, "-d", "-q", "-c", str(blob.path)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    sha = hashlib.sha256()
    while piece := proc.stdout.read(1 << 20):
        sha.update(piece)
    assert proc.wait() == 0
    assert "sha256:" + sha.hexdigest() == blob.info.diff_id
