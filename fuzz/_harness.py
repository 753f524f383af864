"""Shared plumbing of the atheris fuzz targets in this directory.

Every target module defines ``check(data: bytes) -> None``: it feeds ``data``
to one part of the package and returns normally when the package either
accepted the input or refused it with an exception from
:mod:`zstd_chunked.errors`. Anything else (another exception type, a failed
invariant, a crash of the native code, a hang or a memory blow-up, which
libFuzzer's ``-timeout`` and ``-rss_limit_mb`` catch) is a finding.

``check`` works without atheris: tests/test_fuzz_regressions.py replays the
saved inputs in tests/fuzz_corpus/<target>/ through it.

Running a target (see fuzz/README.md)::

    python fuzz/fuzz_toc.py [libFuzzer options] CORPUS_DIR [SEED_DIR...]
"""

from __future__ import annotations

import os
import sys
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TESTS = os.path.join(REPO, "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)  # blobcraft, vectors_util

#: Modules whose code atheris instruments for coverage feedback.
INSTRUMENTED = ["zstd_chunked", "blobcraft"]


def instrument_if_main(name: str) -> None:
    """Import the package under atheris' coverage instrumentation when a target runs as a script.

    Call at the very top of a target, before it imports zstd_chunked: the
    imports below then find the instrumented modules in sys.modules.
    """
    if name != "__main__":
        return
    import atheris

    with atheris.instrument_imports(include=INSTRUMENTED):
        import blobcraft  # noqa: F401

        import zstd_chunked  # noqa: F401
        import zstd_chunked.extract  # noqa: F401
        import zstd_chunked.rebuild  # noqa: F401
        import zstd_chunked.tocmatch  # noqa: F401
        import zstd_chunked.verify  # noqa: F401


def fuzz(check: Callable[[bytes], None]) -> None:
    """Run ``check`` under libFuzzer with the command line's options."""
    import atheris

    atheris.Setup(sys.argv, check)
    atheris.Fuzz()
