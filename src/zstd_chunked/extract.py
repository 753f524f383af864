"""Safe extraction of a layer into a directory.

Every path is first made relative with the reference's ``CleanAbsPath`` rule
(``filepath.Clean("/" + name)``), so ``..`` and absolute names stay inside the
destination. Directories are then walked one component at a time through
directory file descriptors opened with ``O_NOFOLLOW``: a symlink in a parent
position (even one this extraction created) is refused, never followed. Final
components are created with ``O_EXCL``/``O_NOFOLLOW`` or the ``dir_fd`` and
``follow_symlinks=False`` forms of the system calls.
"""

from __future__ import annotations

import base64
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from . import format as fmt
from .errors import UnsafePathError, ZstdChunkedError
from .tarstream import go_clean_path
from .toc import TocEntry

if TYPE_CHECKING:
    from .reader import Layer

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
WHITEOUT_MODES = ("keep", "apply", "skip")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_SKIP_XATTRS = frozenset({"security.selinux"})


@dataclass
class ExtractReport:
    """What an extraction did."""

    files: int = 0
    directories: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    devices: int = 0
    whiteouts: int = 0
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def clean_relative(name: str) -> str:
    """The in-tree relative path of a TOC name ("" for the root itself)."""
    if "\x00" in name:
        raise UnsafePathError(f"NUL byte in path {name!r}")
    return go_clean_path("/" + name).lstrip("/")


