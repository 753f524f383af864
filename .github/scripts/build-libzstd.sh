#!/usr/bin/env bash
# Build and install a pinned libzstd (shared library + headers + pkg-config file) from the
# official release tarball. Used as cibuildwheel's `before-all` (see [tool.cibuildwheel]
# in pyproject.toml) so every wheel links the same libzstd, which auditwheel (Linux) or
# delocate (macOS) then copies into the wheel.
#
#   Linux (manylinux / musllinux containers, run as root): installs into /usr/local and
#     registers /usr/local/lib with the dynamic loader.
#   macOS (on the runner): installs into $ZSTD_PREFIX (default /usr/local, using sudo if
#     it is not writable) as a universal2 (x86_64 + arm64) dylib whose install name is its
#     absolute path, built for $MACOSX_DEPLOYMENT_TARGET.
#
# Environment:
#   ZSTD_PREFIX     install prefix (default /usr/local)
#   ZSTD_ARCHS      macOS only: architectures to build (default "x86_64 arm64")
#   ZSTD_SRC_DIR    use an already unpacked zstd source tree instead of downloading (testing)
# CFLAGS from cibuildwheel's `environment` (-Werror ...) are meant for our extension and
# are deliberately not used for libzstd.
set -euo pipefail

ZSTD_VERSION=1.5.6
ZSTD_SHA256=8c29e06cf42aacc1eafc4077ae2ec6c6fcb96a626157e0593d5e82a34fd403c1
ZSTD_URL="https://github.com/facebook/zstd/releases/download/v${ZSTD_VERSION}/zstd-${ZSTD_VERSION}.tar.gz"
PREFIX=${ZSTD_PREFIX:-/usr/local}
OS=$(uname -s)

log() { printf '==> build-libzstd: %s\n' "$*"; }
die() { printf 'build-libzstd: error: %s\n' "$*" >&2; exit 1; }

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

download() { # url dest
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 5 --retry-delay 2 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$1" "$2"
    fi
}

if command -v nproc >/dev/null 2>&1; then
    JOBS=$(nproc)
else
    JOBS=$(sysctl -n hw.ncpu 2>/dev/null || echo 2)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/libzstd.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -n "${ZSTD_SRC_DIR:-}" ]; then
    src=$(cd "$ZSTD_SRC_DIR" && pwd)
    log "using source tree $src (no download, no checksum)"
else
    log "downloading zstd $ZSTD_VERSION"
    download "$ZSTD_URL" "$work/zstd.tar.gz"
    got=$(sha256_of "$work/zstd.tar.gz")
    [ "$got" = "$ZSTD_SHA256" ] || die "sha256 mismatch for $ZSTD_URL: got $got, want $ZSTD_SHA256"
    tar -xzf "$work/zstd.tar.gz" -C "$work"
    src="$work/zstd-$ZSTD_VERSION"
fi

# libzstd is built with its own flags, not the inherited CFLAGS/CPPFLAGS/LDFLAGS (which
# may carry -Werror for our extension). The same environment is used for building and
# installing, so `make install-*` does not rebuild with other flags.
unset CFLAGS CPPFLAGS LDFLAGS
zmake() { # dir extra-cflags extra-ldflags target...
    local dir=$1 cf=$2 lf=$3
    shift 3
    CFLAGS="-O3 $cf" LDFLAGS="$lf" make -C "$dir/lib" -j"$JOBS" PREFIX="$PREFIX" "$@" >/dev/null
}

case "$OS" in
    Linux)
        log "building libzstd $ZSTD_VERSION (shared)"
        zmake "$src" "" "" libzstd
        log "installing into $PREFIX"
        zmake "$src" "" "" install-shared install-includes install-pc
        if [ "$(id -u)" = 0 ]; then
            if [ -d /etc/ld.so.conf.d ]; then
                echo "$PREFIX/lib" >/etc/ld.so.conf.d/zstd-chunked-libzstd.conf
            fi
            if command -v ldconfig >/dev/null 2>&1; then
                ldconfig || true
            fi
        fi
        ls -l "$PREFIX"/lib/libzstd.so*
        ;;
    Darwin)
        : "${MACOSX_DEPLOYMENT_TARGET:=11.0}"
        export MACOSX_DEPLOYMENT_TARGET
        SUDO=
        mkdir -p "$PREFIX" 2>/dev/null || true
        if [ ! -w "$PREFIX" ] || { [ -d "$PREFIX/lib" ] && [ ! -w "$PREFIX/lib" ]; }; then
            SUDO=sudo
        fi
        # One build per architecture, then lipo: zstd's Makefile writes dependency files,
        # which clang refuses to do with several -arch flags at once.
        slices=""
        for arch in ${ZSTD_ARCHS:-x86_64 arm64}; do
            log "building libzstd $ZSTD_VERSION (shared, $arch, macOS >= $MACOSX_DEPLOYMENT_TARGET)"
            cp -R "$src" "$work/build-$arch"
            vflag="-arch $arch -mmacosx-version-min=$MACOSX_DEPLOYMENT_TARGET"
            zmake "$work/build-$arch" "$vflag" "$vflag" libzstd
            slices="$slices $(ls "$work/build-$arch"/lib/libzstd.*.*.*.dylib)"
        done
        dylib="libzstd.$ZSTD_VERSION.dylib"
        # shellcheck disable=SC2086
        lipo -create $slices -output "$work/$dylib"
        install_name_tool -id "$PREFIX/lib/libzstd.1.dylib" "$work/$dylib"
        log "installing into $PREFIX"
        $SUDO mkdir -p "$PREFIX/lib"
        $SUDO cp "$work/$dylib" "$PREFIX/lib/$dylib"
        $SUDO ln -sf "$dylib" "$PREFIX/lib/libzstd.1.dylib"
        $SUDO ln -sf "$dylib" "$PREFIX/lib/libzstd.dylib"
        # headers and libzstd.pc: copying only, nothing is compiled
        $SUDO env CFLAGS="-O3" make -C "$src/lib" PREFIX="$PREFIX" install-includes install-pc >/dev/null
        otool -L "$PREFIX/lib/libzstd.1.dylib" | head -n 2
        lipo -info "$PREFIX/lib/libzstd.1.dylib"
        ;;
    *) die "unsupported OS: $OS" ;;
esac

# Paths for the build steps (they run in another shell, so these are printed for the log;
# /usr/local is on the default compiler and linker search paths on both platforms).
cat <<EOF
libzstd $ZSTD_VERSION installed in $PREFIX. If $PREFIX is not on the default search paths:
  export CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib" PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
EOF
