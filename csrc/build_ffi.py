"""cffi builder for the native core: ``zstd_chunked._zck``.

The cdef is ``csrc/zck.h`` read verbatim; the sources are every ``csrc/*.c``
except the standalone C test.  This file never imports the package.

Environment variables:

``ZSTD_CHUNKED_ZSTD_INCLUDE`` / ``ZSTD_CHUNKED_ZSTD_LIB``
    Extra include / library directory for libzstd (os.pathsep-separated lists).
``ZSTD_CHUNKED_SANITIZE=1``
    Build with AddressSanitizer and UndefinedBehaviorSanitizer (see csrc/README.md
    for how to run Python against such a build).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
NOT_SOURCES = {"test_zck.c"}

MISSING_ZSTD = (
    "libzstd development files not found; install libzstd-dev (Debian/Ubuntu) or zstd (Homebrew)"
    " (or point ZSTD_CHUNKED_ZSTD_INCLUDE / ZSTD_CHUNKED_ZSTD_LIB at them)"
)


def _env_dirs(name: str) -> list[str]:
    value = os.environ.get(name, "")
    return [d for d in value.split(os.pathsep) if d]


def _default_include_dirs() -> list[str]:
    dirs = ["/usr/include", "/usr/local/include", "/opt/homebrew/include", "/opt/local/include"]
    prefix = os.environ.get("CONDA_PREFIX")
    if prefix:
        dirs.append(os.path.join(prefix, "include"))
    return dirs


def _find_zstd_header(extra: list[str]) -> str | None:
    for d in extra + _default_include_dirs():
        if os.path.isfile(os.path.join(d, "zstd.h")):
            return d
    return None


def _check_zstd(extra_include: list[str]) -> None:
    """Fail early, with one clear sentence, when zstd.h is not installed."""
    if _find_zstd_header(extra_include) is not None:
        return
    # Not in the usual places: let the compiler have the last word (it may know
    # other system directories, e.g. through CPATH or a cross sysroot).
    import tempfile  # noqa: PLC0415

    try:
        from distutils.ccompiler import new_compiler  # noqa: PLC0415 (setuptools provides it)
    except ImportError:
        raise SystemExit(MISSING_ZSTD) from None
    cc = new_compiler()
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w", encoding="ascii") as f:
            f.write("#include <zstd.h>\nint main(void) { return 0; }\n")
        try:
            cc.compile([src], output_dir=tmp, include_dirs=extra_include)
        except Exception:  # noqa: BLE001 - any failure means the header is unusable
            raise SystemExit(MISSING_ZSTD) from None


def _build() -> FFI:
    include_dirs = _env_dirs("ZSTD_CHUNKED_ZSTD_INCLUDE")
    library_dirs = _env_dirs("ZSTD_CHUNKED_ZSTD_LIB")
    _check_zstd(include_dirs)

    # -Wconversion, -Wsign-conversion and -Wshadow are enabled for our own sources
    # by zck_internal.h, not here, so they do not apply to cffi's generated glue.
    compile_args = ["-std=c99", "-O2", "-Wall", "-Wextra"]
    link_args: list[str] = []
    libraries = ["zstd"]
    if sys.platform != "win32":
        libraries.append("pthread")
    if os.environ.get("ZSTD_CHUNKED_SANITIZE") == "1":
        san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
        compile_args += san + ["-fno-sanitize-recover=undefined"]
        link_args += san
        compile_args = [a for a in compile_args if a != "-O2"] + ["-O1"]

    # setuptools wants source paths relative to the directory it runs in.
    sources = sorted(os.path.relpath(p) for p in HERE.glob("*.c") if p.name not in NOT_SOURCES)

    ffi = FFI()
    ffi.cdef((HERE / "zck.h").read_text(encoding="utf-8"))
    ffi.set_source(
        "zstd_chunked._zck",
        '#include <stddef.h>\n#include <stdint.h>\n#include "zck.h"',
        sources=sources,
        include_dirs=[os.path.relpath(HERE)] + include_dirs,
        library_dirs=library_dirs,
        libraries=libraries,
        extra_compile_args=compile_args if sys.platform != "win32" else [],
        extra_link_args=link_args,
    )
    return ffi


ffibuilder = _build()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
