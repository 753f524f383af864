"""The only door to the native core (``zstd_chunked._zck``, built from ``csrc/``).

Everything the C library does is wrapped here with types, docstrings and
exceptions; no other module imports ``_zck``.  C functions return error codes;
this module turns each one into an exception from :mod:`zstd_chunked.errors`
with the message ``"could not <action>: <ERROR_NAME> (<description>)"``, plus the
offset or job index when known:

* footer, frame-scan and compressed-data problems raise :class:`FormatError`;
* size limits raise :class:`LimitExceededError`;
* tar entries the writer cannot represent raise :class:`UnsupportedTarError`;
* misuse (a second batch in flight, use after ``close()``, use from two threads
  at once) raises :class:`UsageError`;
* allocation, thread and other libzstd failures raise :class:`NativeError`
  (its ``.code`` is the C error code).

Inputs may be any contiguous buffer (``bytes``, ``bytearray``, ``memoryview``,
``mmap``).  cffi releases the GIL during every C call, so the pool and batch
decompression run in parallel with other Python threads.

Stateful objects (:class:`Chunker`, :class:`FrameScanner`, :class:`CompressPool`,
:class:`FrameStreamCompressor`) free their C context on ``close()``, on leaving a
``with`` block, or at garbage collection, whichever comes first.  They must not
be used from two threads at once; doing so raises :class:`UsageError`.
"""

from __future__ import annotations

import hashlib
import itertools
import mmap
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Union

from ._zck import ffi, lib
from .errors import (
    DigestMismatchError,
    FormatError,
    LimitExceededError,
    NativeError,
    UnsupportedTarError,
    UsageError,
)

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "BufferLike",
    "ChunkOut",
    "Chunker",
    "CompressPool",
    "DecodeJobs",
    "FooterInfo",
    "FrameInfo",
    "FrameScanner",
    "FrameStreamCompressor",
    "build_footer",
    "compress_bound",
    "compress_frame",
    "crc64",
    "crc64_implementation",
    "decompress_batch",
    "decompress_into",
    "error_name",
    "level_range",
    "PayloadResult",
    "TarSplitLines",
    "TarSplitScan",
    "TocScan",
    "TocText",
    "PATH_KEY_SIZE",
    "clean_path",
    "find_duplicate_key",
    "path_key",
    "json_quote",
    "utf8_valid",
    "parse_footer",
    "scan_frames",
    "sha256",
    "sha256_implementation",
    "skippable_header",
    "toc_scan",
    "zstd_version",
    "zstd_version_number",
]

#: Anything with a contiguous byte buffer.
BufferLike = Union[bytes, bytearray, memoryview, mmap.mmap]

#: Cuts reported by :class:`Chunker`: (end offset in the file, is a hole).
Cut = tuple[int, bool]


_alloc = ffi.new_allocator(should_clear_after_alloc=False)

_FORMAT_CODES = frozenset(
    [
        lib.ZCK_E_SKIPPABLE_MAGIC,
        lib.ZCK_E_FOOTER_TRUNCATED,
        lib.ZCK_E_FOOTER_MAGIC,
        lib.ZCK_E_FOOTER_FRAME,
        lib.ZCK_E_FOOTER_MANIFEST_TYPE,
        lib.ZCK_E_FOOTER_TOC_EMPTY,
        lib.ZCK_E_FOOTER_TOC_OFFSET,
        lib.ZCK_E_FOOTER_TOC_RANGE,
        lib.ZCK_E_FOOTER_TARSPLIT_PARTIAL,
        lib.ZCK_E_FOOTER_TARSPLIT_OFFSET,
        lib.ZCK_E_FOOTER_TARSPLIT_RANGE,
        lib.ZCK_E_FOOTER_OVERLAP,
        lib.ZCK_E_FRAME_GARBAGE,
        lib.ZCK_E_FRAME_TRUNCATED,
        lib.ZCK_E_FRAME_RESERVED_BIT,
        lib.ZCK_E_FRAME_BLOCK_TYPE,
        lib.ZCK_E_FRAME_BLOCK_SIZE,
        lib.ZCK_E_DATA_TRUNCATED,
        lib.ZCK_E_CORRUPT,
        lib.ZCK_E_CHECKSUM,
        lib.ZCK_E_NOT_ZSTD,
        lib.ZCK_E_EXTRA_DATA,
    ]
)
_LIMIT_CODES = frozenset([lib.ZCK_E_WINDOW_TOO_LARGE, lib.ZCK_E_OVERFLOW])
_USAGE_CODES = frozenset([lib.ZCK_E_BUSY, lib.ZCK_E_NOT_SUBMITTED, lib.ZCK_E_STATE])

_UINT64_MAX = (1 << 64) - 1


def error_name(code: int) -> str:
    """Name of a C error code, e.g. ``"ZCK_E_FRAME_GARBAGE"``."""
    return str(ffi.string(lib.zck_error_name(code)).decode("ascii"))


def _error(code: int, action: str, where: str = "") -> Exception:
    message = str(ffi.string(lib.zck_error_message(code)).decode("ascii"))
    text = f"could not {action}: {error_name(code)} ({message})"
    if where:
        text += " " + where
    if code in _FORMAT_CODES:
        return FormatError(text)
    if code in _LIMIT_CODES:
        return LimitExceededError(text)
    if code in _USAGE_CODES:
        return UsageError(text)
    return NativeError(text, code)


def _check(code: int, action: str, where: str = "") -> None:
    if code != lib.ZCK_OK:
        raise _error(code, action, where)


def _in(data: BufferLike) -> Any:
    """A read-only ``uint8_t[]`` view of a buffer (no copy)."""
    return ffi.from_buffer("uint8_t[]", data)


def _new_context(ptr: Any, free: Callable[[Any], None], size: int, what: str) -> Any:
    if ptr == ffi.NULL:
        raise NativeError(f"could not create {what}: {error_name(lib.ZCK_E_NOMEM)} (out of memory)",
                          lib.ZCK_E_NOMEM)
    return ffi.gc(ptr, free, size=size)


class _Closable:
    """close()/closed/context manager and a guard against use from two threads."""

    _what = "object"

    def __init__(self) -> None:
        self._ptr: Any = None
        self._entered = False
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._ptr is None

    def _acquire(self) -> Any:
        if not self._lock.acquire(blocking=False):
            raise UsageError(f"{self._what} used from two threads at once")
        if self._ptr is None:
            self._lock.release()
            raise UsageError(f"{self._what} is closed")
        return self._ptr

    def _query(self, getter: Callable[[Any], Any]) -> int:
        """``int(getter(ptr))`` under the guard against use from two threads."""
        ptr = self._acquire()
        try:
            return int(getter(ptr))
        finally:
            self._lock.release()

    def close(self) -> None:
        """Free the C context now (idempotent)."""
        with self._lock:
            ptr, self._ptr = self._ptr, None
            if ptr is not None:
                ffi.release(ptr)

    def __enter__(self) -> Self:
        if self._entered:
            raise UsageError(f"{self._what} is already in use as a context manager")
        if self._ptr is None:
            raise UsageError(f"{self._what} is closed")
        self._entered = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --------------------------------------------------------------------- misc


def zstd_version() -> str:
    """Version string of the libzstd the extension is linked against, e.g. ``"1.5.4"``."""
    return str(ffi.string(lib.zck_zstd_version()).decode("ascii"))


def zstd_version_number() -> int:
    """``ZSTD_versionNumber()`` of the linked libzstd, e.g. ``10504``."""
    return int(lib.zck_zstd_version_number())


_CRC64_IMPLS = {"auto": lib.ZCK_CRC64_AUTO, "tables": lib.ZCK_CRC64_TABLES, "clmul": lib.ZCK_CRC64_CLMUL}


def crc64(data: BufferLike, crc: int = 0, *, impl: str = "auto") -> int:
    """CRC-64 of ``data`` as Go's ``crc64.Update(crc, crc64.MakeTable(crc64.ISO), data)``.

    Chain calls to checksum a stream: ``crc64(b, crc64(a)) == crc64(a + b)``.
    tar-split stores ``crc.to_bytes(8, "big")``.  ``impl``: ``"auto"`` (the
    fastest this CPU supports), ``"tables"`` (plain C) or ``"clmul"`` (x86-64
    carry-less multiplication; ``ZCK_E_UNSUPPORTED`` where missing); all give
    the same value.
    """
    if not 0 <= crc <= _UINT64_MAX:
        raise ValueError("crc must be an unsigned 64-bit integer")
    buf = _in(data)
    if impl == "auto":
        return int(lib.zck_crc64_update(crc, buf, len(buf)))
    try:
        code = _CRC64_IMPLS[impl]
    except KeyError:
        raise ValueError(f"impl must be one of {sorted(_CRC64_IMPLS)}, not {impl!r}") from None
    out = ffi.new("uint64_t *")
    _check(lib.zck_crc64_impl(code, crc, buf, len(buf), out), f"compute CRC-64 ({impl})")
    return int(out[0])


def crc64_implementation() -> str:
    """The implementation ``crc64(impl="auto")`` uses for long inputs: ``"clmul"`` or ``"tables"``."""
    return "clmul" if lib.zck_crc64_best() == lib.ZCK_CRC64_CLMUL else "tables"


