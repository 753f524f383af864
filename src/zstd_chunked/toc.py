"""The TOC ("manifest"): entry model, Go-identical serialization, and strict parsing.

Writing follows containers/storage ``minimal.FileMetadata`` marshalled by
json-iterator in standard-library mode: fixed key order, ``omitempty`` on every
field but ``type`` and ``name``, HTML-escaped strings, xattr maps with sorted
keys, times in RFC 3339 (always UTC here). The text is made in C
(``csrc/zck_toctext.c``); :meth:`TocEntry.write_to` passes it the fields.

Parsing follows ``unmarshalToc`` (keys matched case-insensitively, unknown keys
ignored, the last duplicate wins, nothing but whitespace after the object) and
adds the checks upstream lacks: types of every value, ranges of integers,
digest syntax, chunk layout.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from . import format as fmt
from ._native import TocScan, TocText, toc_scan
from .errors import FormatError, LimitExceededError, UnsupportedTarError
from .gojson import go_string_bytes, go_time_rfc3339nano, jsoniter_string, parse_rfc3339

if TYPE_CHECKING:
    from .tarstream import TarHeader

#: No zstd data can decompress to more than this many bytes per compressed byte: a
#: block yields at most 128 KiB and takes at least 4 bytes (a 3-byte header and one
#: RLE byte), and every frame adds a header. Used to refuse chunk sizes that the
#: chunk's compressed range cannot possibly hold.
MAX_ZSTD_RATIO = (128 << 10) // 4
_INT64_MAX = (1 << 63) - 1
_INT64_MIN = -(1 << 63)
_DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})\Z")
_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}\Z")
#: Go's zero time, which old writers used for "no time".
GO_ZERO_TIME = (-62135596800, 0)


@dataclass
class TocEntry:
    """One TOC entry, with the Go field names spelt in Python style.

    Times are kept as the RFC 3339 text found in (or written to) the TOC; use
    :meth:`mtime` and friends for ``(seconds, nanoseconds)``.
    """

    type: str
    name: str
    linkname: str = ""
    mode: int = 0
    size: int = 0
    uid: int = 0
    gid: int = 0
    modtime: str | None = None
    accesstime: str | None = None
    changetime: str | None = None
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, str] = field(default_factory=dict)
    digest: str = ""
    offset: int = 0
    end_offset: int = 0
    chunk_size: int = 0
    chunk_offset: int = 0
    chunk_digest: str = ""
    chunk_type: str = ""

    def mtime(self) -> tuple[int, int] | None:
        return _time_or_none(self.modtime)

    def atime(self) -> tuple[int, int] | None:
        return _time_or_none(self.accesstime)

    def ctime(self) -> tuple[int, int] | None:
        return _time_or_none(self.changetime)

    def write_to(self, text: TocText) -> None:
        """Append the entry, as json-iterator writes ``minimal.FileMetadata``, to ``text``."""
        name = self.name
        linkname = self.linkname
        mtime, atime, ctime = self.modtime, self.accesstime, self.changetime
        text.entry(
            self.type.encode(),
            name.encode("ascii") if name.isascii() else go_string_bytes(name),
            b"" if not linkname else linkname.encode("ascii") if linkname.isascii() else go_string_bytes(linkname),
            self.mode, self.size, self.uid, self.gid,
            None if mtime is None else mtime.encode(),
            None if atime is None else atime.encode(),
            None if ctime is None else ctime.encode(),
            self.devmajor, self.devminor,
            _xattrs_json(self.xattrs) if self.xattrs else None,
            self.digest.encode(), self.offset, self.end_offset, self.chunk_size, self.chunk_offset,
            self.chunk_digest.encode(), self.chunk_type.encode("utf-8", "surrogateescape"),
        )

    def to_json(self) -> str:
        """The entry alone, as json-iterator writes ``minimal.FileMetadata``."""
        with TocText() as text:
            self.write_to(text)
            return text.take().decode("utf-8", "surrogateescape")


def _xattrs_json(xattrs: dict[str, str]) -> bytes:
    """The ``xattrs`` object: keys sorted by their bytes, keys and values quoted as json-iterator does."""
    items = sorted(xattrs.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))
    body = ",".join(jsoniter_string(k) + ":" + jsoniter_string(v) for k, v in items)
    return ("{" + body + "}").encode("utf-8", "surrogateescape")


def _time_or_none(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    value = parse_rfc3339(text)
    if value == GO_ZERO_TIME:
        return None
    return value


def toc_json_prefix() -> str:
    """The bytes that open a TOC object, before the first entry."""
    return f'{{"version":{fmt.TOC_VERSION},"entries":'


def toc_json_suffix(tarsplit_digest: str) -> str:
    """The text that closes a TOC object, after the entries array."""
    tail = ',"tarSplitDigest":' + jsoniter_string(tarsplit_digest) if tarsplit_digest else ""
    return tail + "}"


def toc_json(entries: list[TocEntry], tarsplit_digest: str) -> bytes:
    """The whole TOC document for ``entries``, as the reference writes it."""
    with TocText() as text:
        for entry in entries:
            entry.write_to(text)
        body = b"[" + text.take() + b"]" if entries else b"null"
    return toc_json_prefix().encode() + body + toc_json_suffix(tarsplit_digest).encode()


# --------------------------------------------------------------------------
# Parsing


@dataclass
class Toc:
    """A decoded TOC."""

    version: int
    entries: list[TocEntry]
    tarsplit_digest: str = ""

    def files(self) -> Iterator[TocEntry]:
        """Every entry that is not a ``chunk`` continuation."""
        return (e for e in self.entries if e.type != fmt.TYPE_CHUNK)


_STR_FIELDS = {
    "type": "type", "name": "name", "linkname": "linkname", "digest": "digest",
    "chunkdigest": "chunk_digest", "chunktype": "chunk_type",
}
_INT_FIELDS = {
    "mode": "mode", "size": "size", "uid": "uid", "gid": "gid", "devmajor": "devmajor",
    "devminor": "devminor", "offset": "offset", "endoffset": "end_offset",
    "chunksize": "chunk_size", "chunkoffset": "chunk_offset",
}
_TIME_FIELDS = {"modtime": "modtime", "accesstime": "accesstime", "changetime": "changetime"}


def _reject_constant(name: str) -> Any:
    raise FormatError(f"TOC: invalid JSON value {name}")


#: Keys exactly as writers spell them: (attribute, kind) for the fast path of parse_toc.
_CANONICAL_KEYS: dict[str, tuple[str, str]] = {
    "type": ("type", "str"), "name": ("name", "str"), "linkName": ("linkname", "str"),
    "mode": ("mode", "int"), "size": ("size", "int"), "uid": ("uid", "int"), "gid": ("gid", "int"),
    "modtime": ("modtime", "time"), "accesstime": ("accesstime", "time"), "changetime": ("changetime", "time"),
    "devMajor": ("devmajor", "int"), "devMinor": ("devminor", "int"), "xattrs": ("xattrs", "xattrs"),
    "digest": ("digest", "str"), "offset": ("offset", "int"), "endOffset": ("end_offset", "int"),
    "chunkSize": ("chunk_size", "int"), "chunkOffset": ("chunk_offset", "int"),
    "chunkDigest": ("chunk_digest", "str"), "chunkType": ("chunk_type", "str"),
}
_CANONICAL_TOP = frozenset(["version", "entries", "tarSplitDigest"])


class _NotCanonical(Exception):
    """Raised inside the fast path of parse_toc: take the general path instead."""


def _canonical_entry(obj: Any, index: int, times: set[str]) -> TocEntry:
    """An entry whose keys are all spelt as writers spell them; else _NotCanonical.

    Gives exactly what the general path gives for such an object; anything
    doubtful (other spellings, wrong types) is left to the general path, which
    also words the errors.
    """
    if type(obj) is not dict:
        raise _NotCanonical
    kw: dict[str, Any] = {}
    keys = _CANONICAL_KEYS
    for key, value in obj.items():
        spec = keys.get(key)
        if spec is None:
            raise _NotCanonical
        if value is None:
            continue
        attr, kind = spec
        if kind == "str":
            if type(value) is not str:
                raise _NotCanonical
            kw[attr] = value if value.isascii() else _go_string(value)
        elif kind == "int":
            if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
                raise _NotCanonical
            kw[attr] = value
        elif kind == "time":
            if type(value) is not str:
                raise _NotCanonical
            if value not in times:
                try:
                    parse_rfc3339(value)
                except FormatError:
                    raise _NotCanonical from None
                times.add(value)
            kw[attr] = value
        else:  # xattrs: the same checks as the general path
            if type(value) is not dict:
                raise _NotCanonical
            xattrs: dict[str, str] = {}
            for xkey, xvalue in value.items():
                if type(xvalue) is not str:
                    raise _NotCanonical
                xkey = _go_string(xkey)
                if not xkey or "\x00" in xkey:
                    raise _NotCanonical
                xattrs[xkey] = _go_string(xvalue)
            kw[attr] = xattrs
    kw.setdefault("type", "")
    kw.setdefault("name", "")
    entry = TocEntry(**kw)
    _validate_entry(entry, index)
    return entry


def _parse_canonical(text: str, max_entries: int) -> Toc | None:
    """parse_toc for documents whose keys are all spelt as writers spell them; None for others.

    Plain ``json.loads`` keeps the last of duplicate keys, as the general path
    does; objects with any other key spelling go to the general path, which
    matches keys case-insensitively as Go does.
    """
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None  # the general path reports it
    if type(doc) is not dict or not _CANONICAL_TOP.issuperset(doc):
        return None
    version = doc.get("version", 0)  # null is left to the general path, which refuses it
    raw_entries = doc.get("entries")
    raw_entries = [] if raw_entries is None else raw_entries
    digest = doc.get("tarSplitDigest")
    digest = "" if digest is None else digest
    if (type(version) is not int or type(raw_entries) is not list or len(raw_entries) > max_entries
            or type(digest) is not str or (digest and not _DIGEST_RE.match(digest))):
        return None
    times: set[str] = set()
    try:
        entries = [_canonical_entry(obj, i, times) for i, obj in enumerate(raw_entries)]
    except (_NotCanonical, FormatError):
        return None
    return Toc(version=version, entries=entries, tarsplit_digest=digest)


def _scanned_entries(scan: TocScan, data: bytes) -> list[TocEntry]:
    """The entries of a :func:`toc_scan` result; _NotCanonical or FormatError for the general path."""
    fields, per = scan.fields, TocScan.FIELDS
    text = scan.text.decode("latin-1")  # one character per byte: the byte offsets index it
    times: set[str] = set()
    entries: list[TocEntry] = []
    append = entries.append
    start = 0
    for index in range(scan.count):
        (flags, obj_start, obj_end, mode, size, uid, gid, devmajor, devminor, offset, end_offset, chunk_size,
         chunk_offset, e_type, e_name, e_link, e_mtime, e_atime, e_ctime, e_digest, e_chunk_digest,
         e_chunk_type) = fields[index * per:(index + 1) * per]
        if flags & TocScan.PYTHON:  # xattrs: this entry is decoded by json and checked in Python
            append(_canonical_entry(json.loads(data[obj_start:obj_end]), index, times))
            start = e_chunk_type
            continue
        texts: tuple[str, ...] = (
            text[start:e_type], text[e_type:e_name], text[e_name:e_link], text[e_link:e_mtime],
            text[e_mtime:e_atime], text[e_atime:e_ctime], text[e_ctime:e_digest],
            text[e_digest:e_chunk_digest], text[e_chunk_digest:e_chunk_type])
        start = e_chunk_type
        if flags & TocScan.NONASCII:
            texts = tuple(t.encode("latin-1").decode("utf-8") for t in texts)
        mtime = texts[3] if flags & TocScan.HAS_MODTIME else None
        atime = texts[4] if flags & TocScan.HAS_ACCESSTIME else None
        ctime = texts[5] if flags & TocScan.HAS_CHANGETIME else None
        for value in (mtime, atime, ctime):
            if value is not None and value not in times:
                try:
                    parse_rfc3339(value)
                except FormatError:
                    raise _NotCanonical from None
                times.add(value)
        entry = TocEntry(texts[0], texts[1], texts[2], mode, size, uid, gid, mtime, atime, ctime, devmajor,
                         devminor, {}, texts[6], offset, end_offset, chunk_size, chunk_offset, texts[7], texts[8])
        if flags & TocScan.BAD:
            _validate_entry(entry, index)  # raises: the C scan saw a value the rules refuse
        append(entry)
    return entries


def _parse_scanned(data: bytes, max_entries: int) -> Toc | None:
    """parse_toc for documents of the shape writers produce, scanned in C; None for others."""
    scanned = _scan_and_parse(data, max_entries)
    return None if scanned is None else scanned[0]


def _scan_and_parse(data: bytes, max_entries: int) -> tuple[Toc, TocScan] | None:
    """:func:`_parse_scanned`, with the scan the entries were built from."""
    scan = toc_scan(data, max_entries)
    if scan is None:
        return None
    digest = scan.tarsplit_digest.decode("utf-8")
    if digest and not _DIGEST_RE.match(digest):
        return None
    try:
        entries = _scanned_entries(scan, data)
    except (_NotCanonical, FormatError, ValueError):
        return None  # the general path words the error
    scan.fields = []  # the entries are built: only the C arrays are read from here on
    return Toc(version=scan.version, entries=entries, tarsplit_digest=digest), scan


def parse_toc(data: bytes, *, max_entries: int = 50_000_000) -> Toc:
    """Decode TOC JSON bytes strictly. Raises :class:`FormatError` on anything malformed.

    Three decoders give the same result: a C scanner for documents of the
    shape writers produce (:func:`~zstd_chunked._native.toc_scan`), ``json``
    with the keys as writers spell them, and the general one, which matches
    keys as Go does and words the errors.
    """
    return parse_toc_scanned(data, max_entries=max_entries)[0]


def parse_toc_scanned(data: bytes, *, max_entries: int = 50_000_000) -> tuple[Toc, TocScan | None]:
    """:func:`parse_toc`, plus the C scanner's result when the TOC was decoded by it (else None).

    The reader hands the scan to :func:`~zstd_chunked.tocmatch.check_toc_matches_tarsplit`.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"TOC: not valid UTF-8 at byte {exc.start}") from None
    scanned = _scan_and_parse(data, max_entries)
    if scanned is not None:
        return scanned
    fast = _parse_canonical(text, max_entries)
    if fast is not None:
        return fast, None
    return _parse_general(text, max_entries), None


