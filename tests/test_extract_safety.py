"""``Layer.extract(dest)`` never writes outside ``dest``.

Every test extracts into ``sandbox/dest`` next to ``sandbox/outside`` (a
directory with a file the layers aim at) and checks afterwards that nothing
outside ``dest`` changed: not a byte, not a link count, not a new name.
Hostile tars are written with Python's tarfile and converted by the package's
writer (which accepts such names, as the reference does); what the writer
would refuse is crafted as TOC JSON (tests/blobcraft.py).
"""

from __future__ import annotations

import os
import resource
import stat
from pathlib import Path
from typing import Any, Optional

import blobcraft as bc
import pytest

import zstd_chunked
from zstd_chunked.errors import (
    DigestMismatchError,
    FormatError,
    LimitExceededError,
    NotFoundError,
    UnsafePathError,
    ZstdChunkedError,
)


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dest = root / "dest"
        self.outside = root / "outside"
        self.outside.mkdir()
        (self.outside / "secret").write_bytes(b"secret")
        (self.outside / "dir").mkdir()
        (self.outside / "dir" / "inner").write_bytes(b"inner")
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """Everything under the sandbox except dest: type, mode, link count, content or target."""
        out: dict[str, Any] = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root)
            if rel == "dest" or rel.startswith("dest" + os.sep):
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if os.path.relpath(path, self.root) == "dest":
                    continue
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    detail: Any = os.readlink(path)
                elif stat.S_ISREG(st.st_mode):
                    detail = Path(path).read_bytes()
                else:
                    detail = None
                out[os.path.relpath(path, self.root)] = (stat.S_IFMT(st.st_mode), st.st_mode & 0o7777,
                                                          st.st_nlink if not stat.S_ISDIR(st.st_mode) else 0,
                                                          detail)
        return out

    def assert_untouched(self) -> None:
        assert self.snapshot() == self.before, "something outside the destination changed"

    def extract(self, layer_src: Any, **options: Any) -> zstd_chunked.ExtractReport:
        blob, ann = layer_src
        fds = len(os.listdir("/proc/self/fd"))
        try:
            with zstd_chunked.open(blob, ann) as layer:
                return layer.extract(self.dest, **options)
        finally:
            assert len(os.listdir("/proc/self/fd")) == fds, "extraction leaked a descriptor"
            self.assert_untouched()


@pytest.fixture
def box(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path)


def tar_layer(*members: tuple[Any, ...]) -> tuple[bytes, dict[str, str]]:
    return bc.convert_tar(bc.make_tar(members))


def files_under(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            kind = "l" if stat.S_ISLNK(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else "f"
            out[str(path.relative_to(root))] = kind
    return out


# ------------------------------------------------------------------ names


def test_absolute_and_dotdot_names_stay_inside(box: Sandbox) -> None:
    layer = tar_layer(("file", "/abs/x", b"1"), ("file", "../up", b"2"), ("file", "a/../../../b", b"3"),
                      ("file", "./../outside/secret", b"4"), ("file", "//double//slash", b"5"),
                      ("dir", "../../../"))
    report = box.extract(layer)
    assert (box.dest / "abs" / "x").read_bytes() == b"1"
    assert (box.dest / "up").read_bytes() == b"2"
    assert (box.dest / "b").read_bytes() == b"3"
    assert (box.dest / "outside" / "secret").read_bytes() == b"4"
    assert (box.dest / "double" / "slash").read_bytes() == b"5"
    assert report.files == 5


def test_crafted_names(box: Sandbox) -> None:
    entries = [bc.reg("/../../x"), bc.reg("..\\..\\y"), bc.reg("z/."), bc.entry("dir", "/"),
               bc.reg("new\nline"), bc.reg("dot/../..")]
    contents = {e["name"]: e["name"].encode() for e in entries if e["type"] == "reg"}
    box.extract(bc.craft_blob(entries, contents))
    assert (box.dest / "x").read_bytes() == b"/../../x"
    assert (box.dest / "..\\..\\y").read_bytes() == b"..\\..\\y"
    assert (box.dest / "z").read_bytes() == b"z/."
    assert (box.dest / "new\nline").exists()


def test_names_naming_the_root_are_skipped(box: Sandbox) -> None:
    entries = [bc.reg("/"), bc.reg("."), bc.entry("symlink", "./", linkName=str(box.outside)),
               bc.entry("hardlink", "..", linkName="x")]
    report = box.extract(bc.craft_blob(entries, {"/": b"a", ".": b"b"}))
    assert sorted(report.skipped) == sorted(["..", ".", "./", "/"])
    assert files_under(box.dest) == {}


def test_path_longer_than_path_max(box: Sandbox) -> None:
    name = "/".join(["d" * 200] * 25)  # 5024 bytes
    with pytest.raises(LimitExceededError):
        box.extract(bc.craft_blob([bc.reg(name)], {name: b"x"}))


def test_deep_paths_and_many_directories(box: Sandbox) -> None:
    """No recursion limit, no descriptor exhaustion: 1500 levels, 600 directories, 150 spare fds."""
    deep = "/".join(["a"] * 1500)
    members = [("dir", f"d{i}") for i in range(600)] + [("file", deep + "/f", b"deep")]
    members += [("file", f"d{i}/f", b"x") for i in range(0, 600, 7)]
    layer = tar_layer(*members)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 150, hard))
    try:
        report = box.extract(layer)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.directories == 600
    assert (box.dest / deep / "f").read_bytes() == b"deep"
    # and a whiteout removes the whole deep tree, again without recursion
    report = box.extract(tar_layer(("file", ".wh.a", b"")), whiteouts="apply")
    assert not (box.dest / "a").exists()


