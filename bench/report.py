"""Turn a pytest-benchmark JSON file into the ratio table, and write bench/README.md.

    python bench/report.py RESULTS.json [--readme bench/README.md] [--duration SECONDS]

Every ratio compares two measurements of the same run on the same tar bytes.
Times are the best (minimum) round of each benchmark; throughput is tar bytes
per second (MB = 10^6 bytes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
MB = 1e6
MiB = 1 << 20


@dataclass
class Row:
    what: str
    target: str
    value: Optional[float]
    ok: Optional[bool]
    fmt: str = "{:.2f}"
    detail: str = ""
    #: The best ratio the floor allows (see :func:`floor_seconds`); None where there is none.
    ceiling: Optional[float] = None

    def shown(self) -> str:
        return "n/a" if self.value is None else self.fmt.format(self.value)

    def verdict(self) -> str:
        return "n/a" if self.ok is None else ("yes" if self.ok else "**NO**")


class Results:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.ctx: dict[str, Any] = data.get("zck", {})
        self.all_threads = int(self.ctx.get("all_threads", os.cpu_count() or 1))
        # interleaved rounds are separate benchmarks with the same key: merge them
        grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for b in data["benchmarks"]:
            x = b.get("extra_info", {})
            if "op" in x:
                grouped.setdefault((x["op"], x["corpus"], x.get("level"), x.get("threads")), []).append(b)
        self.by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
        for key, runs in grouped.items():
            samples = [t for b in runs for t in (b["stats"].get("data") or [b["stats"]["min"]])]
            self.by_key[key] = {
                "extra_info": runs[-1]["extra_info"],
                "stats": {"min": min(samples), "max": max(samples), "rounds": len(samples), "data": samples},
            }

    def get(self, op: str, corpus: str, level: Optional[int] = None, threads: Optional[int] = None) -> Optional[dict]:
        return self.by_key.get((op, corpus, level, threads))

    @staticmethod
    def seconds(b: Optional[dict]) -> Optional[float]:
        return None if b is None else float(b["stats"]["min"])

    def mbps(self, b: Optional[dict]) -> Optional[float]:
        s = self.seconds(b)
        return None if b is None or not s else b["extra_info"]["input_bytes"] / s / MB

    def speed_ratio(self, ours: Optional[dict], base: Optional[dict]) -> Optional[float]:
        a, b = self.seconds(ours), self.seconds(base)
        return None if a is None or b is None else b / a

    @staticmethod
    def size_ratio(ours: Optional[dict], base: Optional[dict]) -> Optional[float]:
        if ours is None or base is None:
            return None
        return ours["extra_info"]["output_bytes"] / base["extra_info"]["output_bytes"]


def decode_context(r: Any) -> str:
    """A paragraph (or "") putting the rebuild and verify rows next to `zstd -d` of the blob itself.

    Not a target: the targets compare with `zstd -d` of plain zstd output. A
    zstd:chunked blob is a valid zstd stream, but one of thousands of small frames,
    and the zstd CLI decodes it several times slower than a plain stream.
    """
    allt = r.all_threads
    rb, vf = r.get("rebuild", "realistic", 3, allt), r.get("verify", "realistic", 3, allt)
    plain, blob = r.get("zstd-cli-d-file", "realistic", 3, 1), r.get("zstd-cli-d-blob", "realistic", 3, 1)
    slower = r.speed_ratio(blob, plain)
    vs_rebuild, vs_verify = r.speed_ratio(rb, blob), r.speed_ratio(vf, blob)
    if slower is None or vs_rebuild is None or vs_verify is None:
        return ""
    frames = r.get("libzstd-frames-blob", "realistic", 3, 1)
    null = r.get("zstd-cli-d-null", "realistic", 3, 1)
    by_frame = r.speed_ratio(frames, null)
    frames_text = "" if by_frame is None else f"""
libzstd itself decodes the frames of that blob one by one (one thread, through python-zstandard,
output dropped) at {_f(r.mbps(frames))} MB/s, {by_frame:.2f} of `zstd -d -o /dev/null` on the plain
stream: the CLI's slowness on many frames is the CLI's, not the frames'."""
    return f"""For scale (not a target): `zstd -d` of our level-3 blob of the same tar (a valid zstd
stream of many small frames, like the reference's) runs at {_f(r.mbps(blob))} MB/s, {1 / slower:.1f} times
slower than on plain `zstd -3` output. Against that same blob, rebuild + DiffID is
{vs_rebuild:.2f} and verify {vs_verify:.2f} of `zstd -d`, while also checking every chunk and file
SHA-256, every CRC-64 and the DiffID that `zstd -d` does not.{frames_text}
"""