def _parse_general(text: str, max_entries: int) -> Toc:
    """parse_toc for any document: keys matched case-insensitively, as Go does."""
    try:
        # Field names match case-insensitively and the last duplicate wins (as unmarshalToc);
        # xattr maps keep their keys as written (they are data, not field names).
        doc = json.loads(text, object_pairs_hook=_CaseHook(), parse_constant=_reject_constant)
    except FormatError:
        raise
    except RecursionError:
        raise FormatError("TOC: JSON nested too deeply") from None
    except ValueError as exc:
        raise FormatError(f"TOC: invalid JSON: {exc}") from None
    if not isinstance(doc, _CaseDict):
        raise FormatError("TOC: top level is not a JSON object")
    version = doc.get("version", 0)
    if not _is_int(version):
        raise FormatError("TOC: 'version' is not an integer")
    raw_entries = doc.get("entries")
    if raw_entries is None:
        raw_entries = []
    if not isinstance(raw_entries, list):
        raise FormatError("TOC: 'entries' is not an array")
    if len(raw_entries) > max_entries:
        raise LimitExceededError(f"TOC: {len(raw_entries)} entries exceed the limit of {max_entries}")
    tarsplit_digest = doc.get("tarsplitdigest", "")
    if tarsplit_digest is None:
        tarsplit_digest = ""
    if not isinstance(tarsplit_digest, str):
        raise FormatError("TOC: 'tarSplitDigest' is not a string")
    if tarsplit_digest and not _DIGEST_RE.match(tarsplit_digest):
        raise FormatError(f"TOC: invalid tarSplitDigest {tarsplit_digest!r}")
    entries = [_entry_from_obj(obj, i) for i, obj in enumerate(raw_entries)]
    return Toc(version=int(version), entries=entries, tarsplit_digest=tarsplit_digest)


