#!/usr/bin/env bash
# The benchmark command: set up, build the corpora, run pytest-benchmark, report.
#
#   bash bench/run.sh [pytest args...]
#
# Environment: ZCK_BENCH_SCALE (corpus size factor, default 1), ZCK_BENCH_ROUNDS (cap on
# rounds), ZCK_BENCH_CORPORA (corpus cache, default bench/.corpora), ZCK_BENCH_KEEP=1
# (keep bench/results/work-*). Writes bench/results/bench-<time>.json (and latest.json)
# and rewrites bench/README.md, unless extra pytest arguments select a subset
# (then the README is left alone; set ZCK_BENCH_README=1 to write it anyway).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=.venv/bin/python
start=$(date +%s)

if [ ! -x "$PY" ]; then
    python3 -m venv .venv
fi
if ! "$PY" -c "import zstd_chunked._zck, zstandard, pytest_benchmark" 2>/dev/null; then
    "$PY" -m pip install -q -e '.[bench]'
fi
if ! command -v zstd >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q zstd
    else
        echo "bench/run.sh: the zstd CLI is needed (apt-get install zstd, brew install zstd)" >&2
        exit 2
    fi
fi

mkdir -p bench/results
"$PY" bench/corpora.py

stamp=$(date -u +%Y%m%dT%H%M%SZ)
json="bench/results/bench-$stamp.json"
"$PY" -m pytest bench -p no:cacheprovider -q \
    --benchmark-json="$json" --benchmark-sort=name \
    --benchmark-columns=min,median,max,rounds "$@"
cp "$json" bench/results/latest.json

end=$(date +%s)
readme=()
if [ $# -eq 0 ] || [ "${ZCK_BENCH_README:-}" = 1 ]; then
    readme=(--readme bench/README.md)
fi
"$PY" bench/report.py "$json" --duration $((end - start)) "${readme[@]}"