_SHA256_IMPLS = {"auto": lib.ZCK_SHA256_AUTO, "portable": lib.ZCK_SHA256_PORTABLE, "shani": lib.ZCK_SHA256_SHANI}


def sha256(data: BufferLike, *, impl: str = "auto") -> bytes:
    """SHA-256 digest (32 bytes) of ``data``, computed by the native core.

    ``impl`` picks the implementation: ``"auto"`` (the fastest this CPU
    supports), ``"portable"`` (plain C) or ``"shani"`` (x86-64 SHA extensions;
    raises :class:`NativeError` with code ``ZCK_E_UNSUPPORTED`` where they are
    missing).  All give the same digest; the choice exists for tests and
    benchmarks.
    """
    try:
        code = _SHA256_IMPLS[impl]
    except KeyError:
        raise ValueError(f"impl must be one of {sorted(_SHA256_IMPLS)}, not {impl!r}") from None
    buf = _in(data)
    out = ffi.new("uint8_t[32]")
    _check(lib.zck_sha256_impl(code, buf, len(buf), out), f"compute SHA-256 ({impl})")
    return bytes(ffi.buffer(out))


def sha256_implementation() -> str:
    """The implementation ``sha256(impl="auto")`` and the pool's payload jobs use: ``"shani"`` or ``"portable"``."""
    return "shani" if lib.zck_sha256_best() == lib.ZCK_SHA256_SHANI else "portable"


def compress_bound(size: int) -> int:
    """Largest possible size of one compressed frame holding ``size`` bytes."""
    bound = int(lib.zck_compress_bound(size))
    if bound == 0:
        raise LimitExceededError(f"could not size a frame for {size} bytes: input too large")
    return bound


def level_range() -> tuple[int, int]:
    """(min, max) compression level accepted by the linked libzstd (negative levels are fast modes)."""
    return int(lib.zck_level_min()), int(lib.zck_level_max())


def _check_level(level: int) -> None:
    if not isinstance(level, int) or isinstance(level, bool):
        raise TypeError("level must be an int")
    low, high = level_range()
    if not low <= level <= high:
        raise ValueError(f"compression level {level} is outside libzstd's range {low}..{high}")


# ------------------------------------- JSON text: tar-split lines, TOC entries


class _TextEncoder(_Closable):
    """A C encoder that collects text in a buffer the caller empties (tar-split, TOC)."""

    def __init__(self) -> None:
        super().__init__()
        self._n = ffi.new("size_t *")

    def _take(self, text: Callable[[Any, Any], Any], clear: Callable[[Any], None]) -> bytes:
        """The text collected so far (``text`` reads the buffer, ``clear`` empties it)."""
        ptr = self._acquire()
        try:
            data = text(ptr, self._n)
            n = int(self._n[0])
            taken = ffi.buffer(data, n)[:] if n else b""
            clear(ptr)
            return taken
        finally:
            self._lock.release()


class TarSplitLines(_TextEncoder):
    """The reference's tar-split lines, encoded in C (``csrc/zck_tarsplit.c``).

    :meth:`segment` and :meth:`file` append one JSON line each to a buffer that
    :meth:`take` empties.  :meth:`file` refuses what the reference's packer
    refuses (a second entry for one cleaned path, a negative size) with
    :class:`UnsupportedTarError`; the encoder is unchanged after any error.
    """

    _what = "TarSplitLines"

    def __init__(self) -> None:
        super().__init__()
        raw = lib.zck_tarsplit_new()
        self._ptr = _new_context(raw, lib.zck_tarsplit_free, int(lib.zck_tarsplit_sizeof(raw)), "a tar-split encoder")

    def segment(self, data: BufferLike) -> None:
        """A line (type 2) for raw tar bytes; nothing for empty ``data``."""
        ptr = self._acquire()
        try:
            src = data if isinstance(data, bytes) else _in(data)
            _check(lib.zck_tarsplit_segment(ptr, src, len(data)), "encode a tar-split segment")
        finally:
            self._lock.release()

    def file(self, name: bytes, size: int, crc: bytes | None) -> None:
        """A line (type 1) for an entry; ``crc``: 8 big-endian bytes when ``size`` > 0, else None.

        Raises :class:`UnsupportedTarError` for a path already seen (after
        ``filepath.Clean``) and for a negative size, ValueError for a ``crc``
        that does not fit ``size``.
        """
        if crc is not None and len(crc) != 8:
            raise ValueError("crc must be 8 bytes")
        ptr = self._acquire()
        try:
            rc = lib.zck_tarsplit_file(ptr, name, len(name), size, ffi.NULL if crc is None else crc)
        finally:
            self._lock.release()
        if rc == lib.ZCK_OK:
            return
        text = name.decode("utf-8", "surrogateescape")
        if rc == lib.ZCK_E_TAR_DUPLICATE_PATH:
            key = clean_path(name).decode("utf-8", "surrogateescape")
            raise UnsupportedTarError(
                f"duplicate path {text!r} in the tar (cleaned: {key!r}); tar-split, and so "
                "zstd:chunked, cannot represent two entries for one path")
        if rc == lib.ZCK_E_TAR_NEGATIVE_SIZE:
            raise UnsupportedTarError(f"tar entry {text!r} has a negative size ({size})")
        if rc == lib.ZCK_E_INVALID_ARGUMENT:
            raise ValueError("crc must be 8 bytes when size > 0 and None when size == 0")
        raise _error(rc, "encode a tar-split file entry")

    def take(self) -> bytes:
        """The lines written since the last call (whole lines, each ending in a newline)."""
        return self._take(lib.zck_tarsplit_lines, lib.zck_tarsplit_clear)

    def set_run_keys(self, keys: int) -> None:
        """Keep at most about ``keys`` paths for the duplicate check (0: all of them, the default).

        Once that many are recorded, the next :meth:`file` moves their keys,
        sorted, into a run for :meth:`take_run`; :meth:`file` then refuses a
        duplicate only within a run, and :func:`find_duplicate_key` finds those
        between runs.
        """
        if keys < 0:
            raise ValueError("keys must be >= 0")
        ptr = self._acquire()
        try:
            _check(lib.zck_tarsplit_set_run_keys(ptr, keys), "set the run size")
        finally:
            self._lock.release()

    def end_run(self) -> None:
        """Move the paths recorded so far into a run now (call :meth:`take_run` first)."""
        ptr = self._acquire()
        try:
            _check(lib.zck_tarsplit_end_run(ptr), "end a run of path keys")
        finally:
            self._lock.release()

    def take_run(self) -> bytes:
        """The waiting run (sorted keys of ``PATH_KEY_SIZE`` bytes), or b"" when there is none."""
        ptr = self._acquire()
        try:
            data = lib.zck_tarsplit_run(ptr, self._n)
            n = int(self._n[0])
            if not n:
                return b""
            taken: bytes = ffi.buffer(data, n * PATH_KEY_SIZE)[:]
            lib.zck_tarsplit_run_clear(ptr)
            return taken
        finally:
            self._lock.release()

    def pending(self) -> int:
        """Bytes written and not yet taken."""
        ptr = self._acquire()
        try:
            lib.zck_tarsplit_lines(ptr, self._n)
            return int(self._n[0])
        finally:
            self._lock.release()

    @property
    def position(self) -> int:
        """The ``position`` of the next line (lines written so far)."""
        return self._query(lib.zck_tarsplit_position)

    @property
    def total(self) -> int:
        """Bytes of lines written so far, taken or not."""
        return self._query(lib.zck_tarsplit_total)


class TarSplitScan(_Closable):
    """The reader's fast path for tar-split lines (``csrc/zck_tarsplit_scan.c``).

    :meth:`scan` decodes the lines that have exactly the reference's shape
    and stops at the first other line, which the caller decodes itself (and
    then passes a file entry's name to :meth:`add_path`).  The cleaned path of
    every file entry is kept, so a repeated one stops the scan as well.
    """

    _what = "TarSplitScan"
    #: Lines decoded per call at most.
    CAP = 4096
    FIELDS = lib.ZCK_TSSCAN_FIELDS  # field 0 is the entry type: format.TARSPLIT_FILE_TYPE or _SEGMENT_TYPE
    #: :meth:`scan` stop reasons.
    END = lib.ZCK_TSSCAN_END
    OTHER = lib.ZCK_TSSCAN_OTHER
    FULL = lib.ZCK_TSSCAN_FULL

    def __init__(self) -> None:
        super().__init__()
        raw = lib.zck_tsscan_new()
        self._ptr = _new_context(raw, lib.zck_tsscan_free, int(lib.zck_tsscan_sizeof(raw)), "a tar-split scanner")
        self._fields = ffi.new("int64_t[]", self.CAP * self.FIELDS)
        self._out: Any = ffi.new("uint8_t[]", 0)
        self._out_cap = 0
        self._sizes = ffi.new("size_t[3]")
        self._stop = ffi.new("int *")

    def scan(self, block: bytes, start: int, max_line: int) -> tuple[list[int], bytes, int, int, int]:
        """Decode lines of ``block`` from ``start``.

        Returns ``(fields, data, lines, end, stop)``: ``FIELDS`` integers per
        decoded line (type, position, size, name end, data end; offsets into
        ``data``, see ``zck_tsscan_lines``), the decoded bytes, the number of
        lines, the offset in ``block`` where the scan stopped and why
        (:attr:`END`, :attr:`OTHER` or :attr:`FULL`).
        """
        if not 0 <= start <= len(block):
            raise ValueError("start is outside the block")
        n = len(block) - start
        ptr = self._acquire()
        try:
            if self._out_cap < n:
                self._out = ffi.new("uint8_t[]", max(n, 1 << 20))
                self._out_cap = max(n, 1 << 20)
            src = ffi.from_buffer("uint8_t[]", block)
            sizes = self._sizes
            rc = lib.zck_tsscan_lines(ptr, src + start, n, max_line, self._fields, self.CAP, self._out,
                                      self._out_cap, sizes, sizes + 1, sizes + 2, self._stop)
            _check(rc, "decode tar-split lines")
            lines, used, out_len = int(sizes[0]), int(sizes[1]), int(sizes[2])
            fields = ffi.unpack(self._fields, lines * self.FIELDS) if lines else []
            data = ffi.buffer(self._out, out_len)[:] if out_len else b""
            return fields, data, lines, start + used, int(self._stop[0])
        finally:
            self._lock.release()

    def close(self) -> None:
        """Free the C context and the output buffer now (idempotent)."""
        super().close()
        self._out, self._out_cap = ffi.new("uint8_t[]", 0), 0

    def add_path(self, name: bytes) -> bool:
        """Record the cleaned path of a file entry's ``name``; False if it was already recorded."""
        added = ffi.new("int *")
        ptr = self._acquire()
        try:
            _check(lib.zck_tsscan_add_path(ptr, name, len(name), added), "record a tar-split path")
        finally:
            self._lock.release()
        return bool(added[0])


