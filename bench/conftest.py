"""Fixtures for the benchmarks (helpers live in ``benchlib``), and the JSON context hook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import corpora  # bench/ is on sys.path: pytest inserts the conftest's directory
import pytest
from benchlib import ALL_THREADS, HERE, ZSTD, Outputs, warm

import zstd_chunked


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "large_layer: the 256 MiB / 1 GiB layer benchmarks")
    config._zck_started = time.time()  # type: ignore[attr-defined]
    config._zck_load_start = os.getloadavg()  # type: ignore[attr-defined]


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    """Context the report needs: scale, corpora, tool versions, machine load."""
    s = corpora.scale()
    built = {}
    for name in corpora.SPECS:
        meta = corpora.cache_root() / f"scale-{s:g}" / f"{name}.json"
        if meta.exists():
            m = json.loads(meta.read_text())
            built[name] = {
                "size": m["size"],
                "payload": m["payload"],
                "entries": m["entries"],
                "doc": corpora.SPECS[name].doc,
            }
    zstd_cli = subprocess.run([ZSTD, "--version"], capture_output=True, text=True).stdout.strip()
    from zstd_chunked import _native

    output_json["zck"] = {
        "scale": s,
        "all_threads": ALL_THREADS,
        "corpora": built,
        "zstd_cli": zstd_cli,
        "libzstd": _native.zstd_version(),
        "zstandard": __import__("zstandard").__version__,
        "zstd_chunked": zstd_chunked.__version__,
        "python": sys.version.split()[0],
        "loadavg_start": list(config._zck_load_start),  # type: ignore[attr-defined]
        "loadavg_end": list(os.getloadavg()),
        "wall_seconds": round(time.time() - config._zck_started, 1),  # type: ignore[attr-defined]
    }


@pytest.hookimpl(tryfirst=True)
def pytest_benchmark_generate_commit_info(config: pytest.Config) -> dict[str, Any]:
    """Commit info from read-only git commands.

    pytest-benchmark's default runs ``git describe --dirty``, which refreshes and
    rewrites ``.git/index``; with ``GIT_OPTIONAL_LOCKS=0`` ``git status`` does not.
    """
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0")

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True, env=env)
        except OSError:
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "id": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "project": "zstd-chunked",
    }


# --------------------------------------------------------------------------
# Corpora and scratch space


@pytest.fixture(scope="session")
def corpus() -> Callable[[str], corpora.Corpus]:
    cache: dict[str, corpora.Corpus] = {}

    def get(name: str) -> corpora.Corpus:
        if name not in cache:
            cache[name] = corpora.build(name)
        warm(cache[name].path)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def work() -> Iterator[Path]:
    """Scratch directory for outputs (bench/results/work-<scale>), removed at the end."""
    root = Path(os.environ.get("ZCK_BENCH_WORK") or HERE / "results" / f"work-{corpora.scale():g}")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    yield root
    if not os.environ.get("ZCK_BENCH_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def outputs(work: Path, corpus: Callable[[str], corpora.Corpus]) -> Outputs:
    return Outputs(work, corpus)