class _CaseDict(dict):  # type: ignore[type-arg]
    """A JSON object as decoded: lowercased keys, plus the original pairs for xattr maps."""

    original: list[tuple[str, Any]]


class _CaseHook:
    def __call__(self, pairs: list[tuple[str, Any]]) -> _CaseDict:
        out = _CaseDict()
        for key, value in pairs:
            out[key.lower()] = value
        out.original = pairs
        return out


def _go_string(value: str) -> str:
    """A decoded JSON string as Go sees it: lone surrogates (``\\ud800``) become U+FFFD.

    Python's json keeps them, and they could then stand for raw bytes
    (``surrogateescape``) that Go would never produce from the same TOC.
    """
    if value.isascii():
        return value
    return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entry_from_obj(obj: Any, index: int) -> TocEntry:
    if not isinstance(obj, _CaseDict):
        raise FormatError(f"TOC entry {index}: not a JSON object")
    entry = TocEntry(type="", name="")
    for key, value in obj.items():
        if value is None:
            continue  # Go leaves the zero value for null
        if key in _STR_FIELDS:
            if not isinstance(value, str):
                raise FormatError(f"TOC entry {index}: {key!r} is not a string")
            setattr(entry, _STR_FIELDS[key], _go_string(value))
        elif key in _INT_FIELDS:
            if not _is_int(value) or not _INT64_MIN <= value <= _INT64_MAX:
                raise FormatError(f"TOC entry {index}: {key!r} is not a 64-bit integer")
            setattr(entry, _INT_FIELDS[key], value)
        elif key in _TIME_FIELDS:
            if not isinstance(value, str):
                raise FormatError(f"TOC entry {index}: {key!r} is not a time string")
            try:
                parse_rfc3339(value)
            except FormatError as exc:
                raise FormatError(f"TOC entry {index}: {key!r}: {exc}") from None
            setattr(entry, _TIME_FIELDS[key], value)
        elif key == "xattrs":
            if not isinstance(value, _CaseDict):
                raise FormatError(f"TOC entry {index}: 'xattrs' is not an object")
            xattrs: dict[str, str] = {}
            for xkey, xvalue in value.original:
                if not isinstance(xvalue, str):
                    raise FormatError(f"TOC entry {index}: xattr {xkey!r} is not a string")
                xkey = _go_string(xkey)
                if not xkey or "\x00" in xkey:
                    raise FormatError(f"TOC entry {index}: invalid xattr name {xkey!r}")
                xattrs[xkey] = _go_string(xvalue)
            entry.xattrs = xattrs
    _validate_entry(entry, index)
    return entry