def floor_seconds(r: Results, op: str, level: int = 3) -> Optional[float]:
    """The floor of ``op`` on the realistic corpus: the work it cannot skip, on every core.

    The pieces (``test_bench_floor``, ``libzstd-frames-blob``) are each timed
    alone on one thread; a perfect implementation spreads their sum over the
    cores and adds nothing.  convert: compress the blob's frames, the SHA-256
    of every file, of the tar (DiffID) and of the blob; rebuild: decode the
    frames, the same file and tar digests, write the tar; verify: as rebuild
    without the write.
    """
    def t(name: str, lvl: int = 3) -> Optional[float]:
        return Results.seconds(r.get(name, "realistic", lvl, 1))

    files, tar = t("floor-sha-files"), t("floor-sha-tar")
    if files is None or tar is None:
        return None
    if op == "convert":
        compress, blob = t("floor-compress", level), r.get("convert", "realistic", level, r.all_threads)
        if compress is None or blob is None:
            return None
        ratio = blob["extra_info"]["output_bytes"] / blob["extra_info"]["input_bytes"]
        pieces = [compress, files, tar, tar * ratio]
    else:
        decode = t("libzstd-frames-blob")
        write = t("floor-write") if op == "rebuild" else 0.0
        if decode is None or write is None:
            return None
        pieces = [decode, files, tar, write]
    return sum(pieces) / r.all_threads


def _ceiling(r: Results, base: Optional[dict], op: str, level: int = 3) -> Optional[float]:
    floor = floor_seconds(r, op, level)
    b = Results.seconds(base)
    return None if floor is None or b is None else b / floor


def _check(value: Optional[float], ok: Any) -> Optional[bool]:
    return None if value is None else bool(ok(value))


def target_rows(r: Results) -> list[Row]:
    rows: list[Row] = []
    allt = r.all_threads
    for level in (1, 3, 10):
        ours, base = r.get("convert", "realistic", level, allt), r.get("zstd-cli", "realistic", level, allt)
        v = r.speed_ratio(ours, base)
        rows.append(
            Row(
                f"convert / `zstd -T0 -{level}` throughput, all {allt} cores",
                ">= 0.80",
                v,
                _check(v, lambda x: x >= 0.8),
                detail=f"{_f(r.mbps(ours))} vs {_f(r.mbps(base))} MB/s",
                ceiling=_ceiling(r, base, "convert", level),
            )
        )
    for level in (1, 3, 10):
        if allt < 2:
            rows.append(
                Row(f"convert 2 threads / 1 thread, level {level}", ">= 1.70", None, None, detail="one core only")
            )
            continue
        t1, t2 = r.get("convert", "realistic", level, 1), r.get("convert", "realistic", level, 2)
        v = r.speed_ratio(t2, t1)
        rows.append(
            Row(
                f"convert 2 threads / 1 thread, level {level}",
                ">= 1.70",
                v,
                _check(v, lambda x: x >= 1.7),
                detail=f"{_f(r.mbps(t2))} vs {_f(r.mbps(t1))} MB/s",
            )
        )
    for level in (1, 3, 10):
        ours, base = r.get("convert", "realistic", level, allt), r.get("zstd-cli", "realistic", level, allt)
        v = r.size_ratio(ours, base)
        rows.append(
            Row(
                f"blob size / `zstd -{level}` size",
                "<= 1.10",
                v,
                _check(v, lambda x: x <= 1.10),
                fmt="{:.3f}",
                detail=_sizes(ours, base),
            )
        )
    rb, zf = r.get("rebuild", "realistic", 3, allt), r.get("zstd-cli-d-file", "realistic", 3, 1)
    v = r.speed_ratio(rb, zf)
    rows.append(
        Row(
            "rebuild + DiffID / `zstd -d` (both write the tar)",
            ">= 0.80",
            v,
            _check(v, lambda x: x >= 0.8),
            detail=f"{_f(r.mbps(rb))} vs {_f(r.mbps(zf))} MB/s",
            ceiling=_ceiling(r, zf, "rebuild"),
        )
    )
    vf, zn = r.get("verify", "realistic", 3, allt), r.get("zstd-cli-d-null", "realistic", 3, 1)
    v = r.speed_ratio(vf, zn)
    rows.append(
        Row(
            "verify / `zstd -d -o /dev/null`",
            ">= 0.80",
            v,
            _check(v, lambda x: x >= 0.8),
            detail=f"{_f(r.mbps(vf))} vs {_f(r.mbps(zn))} MB/s",
            ceiling=_ceiling(r, zn, "verify"),
        )
    )
    small, big = r.get("rss-convert", "256m", 3, allt), r.get("rss-convert", "1g", 3, allt)
    v = None
    detail = ""
    if small and big:
        a, b = small["extra_info"]["peak_rss"], big["extra_info"]["peak_rss"]
        v = b / a
        detail = f"{b / MiB:.1f} vs {a / MiB:.1f} MiB"
    # three decimals: a 1 MiB difference is 0.01, and 1.004 must not print as a met 1.00
    rows.append(Row("peak RSS converting 1 GiB / 256 MiB", "<= 1.00", v, _check(v, lambda x: x <= 1.0),
                    detail=detail, fmt="{:.3f}"))
    pr = r.get("read-one-file", "1g", 3, allt)
    v = None
    detail = ""
    if pr:
        x = pr["extra_info"]
        v = 100.0 * x["bytes_read"] / x["blob_bytes"]
        detail = (
            f"{x['bytes_read'] / MiB:.2f} MiB of {x['blob_bytes'] / MiB:.0f} MiB "
            f"(opening: {x['open_bytes'] / MiB:.2f} MiB)"
        )
    rows.append(
        Row(
            "bytes read for one small file / 1 GiB blob",
            "< 1 %",
            v,
            _check(v, lambda x: x < 1.0),
            fmt="{:.2f} %",
            detail=detail,
        )
    )
    return rows


