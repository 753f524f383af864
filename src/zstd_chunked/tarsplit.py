"""tar-split JSON lines: the exact encoder the reference writer uses, and a strict decoder.

tar-split (vbatts/tar-split ``tar/storage``) records a tar stream as a sequence of
``storage.Entry`` objects, one JSON document per line, written by Go's
``encoding/json`` ``Encoder``::

    {"type":2,"payload":"<base64 of raw tar bytes>","position":0}
    {"type":1,"name":"d/a","size":5,"payload":"<base64 of the CRC-64>","position":1}

Type 2 ("segment") entries hold raw tar bytes (headers, padding, terminator,
trailing data); type 1 ("file") entries stand for one payload, identified by the
entry name and checked by CRC-64 (Go ``crc64.ISO`` table, 8 big-endian bytes).
Keys come in struct order ``type``, ``name``, ``name_raw``, ``size``, ``payload``,
``position``; ``name``, ``name_raw`` and ``size`` are omitted when empty; names
that are not UTF-8 go to ``name_raw`` (base64); a file without a checksum has
``"payload":null``. ``position`` counts every entry from 0.

The CRC itself is computed by the caller (``zstd_chunked._native.crc64``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from . import format as fmt
from ._native import PATH_KEY_SIZE, TarSplitLines, TarSplitScan, clean_path, find_duplicate_key, path_key
from ._spool import Spool
from .errors import FormatError, LimitExceededError
from .gojson import go_string_bytes
from .tarstream import SupportsRead, go_clean_path

__all__ = [
    "MAX_TARSPLIT_LINE",
    "TarSplitEncoder",
    "TarSplitEntry",
    "iter_tarsplit",
    "tar_size_from_entries",
]

#: Default longest tar-split line (newline included) :func:`iter_tarsplit` accepts.
#: The reference writes one segment per tar entry holding its headers (a PAX body,
#: a long name and a long link are each at most 1 MiB), so real lines stay far below.
MAX_TARSPLIT_LINE = 16 << 20

FILE_TYPE = fmt.TARSPLIT_FILE_TYPE
SEGMENT_TYPE = fmt.TARSPLIT_SEGMENT_TYPE
_CRC_SIZE = 8
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_READ_CHUNK = 1 << 20


class TarSplitEncoder:
    """Writes tar-split JSON lines byte-identical to the reference (``storage.NewJSONPacker``).

    The lines are made in C (:class:`zstd_chunked._native.TarSplitLines`) and
    handed to ``sink`` in blocks of whole lines, at least :data:`FLUSH_BYTES`
    at a time, and at :meth:`flush`.  Call :meth:`flush` when the stream is
    complete; :meth:`close` (or leaving the ``with`` block) frees the encoder
    without flushing.

    The duplicate-path check keeps a 16-byte key per path.  With
    ``bounded_memory``, at most :data:`RUN_KEYS` of them stay in memory: the
    others wait in sorted runs in a :class:`Spool` (a temporary file), and a
    duplicate that spans two runs is found by :meth:`duplicate_key` at the end,
    instead of by :meth:`add_file` at once.
    """

    #: Lines are passed to the sink once this many bytes are waiting.
    FLUSH_BYTES = 64 << 10
    #: With ``bounded_memory``: path keys kept in memory before a run is spilled.
    RUN_KEYS = 4096

    def __init__(self, sink: Callable[[bytes], object], *, bounded_memory: bool = False) -> None:
        self._sink = sink
        self._lines = TarSplitLines()
        self._waiting = 0
        self._runs: Optional[Spool] = None
        self._run_keys: list[int] = []
        if bounded_memory:
            self._lines.set_run_keys(self.RUN_KEYS)
            self._runs = Spool()

    def close(self) -> None:
        """Free the encoder (and its duplicate-path set) now; lines not flushed are dropped."""
        self._lines.close()
        if self._runs is not None:
            self._runs.close()

    def __enter__(self) -> TarSplitEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def position(self) -> int:
        """The ``position`` the next entry will get (the number of entries so far)."""
        return self._lines.position

    @property
    def uncompressed_size(self) -> int:
        """Bytes of lines written so far (flushed or not)."""
        return self._lines.total

    def flush(self) -> None:
        """Pass every line written so far to the sink."""
        text = self._lines.take()
        self._waiting = 0
        if text:
            self._sink(text)
        self._spill_run()

    def _spill_run(self) -> None:
        if self._runs is not None:
            run = self._lines.take_run()
            if run:
                self._runs.write(run)
                self._run_keys.append(len(run) // PATH_KEY_SIZE)

    def duplicate_key(self) -> Optional[bytes]:
        """After the last entry: the key of a path recorded twice across runs, or None.

        Only needed with ``bounded_memory`` (without it, :meth:`add_file`
        refuses every duplicate at once and this returns None).  Reads the
        runs back 256 keys (4 KiB) per run at a time.  Compare the key with
        :func:`zstd_chunked._native.path_key` of the names to find the path.
        """
        runs = self._runs
        if runs is None:
            return None
        self._spill_run()
        self._lines.end_run()
        self._spill_run()
        starts = [0]
        for n in self._run_keys:
            starts.append(starts[-1] + n * PATH_KEY_SIZE)

        def read(run: int, first: int, count: int) -> bytes:
            return runs.read_at(starts[run] + first * PATH_KEY_SIZE, count * PATH_KEY_SIZE)

        return find_duplicate_key(self._run_keys, read)

    def add_segment(self, data: Union[bytes, memoryview]) -> None:
        """Record raw tar bytes; an empty segment is skipped, as the reference does."""
        n = len(data)
        if n:
            self._lines.segment(data)
            self._waiting += n
            if self._waiting >= self.FLUSH_BYTES:
                self.flush()

    def add_file(self, name: str, size: int, crc: Optional[bytes]) -> None:
        """Record one file entry (every tar entry gets one, directories and links too).

        ``name`` is the header name (``surrogateescape`` text), ``size`` the header
        size, ``crc`` the 8 big-endian bytes of the CRC-64 of the payload read, or
        None when ``size`` is 0 (the reference computes no checksum then).

        Raises UnsupportedTarError for a second entry with the same cleaned path
        (the reference fails with "duplicates of file paths not supported") and for
        negative sizes (which the tar-split reader side cannot accept).
        """
        raw = name.encode("ascii") if name.isascii() else go_string_bytes(name)
        self._lines.file(raw, size, crc)
        self._waiting += len(raw) + 64
        if self._waiting >= self.FLUSH_BYTES:
            self.flush()


class NamesWithKey:
    """The names of the file entries whose duplicate-path key is ``key``, from tar-split
    text fed in pieces (an error message's detail: :meth:`TarSplitEncoder.duplicate_key`
    gives only the key)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._rest = b""
        self._line_no = 0
        #: Names found so far (``surrogateescape`` text), in tar order.
        self.names: list[str] = []
        #: The cleaned path of the first one (``surrogateescape`` text).
        self.cleaned = ""

    def feed(self, data: bytes) -> None:
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()
        for line in lines:
            self._line_no += 1
            entry = _general_entry(line, self._line_no)
            if entry is None or entry.type != FILE_TYPE:
                continue
            raw = entry.raw_name
            if path_key(raw) == self._key:
                self.names.append(raw.decode("utf-8", "surrogateescape"))
                if len(self.names) == 1:
                    self.cleaned = clean_path(raw).decode("utf-8", "surrogateescape")


