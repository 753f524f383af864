#!/usr/bin/env bash
# Set up and run the test suite: system packages (Debian/Ubuntu, only when missing and
# running as root), the .venv virtualenv, an editable install with the [test] extra,
# pytest over tests/, lint (ruff, mypy --strict), a fuzz smoke run, then the ASan/UBSan
# run (scripts/sanitize.sh).
#
# Usage: bash scripts/run-tests.sh [extra pytest args...]
#
# Environment:
#   PYTHON                   interpreter used to create .venv (default: python3)
#   VENV                     virtualenv directory (default: .venv)
#   ZSTD_CHUNKED_SKIP_SANITIZE=1   skip the sanitizer step
#   ZSTD_CHUNKED_SKIP_LINT=1       skip the lint step
#   HYPOTHESIS_PROFILE       default | ci | expensive (see tests/conftest.py)
#   ZSTD_CHUNKED_SHARED_VECTORS, ZSTD_CHUNKED_REQUIRE_SHARED_VECTORS   see tests/vectors/README.md
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

log() { printf '==> %s\n' "$*"; }

# --- system packages ---------------------------------------------------------
# Linux only. Each check maps to the Debian package that fixes it; nothing is installed
# when all pass.
missing_packages() {
    local cc=${CC:-cc} pkgs=()
    command -v "$cc" >/dev/null 2>&1 || pkgs+=(gcc)
    [ -e /usr/include/stdio.h ] || pkgs+=(libc6-dev)
    if command -v "$cc" >/dev/null 2>&1 && [ -e /usr/include/stdio.h ]; then
        # shellcheck disable=SC2086  # word splitting of *FLAGS is intended
        printf '#include <zstd.h>\nint main(void) { return ZSTD_versionNumber() == 0; }\n' |
            "$cc" ${CPPFLAGS:-} ${CFLAGS:-} -x c - -o /dev/null ${LDFLAGS:-} -lzstd >/dev/null 2>&1 ||
            pkgs+=(libzstd-dev)
    else
        pkgs+=(libzstd-dev)
    fi
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        pkgs+=(python3 python3-venv python3-dev)
    else
        "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || pkgs+=(python3-venv)
        "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
            pkgs+=(python3-dev)
    fi
    printf '%s\n' "${pkgs[@]}" | sort -u | tr '\n' ' '
}

missing=
if [ "$(uname -s)" = Linux ]; then
    missing=$(missing_packages)
fi
if [ -n "${missing// /}" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing system packages: $missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "missing system packages: $missing" >&2
        echo "install them (Debian/Ubuntu: sudo apt-get install --no-install-recommends $missing;" \
            "macOS: brew install zstd) and run this script again" >&2
        exit 1
    fi
fi

# --- virtualenv and editable install -------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $("$PYTHON" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
    "$PYTHON" -m venv "$VENV"
fi
log "installing zstd-chunked (editable, [test] extra) into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'

# --- test suite ---------------------------------------------------------------------
log "pytest tests/ (HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-default})"
rc=0
"$VENV/bin/python" -m pytest -q tests "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
fi
if [ "$rc" -ne 0 ]; then
    exit "$rc"
fi

# --- lint -------------------------------------------------------------------------------
# The README's lint command: ruff over the tree, mypy --strict over the package.
if [ "${ZSTD_CHUNKED_SKIP_LINT:-0}" = 1 ]; then
    log "lint skipped (ZSTD_CHUNKED_SKIP_LINT=1)"
else
    log "lint: ruff check ., mypy --strict src/zstd_chunked"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev]'
    "$VENV/bin/python" -m ruff check -q .
    "$VENV/bin/python" -m mypy --strict src/zstd_chunked
fi

# --- fuzz smoke run ---------------------------------------------------------------------
# Every atheris target for a few seconds (fuzz/README.md has the long run).
if [ "${ZSTD_CHUNKED_SKIP_FUZZ:-0}" = 1 ]; then
    log "fuzz smoke run skipped (ZSTD_CHUNKED_SKIP_FUZZ=1)"
else
    log "fuzz smoke run (atheris)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check atheris
    PYTHON="$VENV/bin/python" bash fuzz/ci-smoke.sh
fi

# --- sanitizer run --------------------------------------------------------------------
if [ "${ZSTD_CHUNKED_SKIP_SANITIZE:-0}" = 1 ]; then
    log "sanitizer step skipped (ZSTD_CHUNKED_SKIP_SANITIZE=1)"
else
    bash scripts/sanitize.sh
fi
log "all tests passed"
