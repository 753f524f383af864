#!/usr/bin/env bash
# CI smoke run of the fuzz targets: each target for FUZZ_SECONDS (default 10) seconds,
# two at a time (about 40 s in all). Exits non-zero on any crash, timeout or memory
# blow-up; the failing input is then kept in $FUZZ_WORK/<target>/ (see fuzz/README.md for
# turning it into a regression test). A temporary work directory is removed on success.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export JOBS=${JOBS:-2}
own_work=
if [ -z "${FUZZ_WORK:-}" ]; then
    FUZZ_WORK=$(mktemp -d "${TMPDIR:-/tmp}/zstd-chunked-fuzz-ci.XXXXXX")
    own_work=1
fi
export FUZZ_WORK
bash fuzz/run.sh "${FUZZ_SECONDS:-10}" footer framescan toc tarsplit open
rc=$?
if [ "$rc" -eq 0 ] && [ -n "$own_work" ]; then
    rm -rf "$FUZZ_WORK"
elif [ "$rc" -ne 0 ]; then
    echo "fuzz smoke run failed; inputs and logs are in $FUZZ_WORK" >&2
fi
exit "$rc"