@dataclass
class TarSplitEntry:
    """One decoded tar-split entry (``storage.Entry``)."""

    type: int
    name: Optional[str]
    name_raw: Optional[bytes]
    size: int
    payload: Optional[bytes]
    position: int

    @property
    def raw_name(self) -> bytes:
        """The name as bytes: ``name_raw`` when set, else ``name`` (Go's ``GetNameBytes``)."""
        if self.name_raw:
            return self.name_raw
        return (self.name or "").encode("utf-8")


# --- decoding -------------------------------------------------------------------


class _Pairs(list[tuple[str, Any]]):
    """Key/value pairs of one JSON object, in document order."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON value {name}")


# Go's encoding/json matches keys case-insensitively using Unicode simple folding;
# for our ASCII field names that means ASCII case plus U+017F (long s) and U+212A (Kelvin).
_FOLD = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}
_FOLD.update({0x017F: ord("S"), 0x212A: ord("K")})
_FIELDS = {"TYPE": "type", "NAME": "name", "NAME_RAW": "name_raw", "SIZE": "size",
           "PAYLOAD": "payload", "POSITION": "position"}
_INT_FIELDS = ("type", "size", "position")
_BYTES_FIELDS = ("name_raw", "payload")


def _go_string(value: str) -> str:
    """A decoded JSON string as Go sees it: invalid UTF-8 and lone surrogates become U+FFFD."""
    if value.isascii():
        return value
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)


def _decode_base64(value: str, key: str, line_no: int) -> bytes:
    """Go's base64.StdEncoding (which skips CR and LF) for a []byte field."""
    text = value.replace("\r", "").replace("\n", "")
    try:
        if len(text) % 4:
            raise binascii.Error("length is not a multiple of 4")
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise FormatError(f"tar-split line {line_no}: {key!r} is not valid base64") from None


