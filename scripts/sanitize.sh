#!/usr/bin/env bash
# Build the C extension with AddressSanitizer + UndefinedBehaviorSanitizer
# (ZSTD_CHUNKED_SANITIZE=1, read by csrc/build_ffi.py) into a separate virtualenv,
# .venv-asan, and run the native and malformed-input tests against it.
#
# The normal build (.venv, the editable install, src/zstd_chunked/*.so, build/) is not
# touched: the package is built from a temporary copy of the source tree and installed
# (not editable) into .venv-asan; pytest runs from the repository root, where
# `zstd_chunked` is not importable except through that install.
#
# Usage: bash scripts/sanitize.sh [extra pytest args...]
#
# Environment:
#   PYTHON        interpreter used to create the virtualenv (default: python3)
#   ASAN_VENV     virtualenv directory (default: .venv-asan)
#   CC            compiler (default: gcc; its libasan is LD_PRELOADed into python)
#   SANITIZE_TESTS   space-separated test paths, replacing the default selection
#                    (tests/native, tests/test_malformed*.py, test_verify_paths.py,
#                    test_writer_streaming.py, test_tarsplit.py and test_toc_parse.py, whichever exist)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
ASAN_VENV=${ASAN_VENV:-.venv-asan}
export CC=${CC:-gcc}

log() { printf '==> sanitize: %s\n' "$*"; }
die() { printf 'sanitize: error: %s\n' "$*" >&2; exit 1; }

[ "$(uname -s)" = Linux ] || die "this script supports Linux (gcc/clang with a shared libasan) only"
[ -f csrc/build_ffi.py ] || die "csrc/build_ffi.py not found"

libasan=$("$CC" -print-file-name=libasan.so)
[ -e "$libasan" ] || die "$CC has no shared libasan ($libasan); install the compiler's sanitizer runtime"
libasan=$(readlink -f "$libasan")

# --- test selection (missing files are fine; nothing to run is reported, not failed) ---
tests=()
if [ -n "${SANITIZE_TESTS:-}" ]; then
    read -r -a tests <<<"$SANITIZE_TESTS"
else
    if compgen -G 'tests/native/test_*.py' >/dev/null || compgen -G 'tests/native/*_test.py' >/dev/null; then
        tests+=(tests/native)
    fi
    # malformed input, plus the paths that drive the decode/check jobs, the
    # streamed-payload hashing (verify's single pass, large payloads), the C
    # tar-split encoder and scanner over real tars and the C TOC scanner
    for f in tests/test_malformed*.py tests/test_verify_paths.py tests/test_writer_streaming.py \
        tests/test_tarsplit.py tests/test_toc_parse.py; do
        [ -e "$f" ] && tests+=("$f")
    done
fi

# --- build into the separate virtualenv -----------------------------------------------
if [ ! -x "$ASAN_VENV/bin/python" ]; then
    log "creating $ASAN_VENV"
    "$PYTHON" -m venv "$ASAN_VENV"
fi
pip=("$ASAN_VENV/bin/python" -m pip -q --disable-pip-version-check)
"${pip[@]}" install --upgrade pip setuptools wheel

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zstd-chunked-asan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# A clean copy of the sources: no build/, no in-place extension, no virtualenvs, no vectors.
tar -c -f - \
    --exclude=./.git --exclude='./.venv*' --exclude=./build --exclude=./dist \
    --exclude=./wheelhouse --exclude=./quickstart-out --exclude=./tests --exclude=./bench \
    --exclude='*.so' --exclude='*.o' --exclude='*.egg-info' --exclude=__pycache__ \
    --exclude=./src/zstd_chunked/_zck.c \
    . | tar -x -f - -C "$tmp"

log "building with ZSTD_CHUNKED_SANITIZE=1 into $ASAN_VENV (CC=$CC)"
"${pip[@]}" uninstall -y zstd-chunked >/dev/null 2>&1 || true
ZSTD_CHUNKED_SANITIZE=1 "${pip[@]}" install --no-cache-dir "${tmp}[test]"

platlib=$("$ASAN_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
shopt -s nullglob
exts=("$platlib"/zstd_chunked/*.so)
shopt -u nullglob
[ "${#exts[@]}" -gt 0 ] || die "no compiled extension found in $platlib/zstd_chunked"
for so in "${exts[@]}"; do
    nm -D --undefined-only "$so" | grep -q '__asan_' ||
        die "$so is not built with ASan: does csrc/build_ffi.py honour ZSTD_CHUNKED_SANITIZE=1?"
    nm -D --undefined-only "$so" | grep -q '__ubsan_' ||
        die "$so is not built with UBSan: does csrc/build_ffi.py honour ZSTD_CHUNKED_SANITIZE=1?"
done
log "sanitized extension: ${exts[*]}"

# --- run ---------------------------------------------------------------------------------
# detect_leaks=0: CPython and cffi keep allocations alive until exit by design.
# allocator_may_return_null=1: huge-allocation tests see NULL (-> MemoryError/NOMEM), as
# without ASan, instead of an ASan abort.
# PYTHONMALLOC=malloc: Python objects come from the ASan allocator, so overruns into
# bytes/bytearray buffers passed to C are caught.
export LD_PRELOAD="$libasan${LD_PRELOAD:+ $LD_PRELOAD}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:abort_on_error=1:allocator_may_return_null=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"
export PYTHONMALLOC=malloc
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}

# Import every compiled module of the package under ASan, from the sanitized install.
where=$("$ASAN_VENV/bin/python" - "${exts[@]}" <<'PY'
import importlib, os, sys
import zstd_chunked
for so in sys.argv[1:]:
    importlib.import_module("zstd_chunked." + os.path.basename(so).split(".")[0])
print(os.path.realpath(zstd_chunked.__file__))
PY
)
case "$where" in
    "$(realpath "$ASAN_VENV")"/*) ;;
    *) die "zstd_chunked was imported from $where, not from $ASAN_VENV" ;;
esac
log "import under ASan OK ($where)"

if [ "${#tests[@]}" -eq 0 ]; then
    log "no native or malformed-input tests exist yet (tests/native/test_*.py, tests/test_malformed*.py); import check only"
    exit 0
fi

# The standalone C test (csrc/test_zck.c: differential CRC-64 paths, path set, pool,
# decoder) under the same sanitizers, built outside the source tree.
if command -v make >/dev/null 2>&1; then
    log "csrc/test_zck under ASan+UBSan"
    # not under the LD_PRELOADed libasan exported above: only the test binary is sanitized
    env -u LD_PRELOAD make -s -C csrc sanitize-test OUT="$tmp/ctest" CC="$CC"
elif [ -n "${CI:-}" ]; then
    die "make is missing: the C test cannot run (.ci/run installs it)"
else
    log "make not found: csrc/test_zck skipped (the pytest run below still covers the C core)"
fi

log "pytest ${tests[*]} under ASan+UBSan"
rc=0
"$ASAN_VENV/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "sanitize: error: pytest collected no tests from ${tests[*]}" >&2
fi
exit "$rc"
