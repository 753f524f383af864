"""Profile convert, rebuild or verify on a corpus with cProfile; print the top functions.

    python bench/profile_ops.py convert|rebuild|verify [--corpus realistic] [--level 3] [--threads N] [--top 25]

cProfile sees the main thread only: time spent waiting for the native worker
pool shows up in the pool's wait call. For a sampling view that includes native
frames, run py-spy on the same command:

    py-spy record --native -o convert.svg -- .venv/bin/python bench/profile_ops.py convert --no-profile
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402

import zstd_chunked  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("op", choices=["convert", "rebuild", "verify"])
    ap.add_argument("--corpus", default="realistic", choices=list(corpora.SPECS))
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="default: all cores")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    ap.add_argument("--no-profile", action="store_true", help="just run (for an external profiler)")
    args = ap.parse_args(argv)

    c = corpora.build(args.corpus)
    cache = Path(__file__).resolve().parent / "results" / "profile"
    cache.mkdir(parents=True, exist_ok=True)
    blob = cache / f"{c.name}-L{args.level}.zck"
    meta = blob.with_suffix(".json")
    info = None
    if args.op != "convert":
        # made once and reused, so a profiler attached to this process sees only the operation
        if not (blob.exists() and meta.exists()):
            made = zstd_chunked.convert(c.path, blob, level=args.level, threads=args.threads)
            meta.write_text(json.dumps({"annotations": made.annotations, "diff_id": made.diff_id}))
        info = json.loads(meta.read_text())
    with tempfile.TemporaryDirectory(dir=cache) as tmp:

        def run() -> None:
            if args.op == "convert":
                zstd_chunked.convert(c.path, Path(tmp) / "layer.zck", level=args.level, threads=args.threads)
                return
            assert info is not None
            with zstd_chunked.open(blob, annotations=info["annotations"], threads=args.threads) as layer:
                if args.op == "rebuild":
                    layer.rebuild_tar(Path(tmp) / "out.tar", diff_id=info["diff_id"])
                else:
                    layer.verify(info["diff_id"])

        prof = cProfile.Profile()
        t0 = time.perf_counter()
        if args.no_profile:
            run()
        else:
            prof.runcall(run)
        wall = time.perf_counter() - t0
    print(
        f"{args.op} {c.name} ({c.size / 1e6:.0f} MB) level {args.level}: {wall:.2f} s, "
        f"{c.size / wall / 1e6:.1f} MB/s{' under cProfile' if not args.no_profile else ''}"
    )
    if args.no_profile:
        return 0
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(
        stats.stats.items(),
        key=lambda kv: kv[1][2 if args.sort == "tottime" else 3],  # type: ignore[attr-defined]
        reverse=True,
    )
    print(f"{'own %':>6} {'cum %':>6} {'calls':>9}  function")
    for (filename, line, name), (_cc, ncalls, tt, ct, _callers) in rows[: args.top]:
        where = name if filename == "~" else f"{Path(filename).name}:{line} {name}"
        print(f"{100 * tt / total:6.1f} {100 * ct / total:6.1f} {ncalls:9d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