def _field_value(field: str, value: Any, line_no: int) -> Any:
    """Check and convert one JSON value for ``field`` as Go's decoder would."""
    if field in _INT_FIELDS:
        if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
            raise FormatError(f"tar-split line {line_no}: {field!r} must be a 64-bit integer")
        return value
    if not isinstance(value, str):
        raise FormatError(f"tar-split line {line_no}: {field!r} must be a string")
    if field == "name":
        return _go_string(value)
    return _decode_base64(value, field, line_no)


def _parse_object(text: str, line_no: int) -> dict[str, Any]:
    """The known fields of one JSON object, with Go's null and duplicate-key semantics."""
    try:
        pairs = json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise FormatError(f"tar-split line {line_no}: invalid JSON ({exc})") from None
    if not isinstance(pairs, _Pairs):
        raise FormatError(f"tar-split line {line_no}: not a JSON object")
    values: dict[str, Any] = {}
    for key, value in pairs:
        field = _FIELDS.get(key.translate(_FOLD))
        if field is None:
            continue  # unknown keys are ignored, as in Go
        if value is None:
            if field in _BYTES_FIELDS:
                values.pop(field, None)  # null resets a slice; other fields keep their value
            continue
        values[field] = _field_value(field, value, line_no)
    return values


def _entry_from_values(values: dict[str, Any], line_no: int) -> TarSplitEntry:
    """Build and validate a TarSplitEntry from decoded fields."""
    kind = values.get("type", 0)
    entry = TarSplitEntry(
        type=kind,
        name=values.get("name"),
        name_raw=values.get("name_raw"),
        size=values.get("size", 0),
        payload=values.get("payload"),
        position=values.get("position", 0),
    )
    if kind == SEGMENT_TYPE:
        if entry.payload is None:
            entry.payload = b""
        return entry
    if kind != FILE_TYPE:
        # Upstream's unpacker passes unknown types through: WriteOutputTarStream ignores
        # them silently, while asm.IterateHeaders and c/storage's tarSizeFromTarSplit
        # fail. We reject them here, once for every consumer.
        raise FormatError(f"tar-split line {line_no}: unknown entry type {kind}")
    if entry.size < 0:
        raise FormatError(f"tar-split line {line_no}: negative file size {entry.size}")
    if entry.size > 0 and (entry.payload is None or len(entry.payload) != _CRC_SIZE):
        raise FormatError(f"tar-split line {line_no}: a file entry needs an 8-byte CRC-64 payload")
    return entry