def corpus_rows(r: Results) -> list[list[str]]:
    """Level 3, all cores, per corpus: the same ratios (secondary)."""
    allt = r.all_threads
    out = []
    for name in ("realistic", "small_files", "large_files", "sparse", "incompressible"):
        conv = r.get("convert", name, 3, allt)
        z = r.get("zstd-cli", name, 3, allt)
        pz = r.get("python-zstandard", name, 3, allt)
        rb, vf = r.get("rebuild", name, 3, allt), r.get("verify", name, 3, allt)
        zf, zn = r.get("zstd-cli-d-file", name, 3, 1), r.get("zstd-cli-d-null", name, 3, 1)
        pzd = r.get("python-zstandard-d", name, 3, 1)
        if conv is None and rb is None:
            continue
        out.append(
            [
                name,
                _f(r.speed_ratio(conv, z)),
                _f(r.speed_ratio(conv, pz)),
                _f(r.size_ratio(conv, z), 3),
                _f(r.speed_ratio(rb, zf)),
                _f(r.speed_ratio(vf, zn)),
                _f(r.speed_ratio(rb, pzd)),
            ]
        )
    return out


def absolute_rows(r: Results) -> list[list[str]]:
    names = {
        "convert": "zstd_chunked.convert",
        "zstd-cli": "zstd CLI",
        "python-zstandard": "python-zstandard",
        "rebuild": "open + rebuild_tar(diff_id)",
        "verify": "open + verify(diff_id)",
        "zstd-cli-d-file": "zstd -d (to file)",
        "zstd-cli-d-null": "zstd -d (to /dev/null)",
        "zstd-cli-d-blob": "zstd -d of our blob (to file)",
        "libzstd-frames-blob": "libzstd, our blob frame by frame (no output)",
        "python-zstandard-d": "python-zstandard decompress",
        "floor-compress": "floor: compress the blob's frames (one thread)",
        "floor-sha-files": "floor: SHA-256 of every file (one thread)",
        "floor-sha-tar": "floor: SHA-256 of the tar (one thread)",
        "floor-write": "floor: write the tar to a file (one thread)",
    }
    rows = []
    for b in r.by_key.values():
        x = b["extra_info"]
        if x.get("op") not in names:
            continue
        threads = x.get("cli_threads") or x.get("threads")
        ratio = ""
        if "output_bytes" in x:
            ratio = f"{x['input_bytes'] / x['output_bytes']:.2f}"
        data = b["stats"].get("data") or [b["stats"]["min"]]
        spread = f"{max(data) / min(data):.2f}" if min(data) > 0 else ""
        rows.append(
            [
                x["corpus"],
                names[x["op"]],
                str(x.get("level", "")),
                str(threads),
                _f(r.mbps(b), 1),
                f"{r.seconds(b):.2f}",
                str(b["stats"]["rounds"]),
                spread,
                ratio,
            ]
        )
    order = list(names)
    corp = ["realistic", "small_files", "large_files", "sparse", "incompressible"]
    rows.sort(
        key=lambda row: (
            corp.index(row[0]) if row[0] in corp else 9,
            order.index(next(k for k, v in names.items() if v == row[1])),
            int(row[2] or 0),
            row[3],
        )
    )
    return rows


