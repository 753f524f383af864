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
import binascii
import errno
import os
import stat
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from . import format as fmt
from .errors import FormatError, LimitExceededError, NotFoundError, UnsafePathError
from .tarstream import go_clean_path
from .toc import TocEntry

if TYPE_CHECKING:
    from .reader import Layer

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
WHITEOUT_MODES = ("keep", "apply", "skip")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_SKIP_XATTRS = frozenset({"security.selinux"})
#: Longest in-tree path extracted, in bytes (Linux PATH_MAX).
MAX_PATH = 4096
#: Directory descriptors kept open between entries.
MAX_CACHED_DIRS = 64


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
    """The in-tree relative path of a TOC name ("" for the root itself).

    Raises :class:`UnsafePathError` for a NUL byte and :class:`LimitExceededError`
    for a path longer than :data:`MAX_PATH` bytes (the reference, which opens full
    paths under the root, fails on those too).
    """
    if "\x00" in name:
        raise UnsafePathError(f"NUL byte in path {name!r}")
    rel = go_clean_path("/" + name).lstrip("/")
    if len(rel.encode("utf-8", "surrogateescape")) > MAX_PATH:
        raise LimitExceededError(f"path of {len(rel)} characters is longer than {MAX_PATH} bytes: {rel[:80]!r}...")
    return rel


class _Tree:
    """Directory descriptors under the extraction root, opened without following links.

    At most :data:`MAX_CACHED_DIRS` descriptors stay open (least recently used
    ones are closed), so a layer with many directories cannot exhaust the
    process's descriptors. A descriptor returned by :meth:`dir_fd` stays valid
    until the next :meth:`dir_fd`, :meth:`forget` or :meth:`close` call.
    """

    def __init__(self, root: Path) -> None:
        self.root_fd = os.open(root, _DIR_FLAGS)
        self._fds: OrderedDict[str, int] = OrderedDict()

    def close(self) -> None:
        for fd in [*self._fds.values(), self.root_fd]:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def forget(self, rel: str) -> None:
        """Drop cached descriptors at or under ``rel`` (it was removed or replaced)."""
        for key in [k for k in self._fds if k == rel or k.startswith(rel + "/")]:
            os.close(self._fds.pop(key))

    def dir_fd(self, rel: str, create: bool) -> int:
        """Descriptor of directory ``rel``; creates missing components (mode 0755) when asked."""
        if not rel:
            return self.root_fd
        fd = self._fds.get(rel)
        if fd is not None:
            self._fds.move_to_end(rel)
            return fd
        # Start from the deepest cached ancestor, then walk down one component at a time.
        start, pfd = rel, self.root_fd
        while True:
            start = start.rpartition("/")[0]
            if not start:
                break
            cached = self._fds.get(start)
            if cached is not None:
                pfd = cached
                break
        names = (rel[len(start) + 1:] if start else rel).split("/")
        opened: Optional[int] = None  # a descriptor of ours (not cached) that pfd may be
        try:
            for base in names:
                fd = self._open_child(pfd, base, rel, create)
                if opened is not None:
                    os.close(opened)
                opened = pfd = fd
        except BaseException:
            if opened is not None:
                os.close(opened)
            raise
        assert opened is not None
        self._fds[rel] = opened
        while len(self._fds) > MAX_CACHED_DIRS:
            os.close(self._fds.popitem(last=False)[1])
        return opened

    @staticmethod
    def _open_child(pfd: int, base: str, rel: str, create: bool) -> int:
        try:
            return os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise UnsafePathError(f"{rel!r} goes through a symlink or a non-directory; refusing") from None
            raise
        os.mkdir(base, 0o755, dir_fd=pfd)
        try:
            return os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                raise UnsafePathError(f"{rel!r} goes through a symlink or a non-directory; refusing") from None
            raise