def _line_blocks(stream: SupportsRead, max_line: int) -> Iterator[bytes]:
    """``stream`` cut after newlines: blocks of whole lines (the very last may lack its newline).

    A piece of a line waiting for the rest is never allowed past ``max_line`` bytes, and
    is joined once, when its newline arrives.
    """
    pending: list[bytes] = []
    pending_len = 0
    while True:
        chunk = stream.read(_READ_CHUNK)
        if not chunk:
            break
        chunk = bytes(chunk)
        cut = chunk.rfind(b"\n") + 1
        if cut:
            head = chunk[:cut] if cut < len(chunk) else chunk
            yield b"".join(pending) + head if pending else head
            pending, pending_len = [], 0
        rest = chunk[cut:] if cut else chunk
        if rest:
            pending.append(rest)
            pending_len += len(rest)
            if pending_len > max_line:
                raise LimitExceededError(f"tar-split line longer than {max_line} bytes")
    if pending:
        yield b"".join(pending)


def _general_entry(line: bytes, line_no: int) -> Optional[TarSplitEntry]:
    """Any line, decoded strictly as Go would; None for a blank line."""
    text = line.decode("utf-8", "surrogateescape").strip(" \t\r\n")
    if not text:
        return None
    return _entry_from_values(_parse_object(text, line_no), line_no)


def _scanned_entries(fields: list[int], data: bytes) -> Iterator[TarSplitEntry]:
    """The entries of one :meth:`TarSplitScan.scan` result."""
    start = 0
    it = iter(fields)
    for kind, position, size, name_end, data_end in zip(it, it, it, it, it):
        if kind == SEGMENT_TYPE:
            yield TarSplitEntry(SEGMENT_TYPE, None, None, 0, data[start:data_end], position)
        else:
            yield TarSplitEntry(FILE_TYPE, data[start:name_end].decode("ascii") or None, None, size,
                                data[name_end:data_end] if data_end > name_end else None, position)
        start = data_end


def iter_tarsplit(stream: SupportsRead, *, max_line: int = MAX_TARSPLIT_LINE,
                  fast: bool = True) -> Iterator[TarSplitEntry]:
    """Decode tar-split JSON lines from ``stream`` (uncompressed), strictly.

    One JSON object per line; blank lines are skipped. Keys are matched as Go does
    (case-insensitively, unknown keys ignored, the last duplicate wins, ``null``
    leaves numbers and strings unchanged). Raises FormatError for malformed JSON,
    wrong value types, bad base64, unknown entry types, negative sizes, file
    entries without an 8-byte CRC and repeated file paths (after
    ``filepath.Clean``, as tar-split's unpacker), and LimitExceededError for a
    line longer than ``max_line`` bytes.

    Lines of exactly the shape the reference writes are decoded in C
    (:class:`~zstd_chunked._native.TarSplitScan`); any other line here.
    ``fast=False`` decodes every line here (the same result, slower: for
    differential tests of the C path).
    """
    with TarSplitScan() as scanner:
        line_no = 0
        for block in _line_blocks(stream, max_line):
            pos, end = 0, len(block)
            while pos < end:
                if fast:
                    fields, data, lines, pos, stop = scanner.scan(block, pos, max_line)
                    line_no += lines
                    if lines:
                        yield from _scanned_entries(fields, data)
                    if stop != TarSplitScan.OTHER:
                        continue
                # one line the fast path leaves to the general decoder
                line_no += 1
                newline = block.find(b"\n", pos)
                stop_at = end if newline < 0 else newline + 1
                if stop_at - pos > max_line:
                    raise LimitExceededError(f"tar-split line longer than {max_line} bytes")
                entry = _general_entry(block[pos:stop_at], line_no)
                pos = stop_at
                if entry is None:
                    continue
                if entry.type == FILE_TYPE and not scanner.add_path(entry.raw_name):
                    key = go_clean_path(entry.raw_name.decode("utf-8", "surrogateescape"))
                    raise FormatError(f"tar-split line {line_no}: duplicate path {key!r}")
                yield entry


def tar_size_from_entries(entries: Iterable[TarSplitEntry]) -> int:
    """Size of the tar the entries rebuild: segment lengths plus file sizes.

    Same as containers/storage ``tarSizeFromTarSplit``; any other entry type is a FormatError.
    """
    total = 0
    for entry in entries:
        if entry.type == SEGMENT_TYPE:
            total += len(entry.payload or b"")
        elif entry.type == FILE_TYPE:
            total += entry.size
        else:
            raise FormatError(f"unknown tar-split entry type {entry.type}")
    return total