def _validate_entry(entry: TocEntry, index: int) -> None:
    if entry.type not in fmt.ENTRY_TYPES:
        raise FormatError(f"TOC entry {index} ({entry.name!r}): unknown type {entry.type!r}")
    if not entry.name:
        raise FormatError(f"TOC entry {index} ({entry.name!r}): empty name")
    if "\x00" in entry.name or "\x00" in entry.linkname:
        raise FormatError(f"TOC entry {index} ({entry.name!r}): NUL byte in a name")
    if min(entry.size, entry.offset, entry.end_offset, entry.chunk_size, entry.chunk_offset) < 0:
        for label, value in (("size", entry.size), ("offset", entry.offset), ("endOffset", entry.end_offset),
                             ("chunkSize", entry.chunk_size), ("chunkOffset", entry.chunk_offset)):
            if value < 0:
                raise FormatError(f"TOC entry {index} ({entry.name!r}): negative {label}")
    for label, digest in (("digest", entry.digest), ("chunkDigest", entry.chunk_digest)):
        if digest and not _DIGEST_RE.match(digest):
            raise FormatError(f"TOC entry {index} ({entry.name!r}): invalid {label} {digest!r}")


# --------------------------------------------------------------------------
# Regular files with their chunks (mergeTocEntries)


class Chunk(NamedTuple):
    """One chunk of a regular file: a run of whole frames in the blob.

    A named tuple: opening a layer makes one per chunk, and a tuple is made
    several times faster than a frozen dataclass.
    """

    file_offset: int  # uncompressed offset in the file
    size: int  # uncompressed length
    offset: int  # compressed start in the blob
    end: int  # compressed end in the blob
    digest: str  # sha256 of the uncompressed bytes ("" when the file has one chunk)
    zeros: bool


