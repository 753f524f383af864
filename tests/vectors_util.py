"""Enumerate the golden zstd:chunked vectors.

Small cases live in ``tests/vectors`` (copied from the shared reference set, see
``tests/vectors/README.md``). The two large cases are read from the shared set itself,
``<repo>/../shared/vectors`` or ``$ZSTD_CHUNKED_SHARED_VECTORS``, when it is present.

Every case is a :class:`VectorCase`; :func:`all_cases` returns them all.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_VECTORS = REPO_ROOT / "tests" / "vectors"
SHARED_VECTORS = Path(
    os.environ.get("ZSTD_CHUNKED_SHARED_VECTORS") or (REPO_ROOT.parent / "shared" / "vectors")
)

#: Cases kept out of tests/vectors for size; read from SHARED_VECTORS.
LARGE_CASE_NAMES: tuple[str, ...] = ("py-large", "realistic-python311-stdlib")

#: Level the reference writer uses when given none (klauspost "best").
DEFAULT_LEVEL = 10

#: Reason shown when the large cases cannot be found.
SHARED_MISSING_REASON = "../shared/vectors not found (set ZSTD_CHUNKED_SHARED_VECTORS)"

#: Env var that turns that skip into a failure (set by .ci/run).
REQUIRE_SHARED_ENV = "ZSTD_CHUNKED_REQUIRE_SHARED_VECTORS"

_LEVEL_RE = re.compile(r"^(?P<base>.+)\.level(?P<level>\d+)$")
_EXPECTED_SUFFIX = ".expected.json"


@dataclass(frozen=True)
class VectorCase:
    """One golden blob and everything a reader must recover from it."""

    name: str
    blob: Path
    tar: Path | None
    annotations: dict[str, str]
    expected: dict[str, Any] = field(repr=False)
    toc_raw: bytes = field(repr=False)
    toc: dict[str, Any] = field(repr=False)
    tarsplit: bytes | None = field(repr=False)
    level: int | None
    old_format: bool
    large: bool

    @property
    def base_name(self) -> str:
        """Name without a ``.levelN`` suffix (the case whose tar and tar-split it shares)."""
        m = _LEVEL_RE.match(self.name)
        return m.group("base") if m else self.name

    @property
    def effective_level(self) -> int:
        return DEFAULT_LEVEL if self.level is None else self.level

    @property
    def diffid(self) -> str:
        """sha256 of the input tar (``diffid``, or ``diffid_of_input_tar`` in old-format cases)."""
        value = self.expected.get("diffid", self.expected.get("diffid_of_input_tar"))
        assert isinstance(value, str), self.name
        return value

    @property
    def directory(self) -> Path:
        return self.blob.parent

    def blob_bytes(self) -> bytes:
        return self.blob.read_bytes()

    def tar_bytes(self) -> bytes:
        if self.tar is None:
            raise FileNotFoundError(f"{self.name}: input tar not included")
        return self.tar.read_bytes()


def _read_json(path: Path) -> Any:
    with path.open("rb") as f:
        return json.load(f)


def load_case(directory: Path, name: str, *, old_format: bool = False, large: bool = False) -> VectorCase:
    """Load case ``name`` from ``directory``; raises FileNotFoundError if a required file is missing."""
    expected = _read_json(directory / f"{name}{_EXPECTED_SUFFIX}")
    m = _LEVEL_RE.match(name)
    base = m.group("base") if m else name
    level = int(m.group("level")) if m else None

    tar: Path | None = None
    tar_name = expected.get("tar")
    if isinstance(tar_name, str) and (directory / tar_name).is_file():
        tar = directory / tar_name

    tarsplit_path = directory / f"{base}.tarsplit.json"
    tarsplit = tarsplit_path.read_bytes() if tarsplit_path.is_file() else None

    blob = directory / f"{name}.zst"
    if not blob.is_file():
        raise FileNotFoundError(blob)

    return VectorCase(
        name=name,
        blob=blob,
        tar=tar,
        annotations=_read_json(directory / f"{name}.annotations.json"),
        expected=expected,
        toc_raw=(directory / f"{name}.toc-raw.json").read_bytes(),
        toc=_read_json(directory / f"{name}.toc.json"),
        tarsplit=tarsplit,
        level=level,
        old_format=old_format,
        large=large,
    )


def _case_names(directory: Path) -> list[str]:
    return sorted(p.name[: -len(_EXPECTED_SUFFIX)] for p in directory.glob(f"*{_EXPECTED_SUFFIX}"))


@functools.cache
def local_cases() -> tuple[VectorCase, ...]:
    """Every case in tests/vectors (current layout first, then old-format/)."""
    cases = [load_case(LOCAL_VECTORS, n) for n in _case_names(LOCAL_VECTORS)]
    old = LOCAL_VECTORS / "old-format"
    cases += [load_case(old, n, old_format=True) for n in _case_names(old)]
    return tuple(cases)


def shared_vectors_available() -> bool:
    """True if SHARED_VECTORS holds the blob and metadata of every large case."""
    return all(
        (SHARED_VECTORS / f"{n}{suffix}").is_file()
        for n in LARGE_CASE_NAMES
        for suffix in (".zst", _EXPECTED_SUFFIX, ".annotations.json", ".toc-raw.json", ".toc.json")
    )


def require_shared_vectors() -> bool:
    return os.environ.get(REQUIRE_SHARED_ENV, "") not in ("", "0")


@functools.cache
def large_case(name: str) -> VectorCase:
    """Load one large case from SHARED_VECTORS (FileNotFoundError if absent)."""
    if name not in LARGE_CASE_NAMES:
        raise KeyError(name)
    return load_case(SHARED_VECTORS, name, large=True)


def large_cases() -> tuple[VectorCase, ...]:
    """The large cases, or () when SHARED_VECTORS is not available."""
    if not shared_vectors_available():
        return ()
    return tuple(large_case(n) for n in LARGE_CASE_NAMES)


def all_cases() -> list[VectorCase]:
    """Every local case, plus the large cases when SHARED_VECTORS is available."""
    return list(local_cases()) + list(large_cases())


def get_case(name: str) -> VectorCase:
    """Look a case up by name (local or large)."""
    if name in LARGE_CASE_NAMES:
        return large_case(name)
    for case in local_cases():
        if case.name == name:
            return case
    raise KeyError(name)