class TocScan:
    """The result of :func:`toc_scan`: per-entry integers and the unescaped strings."""

    __slots__ = ("fields", "text", "count", "version", "tarsplit_digest", "_raw_fields")

    FIELDS = lib.ZCK_TOCSCAN_FIELDS
    PYTHON = lib.ZCK_TOCSCAN_PYTHON
    BAD = lib.ZCK_TOCSCAN_BAD
    HAS_MODTIME = lib.ZCK_TOCSCAN_HAS_MODTIME
    HAS_ACCESSTIME = lib.ZCK_TOCSCAN_HAS_ACCESSTIME
    HAS_CHANGETIME = lib.ZCK_TOCSCAN_HAS_CHANGETIME
    NONASCII = lib.ZCK_TOCSCAN_NONASCII

    def __init__(self, fields: list[int], text: bytes, count: int, version: int, tarsplit_digest: bytes,
                 raw_fields: Any = None) -> None:
        #: :attr:`FIELDS` integers per entry, laid out as ``enum zck_tocscan_field``.
        self.fields = fields
        #: The unescaped strings of every entry, back to back (UTF-8).
        self.text = text
        self.count = count
        self.version = version
        self.tarsplit_digest = tarsplit_digest
        # the scanner's own int64 array of the fields (with text), for TocMatcher
        self._raw_fields = raw_fields


_uncleared = ffi.new_allocator(should_clear_after_alloc=False)