@dataclass
class FileRecord:
    """A regular file with its chunk list, as a reader uses it."""

    entry: TocEntry
    chunks: list[Chunk]


def merge_files(toc: Toc, data_end: int) -> dict[str, FileRecord]:
    """Group ``reg`` entries with their ``chunk`` entries and check the layout.

    ``data_end`` is the blob offset where the TOC's skippable frame starts: no
    payload may reach past it. Raises :class:`FormatError` for a chunk without a
    regular file, chunks that do not add up to the size, sizes their compressed
    range cannot hold, overlapping or out-of-range offsets (payloads must follow
    each other in TOC order, as every writer lays them out), and duplicate names.
    """
    files: dict[str, FileRecord] = {}
    seen: set[str] = set()
    current: TocEntry | None = None
    parts: list[TocEntry] = []
    last_end = 0

    def finish() -> None:
        nonlocal last_end
        if current is not None:
            chunks = _build_chunks(current, parts, data_end)
            if chunks:
                if chunks[0].offset < last_end:
                    raise FormatError(f"TOC file {current.name!r}: data at {chunks[0].offset} overlaps the "
                                      f"previous file's, which ends at {last_end}")
                last_end = chunks[-1].end
            files[current.name] = FileRecord(current, chunks)

    for index, entry in enumerate(toc.entries):
        if entry.type == fmt.TYPE_CHUNK:
            if current is None or entry.name != current.name:
                raise FormatError(f"TOC entry {index}: chunk {entry.name!r} without its regular file")
            parts.append(entry)
            continue
        finish()
        current, parts = None, []
        if entry.name in seen:
            raise FormatError(f"TOC: duplicate entry {entry.name!r}")
        seen.add(entry.name)
        if entry.type == fmt.TYPE_REG:
            current, parts = entry, [entry]
    finish()
    return files


