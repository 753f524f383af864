"""Replay the fuzz targets' saved inputs and seeds (no atheris needed).

tests/fuzz_corpus/<target>/ holds inputs that once crashed a target or
exposed a bug (see fuzz/README.md), plus a few written by hand for bugs found
while hardening. Each goes through the target's ``check`` function, which
fails on anything but a clean refusal with an exception from
zstd_chunked.errors or an accepted input that keeps the target's invariants.
The generated seeds (fuzz/seeds.py) are replayed too: they are valid layers
and documents, so this also checks that the targets accept good input.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
FUZZ = REPO / "fuzz"
CORPUS = Path(__file__).resolve().parent / "fuzz_corpus"
TARGETS = ["footer", "framescan", "toc", "tarsplit", "open"]

if str(FUZZ) not in sys.path:
    sys.path.insert(0, str(FUZZ))


def _target(name: str) -> Any:
    return importlib.import_module(f"fuzz_{name}")


def _saved() -> list[Any]:
    return [pytest.param(t, p, id=f"{t}/{p.name}") for t in TARGETS for p in sorted((CORPUS / t).glob("*"))
            if p.is_file()]


@pytest.mark.parametrize("target,path", _saved())
def test_saved_input(target: str, path: Path) -> None:
    _target(target).check(path.read_bytes())


@pytest.mark.parametrize("target", TARGETS)
def test_seeds(target: str) -> None:
    import seeds

    items = seeds.seeds()[target]
    assert items
    check = _target(target).check
    for data in items:
        check(data)


def test_every_target_has_a_corpus_folder() -> None:
    for target in TARGETS:
        assert (FUZZ / f"fuzz_{target}.py").is_file()
        assert (CORPUS / target).is_dir()