def memory_rows(r: Results) -> list[list[str]]:
    rows = []
    for op, label in (
        ("rss-import", "python -c 'import zstd_chunked'"),
        ("rss-convert", "zstd_chunked.convert"),
        ("rss-zstd-cli", "zstd -T0 -3"),
    ):
        for b in r.data["benchmarks"]:
            x = b.get("extra_info", {})
            if x.get("op") != op:
                continue
            corpus = "-" if op == "rss-import" else x["corpus"]
            meta = ""
            if op == "rss-convert":
                meta = (
                    f"TOC {x['toc_uncompressed'] / MiB:.1f} MiB ({x['toc_bytes'] / MiB:.1f} compressed), "
                    f"tar-split {x['tarsplit_uncompressed'] / MiB:.1f} MiB ({x['tarsplit_bytes'] / MiB:.1f}), "
                    f"{x['entries']} entries, {r.mbps(b):.1f} MB/s"
                )
            rows.append([label, corpus, f"{x['peak_rss'] / MiB:.0f}", meta])
    return rows


def _f(v: Optional[float], digits: int = 2) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


def _sizes(ours: Optional[dict], base: Optional[dict]) -> str:
    if ours is None or base is None:
        return ""
    return f"{ours['extra_info']['output_bytes'] / MiB:.1f} vs {base['extra_info']['output_bytes'] / MiB:.1f} MiB"


# --------------------------------------------------------------------------
# Output


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def target_table(rows: list[Row]) -> str:
    return table(
        ["ratio (same run, same tar)", "target", "measured", "met", "best possible", "absolute"],
        [[x.what, x.target, x.shown(), x.verdict(), "" if x.ceiling is None else f"{x.ceiling:.2f}", x.detail]
         for x in rows],
    )


def plain_table(rows: list[Row]) -> str:
    width = max(len(x.what) for x in rows)
    out = [f"{'ratio':{width}}  {'target':8}  {'measured':9}  met  {'best':5}"]
    for x in rows:
        best = "" if x.ceiling is None else f"{x.ceiling:.2f}"
        out.append(f"{x.what:{width}}  {x.target:8}  {x.shown():9}  {x.verdict().strip('*'):3}  {best:5}  {x.detail}")
    return "\n".join(out)


def machine(r: Results) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    except OSError:
        pass
    libzstd = r.ctx.get("libzstd")
    if not libzstd:
        try:
            from zstd_chunked import _native

            libzstd = _native.zstd_version()
        except Exception:  # noqa: BLE001 - report what we can
            libzstd = "unknown"
    zstd_cli = r.ctx.get("zstd_cli")
    if not zstd_cli:
        try:
            zstd_cli = subprocess.run(["zstd", "--version"], capture_output=True, text=True).stdout.strip()
        except OSError:
            zstd_cli = "not installed"
    return {
        "CPU": cpu,
        "cores (usable)": str(r.all_threads),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": r.ctx.get("python", platform.python_version()),
        "libzstd (zstd_chunked._native)": libzstd,
        "zstd CLI": zstd_cli,
        "python-zstandard": r.ctx.get("zstandard", "?"),
        "zstd-chunked": r.ctx.get("zstd_chunked", "?"),
    }


