"""Tars made by the real archivers (GNU tar, bsdtar, busybox tar, pax), end to end.

The golden vectors come from a few producers; layers in the wild come from
many. Each archiver here packs the same awkward tree (long and unicode names,
long link targets, hardlinks, FIFOs, devices, set-uid, xattrs, times before
1970 and after 2038, large ids, zero-filled and multi-chunk files) in each of
its formats. For every tar:

* the blob decompresses with plain zstd to the tar, byte for byte;
* the tar-split rebuilds the tar byte for byte, and the DiffID matches;
* ``verify`` passes;
* the TOC agrees with Python's own tar reader (an independent parser) on every
  entry: name, type, size, link target, mode, owner, device numbers, times,
  xattrs and the sha256 of the content;
* extraction gives back the same contents, link targets and hardlinks.

Sparse files are refused by every producer's sparse format, with nothing left
at the destination; a cpio archive (not a tar) is refused as such.

The archivers are Debian's ``tar``, ``libarchive-tools``, ``busybox`` and
``pax``; a missing one skips its cases, or fails them under
ZSTD_CHUNKED_REQUIRE_TAR_TOOLS=1 (as ``.ci/run`` sets).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import os
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import pytest
import zstandard

import zstd_chunked
from zstd_chunked import format as fmt
from zstd_chunked.gojson import parse_rfc3339

REQUIRE_ENV = "ZSTD_CHUNKED_REQUIRE_TAR_TOOLS"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

#: (case id, program, arguments before the output path, arguments after it).
#: Every command runs inside the tree and archives ".".
PRODUCERS: list[tuple[str, str, list[str], list[str]]] = [
    ("gnutar-gnu", "tar", ["--format=gnu", "-cf"], ["."]),
    ("gnutar-oldgnu", "tar", ["--format=oldgnu", "-cf"], ["."]),
    ("gnutar-posix", "tar", ["--format=posix", "--xattrs", "--xattrs-include=*", "-cf"], ["."]),
    ("gnutar-ustar", "tar", ["--format=ustar", "-cf"], ["."]),
    ("gnutar-v7", "tar", ["--format=v7", "-cf"], ["."]),
    ("bsdtar-pax", "bsdtar", ["--format", "pax", "-cf"], ["."]),
    ("bsdtar-ustar", "bsdtar", ["--format", "ustar", "-cf"], ["."]),
    ("bsdtar-gnutar", "bsdtar", ["--format", "gnutar", "-cf"], ["."]),
    ("bsdtar-v7", "bsdtar", ["--format", "v7", "-cf"], ["."]),
    ("busybox-tar", "busybox", ["tar", "-cf"], ["."]),
    ("pax-ustar", "pax", ["-w", "-x", "ustar", "-f"], ["."]),
]

#: Sparse formats: GNU's old 'S' type, PAX sparse 0.0, 0.1 and 1.0, and libarchive's.
SPARSE_PRODUCERS: list[tuple[str, str, list[str], list[str]]] = [
    ("gnutar-gnu-sparse", "tar", ["--format=gnu", "--sparse", "-cf"], ["sparse.img"]),
    ("gnutar-pax-sparse-0.0", "tar", ["--format=posix", "--sparse", "--sparse-version=0.0", "-cf"], ["sparse.img"]),
    ("gnutar-pax-sparse-0.1", "tar", ["--format=posix", "--sparse", "--sparse-version=0.1", "-cf"], ["sparse.img"]),
    ("gnutar-pax-sparse-1.0", "tar", ["--format=posix", "--sparse", "--sparse-version=1.0", "-cf"], ["sparse.img"]),
    ("bsdtar-pax-sparse", "bsdtar", ["--read-sparse", "--format", "pax", "-cf"], ["sparse.img"]),
]

_TAR_TYPES = {
    tarfile.REGTYPE: fmt.TYPE_REG, tarfile.AREGTYPE: fmt.TYPE_REG, tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink", tarfile.FIFOTYPE: "fifo",
    tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
}


def _require(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        reason = f"{program} is not installed (Debian: tar, libarchive-tools, busybox, pax; .ci/run installs them)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{reason}, and {REQUIRE_ENV}=1", pytrace=False)
        pytest.skip(reason)
    assert found is not None
    return found


def _try(action: Callable[[], Any]) -> bool:
    """Run a tree-building step the file system or user may not allow (xattrs, devices, chown)."""
    try:
        action()
    except (OSError, NotImplementedError):
        return False
    return True


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("producers") / "tree"
    root.mkdir()
    (root / "small.txt").write_bytes(b"hello, layer\n")
    (root / "empty").write_bytes(b"")
    noise = hashlib.shake_256(b"multi-chunk").digest(300_000)
    (root / "multi-chunk.bin").write_bytes(noise * 2)  # several chunks, the second half repeating
    (root / "zeros.bin").write_bytes(bytes(1 << 20))  # zero chunks
    (root / ("L" * 120)).write_bytes(b"a name longer than a ustar name field\n")
    deep = root / "d1" / ("sub_" * 30) / ("x" * 60)
    deep.mkdir(parents=True)
    (deep / ("f" * 90)).write_bytes(b"a path longer than 255 bytes\n")
    (root / "ünïcödé-名前.txt").write_bytes(b"unicode\n")
    (root / "spaces and\ttab").write_bytes(b"x")
    (root / "newline\nname").write_bytes(b"y")
    os.symlink("T" * 150, root / "long-link")
    os.symlink("ünïcödé-名前.txt", root / "unicode-link")
    os.symlink("/absolute/target", root / "abs-link")
    os.link(root / "multi-chunk.bin", root / "hard-multi")
    os.link(root / "empty", root / "hard-empty")
    setuid = root / "setuid"
    setuid.write_bytes(b"s")
    setuid.chmod(0o4755)
    os.mkfifo(root / "fifo")
    if IS_ROOT:
        _try(lambda: os.mknod(root / "null", 0o20666, os.makedev(1, 3)))
        _try(lambda: os.mknod(root / "disk", 0o60600, os.makedev(259, 123456)))
        _try(lambda: os.chown(root / "small.txt", 3_000_000, 4_000_000))  # beyond 7 octal digits
    _try(lambda: os.setxattr(root / "small.txt", "user.comment", b"hello xattr"))
    _try(lambda: os.setxattr(root / "empty", "user.binary", bytes(range(8))))
    os.utime(root / "empty", (4_102_444_800, 4_102_444_800))  # 2100
    _try(lambda: os.utime(root / "zeros.bin", (-60, -60)))  # 1969
    return root


def _make_tar(producer: tuple[str, str, list[str], list[str]], cwd: Path, out: Path) -> Path:
    _case, program, before, after = producer
    exe = _require(program)
    # Formats that cannot hold some entry (long names in v7/ustar) leave it out with a
    # warning and a non-zero status; what they wrote is still a tar to convert.
    proc = subprocess.run([exe, *before, str(out), *after], cwd=cwd, capture_output=True, check=False)
    if not out.exists() or out.stat().st_size == 0:
        pytest.fail(f"{program} wrote no archive (status {proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return out


def _plain(blob: Path) -> bytes:
    with blob.open("rb") as fh, zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True) as r:
        return r.read()


def _name_key(name: str) -> str:
    return name.rstrip("/") or "/"


def _seconds(text: Optional[str]) -> Optional[int]:
    if text is None:
        return None
    seconds, _nanos = parse_rfc3339(text)
    return seconds


def _check_entry(entry: Any, member: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
    where = f"{member.name!r}"
    assert entry.type == _TAR_TYPES[member.type], where
    assert entry.mode == member.mode, where
    assert (entry.uid, entry.gid) == (member.uid, member.gid), where
    assert _seconds(entry.modtime) == math.floor(member.mtime), where
    for key, attr in (("atime", "accesstime"), ("ctime", "changetime")):
        if key in member.pax_headers:
            assert _seconds(getattr(entry, attr)) == math.floor(float(member.pax_headers[key])), (where, key)
    xattrs = {k[len("SCHILY.xattr."):]: base64.b64encode(v.encode("utf-8", "surrogateescape")).decode()
              for k, v in member.pax_headers.items() if k.startswith("SCHILY.xattr.")}
    assert entry.xattrs == xattrs, where
    if member.issym() or member.islnk():
        assert entry.linkname == member.linkname, where
    if member.ischr() or member.isblk():
        assert (entry.devmajor, entry.devminor) == (member.devmajor, member.devminor), where
    if member.isreg():
        assert entry.size == member.size, where
        data = tar.extractfile(member)
        assert data is not None
        digest = "sha256:" + hashlib.sha256(data.read()).hexdigest()
        assert (entry.digest or fmt.EMPTY_SHA256) == digest, where


def _check_extracted(dest: Path, tar: tarfile.TarFile) -> None:
    for member in tar.getmembers():
        path = dest / member.name
        if member.isreg():
            data = tar.extractfile(member)
            assert data is not None
            assert path.read_bytes() == data.read(), member.name
        elif member.issym():
            assert os.readlink(path) == member.linkname, member.name
        elif member.islnk():
            assert path.stat().st_ino == (dest / member.linkname).stat().st_ino, member.name
        elif member.isdir():
            assert path.is_dir(), member.name
        elif member.isfifo():
            assert stat.S_ISFIFO(path.lstat().st_mode), member.name


@pytest.mark.parametrize("producer", PRODUCERS, ids=[p[0] for p in PRODUCERS])
def test_producer_round_trip(producer: tuple[str, str, list[str], list[str]], tree: Path, tmp_path: Path) -> None:
    tar_path = _make_tar(producer, tree, tmp_path / "layer.tar")
    data = tar_path.read_bytes()
    blob = tmp_path / "layer.zst"
    info = zstd_chunked.convert(tar_path, blob, threads=2)
    assert info.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert _plain(blob) == data

    with tarfile.open(tar_path) as tar, zstd_chunked.open(blob, annotations=info.annotations) as layer:
        members = tar.getmembers()
        assert len(members) >= 8, [m.name for m in members]  # the archiver really packed the tree
        rebuilt = io.BytesIO()
        assert layer.rebuild_tar(rebuilt, diff_id=info.diff_id) == info.diff_id
        assert rebuilt.getvalue() == data
        report = layer.verify(info.diff_id)
        assert report["diffIDMatches"] and report["filesVerified"] == sum(
            1 for m in members if m.isreg() and m.size > 0)

        entries = [e for e in layer.entries() if e.type != fmt.TYPE_CHUNK]
        by_name = {_name_key(e.name): e for e in entries}
        assert len(by_name) == len(entries) == len(members)
        for member in members:
            _check_entry(by_name[_name_key(member.name)], member, tar)

        dest = tmp_path / "out"
        layer.extract(dest, allow_devices=IS_ROOT)
        _check_extracted(dest, tar)


@pytest.mark.parametrize("producer", SPARSE_PRODUCERS, ids=[p[0] for p in SPARSE_PRODUCERS])
def test_sparse_files_are_refused(producer: tuple[str, str, list[str], list[str]], tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    with (src / "sparse.img").open("wb") as fh:  # 5 MiB with 4 bytes of data in the middle
        fh.truncate(5 << 20)
        fh.seek(3_000_000)
        fh.write(b"data")
    tar_path = _make_tar(producer, src, tmp_path / "sparse.tar")
    with tarfile.open(tar_path) as tar:
        assert tar.getmembers()[0].issparse()  # the archiver did write a sparse entry
    blob = tmp_path / "out" / "layer.zst"
    blob.parent.mkdir()
    with pytest.raises(zstd_chunked.UnsupportedTarError, match="sparse"):
        zstd_chunked.convert(tar_path, blob)
    assert list(blob.parent.iterdir()) == []


def test_cpio_archive_is_not_a_tar(tree: Path, tmp_path: Path) -> None:
    archive = _make_tar(("pax-cpio", "pax", ["-w", "-x", "cpio", "-f"], ["."]), tree, tmp_path / "a.cpio")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(zstd_chunked.TarError, match="not a tar header"):
        zstd_chunked.convert(archive, out / "layer.zst")
    assert list(out.iterdir()) == []