class _Tree:
    """Directory descriptors under the extraction root, opened without following links."""

    def __init__(self, root: Path) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self._fds: dict[str, int] = {"": self.root_fd}

    def close(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def forget(self, rel: str) -> None:
        """Drop cached descriptors at or under ``rel`` (it was removed or replaced)."""
        for key in [k for k in self._fds if k and (k == rel or k.startswith(rel + "/"))]:
            os.close(self._fds.pop(key))

    def dir_fd(self, rel: str, create: bool) -> int:
        """Descriptor of directory ``rel``; creates missing components (mode 0755) when asked."""
        fd = self._fds.get(rel)
        if fd is not None:
            return fd
        parent, _, base = rel.rpartition("/")
        pfd = self.dir_fd(parent, create)
        try:
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
            os.mkdir(base, 0o755, dir_fd=pfd)
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise UnsafePathError(f"{rel!r} is a symlink or not a directory; refusing to go through it") from None
            raise
        self._fds[rel] = fd
        return fd


def _lstat(name: str, dir_fd: int) -> Optional[os.stat_result]:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(tree: _Tree, rel: str, name: str, dir_fd: int) -> None:
    """Remove whatever is at name (a tree for directories)."""
    st = _lstat(name, dir_fd)
    if st is None:
        return
    if stat.S_ISDIR(st.st_mode):
        tree.forget(rel)
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            for child in os.listdir(fd):
                _remove(tree, rel + "/" + child if rel else child, child, fd)
        finally:
            os.close(fd)
        os.rmdir(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


class _Extractor:
    def __init__(self, layer: Layer, dest: Path, *, allow_devices: bool, whiteouts: str,
                 owners: bool, xattrs: bool, times: bool) -> None:
        self.layer = layer
        self.allow_devices = allow_devices
        self.whiteouts = whiteouts
        self.owners = owners
        self.xattrs = xattrs
        self.times = times
        self.report = ExtractReport()
        self.tree = _Tree(dest)
        self.dirs: list[tuple[str, TocEntry]] = []
        self.created: set[str] = set()  # paths this extraction made (an opaque whiteout keeps them)

    def run(self) -> ExtractReport:
        for entry in self.layer.entries():
            self._entry(entry)
        for rel, entry in reversed(self.dirs):  # children first, so their creation does not touch times
            fd = self.tree.dir_fd(rel, create=False)
            self._attributes(entry, fd=fd)
        return self.report

    def _entry(self, entry: TocEntry) -> None:
        rel = clean_relative(entry.name)
        if not rel:
            if entry.type == fmt.TYPE_DIR:
                self.dirs.append(("", entry))
            else:
                self.report.skipped.append(entry.name)
            return
        parent_rel, _, base = rel.rpartition("/")
        pfd = self.tree.dir_fd(parent_rel, create=True)
        if base.startswith(WHITEOUT_PREFIX) and self.whiteouts != "keep":
            self.report.whiteouts += 1
            if self.whiteouts == "apply":
                self._whiteout(parent_rel, base, pfd)
            return
        kind = entry.type
        self.created.add(rel)
        if kind == fmt.TYPE_DIR:
            st = _lstat(base, pfd)
            if st is not None and not stat.S_ISDIR(st.st_mode):
                os.unlink(base, dir_fd=pfd)
                st = None
            if st is None:
                os.mkdir(base, 0o700, dir_fd=pfd)
            self.tree.dir_fd(rel, create=False)  # fails if it raced into a symlink
            self.dirs.append((rel, entry))
            self.report.directories += 1
            return
        st = _lstat(base, pfd)
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                _remove(self.tree, rel, base, pfd)
            else:
                os.unlink(base, dir_fd=pfd)
        if kind == fmt.TYPE_REG:
            self._regular(entry, base, pfd)
        elif kind == fmt.TYPE_SYMLINK:
            os.symlink(entry.linkname, base, dir_fd=pfd)
            self._attributes(entry, name=base, dir_fd=pfd)
            self.report.symlinks += 1
        elif kind == fmt.TYPE_HARDLINK:
            self._hardlink(entry, base, pfd)
        elif kind in (fmt.TYPE_CHAR, fmt.TYPE_BLOCK, fmt.TYPE_FIFO):
            self._device(entry, base, pfd)
        else:
            self.report.skipped.append(entry.name)

    def _regular(self, entry: TocEntry, base: str, pfd: int) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(base, flags, 0o600, dir_fd=pfd)
        try:
            if entry.size > 0:
                for piece in self.layer.iter_file(self.layer.content_of(entry)):
                    view = memoryview(piece)
                    while view:
                        view = view[os.write(fd, view):]
            self._attributes(entry, fd=fd)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(base, dir_fd=pfd)
            except OSError:
                pass
            raise
        os.close(fd)
        self.report.files += 1

    def _hardlink(self, entry: TocEntry, base: str, pfd: int) -> None:
        target = clean_relative(entry.linkname)
        if not target:
            raise UnsafePathError(f"hard link {entry.name!r} points at the extraction root")
        tparent, _, tbase = target.rpartition("/")
        try:
            tfd = self.tree.dir_fd(tparent, create=False)
        except FileNotFoundError:
            raise ZstdChunkedError(f"hard link {entry.name!r}: target {entry.linkname!r} does not exist") from None
        st = _lstat(tbase, tfd)
        if st is None:
            raise ZstdChunkedError(f"hard link {entry.name!r}: target {entry.linkname!r} does not exist")
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePathError(f"hard link {entry.name!r} points at a directory")
        os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        self.report.hardlinks += 1

    def _device(self, entry: TocEntry, base: str, pfd: int) -> None:
        if not self.allow_devices:
            self.report.skipped.append(entry.name)
            return
        perm = entry.mode & 0o7777
        try:
            if entry.type == fmt.TYPE_FIFO:
                os.mkfifo(base, perm, dir_fd=pfd)
            else:
                kind = stat.S_IFCHR if entry.type == fmt.TYPE_CHAR else stat.S_IFBLK
                os.mknod(base, perm | kind, os.makedev(entry.devmajor, entry.devminor), dir_fd=pfd)
        except PermissionError:
            self.report.skipped.append(entry.name)
            self.report.warnings.append(f"{entry.name}: no permission to create a device node")
            return
        self._attributes(entry, name=base, dir_fd=pfd)
        self.report.devices += 1

    def _whiteout(self, parent_rel: str, base: str, pfd: int) -> None:
        if base == WHITEOUT_OPAQUE:
            for child in os.listdir(pfd):
                child_rel = parent_rel + "/" + child if parent_rel else child
                if child_rel not in self.created:  # hide what lower layers put here, not our own entries
                    _remove(self.tree, child_rel, child, pfd)
            return
        victim = base[len(WHITEOUT_PREFIX):]
        if victim in ("", ".", ".."):
            raise UnsafePathError(f"invalid whiteout {base!r}")
        _remove(self.tree, parent_rel + "/" + victim if parent_rel else victim, victim, pfd)

    def _attributes(self, entry: TocEntry, *, fd: Optional[int] = None, name: str = "",
                    dir_fd: Optional[int] = None) -> None:
        """Ownership, xattrs, mode and times; on a descriptor or a name under ``dir_fd`` (never followed)."""
        is_link = entry.type == fmt.TYPE_SYMLINK
        target: Any = fd if fd is not None else name
        kw: dict[str, Any] = {} if fd is not None else {"dir_fd": dir_fd, "follow_symlinks": False}
        if self.owners:
            try:
                os.chown(target, entry.uid, entry.gid, **kw)
            except OSError as exc:
                self.report.warnings.append(f"{entry.name}: chown: {exc.strerror}")
        if self.xattrs and entry.xattrs and fd is not None:
            for key, value in entry.xattrs.items():
                if key in _SKIP_XATTRS:
                    continue
                try:
                    os.setxattr(fd, key, base64.b64decode(value))
                except OSError as exc:
                    if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES):
                        raise
                    self.report.warnings.append(f"{entry.name}: xattr {key}: {exc.strerror}")
        if not is_link:
            try:
                os.chmod(target, entry.mode & 0o7777, **kw)
            except NotImplementedError:
                pass
        if self.times:
            mtime = entry.mtime()
            if mtime is not None:
                atime = entry.atime() or mtime
                ns = (atime[0] * 1_000_000_000 + atime[1], mtime[0] * 1_000_000_000 + mtime[1])
                try:
                    os.utime(target, ns=ns, **kw)
                except (NotImplementedError, OSError) as exc:
                    if not is_link:
                        self.report.warnings.append(f"{entry.name}: utime: {exc}")


def extract(layer: Layer, dest: Any, *, allow_devices: bool = False, whiteouts: str = "keep",
            owners: Optional[bool] = None, xattrs: bool = True, times: bool = True) -> ExtractReport:
    """Extract every entry of ``layer`` under directory ``dest`` (created if missing).

    * ``allow_devices``: create character/block devices and FIFOs (devices need
      root); otherwise they are skipped and listed in the report.
    * ``whiteouts``: ``"keep"`` (default) extracts OCI whiteout files as plain
      files; ``"apply"`` deletes what they hide (``.wh.NAME`` removes NAME,
      ``.wh..wh..opq`` empties the directory); ``"skip"`` ignores them.
    * ``owners``: apply uid/gid (default: only when running as root).
    * File contents are verified against the TOC digests; a file that fails is
      removed and the error raised.
    """
    if whiteouts not in WHITEOUT_MODES:
        raise ValueError(f"whiteouts must be one of {WHITEOUT_MODES}, got {whiteouts!r}")
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if owners is None:
        owners = hasattr(os, "geteuid") and os.geteuid() == 0
    extractor = _Extractor(layer, root, allow_devices=allow_devices, whiteouts=whiteouts,
                           owners=owners, xattrs=xattrs, times=times)
    try:
        return extractor.run()
    finally:
        extractor.tree.close()