def readme(r: Results, rows: list[Row], duration: Optional[float]) -> str:
    m = machine(r)
    scale = r.ctx.get("scale", 1.0)
    when = r.data.get("datetime", dt.datetime.now(dt.timezone.utc).isoformat())
    load = r.ctx.get("loadavg_start"), r.ctx.get("loadavg_end")
    corpora_rows = [
        [name, f"{c['size'] / MiB:.1f}", str(c["entries"]), c["doc"]] for name, c in r.ctx.get("corpora", {}).items()
    ]
    run_time = f"{duration / 60:.1f} min in total" if duration else "n/a"
    if r.ctx.get("wall_seconds"):
        run_time += f" ({r.ctx['wall_seconds'] / 60:.1f} min of it in pytest)"
    met = sum(1 for x in rows if x.ok)
    known = sum(1 for x in rows if x.ok is not None)
    partial = r.get("read-one-file", "1g", 3, r.all_threads)
    ci = r.data.get("commit_info") or {}
    commit = ""
    if ci.get("id"):
        commit = f"commit `{ci['id'][:12]}`" + (" with uncommitted changes" if ci.get("dirty") else "") + ", "
    parts = [
        f"""# Benchmarks

Speed, size and memory of `zstd_chunked` against plain zstd, measured in one run on the
same tar bytes (GitHub issue 4). **This file is written by the benchmark command**; edit
`bench/report.py` to change it.

## Run

```sh
bash bench/run.sh
```

It installs what is missing (`pip install -e '.[bench]'` into `.venv`; the `zstd` CLI
through apt when run as root), builds the corpora into `bench/.corpora/` (cached; about
two minutes and 2.4 GB at scale 1 the first time),
runs `pytest bench/` with pytest-benchmark, writes the JSON to
`bench/results/`, prints the ratio table and rewrites this file.

- `ZCK_BENCH_SCALE=0.1 bash bench/run.sh`: every corpus at a tenth of its size (quick check;
  ratios are less meaningful at that size).
- `ZCK_BENCH_ROUNDS=1`: cap the rounds of every benchmark.
- Extra arguments go to pytest, e.g. `bash bench/run.sh -k realistic`.
- `python bench/report.py bench/results/latest.json` prints the table again.
- `python bench/profile_ops.py convert|rebuild|verify` profiles one operation (cProfile).

## Results

{commit}{when[:19].replace("T", " ")} UTC, scale {scale:g}, {run_time}. Targets met: {met} of {known}.

{target_table(rows)}

All rows but the last two use the `realistic` corpus; the last two use the 256 MiB / 1 GiB pair.
Convert and python-zstandard use all {r.all_threads} cores; `zstd -T0` picks all physical
cores. Rebuild and verify use the reader's default threads; `zstd -d` is single-threaded
(zstd decompression is). Each time is the best of its rounds.

"Best possible" is the ratio a perfect implementation would reach in this run: one that
does only the work the format requires, with no overhead and every core busy from start to
end (`bench/test_bench_floor.py`). It adds the one-thread times of that work and divides
by the {r.all_threads} cores. For convert, the work is compressing the tar into the frames the
format lays out (one per chunk and one per run of headers, as in the reference's blobs) and the
SHA-256 of every file, of the tar (the DiffID) and of the blob (its digest). For rebuild, it is
decoding those frames, the same file and tar digests, and writing the tar. For verify, the
same without the write. Chunk digests, CRC-64s, chunk boundaries and the input read are
left out, so the real floor is higher still. A target above its "best possible" cannot
be met on this machine by any implementation of the format. The size rows have no such
column. Their frames are fixed by the format too: one frame per file and per chunk, so no
match ever crosses a file boundary.
"""
    ]
    context = decode_context(r)
    if context:
        parts.append(context)
    if partial:
        x = partial["extra_info"]
        parts.append(f"""The small file read from the 1 GiB layer is `{x["file"]}` ({x["file_size"]} bytes):
opening the layer read {x["open_bytes"]:,} bytes (TOC {x["toc_bytes"]:,} and tar-split
{x["tarsplit_bytes"]:,} compressed bytes, plus frame headers), the file itself
{x["bytes_read"] - x["open_bytes"]:,} bytes, in {x["requests"]} range requests.
""")
    per_corpus = table(
        [
            "corpus",
            "convert / zstd -T0",
            "convert / python-zstandard",
            "size / zstd",
            "rebuild / zstd -d",
            "verify / zstd -d >/dev/null",
            "rebuild / python-zstandard -d",
        ],
        corpus_rows(r),
    )
    memory = table(["process", "tar", "peak RSS (MiB)", "notes"], memory_rows(r))
    absolute = table(
        ["corpus", "what", "level", "threads", "MB/s", "best s", "rounds", "slowest / best round", "ratio"],
        absolute_rows(r),
    )
    loads = f"{_load(load[0])} / {_load(load[1])}"
    machine_table = table(
        ["", ""], [[k, v] for k, v in m.items()] + [["load average (1, 5, 15 min), start / end", loads]]
    )
    corpora_table = table(["corpus", "MiB", "entries", "content"], corpora_rows)
    parts.append(f"""### Per corpus (level 3, all cores)

Speed ratios are our throughput over the baseline's; size is our blob over `zstd -3`'s output.

{per_corpus}

### Peak memory

{memory}

`entries100k` and `entries400k` (100k and 400k empty files; for scale, not a target) show
the writer's memory against the number of entries: the TOC, the tar-split and the keys of
the duplicate-path check wait in temporary files, so it stays flat.

### Absolute throughput (secondary)

MB/s of tar bytes (10^6 bytes per second); ratio is tar size / output size. A large
"slowest / best round" means the machine was busy during that benchmark.

{absolute}

## Machine

{machine_table}

The machine may be shared: a high load average means other processes competed for the
cores. That lowers every throughput and adds noise; the ratios compare runs made minutes
apart, so rerun on an idle machine before drawing fine conclusions.

## Corpora

Built by `bench/corpora.py` at scale {scale:g} (`ZCK_BENCH_SCALE` multiplies every size,
the 256 MiB / 1 GiB pair included). Synthetic corpora come from fixed seeds. `realistic`
keeps each file of /usr/bin, /usr/lib/python3*, /usr/lib/x86_64-linux-gnu and /usr/share
by a hash of its path (the keep rate set to reach the size), so any scale has the mix of
the whole; `256m` and `1g` repeat that sample under `copyNN/`. Entries are in sorted order
with owner root and a fixed mtime, so each tar is the same on every build on one machine.

{corpora_table}

## Method

- Every contender reads the same tar from the page cache and writes its output to a file in
  the same directory (`bench/results/work-*`, removed afterwards); outputs are deleted
  between rounds, outside the timed region. `zstd` runs as a subprocess (its start-up time,
  a few milliseconds, is included).
- Compression baselines: `zstd -q -f -T0 -<level> IN -o OUT` (and `-T1` at level 3 for
  reference), and `zstandard.ZstdCompressor(level, threads=-1).copy_stream` with 1 MiB reads.
- Decompression baselines decompress the plain `zstd -T0 -3` output of the same tar:
  `zstd -d` to a file and to /dev/null, and `zstandard.ZstdDecompressor().copy_stream`.
  `zstd -d` of our own blob is shown too: that is what a client without zstd:chunked
  support does.
- Our rebuild and verify include opening the layer (reading and checking TOC and tar-split).
- Peak RSS: each conversion (level 3, all cores) runs in a fresh child process started by a
  small launcher, which reads the child's `ru_maxrss` from `os.wait4`. (Started straight from
  pytest, a child's `ru_maxrss` would begin at pytest's own RSS.)
- Partial read: `zstd_chunked.open(CountingSource(FileSource(blob)), annotations=...,
  lazy_tarsplit=True)` then `layer.read(path)` for a 1-16 KiB file from the middle of the
  1 GiB layer; the count includes everything opening the layer reads (the TOC: the
  tar-split is only fetched and checked when a rebuild or verify needs it).
- Rounds are interleaved: the contenders of one comparison run back to back, and that
  sequence is repeated `ZCK_BENCH_ROUNDS` times (default 3), each contender timing two rounds
  at every turn (the same number for all: more rounds would mean more chances at a quiet
  moment), so load that comes and goes on a shared machine hits both sides of a ratio. The
  best round counts; the JSON keeps every round.
""")
    return "\n".join(parts)


def _load(v: Any) -> str:
    return "?" if not v else ", ".join(f"{x:.2f}" for x in v)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json", type=Path, help="pytest-benchmark JSON (--benchmark-json)")
    ap.add_argument("--readme", type=Path, help="write the Markdown report here (e.g. bench/README.md)")
    ap.add_argument("--duration", type=float, help="wall time of the whole run, in seconds")
    args = ap.parse_args(argv)
    r = Results(json.loads(args.json.read_text()))
    rows = target_rows(r)
    print(
        f"zstd-chunked benchmarks, scale {r.ctx.get('scale', '?')}, {r.all_threads} cores "
        f"(best of each benchmark's rounds)\n"
    )
    print(plain_table(rows))
    print()
    print(
        "per corpus, level 3: convert/zstd  convert/pyzstd  size/zstd  rebuild/zstd-d  verify/zstd-d  rebuild/pyzstd-d"
    )
    for row in corpus_rows(r):
        print("  " + "  ".join(f"{c:>14}" for c in row))
    context = decode_context(r)
    if context:
        print("\n" + context.rstrip())
    if args.readme:
        args.readme.write_text(readme(r, rows, args.duration))
        print(f"\nwrote {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