def toc_scan(data: bytes, max_entries: int) -> TocScan | None:
    """Decode a TOC document of the shape writers produce (``csrc/zck_toc_scan.c``); None for others.

    ``data`` must be valid UTF-8.  None means "use the general decoder": other
    key spellings, other value types, invalid JSON, more than ``max_entries``
    entries.
    """
    n = len(data)
    # Every entry opens with a "{", and a valid one takes 26 bytes at least
    # ({"type":"dir","name":"a"},), so more than n / 24 entries means an invalid
    # document: the general decoder reports it.
    cap = min(data.count(b"{"), n // 24 + 16)
    try:
        # not zeroed: the scanner writes every field of each entry and every output byte it reports,
        # so only the pages it uses are ever touched
        fields = _uncleared("int64_t[]", max(cap, 1) * lib.ZCK_TOCSCAN_FIELDS)
        out = _uncleared("uint8_t[]", max(n, 1))
    except MemoryError:
        return None
    top = ffi.new("int64_t[]", lib.ZCK_TOCSCAN_TOP)
    sizes = ffi.new("size_t[2]")
    canonical = ffi.new("int *")
    rc = lib.zck_toc_scan(data, n, max_entries, fields, cap, out, n, top, sizes, sizes + 1, canonical)
    if rc == lib.ZCK_E_CAPACITY:
        return None
    _check(rc, "scan the TOC")
    if not canonical[0]:
        return None
    count, out_len = int(sizes[0]), int(sizes[1])
    if not top[lib.ZCK_TOCSCAN_HAS_VERSION]:
        version = 0
    else:
        version = int(top[lib.ZCK_TOCSCAN_VERSION])
    digest = ffi.buffer(out + top[lib.ZCK_TOCSCAN_DIGEST_START],
                        top[lib.ZCK_TOCSCAN_DIGEST_END] - top[lib.ZCK_TOCSCAN_DIGEST_START])[:]
    return TocScan(ffi.unpack(fields, count * lib.ZCK_TOCSCAN_FIELDS) if count else [],
                   ffi.buffer(out, out_len)[:] if out_len else b"", count, version, digest, fields)


def _type_names(types: dict[bytes, str]) -> bytes:
    slot = lib.ZCK_TOCMATCH_TYPE_SLOT
    table = bytearray(256 * slot)
    for flag, name in types.items():
        encoded = name.encode("ascii")
        if len(flag) != 1 or not 0 < len(encoded) < slot:
            raise ValueError(f"typeflag {flag!r} -> {name!r} does not fit the table")
        table[flag[0] * slot:flag[0] * slot + len(encoded)] = encoded
    return bytes(table)


class TocMatcher(_Closable):
    """The C walk of :func:`~zstd_chunked.tocmatch.check_toc_matches_tarsplit` (``csrc/zck_tocmatch.c``).

    Shows the tar headers in tar-split segments equal to the TOC entries, in
    step, or gives up.  :meth:`run` stops at each segment it does not read
    itself; the caller compares that segment's header with the entry named
    and reports with :meth:`take`.
    """

    _what = "TocMatcher"
    DONE = lib.ZCK_TOCMATCH_DONE
    STOP = lib.ZCK_TOCMATCH_STOP
    DIFFER = lib.ZCK_TOCMATCH_DIFFER

    def __init__(self, scan: TocScan, segments: Sequence[bytes], types: dict[bytes, str], chunk_type: str) -> None:
        """``scan`` is the :func:`toc_scan` result the TOC was built from, ``segments`` the
        tar-split segment payloads in order, ``types`` the TOC type of each tar typeflag and
        ``chunk_type`` the type of chunk entries."""
        super().__init__()
        if scan._raw_fields is None:
            raise ValueError("the TOC scan keeps no arrays (made without toc_scan)")
        names = _type_names(types)
        # kept alive here: C reads them until the matcher is closed
        self._keep = (scan, names, chunk_type.encode("ascii"))
        self._segments = segments
        self._window: tuple[int, bytes, Any] = (0, b"", ffi.new("size_t[]", 1))
        self._window_count = 0
        self._index = ffi.new("size_t *")
        self._status = ffi.new("int *")
        self._entry = ffi.new("int64_t *")
        self._pending = ffi.new("size_t *")
        raw = lib.zck_tocmatch_new()
        self._ptr = _new_context(raw, lib.zck_tocmatch_free, int(lib.zck_tocmatch_sizeof(raw)), "a TOC matcher")
        chunk = self._keep[2]
        _check(lib.zck_tocmatch_start(self._ptr, scan._raw_fields, scan.count, scan.text, len(scan.text),
                                      chunk, len(chunk), names), "start the TOC matcher")

    #: Segments handed to C at a time (joined into one buffer).
    WINDOW = 4096

    def run(self, index: int) -> tuple[int, int, int, int]:
        """Walk from segment ``index``: ``(status, segment, entry, pending)``.

        For :attr:`STOP`, ``segment`` is the one to read, its header starts
        after ``pending`` bytes and must equal TOC entry ``entry`` (-1: none left).
        """
        ptr = self._acquire()
        try:
            while True:
                start, joined, ends = self._window
                if not start <= index < start + self._window_count:
                    if index >= len(self._segments):
                        return self.DONE, len(self._segments), -1, 0
                    part = self._segments[index:index + self.WINDOW]
                    start, joined, ends = self._window = (
                        index, b"".join(part), ffi.new("size_t[]", list(itertools.accumulate(map(len, part)))))
                    self._window_count = len(part)
                self._index[0] = index - start
                _check(lib.zck_tocmatch_run(ptr, joined, ends, self._window_count, self._index, self._status,
                                            self._entry, self._pending), "compare the TOC with the tar-split")
                status = int(self._status[0])
                index = start + int(self._index[0])
                if status != self.DONE or index >= len(self._segments):
                    return status, index, int(self._entry[0]), int(self._pending[0])
        finally:
            self._lock.release()

    def take(self, matched: bool, pending_after: int) -> int:
        """Report the stopped segment: its header equals the entry (``matched``) or it held
        none; ``pending_after`` is the padding after it.  Returns :attr:`DONE` or :attr:`DIFFER`."""
        ptr = self._acquire()
        try:
            _check(lib.zck_tocmatch_take(ptr, int(matched), pending_after, self._status), "record a TOC match")
            return int(self._status[0])
        finally:
            self._lock.release()

    def finish(self) -> int | None:
        """The number of headers matched, or None (not shown)."""
        shown = ffi.new("int64_t *")
        ptr = self._acquire()
        try:
            _check(lib.zck_tocmatch_finish(ptr, shown), "finish the TOC match")
        finally:
            self._lock.release()
        return None if shown[0] < 0 else int(shown[0])


class TocText(_TextEncoder):
    """TOC entries as json-iterator writes them, encoded in C (``csrc/zck_toctext.c``).

    :meth:`entry` appends one entry (with a comma before every entry but the
    first) to a buffer that :meth:`take` empties; the brackets and the rest of
    the TOC document are the caller's.
    """

    _what = "TocText"

    def __init__(self) -> None:
        super().__init__()
        raw = lib.zck_toctext_new()
        self._ptr = _new_context(raw, lib.zck_toctext_free, int(lib.zck_toctext_sizeof(raw)), "a TOC encoder")

    def entry(self, type_: bytes, name: bytes, linkname: bytes, mode: int, size: int, uid: int, gid: int,
              modtime: bytes | None, accesstime: bytes | None, changetime: bytes | None, devmajor: int,
              devminor: int, xattrs: bytes | None, digest: bytes, offset: int, end_offset: int, chunk_size: int,
              chunk_offset: int, chunk_digest: bytes, chunk_type: bytes) -> None:
        """One entry; see ``zck_toctext_entry`` in ``csrc/zck.h`` for what each field becomes.

        Texts are bytes; a time of None is omitted; ``xattrs`` is the JSON
        object text (or None).
        """
        null = ffi.NULL
        ptr = self._acquire()
        try:
            _check(lib.zck_toctext_entry(
                ptr, type_, len(type_), name, len(name), linkname, len(linkname), mode, size, uid, gid,
                null if modtime is None else modtime, 0 if modtime is None else len(modtime),
                null if accesstime is None else accesstime, 0 if accesstime is None else len(accesstime),
                null if changetime is None else changetime, 0 if changetime is None else len(changetime),
                devmajor, devminor, null if xattrs is None else xattrs, 0 if xattrs is None else len(xattrs),
                digest, len(digest), offset, end_offset, chunk_size, chunk_offset, chunk_digest, len(chunk_digest),
                chunk_type, len(chunk_type)), "encode a TOC entry")
        finally:
            self._lock.release()

    def take(self) -> bytes:
        """The text written since the last call."""
        return self._take(lib.zck_toctext_text, lib.zck_toctext_clear)

    def __len__(self) -> int:
        """Entries written so far."""
        return self._query(lib.zck_toctext_count)


def json_quote(data: bytes, *, jsoniter: bool) -> bytes:
    """``data`` as a quoted JSON string the way json-iterator (``jsoniter``) or encoding/json writes it."""
    cap = int(lib.zck_json_quote_bound(len(data)))
    if cap == 0:
        raise LimitExceededError(f"cannot quote {len(data)} bytes: too large")
    out = _alloc("uint8_t[]", cap)
    n = ffi.new("size_t *")
    flavor = lib.ZCK_JSON_JSONITER if jsoniter else lib.ZCK_JSON_ENCODING_JSON
    _check(lib.zck_json_quote(flavor, data, len(data), out, cap, n), "quote a JSON string")
    return bytes(ffi.buffer(out, int(n[0])))


def utf8_valid(data: bytes) -> bool:
    """Whether Go's ``utf8.Valid`` holds for ``data``."""
    return bool(lib.zck_utf8_valid(data, len(data)))


#: Bytes of one key of the duplicate-path check (a SHA-256 prefix of the cleaned path).
PATH_KEY_SIZE = int(lib.ZCK_PATHSET_KEY)


def path_key(name: bytes) -> bytes:
    """The duplicate-path key of a tar entry name, as :class:`TarSplitLines` records it."""
    return hashlib.sha256(clean_path(name)).digest()[:PATH_KEY_SIZE]


def find_duplicate_key(run_keys: Sequence[int], read: Callable[[int, int, int], bytes]) -> bytes | None:
    """A key found in two of the sorted runs (or twice in one), or None (``csrc/zck_keymerge.c``).

    ``run_keys[r]`` is the number of keys in run ``r``; ``read(r, first, count)``
    returns ``count`` keys of run ``r`` from key ``first`` on.  Runs are read in
    pieces of ``ZCK_KEYMERGE_FEED`` (256) keys, so memory does not grow with their length.
    """
    n_runs = len(run_keys)
    raw = lib.zck_keymerge_new(n_runs)
    merge = _new_context(raw, lib.zck_keymerge_free, int(lib.zck_keymerge_sizeof(raw)), "a key merge")
    try:
        want, need, dup = ffi.new("int *"), ffi.new("size_t *"), ffi.new("uint8_t[]", PATH_KEY_SIZE)
        done = [0] * n_runs
        piece = int(lib.ZCK_KEYMERGE_FEED)
        while True:
            rc = lib.zck_keymerge_next(merge, want, need, dup)
            if rc == lib.ZCK_E_TAR_DUPLICATE_PATH:
                return bytes(ffi.buffer(dup, PATH_KEY_SIZE))
            _check(rc, "merge runs of path keys")
            if not want[0]:
                return None
            r = int(need[0])
            count = min(piece, run_keys[r] - done[r])
            keys = read(r, done[r], count) if count > 0 else b""
            if len(keys) != count * PATH_KEY_SIZE:
                raise NativeError(f"run {r} gave {len(keys)} bytes for {count} keys", lib.ZCK_E_INVALID_ARGUMENT)
            done[r] += count
            _check(lib.zck_keymerge_feed(merge, r, keys, count), "merge runs of path keys")
    finally:
        ffi.release(merge)


def clean_path(data: bytes) -> bytes:
    """Go's ``filepath.Clean`` (Unix) of a path's bytes."""
    cap = len(data) + 1
    out = _alloc("uint8_t[]", cap)
    n = ffi.new("size_t *")
    _check(lib.zck_clean_path(data, len(data), out, cap, n), "clean a path")
    return bytes(ffi.buffer(out, int(n[0])))


# ------------------------------------------------------------------ chunker


class Chunker(_Closable):
    """Cut one file payload into chunks exactly as the containers/storage writer does.

    Feed the payload in pieces of any size; the cuts never depend on the
    piece boundaries.  A cut ``(end, zeros)`` closes the chunk that starts at
    the previous cut's end (0 for the first) and ends at ``end`` (exclusive,
    bytes since :meth:`reset`); ``zeros`` is True for a hole (a run of at least
    1024 zero bytes).  Call :meth:`finish` at the end of the payload to get the
    final cuts, then :meth:`reset` before the next file.
    """

    _what = "Chunker"
    _CAP = 512

    def __init__(self) -> None:
        super().__init__()
        raw = lib.zck_chunker_new()
        self._ptr = _new_context(raw, lib.zck_chunker_free, int(lib.zck_chunker_sizeof(raw)), "a chunker")
        self._cuts = ffi.new("zck_cut[]", self._CAP)
        self._n = ffi.new("size_t *")
        self._consumed = ffi.new("size_t *")

    def feed(self, data: BufferLike) -> list[Cut]:
        """Add the next bytes of the payload; return the chunks they completed."""
        return self._feed(data, 0)

    def finish(self) -> list[Cut]:
        """End of the payload: return the remaining cuts (the last one ends the file)."""
        return self._feed(b"", 1)

    def _feed(self, data: BufferLike, at_eof: int) -> list[Cut]:
        ptr = self._acquire()
        try:
            buf = _in(data)
            total = len(buf)
            cuts, n_p, used_p = self._cuts, self._n, self._consumed
            out: list[Cut] = []
            off = 0
            while True:
                rc = lib.zck_chunker_feed(ptr, buf + off, total - off, at_eof, cuts, self._CAP, n_p, used_p)
                if rc != lib.ZCK_OK:
                    raise _error(rc, "chunk file data", f"at file offset {int(lib.zck_chunker_position(ptr))}")
                n = int(n_p[0])
                out.extend((int(cuts[i].end), bool(cuts[i].zeros)) for i in range(n))
                off += int(used_p[0])
                if off >= total and n < self._CAP:
                    return out
        finally:
            self._lock.release()

    def reset(self) -> None:
        """Forget everything: the next byte fed is offset 0 of a new file."""
        ptr = self._acquire()
        try:
            lib.zck_chunker_reset(ptr)
        finally:
            self._lock.release()

    @property
    def settled(self) -> int:
        """Offset where the pending, still undecided run of zero bytes starts.

        Every byte fed at or after it is ``0x00`` (it equals :attr:`position`
        when no zero run is pending), so a caller may drop those bytes and
        regenerate them once later cuts say what they became.
        """
        return self._query(lib.zck_chunker_settled)

    @property
    def position(self) -> int:
        """Bytes fed since the last reset."""
        return self._query(lib.zck_chunker_position)


# ---------------------------------------------------------- footer, frames


@dataclass(frozen=True)
class FooterInfo:
    """A decoded, range-checked zstd:chunked footer.

    ``version`` is 3 (64-byte footer, magic ``GNUlInUx``), 2 (56 bytes) or 1
    (40 bytes; both with the old magic ``GnUlInUx``).  Offsets point at frame
    payloads (after their 8-byte skippable headers).  The tar-split fields are 0
    when the blob has none (always for v1/v2).  ``frame_offset`` is where the
    footer's own skippable frame starts.  Nothing here is authenticated.
    """

    version: int
    toc_offset: int
    toc_length: int
    toc_uncompressed: int
    manifest_type: int
    tarsplit_offset: int
    tarsplit_length: int
    tarsplit_uncompressed: int
    frame_offset: int

    @property
    def has_tarsplit(self) -> bool:
        """True when the footer locates a tar-split frame."""
        return self.tarsplit_length != 0


#: Bytes at the end of a blob that :func:`parse_footer` needs (skippable header + v3 footer).
FOOTER_TAIL_SIZE = 72


def parse_footer(tail: BufferLike, blob_size: int) -> FooterInfo:
    """Decode and validate the footer from the last ``min(72, blob_size)`` bytes of a blob.

    ``tail`` may be longer (only its last 72 bytes are used) but must end at the
    end of the blob.  Raises :class:`FormatError` naming the rule that failed.
    """
    buf = _in(tail)
    if blob_size < 0 or blob_size > _UINT64_MAX:
        raise ValueError("blob_size out of range")
    want = min(FOOTER_TAIL_SIZE, blob_size)
    if len(buf) < want or len(buf) > blob_size:
        raise ValueError(f"parse_footer needs the last {want} bytes of the blob, got {len(buf)}")
    start = len(buf) - want
    out = ffi.new("zck_footer *")
    _check(lib.zck_footer_parse(buf + start, want, blob_size, out), "parse the footer",
           f"(blob of {blob_size} bytes)")
    return FooterInfo(
        version=int(out.version),
        toc_offset=int(out.toc_offset),
        toc_length=int(out.toc_length),
        toc_uncompressed=int(out.toc_uncompressed),
        manifest_type=int(out.manifest_type),
        tarsplit_offset=int(out.tarsplit_offset),
        tarsplit_length=int(out.tarsplit_length),
        tarsplit_uncompressed=int(out.tarsplit_uncompressed),
        frame_offset=int(out.frame_offset),
    )


def build_footer(
    toc_offset: int,
    toc_length: int,
    toc_uncompressed: int,
    tarsplit_offset: int,
    tarsplit_length: int,
    tarsplit_uncompressed: int,
) -> bytes:
    """The 72-byte footer frame: skippable header (size 64) + v3 footer (manifest type 1)."""
    values = (toc_offset, toc_length, toc_uncompressed, tarsplit_offset, tarsplit_length, tarsplit_uncompressed)
    if any(not 0 <= v <= _UINT64_MAX for v in values):
        raise ValueError("footer fields must be unsigned 64-bit integers")
    f = ffi.new("zck_footer *")
    f.toc_offset, f.toc_length, f.toc_uncompressed = toc_offset, toc_length, toc_uncompressed
    f.manifest_type = 1
    f.tarsplit_offset, f.tarsplit_length = tarsplit_offset, tarsplit_length
    f.tarsplit_uncompressed = tarsplit_uncompressed
    out = ffi.new("uint8_t[72]")
    _check(lib.zck_footer_write(f, out), "write the footer")
    return bytes(ffi.buffer(out))


def skippable_header(payload_len: int) -> bytes:
    """8-byte skippable frame header (magic ``50 2A 4D 18``) for a payload of ``payload_len`` bytes."""
    if payload_len < 0:
        raise ValueError("payload_len must not be negative")
    if payload_len > 0xFFFFFFFF:
        raise LimitExceededError(f"could not write a skippable frame header: payload of {payload_len} bytes "
                                 "exceeds the 4 GiB limit of the format")
    out = ffi.new("uint8_t[8]")
    _check(lib.zck_skippable_write(payload_len, out), "write a skippable frame header")
    return bytes(ffi.buffer(out))


class FrameInfo(NamedTuple):
    """One frame of a blob: ``offset`` and total ``size`` in bytes.

    ``skippable`` tells a skippable frame from a zstd frame; ``content_size`` is
    the decompressed size declared in a zstd frame header, or None when the
    header omits it (and for skippable frames).  A named tuple: a layer of many
    small files has tens of thousands of frames, and a tuple is made several
    times faster than a frozen dataclass.
    """

    offset: int
    size: int
    skippable: bool
    content_size: int | None

    @property
    def end(self) -> int:
        """Offset just after the frame."""
        return self.offset + self.size


class FrameScanner(_Closable):
    """Walk a blob frame by frame, fed in pieces of any size, in constant memory.

    Zstd frame and block headers are checked (magic, reserved bit, block type,
    block size); block contents are skipped, not decoded.  Anything that is not
    a zstd or skippable frame raises :class:`FormatError` with its offset.
    """

    _what = "FrameScanner"
    _CAP = 256

    def __init__(self) -> None:
        super().__init__()
        raw = lib.zck_framescan_new()
        self._ptr = _new_context(raw, lib.zck_framescan_free, int(lib.zck_framescan_sizeof(raw)), "a frame scanner")
        self._recs = ffi.new("zck_frame_info[]", self._CAP)
        self._n = ffi.new("size_t *")
        self._consumed = ffi.new("size_t *")

    def feed(self, data: BufferLike) -> list[FrameInfo]:
        """Consume the next bytes of the blob; return the frames they completed."""
        ptr = self._acquire()
        try:
            buf = _in(data)
            total = len(buf)
            recs, n_p, used_p = self._recs, self._n, self._consumed
            out: list[FrameInfo] = []
            off = 0
            while True:
                rc = lib.zck_framescan_feed(ptr, buf + off, total - off, recs, self._CAP, n_p, used_p)
                n = int(n_p[0])
                for r in ffi.unpack(recs, n):
                    skippable = r.kind == 1
                    cs = r.content_size
                    out.append(FrameInfo(r.offset, r.size, skippable, None if skippable or cs == _UINT64_MAX else cs))
                if rc != lib.ZCK_OK:
                    raise _error(rc, "scan frames", f"at offset {int(lib.zck_framescan_error_offset(ptr))}")
                off += int(used_p[0])
                if off >= total:
                    return out
        finally:
            self._lock.release()

    def finish(self) -> None:
        """End of the blob: raise :class:`FormatError` if it ended inside a frame."""
        ptr = self._acquire()
        try:
            rc = lib.zck_framescan_finish(ptr)
            if rc != lib.ZCK_OK:
                raise _error(rc, "scan frames", f"at offset {int(lib.zck_framescan_error_offset(ptr))}")
        finally:
            self._lock.release()

    def reset(self) -> None:
        """Start over with a new blob."""
        ptr = self._acquire()
        try:
            lib.zck_framescan_reset(ptr)
        finally:
            self._lock.release()

    @property
    def offset(self) -> int:
        """Offset of the frame being parsed (where the next frame starts between frames)."""
        return self._query(lib.zck_framescan_offset)


def scan_frames(buffer: BufferLike) -> list[FrameInfo]:
    """All frames of a complete blob held in memory (or mmap)."""
    with FrameScanner() as scanner:
        frames = scanner.feed(buffer)
        scanner.finish()
    return frames


# -------------------------------------------------------------- compression


def compress_frame(data: BufferLike, level: int) -> bytes:
    """Compress ``data`` into one standalone zstd frame (checksum and content size on).

    The bytes are identical to what :class:`CompressPool` makes for the same input.
    """
    _check_level(level)
    src = _in(data)
    cap = compress_bound(len(src))
    dst = _alloc("uint8_t[]", cap)
    size = ffi.new("size_t *")
    _check(lib.zck_compress_frame(level, src, len(src), dst, cap, size), "compress a frame")
    return bytes(ffi.buffer(dst, int(size[0])))


class ChunkOut(NamedTuple):
    """One chunk of a file payload processed by :meth:`CompressPool.submit_payloads`.

    The chunk starts where the previous one ended (0 for the first) and ends
    at ``end`` (exclusive, offset in the file); ``zeros`` is True for a hole (a
    run of at least 1024 zero bytes).  ``frame_size`` is the size of its zstd
    frame, which follows the previous chunk's frame in
    :attr:`PayloadResult.frames`.  ``digest`` is the raw SHA-256 of the chunk's
    bytes, or 32 zero bytes when the file is a single chunk (the TOC has no
    chunk digest then).
    """

    end: int
    zeros: bool
    frame_size: int
    digest: bytes


@dataclass
class PayloadResult:
    """What one job of :meth:`CompressPool.submit_payloads` produced.

    ``frames`` is every compressed frame of the job, back to back: for a plain
    job the one frame, for a file job one frame per chunk (nothing for an
    empty file).  It views a buffer owned by the pool, valid until the second
    :meth:`~CompressPool.submit_payloads` after the one that made it (the
    pool alternates two output arenas; copy with ``bytes()`` to keep it
    longer); it never dangles.

    File jobs also give the chunks, the CRC-64 (Go ISO, as :func:`crc64`) and
    the raw SHA-256 of the whole payload (of ``b""`` for an empty file).  Plain
    jobs give ``chunks == []``, ``crc64 == 0`` and ``sha256 == b""``.

    ``overflow`` is True when the pool could not finish a file job within the
    buffers it sized (it already retries once with exact sizes, so this is not
    expected to happen); ``frames`` and ``chunks`` are then empty and the caller
    must process that payload on its own.
    """

    frames: memoryview
    chunks: list[ChunkOut]
    crc64: int
    sha256: bytes
    overflow: bool = False


_NO_DIGEST = bytes(32)
_EMPTY_VIEW = memoryview(b"")


class _PayloadBatch:
    """The C job array, buffers and per-job layout of one payload batch."""

    def __init__(self, pjobs: Any, arena: Any, chunk_arena: Any, srcs: list[Any], files: list[bool],
                 offsets: list[tuple[int, int]], oneshot_max: int) -> None:
        self.pjobs = pjobs
        self.arena = arena
        self.chunk_arena = chunk_arena
        self.srcs = srcs
        self.files = files
        self.offsets = offsets  # (dst offset, first chunk record) per job
        self.oneshot_max = oneshot_max

    def keep(self) -> list[Any]:
        return [self.srcs, self.pjobs, self.arena, self.chunk_arena]


def _payload_sizes(n: int, is_file: bool, chunks_cap: int | None = None) -> tuple[int, int]:
    """(chunk records, dst bytes) to reserve for a job of ``n`` input bytes."""
    cap = (int(lib.zck_pjob_chunks_hint(n)) if chunks_cap is None else chunks_cap) if is_file else 0
    bound = int(lib.zck_pjob_dst_bound(n, cap))
    if bound == 0:
        raise LimitExceededError(f"could not size the output of a {n}-byte payload: input too large")
    return cap, bound


def _record(ctype: str, fields: Sequence[tuple[str, str]]) -> struct.Struct:
    """A :class:`struct.Struct` over whole ``ctype`` records that sees only ``fields``.

    Each field is ``(name, struct code)``; the other bytes are padding (written
    as zeros).  Reading or writing thousands of job records this way costs a
    fraction of cffi's per-field attribute access.
    """
    parts: list[str] = []
    pos = 0
    for name, code in sorted(fields, key=lambda f: int(ffi.offsetof(ctype, f[0]))):
        off = int(ffi.offsetof(ctype, name))
        if off < pos:
            raise AssertionError(f"{ctype}.{name} overlaps the previous field")
        parts.append(f"{off - pos}x{code}")
        pos = off + struct.calcsize("=" + code)
    parts.append(f"{int(ffi.sizeof(ctype)) - pos}x")
    layout = struct.Struct("=" + "".join(parts))
    if layout.size != int(ffi.sizeof(ctype)):
        raise AssertionError(f"{ctype}: record of {layout.size} bytes, C says {int(ffi.sizeof(ctype))}")
    return layout


_PTR = "Q" if int(ffi.sizeof("void *")) == 8 else "I"
_SIZE = "Q" if int(ffi.sizeof("size_t")) == 8 else "I"
#: What _fill_pjobs writes (the outputs are reset by submit).
_PJOB_IN = _record("zck_pjob", [("src", _PTR), ("src_size", _SIZE), ("flags", "I"), ("reserved", "I"),
                                ("oneshot_max", _SIZE), ("dst", _PTR), ("dst_capacity", _SIZE),
                                ("chunks", _PTR), ("chunks_cap", _SIZE)])
#: What _payload_results reads.
_PJOB_OUT = _record("zck_pjob", [("dst_size", _SIZE), ("n_chunks", _SIZE), ("crc64", "Q"), ("sha256", "32s"),
                                 ("error", "i")])
_CHUNK_OUT = _record("zck_chunk_out", [("end", "Q"), ("zeros", "I"), ("frame_size", "Q"), ("sha256", "32s")])


def _address(cdata: Any) -> int:
    return int(ffi.cast("uintptr_t", cdata))


def _fill_pjobs(pjobs: Any, arena: Any, chunk_arena: Any, srcs: list[Any], files: list[bool],
                sizes: list[tuple[int, int]], oneshot_max: int) -> list[tuple[int, int]]:
    """Point each C job at its input and its slices of the arenas; return the slices' offsets.

    ``sizes`` holds each job's (chunk records, dst bytes) from :func:`_payload_sizes`.
    """
    offsets: list[tuple[int, int]] = []
    off = coff = 0
    file_flag, plain_flag = int(lib.ZCK_PJOB_FILE), int(lib.ZCK_PJOB_PLAIN)
    record = _PJOB_IN.size
    buffer = ffi.buffer(pjobs, record * len(srcs))
    arena_at, chunks_at = _address(arena), _address(chunk_arena)
    chunk_record = _CHUNK_OUT.size
    pack = _PJOB_IN.pack_into
    for i, (src, is_file, (cap, bound)) in enumerate(zip(srcs, files, sizes)):
        pack(buffer, i * record, _address(src), len(src), file_flag if is_file else plain_flag, 0, oneshot_max,
             arena_at + off, bound, chunks_at + coff * chunk_record if cap else 0, cap)
        offsets.append((off, coff))
        off += bound
        coff += cap
    return offsets


class CompressPool(_Closable):
    """Compress batches of independent frames on persistent worker threads.

    ``threads == 0`` compresses in the calling thread inside :meth:`wait`.
    Each input becomes one standalone zstd frame whose bytes depend only on the
    input and the level, never on the number of threads.  One batch at a time:
    :meth:`submit` returns at once, :meth:`wait` blocks until the batch is done
    and returns the frames in input order as memoryviews into a buffer owned
    by the pool; they stay valid until the next :meth:`submit` (the buffer is
    reused) and are never freed while referenced.
    """

    _what = "CompressPool"

    def __init__(self, threads: int, level: int) -> None:
        super().__init__()
        if threads < 0:
            raise ValueError("threads must be >= 0")
        _check_level(level)
        self.threads = threads
        self.level = level
        err = ffi.new("int *")
        raw = lib.zck_pool_new(threads, level, err)
        if raw == ffi.NULL:
            raise _error(int(err[0]), f"start a compression pool with {threads} threads")
        # Inputs, job array and output arena of the batch in flight.  The
        # destructor holds them, so they outlive the workers even when the
        # pool is garbage-collected with a batch in flight.
        self._inflight: list[Any] = []
        keep = self._inflight

        def free(p: Any) -> None:
            lib.zck_pool_free(p)  # waits for a batch in flight
            keep.clear()

        self._ptr = ffi.gc(raw, free, size=int(lib.zck_pool_sizeof(raw)))
        self._arena: Any = None
        self._arena_size = 0
        self._jobs: Any = None
        self._slots: list[tuple[int, int]] = []
        self._pending = False
        # payload batches (submit_payloads / wait_payloads): reused arenas
        self._payloads: _PayloadBatch | None = None
        self._pjobs: Any = None
        self._pjobs_cap = 0
        # two output arenas, used in turn: a batch's frames stay valid while the next one runs
        self._parenas: list[Any] = [None, None]
        self._parena_sizes = [0, 0]
        self._parena_turn = 0
        self._carena: Any = None
        self._carena_cap = 0

    def submit(self, frames: Sequence[BufferLike]) -> None:
        """Start compressing ``frames`` (each becomes one frame).  Inputs must not change until :meth:`wait`."""
        ptr = self._acquire()
        try:
            if self._pending:
                raise _error(lib.ZCK_E_BUSY, "submit a batch")
            srcs = [_in(f) for f in frames]
            n = len(srcs)
            bounds = [compress_bound(len(s)) for s in srcs]
            total = sum(bounds)
            if self._arena is None or self._arena_size < total:
                size = max(total, 1, self._arena_size + self._arena_size // 2)
                self._arena = _alloc("uint8_t[]", size)
                self._arena_size = size
            jobs = ffi.new("zck_job[]", max(n, 1))
            slots: list[tuple[int, int]] = []
            off = 0
            arena = self._arena
            for i, (src, bound) in enumerate(zip(srcs, bounds)):
                job = jobs[i]
                job.src = src
                job.src_size = len(src)
                job.dst = arena + off
                job.dst_capacity = bound
                slots.append((off, bound))
                off += bound
            self._inflight[:] = [srcs, jobs, arena]
            _check(lib.zck_pool_submit(ptr, jobs, n), "submit a batch")
            self._jobs = jobs
            self._slots = slots
            self._pending = True
        finally:
            self._lock.release()

    def wait(self, *, assist: bool = False) -> list[memoryview]:
        """Block until the submitted batch is compressed; return the frames in input order.

        With ``assist`` the calling thread compresses frames of the batch too
        (GIL released) instead of only sleeping; the output is the same.
        """
        ptr = self._acquire()
        try:
            if not self._pending:
                raise _error(lib.ZCK_E_NOT_SUBMITTED, "wait for a batch")
            if self._payloads is not None:
                raise UsageError("could not wait for a batch: a payload batch is in flight; use wait_payloads()")
            rc = lib.zck_pool_wait_assist(ptr) if assist else lib.zck_pool_wait(ptr)
            self._pending = False
            jobs, slots = self._jobs, self._slots
            self._jobs, self._slots = None, []
            arena = self._inflight[2]
            self._inflight.clear()
            if rc != lib.ZCK_OK:
                index = next(i for i in range(len(slots)) if jobs[i].error != lib.ZCK_OK)
                raise _error(rc, f"compress frame {index} of the batch")
            whole = memoryview(ffi.buffer(arena))
            return [whole[off : off + int(jobs[i].dst_size)] for i, (off, _cap) in enumerate(slots)]
        finally:
            self._lock.release()

    def submit_payloads(self, jobs: Sequence[tuple[BufferLike, bool]], *, oneshot_max: int = 0) -> None:
        """Start a batch of payload jobs; collect it with :meth:`wait_payloads`.

        Each job is ``(data, is_file)``.  A plain job (``is_file`` false)
        compresses ``data`` into one frame, exactly as :meth:`submit`.  A file
        job takes ``data`` as one whole file payload and does all its per-byte
        work on a worker thread: chunk cuts as a fresh :class:`Chunker` makes
        them, one frame per chunk (holes included) as :func:`compress_frame`
        makes it, a SHA-256 of every chunk (when there are two or more), and
        the CRC-64 and SHA-256 of the payload.  Workers take the largest jobs
        first; results come back in input order and do not depend on the
        number of threads.

        ``oneshot_max`` (0: no limit): a frame of more input bytes than this is
        made as :class:`FrameStreamCompressor` makes it (no content size in
        the header), so that chunks above a streaming threshold keep the bytes
        a streaming writer gives them.

        Inputs must not change until :meth:`wait_payloads` returns.  Output
        buffers are two arenas owned by the pool, used in turn, so the frames
        of one batch stay valid while the next batch runs: a caller may
        ``wait_payloads()``, ``submit_payloads()`` the next batch at once, and
        only then write out the results it got (keeping the workers busy).
        """
        ptr = self._acquire()
        try:
            if self._pending:
                raise _error(lib.ZCK_E_BUSY, "submit a batch")
            if not 0 <= oneshot_max <= _UINT64_MAX:
                raise ValueError("oneshot_max must be >= 0")
            srcs = [_in(d) for d, _ in jobs]
            files = [bool(f) for _, f in jobs]
            n = len(srcs)
            sizes = [_payload_sizes(len(src), is_file) for src, is_file in zip(srcs, files)]
            chunk_total = sum(cap for cap, _bound in sizes)
            dst_total = sum(bound for _cap, bound in sizes)
            if self._pjobs is None or self._pjobs_cap < n:
                self._pjobs_cap = max(n, 16, self._pjobs_cap + self._pjobs_cap // 2)
                self._pjobs = ffi.new("zck_pjob[]", self._pjobs_cap)
            turn = self._parena_turn
            if self._parenas[turn] is None or self._parena_sizes[turn] < dst_total:
                old = self._parena_sizes[turn]
                self._parena_sizes[turn] = max(dst_total, 1, old + old // 2)
                self._parenas[turn] = _alloc("uint8_t[]", self._parena_sizes[turn])
            arena = self._parenas[turn]
            if self._carena is None or self._carena_cap < chunk_total:
                self._carena_cap = max(chunk_total, 1, self._carena_cap + self._carena_cap // 2)
                self._carena = _alloc("zck_chunk_out[]", self._carena_cap)
            offsets = _fill_pjobs(self._pjobs, arena, self._carena, srcs, files, sizes, oneshot_max)
            batch = _PayloadBatch(self._pjobs, arena, self._carena, srcs, files, offsets, oneshot_max)
            self._inflight[:] = batch.keep()
            _check(lib.zck_pool_submit_pjobs(ptr, self._pjobs, n), "submit a payload batch")
            self._payloads = batch
            self._parena_turn = 1 - turn
            self._pending = True
        finally:
            self._lock.release()

    def wait_payloads(self, *, assist: bool = True) -> list[PayloadResult]:
        """Block until the payload batch is done; return one :class:`PayloadResult` per job, in order.

        With ``assist`` (the default) the calling thread runs jobs of the batch
        too while any are left (GIL released), so a pool of N threads uses
        N + 1 while the caller waits; the results are the same either way.

        A file job that needs more chunk records or output room than the pool
        reserved (a payload with unusually many chunks) is rerun at once with
        exact sizes; only if that fails too is its result marked ``overflow``.
        Any other failure raises (naming the job) and discards the batch.
        """
        ptr = self._acquire()
        try:
            batch = self._payloads
            if not self._pending:
                raise _error(lib.ZCK_E_NOT_SUBMITTED, "wait for a payload batch")
            if batch is None:
                raise UsageError("could not wait for a payload batch: a frame batch is in flight; use wait()")
            rc = lib.zck_pool_wait_assist(ptr) if assist else lib.zck_pool_wait(ptr)
            self._pending = False
            self._payloads = None
            self._inflight.clear()
            pjobs = batch.pjobs
            n = len(batch.srcs)
            retry: list[int] = []
            if rc != lib.ZCK_OK:
                for i in range(n):
                    err = int(pjobs[i].error)
                    if err == lib.ZCK_E_CAPACITY and batch.files[i]:
                        retry.append(i)
                    elif err != lib.ZCK_OK:
                        raise _error(err, f"process payload {i} of the batch")
            results = self._payload_results(batch, n)
            if retry:
                self._rerun(ptr, batch, retry, results)
            return results
        finally:
            self._lock.release()

    @staticmethod
    def _payload_results(batch: _PayloadBatch, n: int) -> list[PayloadResult]:
        whole = memoryview(ffi.buffer(batch.arena))
        chunk_bytes = ffi.buffer(batch.chunk_arena)
        chunk_record, read_chunk = _CHUNK_OUT.size, _CHUNK_OUT.unpack_from
        results: list[PayloadResult] = []
        records = _PJOB_OUT.iter_unpack(ffi.buffer(batch.pjobs, _PJOB_OUT.size * n))
        for (dst_size, n_chunks, crc, sha, error), (off, coff), is_file in zip(records, batch.offsets, batch.files):
            if error != lib.ZCK_OK:
                results.append(PayloadResult(_EMPTY_VIEW, [], 0, b"", overflow=True))
                continue
            frames = whole[off : off + dst_size]
            if not is_file:
                results.append(PayloadResult(frames, [], 0, b""))
                continue
            if n_chunks == 1:
                end, zeros, frame_size, _digest = read_chunk(chunk_bytes, coff * chunk_record)
                chunks = [ChunkOut(end, bool(zeros), frame_size, _NO_DIGEST)]
            else:
                chunks = []
                for k in range(coff, coff + n_chunks):
                    end, zeros, frame_size, digest = read_chunk(chunk_bytes, k * chunk_record)
                    chunks.append(ChunkOut(end, bool(zeros), frame_size, digest))
            results.append(PayloadResult(frames, chunks, crc, sha))
        return results

    def _rerun(self, ptr: Any, batch: _PayloadBatch, retry: list[int], results: list[PayloadResult]) -> None:
        """Run the file jobs that ran out of room again, with the chunk counts they reported."""
        caps = [max(int(batch.pjobs[i].n_chunks), 1) for i in retry]
        srcs = [batch.srcs[i] for i in retry]
        files = [True] * len(retry)
        sizes = [_payload_sizes(len(s), True, cap) for s, cap in zip(srcs, caps)]
        pjobs = ffi.new("zck_pjob[]", len(retry))
        arena = _alloc("uint8_t[]", max(1, sum(b for _c, b in sizes)))
        carena = _alloc("zck_chunk_out[]", max(1, sum(caps)))
        offsets = _fill_pjobs(pjobs, arena, carena, srcs, files, sizes, batch.oneshot_max)
        again = _PayloadBatch(pjobs, arena, carena, srcs, files, offsets, batch.oneshot_max)
        self._inflight[:] = again.keep()
        try:
            _check(lib.zck_pool_submit_pjobs(ptr, pjobs, len(retry)), "submit a payload batch")
            rc = lib.zck_pool_wait_assist(ptr)
        finally:
            self._inflight.clear()
        if rc != lib.ZCK_OK:
            for k, i in enumerate(retry):
                err = int(pjobs[k].error)
                if err not in (lib.ZCK_OK, lib.ZCK_E_CAPACITY):
                    raise _error(err, f"process payload {i} of the batch")
        for k, result in enumerate(self._payload_results(again, len(retry))):
            results[retry[k]] = result

    @property
    def busy(self) -> bool:
        """True between :meth:`submit` and :meth:`wait` (or :meth:`submit_payloads` and :meth:`wait_payloads`)."""
        return self._pending

    def close(self) -> None:
        """Stop the workers (after any batch in flight has finished) and free everything."""
        super().close()
        self._pending = False
        self._jobs, self._slots = None, []
        self._arena = None
        self._arena_size = 0
        self._payloads = None
        self._pjobs, self._carena = None, None
        self._parenas, self._parena_sizes = [None, None], [0, 0]
        self._pjobs_cap = self._carena_cap = 0


class FrameStreamCompressor(_Closable):
    """Compress one long frame in pieces (same parameters as :func:`compress_frame`).

    The frame carries a checksum but no content size; its bytes depend only on
    the concatenated input, not on how it was split between :meth:`compress`
    calls.  After :meth:`end`, the next :meth:`compress` starts a new frame.
    """

    _what = "FrameStreamCompressor"

    def __init__(self, level: int) -> None:
        super().__init__()
        _check_level(level)
        err = ffi.new("int *")
        raw = lib.zck_cstream_new(level, err)
        if raw == ffi.NULL:
            raise _error(int(err[0]), "create a stream compressor")
        self._ptr = ffi.gc(raw, lib.zck_cstream_free, size=int(lib.zck_cstream_sizeof(raw)))
        self._out_size = int(lib.zck_cstream_out_size())
        self._out = _alloc("uint8_t[]", self._out_size)
        self._written = ffi.new("size_t *")
        self._consumed = ffi.new("size_t *")
        self._done = ffi.new("int *")

    def _run(self, data: BufferLike, end: int, write: Callable[[memoryview], object]) -> None:
        ptr = self._acquire()
        try:
            src = _in(data)
            total = len(src)
            out, w_p, c_p, d_p = self._out, self._written, self._consumed, self._done
            off = 0
            while True:
                rc = lib.zck_cstream_compress(ptr, src + off, total - off, end, out, self._out_size, w_p, c_p, d_p)
                _check(rc, "compress a frame")
                written = int(w_p[0])
                if written:
                    write(memoryview(ffi.buffer(out, written)))
                off += int(c_p[0])
                if off >= total and (not end or d_p[0]):
                    return
        finally:
            self._lock.release()

    def compress(self, data: BufferLike) -> bytes:
        """Add ``data`` to the current frame; return whatever compressed bytes are ready."""
        parts: list[bytes] = []
        self._run(data, 0, lambda piece: parts.append(bytes(piece)))
        return b"".join(parts)

    def end(self) -> bytes:
        """Finish the current frame; return its remaining bytes."""
        parts: list[bytes] = []
        self._run(b"", 1, lambda piece: parts.append(bytes(piece)))
        return b"".join(parts)

    def compress_to(self, data: BufferLike, write: Callable[[memoryview], object]) -> None:
        """As :meth:`compress`, but pass each piece of output to ``write`` as it is made.

        The pieces are views of the compressor's own output buffer, valid only
        during the call: ``write`` must copy what it keeps.  No bytes object
        is made, so a long stream allocates nothing per call.
        """
        self._run(data, 0, write)

    def end_to(self, write: Callable[[memoryview], object]) -> None:
        """As :meth:`end`, passing the output to ``write`` (see :meth:`compress_to`)."""
        self._run(b"", 1, write)


# ------------------------------------------------------------ decompression


def decompress_batch(jobs: Sequence[tuple[BufferLike, int]], threads: int = 0) -> list[bytearray]:
    """Decompress several independent ranges, in parallel when ``threads > 1``.

    Each job is ``(compressed, size)``: ``compressed`` holds zstd frames (and
    possibly skippable frames) yielding at least ``size`` bytes; decoding stops
    after ``size`` bytes and ignores the rest.  Returns one bytearray per job.
    Raises :class:`FormatError` for corrupt or short input (naming the job),
    :class:`LimitExceededError` for frames that need a window above 128 MiB.
    """
    if threads < 0:
        raise ValueError("threads must be >= 0")
    n = len(jobs)
    if n == 0:
        return []
    outs = [bytearray(size) for _src, size in jobs]
    keep = []
    cjobs = ffi.new("zck_djob[]", n)
    for i, ((src, size), out) in enumerate(zip(jobs, outs)):
        s = _in(src)
        d = ffi.from_buffer("uint8_t[]", out, require_writable=True)
        keep.append((s, d))
        j = cjobs[i]
        j.src, j.src_size = s, len(s)
        j.dst, j.dst_size = d, size
    rc = lib.zck_decompress_batch(threads, cjobs, n)
    if rc != lib.ZCK_OK:
        index = next(i for i in range(n) if cjobs[i].error != lib.ZCK_OK)
        produced = int(cjobs[index].produced)
        raise _error(rc, "decompress", f"(job {index}: {produced} of {jobs[index][1]} bytes produced)")
    return outs


def decompress_into(src: BufferLike, dst: bytearray | memoryview | mmap.mmap) -> None:
    """Decompress exactly ``len(dst)`` bytes from the frames in ``src`` into the writable buffer ``dst``."""
    s = _in(src)
    d = ffi.from_buffer("uint8_t[]", dst, require_writable=True)
    job = ffi.new("zck_djob[]", 1)
    job[0].src, job[0].src_size = s, len(s)
    job[0].dst, job[0].dst_size = d, len(d)
    rc = lib.zck_decompress_batch(0, job, 1)
    if rc != lib.ZCK_OK:
        raise _error(rc, "decompress", f"({int(job[0].produced)} of {len(d)} bytes produced)")


class DecodeJobs:
    """A batch of decode-and-check jobs whose outputs all land in one arena.

    Each job either decodes zstd frames from a source buffer into
    ``arena[dst:dst + size]`` or (:meth:`check`) only checks bytes already
    there; either way its SHA-256 and CRC-64 can be checked on the worker
    thread that produced them, while the bytes are still in cache.
    :meth:`run` runs every job (in parallel when ``threads > 1``) and returns
    the first failure instead of raising, so the caller can name the file or
    chunk in its own error.  The arena and the sources must stay alive and
    unchanged until :meth:`run` returns.

    The arena is a ``bytearray``, never a ``memoryview``: cffi holds a buffer
    on it, and when a view and that buffer end up in a reference cycle (a
    traceback's frames), the cyclic collector may free them in an order that
    crashes the interpreter (seen as a segfault in ``memory_dealloc``).
    """

    __slots__ = ("_arena", "_base", "_sources", "_specs")

    def __init__(self, arena: bytearray) -> None:
        if not isinstance(arena, bytearray):
            raise TypeError(f"the arena must be a bytearray, not {type(arena).__name__}")
        self._arena = arena
        self._base = ffi.from_buffer("uint8_t[]", arena, require_writable=True)
        self._sources: list[Any] = []
        # (source handle, offset, length, dst, size, sha256, crc64, base checks)
        self._specs: list[tuple[int, int, int, int, int, bytes | None, int | None, int]] = []

    def __len__(self) -> int:
        return len(self._specs)

    def source(self, data: BufferLike) -> int:
        """Register a buffer of compressed bytes; returns the handle :meth:`decode` takes."""
        self._sources.append(_in(data))
        return len(self._sources) - 1

    def _dst(self, dst: int, size: int, sha256: bytes | None) -> None:
        if dst < 0 or size < 0 or dst + size > len(self._base):
            raise ValueError(f"job output {dst}:{size} is outside the {len(self._base)}-byte arena")
        if sha256 is not None and len(sha256) != 32:
            raise ValueError("a SHA-256 digest is 32 bytes")

    def decode(self, source: int, offset: int, length: int, dst: int, size: int,
               sha256: bytes | None = None, crc64: int | None = None, *, exact: bool = False) -> int:
        """Decode ``size`` bytes from ``source[offset:offset + length]`` into the arena at ``dst``.

        Without ``exact``, decoding stops after ``size`` bytes (the frame that
        made the last of them is finished) and the rest of the input is
        ignored; with it, the input must hold exactly ``size`` bytes and end on
        a frame boundary.
        """
        src = self._sources[source]
        if offset < 0 or length < 0 or offset + length > len(src):
            raise ValueError(f"job input {offset}:{length} is outside the {len(src)}-byte source")
        self._dst(dst, size, sha256)
        self._specs.append((source, offset, length, dst, size, sha256, crc64, lib.ZCK_CHECK_EXACT if exact else 0))
        return len(self._specs) - 1

    def check(self, dst: int, size: int, sha256: bytes | None = None, crc64: int | None = None) -> int:
        """Check ``arena[dst:dst + size]`` as it is (after the jobs of an earlier :meth:`run`)."""
        self._dst(dst, size, sha256)
        self._specs.append((-1, 0, 0, dst, size, sha256, crc64, lib.ZCK_CHECK_ONLY))
        return len(self._specs) - 1

    def run(self, threads: int) -> tuple[int, Exception] | None:
        """Run every job; ``None`` when all passed, else ``(job index, error)`` of the first failure.

        The error is not raised: it is a :class:`DigestMismatchError` for a
        SHA-256 or CRC-64 mismatch, a :class:`FormatError` or
        :class:`LimitExceededError` for frames that do not decode.  Failures
        that are not about the data (allocation, threads) raise
        :class:`NativeError` here.
        """
        n = len(self._specs)
        if n == 0:
            return None
        jobs = ffi.new("zck_djob[]", n)
        base, sources = self._base, self._sources
        for i, (source, offset, length, dst, size, sha, crc, checks) in enumerate(self._specs):
            j = jobs[i]
            if source >= 0:
                j.src = sources[source] + offset
                j.src_size = length
            j.dst = base + dst
            j.dst_size = size
            if sha is not None:
                ffi.memmove(j.sha256, sha, 32)
                checks |= lib.ZCK_CHECK_SHA256
            if crc is not None:
                j.crc64 = crc
                checks |= lib.ZCK_CHECK_CRC64
            j.checks = checks
        rc = lib.zck_decompress_batch(max(0, threads), jobs, n)
        if rc == lib.ZCK_OK:
            return None
        index = next(i for i in range(n) if jobs[i].error != lib.ZCK_OK)
        code = int(jobs[index].error)
        if code in (lib.ZCK_E_SHA256_MISMATCH, lib.ZCK_E_CRC64_MISMATCH):
            what = "SHA-256" if code == lib.ZCK_E_SHA256_MISMATCH else "CRC-64"
            return index, DigestMismatchError(f"{what} mismatch in job {index}")
        exc = _error(code, "decode", f"(job {index}: {int(jobs[index].produced)} of "
                                     f"{int(jobs[index].dst_size)} bytes produced)")
        if isinstance(exc, NativeError):
            raise exc
        return index, exc