# --------------------------------------------------------------- symlinks


def test_symlink_parent_pointing_outside(box: Sandbox) -> None:
    for target in (str(box.outside), "../outside", "../../" * 10 + str(box.outside).lstrip("/")):
        with pytest.raises(UnsafePathError):
            box.extract(tar_layer(("symlink", "a", target), ("file", "a/secret", b"pwned")))
        with pytest.raises(UnsafePathError):
            box.extract(tar_layer(("symlink", "b", target), ("dir", "b/newdir")))


def test_symlink_chain(box: Sandbox) -> None:
    layer = tar_layer(("symlink", "l1", "l2"), ("symlink", "l2", "l3"), ("symlink", "l3", str(box.outside)),
                      ("file", "l1/secret", b"pwned"))
    with pytest.raises(UnsafePathError):
        box.extract(layer)


def test_symlink_inside_the_tree_is_not_followed_either(box: Sandbox) -> None:
    layer = tar_layer(("dir", "real"), ("symlink", "alias", "real"), ("file", "alias/f", b"x"))
    with pytest.raises(UnsafePathError):
        box.extract(layer)


def test_symlinks_are_created_verbatim(box: Sandbox) -> None:
    layer = tar_layer(("symlink", "abs", str(box.outside / "secret")), ("symlink", "rel", "../outside"),
                      ("symlink", "dangling", "/nonexistent/x"))
    box.extract(layer)
    assert os.readlink(box.dest / "abs") == str(box.outside / "secret")
    assert os.readlink(box.dest / "rel") == "../outside"


def test_file_over_an_existing_symlink_replaces_the_link(box: Sandbox) -> None:
    box.dest.mkdir()
    os.symlink(box.outside / "secret", box.dest / "f")
    os.symlink(box.outside, box.dest / "d")
    box.extract(tar_layer(("file", "f", b"new"), ("dir", "d"), ("file", "d/secret", b"new")))
    assert not (box.dest / "f").is_symlink() and (box.dest / "f").read_bytes() == b"new"
    assert not (box.dest / "d").is_symlink() and (box.dest / "d" / "secret").read_bytes() == b"new"


def test_existing_symlinked_directory_in_dest(box: Sandbox) -> None:
    box.dest.mkdir()
    os.symlink(box.outside, box.dest / "lower")
    with pytest.raises(UnsafePathError):
        box.extract(tar_layer(("file", "lower/secret", b"pwned")))
    with pytest.raises(UnsafePathError):
        box.extract(tar_layer(("symlink", "lower/dir", "/")))


def test_empty_symlink_target(box: Sandbox) -> None:
    with pytest.raises(FormatError):
        box.extract(bc.craft_blob([bc.entry("symlink", "s", linkName="")]))


# -------------------------------------------------------------- hard links


def test_hardlink_pointing_outside(box: Sandbox) -> None:
    for target in ("../outside/secret", str(box.outside / "secret"), "/etc/passwd", "../../../../etc/passwd"):
        with pytest.raises(NotFoundError):
            box.extract(tar_layer(("hardlink", "h", target)))


def test_hardlink_through_a_symlinked_parent(box: Sandbox) -> None:
    layer = tar_layer(("symlink", "s", str(box.outside)), ("hardlink", "h", "s/secret"))
    with pytest.raises(UnsafePathError):
        box.extract(layer)


