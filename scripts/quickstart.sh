#!/usr/bin/env bash
# Quick start: set up, then convert a real directory tree to a zstd:chunked layer and
# check it three ways (rebuilt tar, plain zstd decompression, verify against the DiffID).
#
# Usage: bash scripts/quickstart.sh [DIRECTORY]
#   DIRECTORY defaults to the Python standard library of the interpreter (without
#   site-packages, dist-packages and test/).
# Output goes to ./quickstart-out/ (override with QUICKSTART_OUT).
#
# Set-up: Debian/Ubuntu packages gcc libc6-dev libzstd-dev zstd (installed with apt-get
# when missing and running as root), the .venv virtualenv, `pip install -e .`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
OUT=${QUICKSTART_OUT:-quickstart-out}

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'quickstart: error: %s\n' "$*" >&2; exit 1; }

# --- system packages (Linux; only what is missing) ---------------------------------------
if [ "$(uname -s)" = Linux ]; then
    pkgs=()
    command -v "${CC:-cc}" >/dev/null 2>&1 || pkgs+=(gcc)
    [ -e /usr/include/stdio.h ] || pkgs+=(libc6-dev)
    [ -e /usr/include/zstd.h ] || pkgs+=(libzstd-dev)
    command -v zstd >/dev/null 2>&1 || pkgs+=(zstd)
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        pkgs+=(python3 python3-venv python3-dev)
    else
        "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || pkgs+=(python3-venv)
        "$PYTHON" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
            pkgs+=(python3-dev)
    fi
    if [ "${#pkgs[@]}" -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            step "installing system packages: ${pkgs[*]}"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
        else
            die "missing system packages: ${pkgs[*]} (sudo apt-get install --no-install-recommends ${pkgs[*]})"
        fi
    fi
fi
command -v zstd >/dev/null 2>&1 || die "the zstd command is needed (apt-get install zstd / brew install zstd)"

# --- virtualenv ------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
    step "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
step "pip install -e . (into $VENV)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e .
zc=$(realpath "$VENV/bin/zstd-chunked")
[ -x "$zc" ] || die "$zc was not installed"

# --- input: a tar of a real directory ----------------------------------------------------
src=${1:-$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
[ -d "$src" ] || die "not a directory: $src"
src=$(cd "$src" && pwd -P)
rm -rf "$OUT"
mkdir -p "$OUT"
cd "$OUT"

step "tar of $src -> $OUT/layer.tar"
# GNU tar, sorted names and numeric ids so the same tree gives the same tar.
tar_rc=0
tar --create --file=layer.tar --sort=name --numeric-owner \
    --exclude=site-packages --exclude=dist-packages --exclude="./test" \
    --warning=no-file-changed --warning=no-file-removed \
    -C "$src" . || tar_rc=$?
# 1 = some files changed while being read: the tar is still complete and valid.
[ "$tar_rc" -le 1 ] || die "tar failed ($tar_rc)"
diffid="sha256:$(sha256sum layer.tar | cut -d' ' -f1)"
printf 'layer.tar: %s bytes, %s entries, DiffID %s\n' \
    "$(stat -c %s layer.tar)" "$(tar -tf layer.tar | wc -l)" "$diffid"

step "zstd-chunked convert layer.tar -o layer.zst --annotations-out layer.annotations.json"
start=$(date +%s.%N)
"$zc" convert layer.tar -o layer.zst --annotations-out layer.annotations.json
end=$(date +%s.%N)
"$PYTHON" -c 'import sys; t, z, a, b = map(float, sys.argv[1:]); print(f"layer.zst: {int(z)} bytes ({100 * z / t:.1f}% of the tar) in {b - a:.2f} s")' \
    "$(stat -c %s layer.tar)" "$(stat -c %s layer.zst)" "$start" "$end"
echo "annotations:"
cat layer.annotations.json
echo

step "zstd-chunked info layer.zst --annotations layer.annotations.json"
"$zc" info layer.zst --annotations layer.annotations.json

step "zstd-chunked rebuild layer.zst --annotations layer.annotations.json -o rebuilt.tar"
"$zc" rebuild layer.zst --annotations layer.annotations.json -o rebuilt.tar
rebuilt="sha256:$(sha256sum rebuilt.tar | cut -d' ' -f1)"
printf 'layer.tar   %s\nrebuilt.tar %s\n' "$diffid" "$rebuilt"
[ "$rebuilt" = "$diffid" ] || die "rebuilt.tar differs from layer.tar"
echo "OK: rebuilt.tar is identical to layer.tar"

step "zstd -d layer.zst (an ordinary zstd decoder skips the metadata frames)"
plain="sha256:$(zstd -q -d -c layer.zst | sha256sum | cut -d' ' -f1)"
printf 'zstd -d     %s\n' "$plain"
[ "$plain" = "$diffid" ] || die "zstd -d output differs from layer.tar"
echo "OK: plain zstd decompression gives layer.tar"

step "zstd-chunked verify layer.zst --annotations layer.annotations.json --diff-id $diffid"
"$zc" verify layer.zst --annotations layer.annotations.json --diff-id "$diffid"
echo "OK: verify passed"

step "done; files in $(pwd)"
ls -l