def _build_chunks(entry: TocEntry, parts: list[TocEntry], data_end: int) -> list[Chunk]:
    where = f"TOC file {entry.name!r}"
    if entry.size == 0:
        if len(parts) > 1 or entry.digest not in ("", fmt.EMPTY_SHA256):
            raise FormatError(f"{where}: empty file with content")
        return []
    if not entry.digest:
        raise FormatError(f"{where}: regular file without digest")
    if entry.end_offset <= entry.offset or entry.offset <= 0:
        raise FormatError(f"{where}: invalid range {entry.offset}..{entry.end_offset}")
    if entry.end_offset > data_end:
        raise FormatError(f"{where}: data range ends at {entry.end_offset}, past the payload end {data_end}")
    if len(parts) == 1:
        chunks = [Chunk(0, entry.size, entry.offset, entry.end_offset, entry.chunk_digest,
                        entry.chunk_type == fmt.CHUNK_TYPE_ZEROS)]
        _check_ratio(where, chunks)
        return chunks
    chunks = []
    expected_file_offset = 0
    for i, part in enumerate(parts):
        end = parts[i + 1].offset if i + 1 < len(parts) else entry.end_offset
        if part.chunk_offset != expected_file_offset:
            raise FormatError(f"{where}: chunk {i} at file offset {part.chunk_offset}, expected {expected_file_offset}")
        if part.chunk_size <= 0:
            raise FormatError(f"{where}: chunk {i} has no size")
        if not part.offset or end <= part.offset:
            raise FormatError(f"{where}: chunk {i} has an empty or reversed range {part.offset}..{end}")
        if not part.chunk_digest:
            raise FormatError(f"{where}: chunk {i} has no chunkDigest")
        chunks.append(Chunk(part.chunk_offset, part.chunk_size, part.offset, end, part.chunk_digest,
                            part.chunk_type == fmt.CHUNK_TYPE_ZEROS))
        expected_file_offset += part.chunk_size
    if expected_file_offset != entry.size:
        raise FormatError(f"{where}: chunks add up to {expected_file_offset} bytes, size is {entry.size}")
    if chunks[0].offset != entry.offset:
        raise FormatError(f"{where}: first chunk does not start at the file's offset")
    _check_ratio(where, chunks)
    return chunks