def test_hardlink_into_a_symlinked_parent(box: Sandbox) -> None:
    layer = tar_layer(("file", "f", b"data"), ("symlink", "s", str(box.outside)), ("hardlink", "s/h", "f"))
    with pytest.raises(UnsafePathError):
        box.extract(layer)


def test_hardlink_to_a_symlink_links_the_symlink(box: Sandbox) -> None:
    box.extract(tar_layer(("symlink", "s", str(box.outside / "secret")), ("hardlink", "h", "s")))
    assert os.readlink(box.dest / "h") == str(box.outside / "secret")
    assert (box.dest / "h").lstat().st_ino == (box.dest / "s").lstat().st_ino


def test_hardlink_to_a_directory_or_the_root(box: Sandbox) -> None:
    with pytest.raises(UnsafePathError):
        box.extract(bc.craft_blob([bc.entry("dir", "d"), bc.entry("hardlink", "h", linkName="d")]))
    with pytest.raises(UnsafePathError):
        box.extract(bc.craft_blob([bc.entry("hardlink", "h", linkName="/")]))


def test_hardlinks_in_the_tree_work(box: Sandbox) -> None:
    deep = [("dir", f"x{i}") for i in range(100)]  # enough directories to cycle the descriptor cache
    box.extract(tar_layer(("dir", "a"), ("file", "a/f", b"data"), *deep, ("dir", "b"), ("hardlink", "b/h", "a/f"),
                          ("hardlink", "/abs/../h2", "/a/f")))
    assert (box.dest / "b" / "h").read_bytes() == b"data"
    assert (box.dest / "h2").stat().st_nlink == 3


# ---------------------------------------------------------------- whiteouts


def _lower(box: Sandbox) -> None:
    """What a lower layer left in dest."""
    box.dest.mkdir()
    (box.dest / "victim").write_bytes(b"v")
    (box.dest / "tree" / "sub").mkdir(parents=True)
    (box.dest / "tree" / "sub" / "f").write_bytes(b"f")
    os.symlink(box.outside, box.dest / "tree" / "sub" / "escape")
    os.symlink(box.outside, box.dest / "linkdir")
    (box.dest / "opq").mkdir()
    (box.dest / "opq" / "old").write_bytes(b"old")


WHITEOUT_LAYER = [("file", ".wh.victim", b""), ("file", ".wh.tree", b""), ("file", ".wh.linkdir", b""),
                  ("dir", "opq"), ("file", "opq/new", b"new"), ("file", "opq/.wh..wh..opq", b"")]


def test_whiteouts_keep(box: Sandbox) -> None:
    _lower(box)
    report = box.extract(tar_layer(*WHITEOUT_LAYER), whiteouts="keep")
    assert report.whiteouts == 0
    assert (box.dest / ".wh.victim").exists() and (box.dest / "victim").exists()
    assert (box.dest / "opq" / ".wh..wh..opq").exists() and (box.dest / "opq" / "old").exists()


def test_whiteouts_apply(box: Sandbox) -> None:
    _lower(box)
    report = box.extract(tar_layer(*WHITEOUT_LAYER), whiteouts="apply")
    assert report.whiteouts == 4
    assert files_under(box.dest) == {"opq": "d", "opq/new": "f"}


def test_whiteouts_skip(box: Sandbox) -> None:
    _lower(box)
    report = box.extract(tar_layer(*WHITEOUT_LAYER), whiteouts="skip")
    assert report.whiteouts == 4
    assert (box.dest / "victim").exists() and not (box.dest / ".wh.victim").exists()
    assert (box.dest / "opq" / "old").exists()


def test_whiteout_names_that_escape(box: Sandbox) -> None:
    _lower(box)
    for name in (".wh...", "a/.wh..", "opq/.wh..."):
        with pytest.raises(UnsafePathError):
            box.extract(bc.craft_blob([bc.reg(name)], {name: b""}), whiteouts="apply")
    # through a symlinked parent: refused before anything is removed
    with pytest.raises(UnsafePathError):
        box.extract(tar_layer(("file", "linkdir/.wh.secret", b"")), whiteouts="apply")
    with pytest.raises(UnsafePathError):
        box.extract(tar_layer(("file", "linkdir/.wh..wh..opq", b"")), whiteouts="apply")
    # "../../outside/.wh.secret" is cleaned to "outside/.wh.secret" inside dest
    box.extract(tar_layer(("file", "../../outside/.wh.secret", b"")), whiteouts="apply")