def _lstat(name: str, dir_fd: int) -> Optional[os.stat_result]:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _remove(tree: _Tree, rel: str, name: str, dir_fd: int) -> None:
    """Remove whatever is at name (a whole tree for directories).

    Trees are removed depth first without recursion and with at most two
    descriptors open: the walk goes down through ``O_NOFOLLOW`` opens and back
    up through ``..``, checking that ``..`` is the directory it came from.
    """
    st = _lstat(name, dir_fd)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    tree.forget(rel)
    current = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    path: list[tuple[str, int, int]] = []  # (name in parent, parent's st_dev, parent's st_ino)
    try:
        while True:
            subdir = None
            for child in os.listdir(current):
                cst = _lstat(child, current)
                if cst is None:
                    continue
                if stat.S_ISDIR(cst.st_mode):
                    subdir = child
                    break
                os.unlink(child, dir_fd=current)
            if subdir is not None:
                here = os.fstat(current)
                fd = os.open(subdir, _DIR_FLAGS, dir_fd=current)
                os.close(current)
                current = fd
                path.append((subdir, here.st_dev, here.st_ino))
                continue
            if not path:
                break
            child, dev, ino = path.pop()
            fd = os.open("..", _DIR_FLAGS, dir_fd=current)
            os.close(current)
            current = fd
            up = os.fstat(current)
            if (up.st_dev, up.st_ino) != (dev, ino):
                raise UnsafePathError(f"{rel!r} changed while it was being removed")
            os.rmdir(child, dir_fd=current)
    finally:
        os.close(current)
    os.rmdir(name, dir_fd=dir_fd)


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
            if not entry.linkname:
                raise FormatError(f"symlink {entry.name!r} has an empty target")
            os.symlink(entry.linkname, base, dir_fd=pfd)
            self._attributes(entry, name=base, dir_fd=pfd)
            self.report.symlinks += 1
        elif kind == fmt.TYPE_HARDLINK:
            self._hardlink(entry, parent_rel, base)
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

    def _hardlink(self, entry: TocEntry, parent_rel: str, base: str) -> None:
        target = clean_relative(entry.linkname)
        if not target:
            raise UnsafePathError(f"hard link {entry.name!r} points at the extraction root")
        tparent, _, tbase = target.rpartition("/")
        missing = NotFoundError(f"hard link {entry.name!r}: target {entry.linkname!r} does not exist")
        try:
            tfd = os.dup(self.tree.dir_fd(tparent, create=False))  # our own: dir_fd() below may close the cached one
        except FileNotFoundError:
            raise missing from None
        try:
            st = _lstat(tbase, tfd)
            if st is None:
                raise missing
            if stat.S_ISDIR(st.st_mode):
                raise UnsafePathError(f"hard link {entry.name!r} points at a directory")
            pfd = self.tree.dir_fd(parent_rel, create=True)
            os.link(tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False)
        finally:
            os.close(tfd)
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
                try:
                    if not (0 <= entry.devmajor <= 0xFFFFFFFF and 0 <= entry.devminor <= 0xFFFFFFFF):
                        raise ValueError("device number out of range")
                    device = os.makedev(entry.devmajor, entry.devminor)
                except (OverflowError, ValueError):
                    raise FormatError(f"{entry.name!r}: device number {entry.devmajor}:{entry.devminor} "
                                      "is out of range") from None
                os.mknod(base, perm | kind, device, dir_fd=pfd)
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
            except OverflowError:
                self.report.warnings.append(f"{entry.name}: chown: owner {entry.uid}:{entry.gid} is out of range")
        if self.xattrs and entry.xattrs and fd is not None:
            for key, value in entry.xattrs.items():
                if key in _SKIP_XATTRS:
                    continue
                try:
                    data = base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise FormatError(f"{entry.name!r}: the value of xattr {key!r} is not base64") from None
                try:
                    os.setxattr(fd, key, data)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES,
                                         errno.EINVAL, errno.ERANGE, errno.E2BIG, errno.ENOSPC):
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
