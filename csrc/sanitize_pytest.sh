#!/bin/sh
# Run pytest against an ASan/UBSan build of the extension, without touching
# the regular in-place build.  Usage (from the repository root):
#
#     sh csrc/sanitize_pytest.sh [pytest args...]      (default: tests/native)
#
# Environment: PYTHON (default .venv/bin/python), ZCK_SAN_DIR (default
# a fresh temporary directory, removed at exit).
#
# How it works: the extension is built with ZSTD_CHUNKED_SANITIZE=1 into
# $ZCK_SAN_DIR; an overlay package there holds that .so plus symlinks to the
# package's .py files and comes first on PYTHONPATH.  CPython itself is not
# instrumented, so the ASan runtime has to be preloaded, leak detection is off
# (the interpreter "leaks" by design at exit), and PYTHONMALLOC=malloc sends
# Python's own allocations through ASan so overruns into Python buffers
# (bytes, bytearray) are caught too.
set -eu

PYTHON=${PYTHON:-.venv/bin/python}
CC=${CC:-cc}
if [ -z "${ZCK_SAN_DIR:-}" ]; then
    ZCK_SAN_DIR=$(mktemp -d)
    trap 'rm -rf "$ZCK_SAN_DIR"' EXIT
fi

ZSTD_CHUNKED_SANITIZE=1 "$PYTHON" setup.py -q build_ext \
    --build-lib "$ZCK_SAN_DIR/lib" --build-temp "$ZCK_SAN_DIR/tmp" --force >/dev/null

pkg="$ZCK_SAN_DIR/pkg/zstd_chunked"
mkdir -p "$pkg"
for f in src/zstd_chunked/*.py src/zstd_chunked/py.typed; do
    ln -sf "$PWD/$f" "$pkg/"
done
cp "$ZCK_SAN_DIR"/lib/zstd_chunked/_zck*.so "$pkg/"

ASAN_LIB=$("$CC" -print-file-name=libasan.so)
[ "$#" -gt 0 ] || set -- tests/native

export LD_PRELOAD="$ASAN_LIB" PYTHONMALLOC=malloc PYTHONPATH="$ZCK_SAN_DIR/pkg"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Make sure the instrumented module is the one that gets imported.
"$PYTHON" -c "import zstd_chunked._zck as m, sys; f = m.__file__; print('sanitized build:', f); \
sys.exit(0 if f.startswith('$ZCK_SAN_DIR') else 1)"
"$PYTHON" -m pytest -p no:cacheprovider "$@"