def _check_ratio(where: str, chunks: list[Chunk]) -> None:
    for i, c in enumerate(chunks):
        if c.size > (c.end - c.offset) * MAX_ZSTD_RATIO:
            raise FormatError(f"{where}: chunk {i} claims {c.size} bytes, more than its "
                              f"{c.end - c.offset} compressed bytes can hold")


def digest_is_sha256(value: str) -> bool:
    return bool(_SHA256_RE.match(value))


# --------------------------------------------------------------------------
# From a tar header (minimal.NewFileMetadata)


def _utf8_or_refuse(value: str, what: str, name: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsupportedTarError(
            f"{what} of {name!r} is not valid UTF-8; the TOC cannot represent it faithfully "
            "(the reference writer would produce a layer its own reader rejects)"
        ) from None
    return value


def _go_time(value: tuple[int, int] | None) -> str | None:
    if value is None or value == GO_ZERO_TIME:
        return None
    return go_time_rfc3339nano(value[0], value[1])


def entry_from_header(hdr: TarHeader) -> TocEntry:
    """The TOC entry the reference writes for a tar header (without digests and offsets).

    Raises :class:`UnsupportedTarError` for entry types outside the TOC's set and
    for names that are not UTF-8.
    """
    toc_type = fmt.TAR_TYPES.get(hdr.typeflag)
    if toc_type is None:
        raise UnsupportedTarError(f"unsupported tar entry type {hdr.typeflag!r} for {hdr.name!r}")
    name = hdr.name
    if not name.isascii():
        _utf8_or_refuse(name, "name", name)
    linkname = hdr.linkname
    if not linkname.isascii():
        _utf8_or_refuse(linkname, "link target", name)
    xattrs: dict[str, str] = {}
    if hdr.pax_records:
        for key, value in hdr.xattrs().items():
            xattrs[_utf8_or_refuse(key, "xattr name", name)] = base64.b64encode(value).decode("ascii")
    mtime, atime, ctime = hdr.mtime, hdr.atime, hdr.ctime
    return TocEntry(
        toc_type,
        name,
        linkname,
        hdr.mode,
        hdr.size,
        hdr.uid,
        hdr.gid,
        None if mtime is None else _go_time(mtime),
        None if atime is None else _go_time(atime),
        None if ctime is None else _go_time(ctime),
        hdr.devmajor,
        hdr.devminor,
        xattrs,
    )