def test_invalid_whiteout_option(box: Sandbox) -> None:
    with pytest.raises(ValueError):
        box.extract(tar_layer(("file", "f", b"")), whiteouts="yes")


# ----------------------------------------------------------- devices, fifos


def test_devices_and_fifos_need_allow_devices(box: Sandbox) -> None:
    layer = tar_layer(("fifo", "p"), ("char", "null", (1, 3)), ("block", "sda", (8, 0)))
    report = box.extract(layer)
    assert sorted(report.skipped) == ["null", "p", "sda"] and report.devices == 0
    assert files_under(box.dest) == {}
    report = box.extract(layer, allow_devices=True)
    assert stat.S_ISFIFO((box.dest / "p").lstat().st_mode)
    if os.geteuid() == 0 and report.devices == 3:
        assert stat.S_ISCHR((box.dest / "null").lstat().st_mode)
        assert stat.S_ISBLK((box.dest / "sda").lstat().st_mode)
    else:
        assert "null" in report.skipped


def test_device_numbers_out_of_range(box: Sandbox) -> None:
    for major, minor in ((1 << 40, 0), (-1, 0), (0, -5)):
        with pytest.raises(FormatError):
            box.extract(bc.craft_blob([bc.entry("char", "c", devMajor=major, devMinor=minor)]), allow_devices=True)


# ---------------------------------------------------------- hostile metadata


def test_bad_xattrs(box: Sandbox) -> None:
    with pytest.raises(FormatError):
        box.extract(bc.craft_blob([bc.reg("f", xattrs={"user.a": "not base64!"})], {"f": b"x"}))
    with pytest.raises(FormatError):  # refused when the TOC is read
        box.extract(bc.craft_blob([bc.reg("f", xattrs={"": "YQ=="})], {"f": b"x"}))
    report = box.extract(bc.craft_blob([bc.reg("f", xattrs={"bogus.ns": "YQ==", "user." + "n" * 300: "YQ=="})],
                                       {"f": b"x"}))
    assert len(report.warnings) == 2


def test_owner_out_of_range_is_a_warning(box: Sandbox) -> None:
    report = box.extract(bc.craft_blob([bc.reg("f", uid=-1, gid=1 << 40)], {"f": b"x"}), owners=True)
    assert any("out of range" in w for w in report.warnings)


def test_file_with_wrong_digest_is_removed(box: Sandbox) -> None:
    blob, ann = bc.craft_blob([bc.reg("ok"), bc.reg("bad")], {"ok": b"fine", "bad": b"evil"})
    blob, ann = bc.reseal(blob, ann, toc=lambda d: (d["entries"][1].update(digest=bc.sha256(b"good")), d)[1])
    with pytest.raises(DigestMismatchError):
        box.extract((blob, ann))
    assert files_under(box.dest) == {"ok": "f"}


def test_every_golden_vector_extracts_inside(box: Sandbox) -> None:
    from vectors_util import local_cases

    for case in local_cases():
        if case.blob.stat().st_size > 300_000:
            continue
        dest = box.dest / case.name
        with zstd_chunked.open(case.blob, case.annotations) as layer:
            try:
                layer.extract(dest, allow_devices=True, whiteouts="apply")
            except ZstdChunkedError as exc:  # pragma: no cover - a failure to explain
                pytest.fail(f"{case.name}: {exc}")
        box.assert_untouched()


def _extract_or(box: Sandbox, layer: Any, **kw: Any) -> Optional[type]:
    try:
        box.extract(layer, **kw)
    except ZstdChunkedError as exc:
        return type(exc)
    return None


def test_escape_attempts_in_one_layer(box: Sandbox) -> None:
    """Several tricks in a row: each refused or confined, the sandbox untouched at the end."""
    attempts = [
        [("symlink", "x", "/"), ("file", "x/etc/evil", b"1")],
        [("dir", "p"), ("symlink", "p/q", "../.."), ("file", "p/q/outside/secret", b"1")],
        [("hardlink", "h", "../outside/secret"), ("file", "h", b"1")],
        [("symlink", "s", str(box.outside / "secret")), ("hardlink", "s2", "s"), ("file", "s3", b"1")],
        [("file", "f", b"1"), ("file", "f/g", b"2")],
    ]
    for members in attempts:
        try:
            layer = tar_layer(*members)
        except ZstdChunkedError:
            continue  # the writer refused (duplicate path): fine too
        _extract_or(box, layer, whiteouts="apply")
