"""Shared pytest setup: Hypothesis profiles and the golden-vector fixtures.

Hypothesis profile: ``HYPOTHESIS_PROFILE`` = ``default`` | ``ci`` | ``expensive``.

Fixtures:

- ``vector_case``: parametrized over :func:`vectors_util.all_cases` (ids = case names).
  The large cases are included only when the shared vectors are available and carry the
  ``large_vectors`` mark.
- ``large_vector_case``: parametrized over the two large cases. When the shared vectors
  are missing it skips with a visible reason, or fails if
  ``ZSTD_CHUNKED_REQUIRE_SHARED_VECTORS=1``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:  # so `import vectors_util` works under any --import-mode
    sys.path.insert(0, _TESTS_DIR)

import vectors_util  # noqa: E402 - needs the sys.path entry above
from vectors_util import (  # noqa: E402
    LARGE_CASE_NAMES,
    REQUIRE_SHARED_ENV,
    SHARED_MISSING_REASON,
    SHARED_VECTORS,
    VectorCase,
)

# ---------------------------------------------------------------------------
# Hypothesis profiles

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is in the [test] extra; property tests importorskip it
    pass
else:
    settings.register_profile("default", deadline=None, print_blob=True)
    settings.register_profile(
        "ci",
        max_examples=25,
        deadline=None,
        derandomize=True,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile(
        "expensive",
        max_examples=2000,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# ---------------------------------------------------------------------------
# Markers and header


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject's [tool.pytest.ini_options]; registering here keeps
    # --strict-markers working when pytest runs with another rootdir/config.
    config.addinivalue_line("markers", "slow: long-running property or stress tests")
    config.addinivalue_line("markers", "large_vectors: needs ../shared/vectors (the large golden vectors)")


def pytest_report_header(config: pytest.Config) -> list[str]:
    shared = "available" if vectors_util.shared_vectors_available() else "MISSING"
    return [
        (
            f"zstd-chunked vectors: local={vectors_util.LOCAL_VECTORS} shared={SHARED_VECTORS} ({shared}); "
            f"{REQUIRE_SHARED_ENV}={os.environ.get(REQUIRE_SHARED_ENV, '')!s}"
        ),
        f"hypothesis profile: {os.environ.get('HYPOTHESIS_PROFILE', 'default')}",
    ]


# ---------------------------------------------------------------------------
# Vector fixtures


def _vector_params() -> list[Any]:
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.large_vectors] if case.large else [])
        for case in vectors_util.all_cases()
    ]


@pytest.fixture(params=_vector_params())
def vector_case(request: pytest.FixtureRequest) -> VectorCase:
    case: VectorCase = request.param
    return case


def missing_shared_vectors(reason: str = SHARED_MISSING_REASON) -> None:
    """Skip (or fail under ZSTD_CHUNKED_REQUIRE_SHARED_VECTORS=1) because the shared set is missing."""
    if vectors_util.require_shared_vectors():
        pytest.fail(f"{reason} [{REQUIRE_SHARED_ENV}=1]", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(params=[pytest.param(n, id=n, marks=pytest.mark.large_vectors) for n in LARGE_CASE_NAMES])
def large_vector_case(request: pytest.FixtureRequest) -> VectorCase:
    if not vectors_util.shared_vectors_available():
        missing_shared_vectors()
    return vectors_util.large_case(request.param)


@pytest.fixture(scope="session")
def local_vectors_dir() -> Path:
    return vectors_util.LOCAL_VECTORS


@pytest.fixture(scope="session")
def shared_vectors_dir() -> Path:
    return SHARED_VECTORS
