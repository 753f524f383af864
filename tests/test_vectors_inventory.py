"""The golden vectors are present, complete and self-consistent.

These tests do not use the package; they check the data the other tests rely on.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import vectors_util
from vectors_util import (
    LARGE_CASE_NAMES,
    LOCAL_VECTORS,
    REQUIRE_SHARED_ENV,
    SHARED_MISSING_REASON,
    VectorCase,
)

EXPECTED_LOCAL_CASES = {
    "gnutar-gnu-tree",
    "gnutar-posix-xattrs",
    "gnutar-ustar-prefix",
    "go-archive-tree",
    "py-empty",
    "py-empty-files",
    "py-many-files",
    "py-pax-long-unicode",
    "py-pax-xattrs",
    "py-single-small",
    "py-single-small.level1",
    "py-single-small.level3",
    "py-sizes",
    "py-sizes.level1",
    "py-sizes.level3",
    "py-special",
    "py-special.level1",
    "py-ustar-basic",
}
EXPECTED_OLD_FORMAT_CASES = {"skopeo-gnutar-tree", "skopeo-py-single-small"}

MAX_LOCAL_FILE = 5 * 1024 * 1024


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# The local set as a whole


def test_local_case_names() -> None:
    cases = vectors_util.local_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    assert {c.name for c in cases if not c.old_format} == EXPECTED_LOCAL_CASES
    assert {c.name for c in cases if c.old_format} == EXPECTED_OLD_FORMAT_CASES
    assert not any(c.large for c in cases)


def test_local_files_are_small_and_readmes_present() -> None:
    assert (LOCAL_VECTORS / "README.md").is_file()
    assert (LOCAL_VECTORS / "old-format" / "README.md").is_file()
    assert "## Provenance" in (LOCAL_VECTORS / "README.md").read_text(encoding="utf-8")
    for path in LOCAL_VECTORS.rglob("*"):
        if path.is_file():
            assert path.stat().st_size < MAX_LOCAL_FILE, path
            assert not path.name.startswith(LARGE_CASE_NAMES), f"large case copied locally: {path}"


def test_every_local_file_belongs_to_a_case() -> None:
    known = {"README.md"}
    for case in vectors_util.local_cases():
        d = case.directory
        known |= {
            str((d / f"{case.name}{s}").relative_to(LOCAL_VECTORS))
            for s in (
                ".zst",
                ".expected.json",
                ".annotations.json",
                ".toc.json",
                ".toc-raw.json",
                ".tarsplit.json",
                ".layer-descriptor.json",
            )
        }
        if case.tar is not None:
            known.add(str(case.tar.relative_to(LOCAL_VECTORS)))
    known.add("old-format/README.md")
    stray = sorted(str(p.relative_to(LOCAL_VECTORS)) for p in LOCAL_VECTORS.rglob("*") if p.is_file())
    assert [p for p in stray if p not in known] == []


# ---------------------------------------------------------------------------
# Each case (local, plus the large ones when the shared set is present)


def test_case_files_and_digests(vector_case: VectorCase) -> None:
    c = vector_case
    e = c.expected
    assert e["case"] == c.name
    for suffix in (".zst", ".expected.json", ".annotations.json", ".toc-raw.json", ".toc.json"):
        assert (c.directory / f"{c.name}{suffix}").is_file(), suffix

    # blob
    assert e["blob_size"] == c.blob.stat().st_size
    assert e["blob_digest"] == sha256_file(c.blob)

    # annotations file == expected["annotations"]
    assert c.annotations == e["annotations"]

    # TOC: raw bytes match the recorded uncompressed size/digest; decoded form is a TOC
    assert len(c.toc_raw) == e["toc_uncompressed_size"]
    assert sha256_bytes(c.toc_raw) == e["toc_uncompressed_sha256"]
    raw = json.loads(c.toc_raw)
    assert raw["version"] == 1 and c.toc["version"] == 1
    assert len(c.toc["entries"] or []) == e["toc_entries"]
    assert len(raw["entries"] or []) == e["toc_entries"]

    # input tar
    if c.tar is None:
        assert c.large and e["tar_included"] is False, "tar missing for a local case"
    else:
        assert e["tar_included"] is True
        assert c.tar.stat().st_size == e["tar_size"]
        assert sha256_file(c.tar) == c.diffid

    if c.old_format:
        assert c.tarsplit is None and c.level is None
        assert "diffid_of_input_tar" in e
        assert all(k.startswith("io.containers.zstd-chunked.") for k in c.annotations)
    else:
        assert c.diffid == e["diffid"]
        assert c.diffid == e["diffid_full_decompress"] == e["diffid_tarsplit_reassembly"]
        assert e["reference_check"]["ok"] is True
        assert e["zstd_level_argument"] == c.level
        assert c.base_name == e["tar"][: -len(".tar")]
        assert e["zstd_level_effective"] == c.effective_level
        assert c.tarsplit is not None
        assert len(c.tarsplit) == e["tarsplit_uncompressed_size"]
        assert sha256_bytes(c.tarsplit) == e["tarsplit_uncompressed_sha256"]
        assert raw["tarSplitDigest"] == e["tarsplit_digest"]


@pytest.mark.parametrize(
    "c", [pytest.param(c, id=c.name) for c in vectors_util.local_cases() if c.level is not None]
)
def test_level_variants_share_tar_and_tarsplit(c: VectorCase) -> None:
    base = vectors_util.get_case(c.base_name)
    assert c.tar == base.tar
    assert c.tarsplit == base.tarsplit
    assert c.diffid == base.diffid
    assert c.expected["blob_digest"] != base.expected["blob_digest"]


# ---------------------------------------------------------------------------
# Large cases: read from ../shared/vectors; skipped with a reason when missing,
# failed instead when ZSTD_CHUNKED_REQUIRE_SHARED_VECTORS=1.


@pytest.mark.large_vectors
def test_large_case_present(large_vector_case: VectorCase) -> None:
    c = large_vector_case
    assert c.large and c.name in LARGE_CASE_NAMES
    assert c.tar is None and c.tarsplit is not None
    assert c.expected["blob_size"] == c.blob.stat().st_size
    assert c.expected["blob_digest"] == sha256_file(c.blob)
    assert c.annotations == c.expected["annotations"]
    assert sha256_bytes(c.toc_raw) == c.expected["toc_uncompressed_sha256"]


def _run_large_test(tmp_path: Path, require: bool) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["ZSTD_CHUNKED_SHARED_VECTORS"] = str(tmp_path / "does-not-exist")
    env.pop(REQUIRE_SHARED_ENV, None)
    if require:
        env[REQUIRE_SHARED_ENV] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-rsfE",
            "-q",
            f"{__file__}::test_large_case_present",
        ],
        check=False,
        cwd=str(vectors_util.REPO_ROOT),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_shared_vectors_skip_or_fail(tmp_path: Path) -> None:
    """Without the shared set the large tests skip with the reason; with the env var they fail."""
    skipped = _run_large_test(tmp_path, require=False)
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert f"{len(LARGE_CASE_NAMES)} skipped" in skipped.stdout, skipped.stdout
    assert SHARED_MISSING_REASON in skipped.stdout, skipped.stdout

    failed = _run_large_test(tmp_path, require=True)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert SHARED_MISSING_REASON in failed.stdout, failed.stdout
    assert "skipped" not in failed.stdout, failed.stdout
