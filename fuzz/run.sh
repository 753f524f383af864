#!/usr/bin/env bash
# Run the atheris fuzz targets, each for SECONDS seconds, JOBS at a time.
#
# Usage: fuzz/run.sh SECONDS [TARGET...]        (targets: footer framescan toc tarsplit open; default all)
#
# Environment:
#   PYTHON      interpreter with atheris and zstd-chunked installed (default: .venv/bin/python)
#   JOBS        targets run in parallel (default: number of CPUs)
#   FUZZ_WORK   work directory: <target>/corpus (grows across runs), <target>/log,
#               crash-*/timeout-*/oom-* artifacts (default: ${TMPDIR:-/tmp}/zstd-chunked-fuzz)
#   FUZZ_ARGS   extra libFuzzer options, e.g. "-rss_limit_mb=4096"
#
# Seeds come from fuzz/seeds.py and tests/fuzz_corpus/<target>/ (saved findings,
# replayed by tests/test_fuzz_regressions.py). Exits 1 if any target found a
# crash, a timeout or a memory blow-up; prints the executions of each target.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 SECONDS [footer|framescan|toc|tarsplit|open ...]" >&2
    exit 2
fi
SECONDS_PER_TARGET=$1
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(footer framescan toc tarsplit open)
PYTHON=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
WORK=${FUZZ_WORK:-${TMPDIR:-/tmp}/zstd-chunked-fuzz}

if ! "$PYTHON" -c 'import atheris' 2>/dev/null; then
    echo "atheris is not installed for $PYTHON (pip install atheris)" >&2
    exit 2
fi
mkdir -p "$WORK/seeds"
"$PYTHON" fuzz/seeds.py "$WORK/seeds" >/dev/null || exit 2

run_one() {
    local t=$1 dir="$WORK/$1"
    mkdir -p "$dir/corpus" "$WORK/seeds/$t" "tests/fuzz_corpus/$t"
    # libFuzzer: first directory = the corpus it adds to; the others are read-only seeds.
    # shellcheck disable=SC2086  # FUZZ_ARGS is a list of options
    "$PYTHON" "fuzz/fuzz_$t.py" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 -rss_limit_mb=2048 \
        -artifact_prefix="$dir/" -print_final_stats=1 ${FUZZ_ARGS:-} \
        "$dir/corpus" "$WORK/seeds/$t" "tests/fuzz_corpus/$t" >"$dir/log" 2>&1
    echo $? >"$dir/rc"
}

for t in "${TARGETS[@]}"; do
    [ -f "fuzz/fuzz_$t.py" ] || { echo "no target fuzz/fuzz_$t.py" >&2; exit 2; }
    rm -f "$WORK/$t/rc"
    run_one "$t" &
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.2; done
done
wait

status=0
for t in "${TARGETS[@]}"; do
    rc=$(cat "$WORK/$t/rc" 2>/dev/null || echo 99)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$t/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$WORK/$t/log" | tail -1)
    corpus=$(find "$WORK/$t/corpus" -type f | wc -l)
    if [ "$rc" = 0 ]; then
        printf '%-10s ok     %10s execs  %-10s corpus %s\n' "$t" "${runs:-?}" "${cov:-}" "$corpus"
    else
        status=1
        printf '%-10s FAILED (exit %s) %s execs; see %s\n' "$t" "$rc" "${runs:-?}" "$WORK/$t/log"
        grep -E '^(==[0-9]+== ERROR|=== Uncaught|Traceback|[A-Za-z.]*(Error|Exception)\b)' "$WORK/$t/log" | head -5
        ls "$WORK/$t"/crash-* "$WORK/$t"/timeout-* "$WORK/$t"/oom-* 2>/dev/null | head -3
    fi
done
exit $status
