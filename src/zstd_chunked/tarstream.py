"""A streaming tar reader that behaves like tar-split's fork of Go's ``archive/tar``.

The reference writer reads the input tar with ``github.com/vbatts/tar-split/archive/tar``
(``Reader`` with ``RawAccounting`` on). The tar-split it stores records every byte
that reader accounts for, and the TOC stores the header values it parses. To be
byte-identical we follow that reader closely:

* ``Next`` first skips what is left of the previous payload and its block padding,
  then reads header blocks, consuming PAX ``x`` and GNU ``L``/``K`` meta headers
  (each PAX/long-name body is at most 1 MiB), and returns the first real header.
* The end of the archive is two zero blocks, one zero block and then the end of the
  input, or the end of the input at a header boundary (or right where the previous
  entry's padding should start).
* Every byte read outside the payloads (skipped payload, padding, header blocks, meta
  header bodies, the terminator) is "raw": :meth:`TarReader.raw_bytes` hands it out.
* Header parsing follows Go: numeric fields in octal or base-256, checksums accepted
  signed or unsigned, ustar ``prefix`` joined to the name, GNU/STAR access and change
  times, PAX records merged (``path``, ``linkpath``, ``size``, ``uid``, ``gid``,
  ``uname``, ``gname``, ``mtime``, ``atime``, ``ctime``), typeflag ``\\0`` turned into
  ``0`` (or ``5`` for names ending in ``/``).

Where the reference misbehaves we fail loudly instead: truncated input (mid-header,
mid-payload, mid-padding, mid-meta-data) raises :class:`TarError` with the input
offset; PAX global headers, old GNU sparse files and PAX sparse files raise
:class:`UnsupportedTarError`.
"""

from __future__ import annotations

import enum
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NoReturn, Optional, Protocol, Union
from zlib import adler32

from . import format as fmt
from .errors import FormatError, LimitExceededError, TarError, UnsupportedTarError, UsageError
from .gojson import go_string_bytes

__all__ = [
    "MAX_META_BYTES",
    "MAX_SPECIAL_FILE_SIZE",
    "SupportsRead",
    "TarFormat",
    "TarHeader",
    "TarReader",
    "go_clean_path",
    "iterate_headers",
]

BLOCK = fmt.TAR_BLOCK_SIZE
_ZERO_BLOCK = bytes(BLOCK)

#: Largest PAX record set or GNU long name/link body Go reads (``maxSpecialFileSize``).
MAX_SPECIAL_FILE_SIZE = 1 << 20
#: Our cap on the metadata bytes (headers, meta bodies, padding) before one entry.
#: Go has none (a chain of PAX headers grows its raw buffer without bound); a real
#: tar needs at most a few MiB (one PAX, one long name, one long link body).
MAX_META_BYTES = 8 << 20

_GO_ZERO_TIME_UNIX = -62135596800  # time.Time{} as Unix seconds
_NANOS = 1_000_000_000
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

_HEADER_ONLY_TYPEFLAGS = frozenset(bytes([c]) for c in b"123456")
_META_TYPEFLAGS = frozenset((b"x", b"g", b"L", b"K"))
_PAX_STRING_KEYS = frozenset((b"path", b"linkpath", b"uname", b"gname"))
_SPARSE_OFFSET, _SPARSE_NUMBYTES = "GNU.sparse.offset", "GNU.sparse.numbytes"
_GO_INT = re.compile(rb"[+-]?[0-9]+")
_OCTAL = re.compile(rb"[0-7]+")
_HIGH_BYTES = bytes(range(0x80, 0x100))

Time = tuple[int, int]


class SupportsRead(Protocol):
    """A binary stream: ``read(n)`` returns up to ``n`` bytes, fewer is fine, empty at the end."""

    def read(self, size: int, /) -> Optional[bytes]: ...


class TarFormat(enum.IntFlag):
    """Go's ``tar.Format`` bits (``UNKNOWN`` is 0)."""

    UNKNOWN = 0
    V7 = 1
    USTAR = 2
    PAX = 4
    GNU = 8
    STAR = 16


# The same bits as plain ints, for the hot paths (IntFlag arithmetic is slow).
_V7, _USTAR, _PAX, _GNU, _STAR = 1, 2, 4, 8, 16
_FORMATS = {value: TarFormat(value) for value in range(32)}


@dataclass
class TarHeader:
    """One tar entry as Go's ``Reader.Next`` returns it (after PAX/GNU merging).

    Strings are Go strings: bytes that are not UTF-8 are kept with ``surrogateescape``.
    Times are (seconds, nanoseconds) since the Unix epoch; None where Go's time is the
    zero ``time.Time`` (never set, or set to 0001-01-01T00:00:00Z).
    """

    typeflag: bytes
    name: str
    linkname: str = ""
    size: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0
    uname: str = ""
    gname: str = ""
    mtime: Optional[Time] = None
    atime: Optional[Time] = None
    ctime: Optional[Time] = None
    devmajor: int = 0
    devminor: int = 0
    pax_records: dict[str, str] = field(default_factory=dict)
    format: TarFormat = TarFormat.UNKNOWN
    #: Input offset of the entry's own header block (after any meta headers).
    header_offset: int = 0

    def xattrs(self) -> dict[str, bytes]:
        """The ``SCHILY.xattr.*`` PAX records, prefix removed, values as raw bytes.

        Like the reference TOC writer, records with empty values are included.
        """
        prefix = fmt.XATTR_PAX_PREFIX
        return {
            key[len(prefix):]: go_string_bytes(value)
            for key, value in self.pax_records.items()
            if key.startswith(prefix)
        }

    @property
    def name_bytes(self) -> bytes:
        """The name as raw bytes."""
        return go_string_bytes(self.name)

    @property
    def linkname_bytes(self) -> bytes:
        """The link target as raw bytes."""
        return go_string_bytes(self.linkname)


# --- field parsing (archive/tar strconv.go, format.go) ------------------------


def _decode(raw: bytes) -> str:
    """A Go string (raw bytes) as Python text, keeping invalid bytes via surrogateescape."""
    return raw.decode("utf-8", "surrogateescape")


def _cstring(raw: bytes) -> bytes:
    """The bytes before the first NUL (Go's ``parseString``)."""
    end = raw.find(b"\0")
    return raw if end < 0 else raw[:end]


def _go_parse_int(text: Union[bytes, str]) -> Optional[int]:
    """Go's ``strconv.ParseInt(text, 10, 64)``; None where Go returns an error."""
    if text.isdigit() and (isinstance(text, bytes) or text.isascii()):  # plain ASCII digits
        value = int(text)
    else:
        raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
        if not _GO_INT.fullmatch(raw):
            return None
        value = int(raw)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _parse_octal(raw: bytes) -> Optional[int]:
    """Go's ``parser.parseOctal``: NUL/space-trimmed octal; None on error."""
    raw = _cstring(raw.strip(b" \0"))
    if not raw:
        return 0
    if not _OCTAL.fullmatch(raw):
        return None
    value = int(raw, 8)
    if value >= 1 << 64:
        return None
    return value - (1 << 64) if value >= 1 << 63 else value  # Go's int64(uint64) conversion


def _parse_base256(raw: bytes) -> Optional[int]:
    """Go's base-256 (binary) numeric field: big-endian two's complement; None on overflow."""
    invert = 0xFF if raw[0] & 0x40 else 0
    value = 0
    for i, byte in enumerate(raw):
        byte ^= invert
        if i == 0:
            byte &= 0x7F
        if value >> 56:
            return None
        value = (value << 8) | byte
    if value >> 63:
        return None
    return ~value if invert else value


def _parse_numeric(raw: bytes) -> Optional[int]:
    """Go's ``parser.parseNumeric``: base-256 when the top bit is set, else octal."""
    if raw and raw[0] & 0x80:
        return _parse_base256(raw)
    return _parse_octal(raw)


def _unix_time(seconds: int, nanos: int) -> Optional[Time]:
    """``time.Unix(seconds, nanos)`` normalised; None for Go's zero time."""
    extra, nanos = divmod(nanos, _NANOS)
    seconds += extra
    if seconds == _GO_ZERO_TIME_UNIX and nanos == 0:
        return None
    return seconds, nanos


def _parse_pax_time(text: str) -> Optional[Time]:
    """Go's ``parsePAXTime`` ("%d.%d", negative allowed); raises ValueError on bad input."""
    secs_text, _, frac = text.partition(".")
    secs = _go_parse_int(secs_text)
    if secs is None:
        raise ValueError(text)
    if not frac:
        return _unix_time(secs, 0)
    if not (frac.isascii() and frac.isdigit()):
        raise ValueError(text)
    nanos = int(frac[:9].ljust(9, "0"))
    if secs_text.startswith("-"):
        nanos = -nanos
    return _unix_time(secs, nanos)


def _checksums(block: bytes) -> tuple[int, int]:
    """(unsigned, signed) sums of the block with the checksum field read as spaces."""
    field_bytes = block[148:156]
    unsigned = sum(block) - sum(field_bytes) + 8 * 0x20
    high = len(block) - len(block.translate(None, _HIGH_BYTES))
    high -= len(field_bytes) - len(field_bytes.translate(None, _HIGH_BYTES))
    return unsigned, unsigned - 256 * high


def _block_format(block: bytes) -> int:
    """Go's ``block.GetFormat``: 0 (unknown) on a bad checksum, else a guess from the magic."""
    value = _parse_octal(block[148:156])
    if value is None or value not in _checksums(block):
        return 0
    magic, version, trailer = block[257:263], block[263:265], block[508:512]
    if magic == b"ustar\0" and trailer == b"tar\0":
        return _STAR
    if magic == b"ustar\0":
        return _USTAR | _PAX
    if magic == b"ustar " and version == b" \0":
        return _GNU
    return _V7


class _FieldReader:
    """Parses the numeric fields of one header block, naming the first bad field."""

    def __init__(self, block: bytes, offset: int) -> None:
        self.block = block
        self.offset = offset

    def numeric(self, start: int, length: int, what: str) -> int:
        value = _parse_numeric(self.block[start:start + length])
        if value is None:
            raise TarError(f"invalid {what} field in the tar header at offset {self.offset}")
        return value

    def string(self, start: int, length: int) -> bytes:
        return _cstring(self.block[start:start + length])


def _ustar_format(block: bytes, detected: int) -> int:
    """USTAR/PAX format unless the block has non-ASCII bytes or unterminated numbers."""
    if not block.isascii():
        return 0
    ends = (135, 107, 115, 123, 147, 336, 344)  # size, mode, uid, gid, mtime, devmajor, devminor
    if any(block[i] != 0 for i in ends):
        return 0
    return detected


def _gnu_times(block: bytes) -> Optional[tuple[Optional[Time], Optional[Time]]]:
    """GNU atime/ctime (each only when its first byte is non-zero); None if unparsable."""
    times: list[Optional[Time]] = []
    for start in (345, 357):
        if block[start] == 0:
            times.append(None)
            continue
        value = _parse_numeric(block[start:start + 12])
        if value is None:
            return None
        times.append(_unix_time(value, 0))
    return times[0], times[1]


# The fast path takes the common header: numeric fields in the usual octal layouts
# (all digits but the last one or two bytes, which are NULs or spaces), USTAR or
# GNU magic, a valid unsigned checksum, no GNU atime/ctime. Everything else (V7,
# STAR, base-256 numbers, signed checksums, odd padding, errors) goes to the
# general parser, which follows Go step by step.
#: Octal digits to "0", NUL and space to " ", every other byte to "x".
_SHAPE = bytes(ord("0") if ch in b"01234567" else ord(" ") if ch in b"\0 " else ord("x") for ch in range(256))


def _field_shapes(*widths: int) -> frozenset[bytes]:
    """Every shape (digits as "0", NUL/space as " ") of consecutive octal fields the fast path takes."""
    shapes = [b""]
    for width in widths:
        options = (b"0" * (width - 1) + b" ", b"0" * (width - 2) + b"  ")
        shapes = [shape + option for shape in shapes for option in options]
    return frozenset(shapes)


_NUMERIC_SHAPES = _field_shapes(8, 8, 8, 12, 12, 8)  # mode, uid, gid, size, mtime, chksum
#: The layout Go, GNU tar and Python write: 7, 7, 7, 11, 11 digits and a NUL, then a
#: 6-digit checksum, a NUL and a space.
_CANONICAL_SHAPE = b"0000000 0000000 0000000 00000000000 00000000000 000000  "
assert _CANONICAL_SHAPE in _NUMERIC_SHAPES
_DEVICE_SHAPES = _field_shapes(8, 8)  # devmajor, devminor
_NUL_TO_SPACE = bytes.maketrans(b"\0", b" ")
_EIGHTS = (8,) * 6
_NO_DEVICE = bytes(16)
_GNU_MAGIC = b"ustar  \0"
_USTAR_MAGIC = b"ustar\0"
_STAR_TRAILER = b"tar\0"


def _parse_header_block(block: bytes, offset: int) -> TarHeader:
    """Go's ``Reader.readHeader`` for one non-zero block at input ``offset``."""
    numeric = block[100:156]
    shape = numeric.translate(_SHAPE)
    if shape == _CANONICAL_SHAPE:
        # The 49 digits of the six fields read as one number, then cut by bit positions.
        value = int(numeric.translate(None, b"\0 "), 8)
        chksum = value & 0o777777
        mtime = (value >> 18) & 0o77777777777
        size = (value >> 51) & 0o77777777777
        gid = (value >> 84) & 0o7777777
        uid = (value >> 105) & 0o7777777
        mode = value >> 126
    elif shape in _NUMERIC_SHAPES:
        # int() skips the surrounding whitespace once NULs are spaces; split() cuts the fields.
        mode, uid, gid, size, mtime, chksum = map(int, numeric.translate(_NUL_TO_SPACE).split(), _EIGHTS)
    else:
        return _parse_header_block_general(block, offset)
    # The unsigned checksum (the checksum field counts as eight spaces). Adler-32's low
    # half is 1 + the byte sum modulo 65521, which neither an ASCII block nor 256 bytes reach.
    ascii_block = block.isascii()
    if ascii_block:
        unsigned = (adler32(block) & 0xFFFF) - (adler32(numeric[48:]) & 0xFFFF) + 256
    else:
        unsigned = (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF)
        unsigned += 255 - (adler32(numeric[48:]) & 0xFFFF)
    if chksum != unsigned:  # a signed checksum, or not a valid header
        return _parse_header_block_general(block, offset)
    devices = block[329:345]
    if devices == _NO_DEVICE:
        devmajor = devminor = 0
    elif devices.translate(_SHAPE) in _DEVICE_SHAPES:
        devmajor, devminor = map(int, devices.translate(_NUL_TO_SPACE).split(), _EIGHTS[:2])
    else:
        return _parse_header_block_general(block, offset)
    end = block.find(0, 0, 100)
    name = block[:end] if end >= 0 else block[:100]
    magic = block[257:265]
    if magic == _GNU_MAGIC:
        if block[345] or block[357]:  # GNU atime/ctime
            return _parse_header_block_general(block, offset)
        form = _GNU
    elif magic[:6] == _USTAR_MAGIC and block[508:512] != _STAR_TRAILER:
        if block[345]:
            end = block.find(0, 345, 500)
            name = block[345:end if end >= 0 else 500] + b"/" + name
        if not ascii_block or block[107] | block[115] | block[123] | block[135] | block[147] | block[336] | block[344]:
            form = 0
        else:
            form = _USTAR | _PAX
    else:
        return _parse_header_block_general(block, offset)
    if block[157]:
        end = block.find(0, 157, 257)
        linkname = block[157:end if end >= 0 else 257].decode("utf-8", "surrogateescape")
    else:
        linkname = ""
    owners = block[265:329]
    names = _OWNER_CACHE.get(owners)
    if names is None:
        names = _OWNER_CACHE[owners] = (_decode(_cstring(owners[:32])), _decode(_cstring(owners[32:])))
        if len(_OWNER_CACHE) > 256:
            _OWNER_CACHE.clear()
    return TarHeader(
        block[156:157], name.decode("utf-8", "surrogateescape"), linkname, size, mode, uid, gid,
        names[0], names[1], (mtime, 0), None, None, devmajor, devminor, {}, _FORMATS[form], offset,
    )


#: Decoded (uname, gname) by their raw 64 bytes: most archives have a handful of owners.
_OWNER_CACHE: dict[bytes, tuple[str, str]] = {}


def _parse_header_block_general(block: bytes, offset: int) -> TarHeader:
    """Go's ``Reader.readHeader``, field by field (every header the fast path does not take)."""
    detected = _block_format(block)
    if detected == 0:
        raise TarError(f"invalid tar header at offset {offset} (bad checksum or not a tar header)")
    f = _FieldReader(block, offset)
    hdr = TarHeader(
        typeflag=block[156:157],
        name="",
        linkname=_decode(f.string(157, 100)),
        size=f.numeric(124, 12, "size"),
        mode=f.numeric(100, 8, "mode"),
        uid=f.numeric(108, 8, "uid"),
        gid=f.numeric(116, 8, "gid"),
        mtime=None,
        header_offset=offset,
    )
    hdr.mtime = _unix_time(f.numeric(136, 12, "mtime"), 0)
    name = f.string(0, 100)
    if detected != _V7:
        name = _parse_extended_fields(hdr, f, detected, name)
    hdr.name = _decode(name)
    return hdr


def _parse_extended_fields(hdr: TarHeader, f: _FieldReader, detected: int, name: bytes) -> bytes:
    """Fill the USTAR/GNU/STAR-only fields of ``hdr``; returns the full name (prefix joined)."""
    block = f.block
    hdr.uname = _decode(f.string(265, 32))
    hdr.gname = _decode(f.string(297, 32))
    hdr.devmajor = f.numeric(329, 8, "devmajor")
    hdr.devminor = f.numeric(337, 8, "devminor")
    prefix = b""
    if detected & (_USTAR | _PAX):
        hdr.format = _FORMATS[_ustar_format(block, detected)]
        prefix = f.string(345, 155)
    elif detected & _STAR:
        prefix = f.string(345, 131)
        hdr.atime = _unix_time(f.numeric(476, 12, "atime"), 0)
        hdr.ctime = _unix_time(f.numeric(488, 12, "ctime"), 0)
    else:  # GNU
        hdr.format = _FORMATS[detected]
        times = _gnu_times(block)
        if times is not None:
            hdr.atime, hdr.ctime = times
        else:
            # Pre-Go 1.8 writers put a ustar prefix where GNU keeps atime/ctime.
            candidate = f.string(345, 155)
            if candidate.isascii():
                prefix = candidate
            hdr.format = TarFormat.UNKNOWN
    return prefix + b"/" + name if prefix else name


def _parse_pax_records(data: bytes, offset: int) -> dict[str, str]:
    """Go's ``parsePAX``: "%d %s=%s\\n" records; GNU sparse 0.0 offsets joined into a map."""
    records: dict[str, str] = {}
    sparse_map: list[str] = []
    pos = 0
    while pos < len(data):
        key, value, pos = _parse_pax_record(data, pos, offset)
        if key in (_SPARSE_OFFSET, _SPARSE_NUMBYTES):
            want = _SPARSE_OFFSET if len(sparse_map) % 2 == 0 else _SPARSE_NUMBYTES
            if key != want or "," in value:
                raise TarError(f"invalid GNU sparse record in the PAX header at offset {offset}")
            sparse_map.append(value)
        else:
            records[key] = value
    if sparse_map:
        records["GNU.sparse.map"] = ",".join(sparse_map)
    return records


def _parse_pax_record(data: bytes, pos: int, offset: int) -> tuple[str, str, int]:
    """One PAX record at ``data[pos:]``: (key, value, position after the record)."""
    space = data.find(b" ", pos)
    if space < 0:
        raise _bad_pax_record("no length", pos, offset)
    length = _go_parse_int(data[pos:space])
    if length is None or length < 5 or length > len(data) - pos:
        raise _bad_pax_record("bad length", pos, offset)
    end = pos + length
    if space + 1 > end - 1:  # Go's reader would panic here
        raise _bad_pax_record("length shorter than its own digits", pos, offset)
    if data[end - 1] != 0x0A:
        raise _bad_pax_record("no newline", pos, offset)
    record = data[space + 1:end - 1]
    key, eq, value = record.partition(b"=")
    if not eq or not key:
        raise _bad_pax_record("no key", pos, offset)
    if (key in _PAX_STRING_KEYS and b"\0" in value) or b"\0" in key:
        raise _bad_pax_record("NUL byte", pos, offset)
    return key.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"), end


def _bad_pax_record(why: str, pos: int, offset: int) -> TarError:
    return TarError(f"malformed PAX record ({why}) at byte {pos} of the PAX data at offset {offset}")


def _merge_pax(hdr: TarHeader, records: dict[str, str], offset: int) -> None:
    """Go's ``mergePAX``: apply the records Go knows to ``hdr`` (empty values are ignored)."""
    for key, value in records.items():
        if value == "":
            continue
        try:
            _merge_pax_value(hdr, key, value)
        except ValueError:
            raise TarError(f"invalid PAX record {key!r} for the tar header at offset {offset}") from None
    hdr.pax_records = records


def _merge_pax_value(hdr: TarHeader, key: str, value: str) -> None:
    """Apply one PAX record; ValueError where Go's mergePAX fails."""
    if key in ("path", "linkpath", "uname", "gname"):
        setattr(hdr, {"path": "name", "linkpath": "linkname"}.get(key, key), value)
    elif key in ("uid", "gid", "size"):
        number = _go_parse_int(value)
        if number is None:
            raise ValueError(value)
        setattr(hdr, key, number)
    elif key in ("mtime", "atime", "ctime"):
        setattr(hdr, key, _parse_pax_time(value))


# --- the reader -----------------------------------------------------------


class TarReader:
    """Read a tar stream once, as tar-split's Go reader does, with raw accounting.

    ``fileobj`` is any binary stream with ``read(n)`` (file, pipe, socket file,
    BytesIO); short reads are fine. Memory use is bounded by ``read_size`` plus the
    metadata of one entry (see :data:`MAX_META_BYTES`), as long as the caller reads
    each payload (an unread payload is skipped into :meth:`raw_bytes`, as in Go).

    Usage::

        while (hdr := reader.next()) is not None:
            segment = reader.raw_bytes()      # everything before the payload
            while chunk := reader.read(1 << 20):
                ...                           # the payload
        segment = reader.raw_bytes()          # last padding and the terminator
        for piece in reader.trailing(): ...   # bytes after the terminator
    """

    def __init__(self, fileobj: SupportsRead, *, read_size: int = 1 << 20) -> None:
        if read_size <= 0:
            raise ValueError("read_size must be positive")
        self._src = fileobj
        self._read_size = read_size
        self._chunk = b""
        self._view = memoryview(self._chunk)
        self._pos = 0  # consumed bytes of _chunk
        self._base = 0  # input offset of _chunk[0]
        self._eof = False
        self._raw = bytearray()
        self._meta = 0  # metadata bytes accounted in the current next()
        self._remaining = 0  # unread payload bytes of the current entry
        self._pad = 0  # padding expected after the current payload
        self._current: Optional[TarHeader] = None
        self._finished = False
        self._error: Optional[BaseException] = None

    # -- public API ------------------------------------------------------------

    @property
    def offset(self) -> int:
        """Input bytes consumed so far."""
        return self._base + self._pos

    @property
    def expected_padding(self) -> int:
        """Padding expected after the current entry's payload (Go's ``ExpectedPadding``)."""
        return self._pad

    @property
    def payload_remaining(self) -> int:
        """Payload bytes of the current entry not read yet."""
        return self._remaining

    def next(self) -> Optional[TarHeader]:
        """Advance to the next entry; None at the end of the archive.

        Resets the raw buffer first (as Go does), so call :meth:`raw_bytes` before
        calling this again if you need those bytes.
        """
        self._check_error()
        if self._finished:
            return None
        try:
            hdr = self._next()
            self._current = hdr
        except (TarError, LimitExceededError) as exc:
            self._error = exc
            raise
        if hdr is None:
            self._finished = True
        return hdr

    def raw_bytes(self) -> bytes:
        """Everything accounted since the last call (or since next() began), then reset."""
        data = bytes(self._raw)
        self._raw.clear()
        return data

    def read(self, n: int = -1) -> memoryview:
        """Up to ``n`` further payload bytes of the current entry (all that is buffered if n < 0).

        Returns an empty view when the payload is done. Header-only entry types
        (links, devices, directories, FIFOs) have no payload whatever their size says.
        """
        if self._error is not None:
            raise self._error
        remaining = self._remaining
        if remaining == 0 or n == 0:
            return memoryview(b"")
        want = remaining if n < 0 or n > remaining else n
        pos = self._pos
        if pos >= len(self._chunk):
            if not self._load():
                self._fail_truncated(f"payload of {self._entry_name()}")
            pos = 0
        end = pos + want
        if end > len(self._chunk):
            end = len(self._chunk)
        view = self._view[pos:end]
        self._pos = end
        self._remaining = remaining - (end - pos)
        return view

    def readinto(self, buffer: Union[bytearray, memoryview]) -> int:
        """Copy further payload bytes into ``buffer``; returns how many (0 when done)."""
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target):
            piece = self.read(len(target) - filled)
            if not piece:
                break
            target[filled:filled + len(piece)] = piece
            filled += len(piece)
        return filled

    def trailing(self) -> Iterator[bytes]:
        """After next() returned None: the rest of the input, in tar-split segment pieces.

        The reference reads its input through a pipe fed in 32 KiB writes, so its
        trailing segments end at every multiple of 32 KiB of the input offset and are
        never longer than 1 MiB; we cut the same way.
        """
        if not self._finished or self._error is not None:
            raise UsageError("trailing() is only available after next() returned None")
        return self._trailing_pieces()

    def _trailing_pieces(self) -> Iterator[bytes]:
        align = fmt.TARSPLIT_TRAILING_ALIGN
        while True:
            limit = min(align - self.offset % align, fmt.TARSPLIT_PADDING_CHUNK)
            piece = self._read_exact(limit)
            if not piece:
                return
            yield piece

    # -- input buffering ----------------------------------------------------------

    def _load(self) -> bool:
        """Make sure unconsumed input is buffered; False at the end of the input."""
        if self._pos < len(self._chunk):
            return True
        if self._eof:
            return False
        data = self._src.read(self._read_size)
        if data is None:
            raise UsageError("the input stream is non-blocking and had no data ready")
        if not data:
            self._eof = True
            return False
        self._base += len(self._chunk)
        self._chunk = bytes(data)
        self._view = memoryview(self._chunk)
        self._pos = 0
        return True

    def _take(self, n: int) -> memoryview:
        """Consume up to ``n`` buffered bytes (call _load() first)."""
        end = min(len(self._chunk), self._pos + n)
        view = self._view[self._pos:end]
        self._pos = end
        return view

    def _read_exact(self, n: int) -> bytes:
        """Consume ``n`` bytes, or fewer if the input ends first."""
        if n > 0 and self._load() and len(self._chunk) - self._pos >= n:
            return bytes(self._take(n))
        pieces = []
        need = n
        while need > 0 and self._load():
            piece = self._take(need)
            pieces.append(piece)
            need -= len(piece)
        return b"".join(pieces)

    def _account_meta(self, data: bytes) -> None:
        """Record metadata bytes as raw, within the per-entry cap."""
        self._raw += data
        self._meta += len(data)
        if self._meta > MAX_META_BYTES:
            self._meta_limit_exceeded()

    def _meta_limit_exceeded(self) -> NoReturn:
        raise LimitExceededError(
            f"more than {MAX_META_BYTES} bytes of tar headers before one entry "
            f"(input offset {self.offset})"
        )

    # -- errors -------------------------------------------------------------------

    def _check_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _entry_name(self) -> str:
        return repr(self._current.name) if self._current is not None else "the previous entry"

    def _fail_truncated(self, what: str) -> NoReturn:
        exc = TarError(f"truncated tar: the input ends at offset {self.offset} inside the {what}")
        self._error = exc
        raise exc

    # -- Next ---------------------------------------------------------------------

    def _next(self) -> Optional[TarHeader]:
        """One call of Go's ``Reader.next``."""
        self._raw.clear()
        self._meta = 0
        pax: Optional[dict[str, str]] = None
        long_name = long_link = ""
        found = _USTAR | _PAX | _GNU
        while True:
            if self._remaining:
                self._skip_payload()
            if self._pad and not self._skip_padding():
                return None
            hdr = self._read_header()
            if hdr is None:
                return None
            kind = hdr.typeflag
            size = 0 if kind in _HEADER_ONLY_TYPEFLAGS else hdr.size
            if size < 0:
                self._start_payload(hdr)  # raises
            self._remaining = size
            self._pad = -size % BLOCK
            found &= hdr.format._value_  # a plain int: IntFlag arithmetic is slow
            if kind not in _META_TYPEFLAGS:
                return self._finish_header(hdr, pax, long_name, long_link, found)
            if kind in (b"x", b"g"):
                found &= _PAX
                pax = _parse_pax_records(self._read_meta_body(hdr), hdr.header_offset)
                if kind == b"g":
                    _merge_pax(hdr, pax, hdr.header_offset)
                    raise UnsupportedTarError(
                        f"PAX global header ('g') at offset {hdr.header_offset}: not supported "
                        "(the reference writer refuses it)"
                    )
            else:  # L or K
                found &= _GNU
                text = _decode(_cstring(self._read_meta_body(hdr)))
                if kind == b"L":
                    long_name = text
                else:
                    long_link = text

    def _skip_payload(self) -> None:
        """Discard the unread payload of the previous entry into the raw bytes."""
        while self._remaining > 0:
            if not self._load():
                self._fail_truncated(f"payload of {self._entry_name()}")
            piece = self._take(self._remaining)
            self._raw += piece
            self._remaining -= len(piece)

    def _skip_padding(self) -> bool:
        """Read the previous entry's padding; False if the input ends exactly before it."""
        pad = self._pad
        if pad == 0:
            return True
        pos = self._pos
        end = pos + pad
        if end <= len(self._chunk):  # the common case: the padding is buffered
            data = self._chunk[pos:end]
            self._pos = end
            self._account_meta(data)
            self._pad = 0
            return True
        data = self._read_exact(pad)
        if not data:
            return False  # Go: io.EOF, a clean end
        if len(data) < self._pad:
            # Go also ends cleanly here but loses these bytes from the tar-split.
            self._fail_truncated(f"block padding after {self._entry_name()}")
        self._account_meta(data)
        self._pad = 0
        return True

    def _read_header(self) -> Optional[TarHeader]:
        """Read one header block; None for the end-of-archive conditions."""
        pos = self._pos
        offset = self._base + pos
        end = pos + BLOCK
        block: Optional[bytes]
        if end <= len(self._chunk) and self._meta + BLOCK <= MAX_META_BYTES:  # the common case
            block = self._chunk[pos:end]
            self._pos = end
            self._raw += block
            self._meta += BLOCK
        else:
            block = self._read_block("tar header")
            if block is None:
                return None
        if block == _ZERO_BLOCK:
            second = self._read_block("end-of-archive block")
            if second is None or second == _ZERO_BLOCK:
                return None
            raise TarError(f"invalid tar header at offset {offset + BLOCK}: follows a zero block")
        return _parse_header_block(block, offset)

    def _read_block(self, what: str) -> Optional[bytes]:
        """One 512-byte block, accounted; None at the end of the input."""
        pos = self._pos
        end = pos + BLOCK
        if end <= len(self._chunk):  # the common case: the block is buffered
            block = self._chunk[pos:end]
            self._pos = end
        else:
            block = self._read_exact(BLOCK)
            if not block:
                return None
            if len(block) < BLOCK:
                self._fail_truncated(what)
        self._raw += block
        self._meta += BLOCK
        if self._meta > MAX_META_BYTES:
            self._meta_limit_exceeded()
        return block

    def _start_payload(self, hdr: TarHeader) -> None:
        """Go's ``handleRegularFile``: payload length and padding for ``hdr``."""
        size = _payload_size(hdr)
        self._remaining = size
        self._pad = -size % BLOCK

    def _read_meta_body(self, hdr: TarHeader) -> bytes:
        """The body of a PAX or GNU long-name/long-link header (Go's ``readSpecialFile``)."""
        if self._remaining > MAX_SPECIAL_FILE_SIZE:
            raise TarError(
                f"tar meta header ({hdr.typeflag!r}) at offset {hdr.header_offset} has "
                f"{self._remaining} bytes of data, more than the {MAX_SPECIAL_FILE_SIZE} allowed"
            )
        data = self._read_exact(self._remaining)
        if len(data) < self._remaining:
            self._fail_truncated(f"data of the meta header at offset {hdr.header_offset}")
        self._remaining = 0
        self._account_meta(data)
        return data

    def _finish_header(
        self,
        hdr: TarHeader,
        pax: Optional[dict[str, str]],
        long_name: str,
        long_link: str,
        found: int,
    ) -> TarHeader:
        """Merge meta headers into the entry's header, as the default branch of Go's next()."""
        _finish_header(hdr, pax, long_name, long_link, found)
        self._start_payload(hdr)
        return hdr


def _payload_size(hdr: TarHeader) -> int:
    """Go's ``handleRegularFile``: the payload length that follows ``hdr``."""
    size = 0 if hdr.typeflag in _HEADER_ONLY_TYPEFLAGS else hdr.size
    if size < 0:
        raise TarError(f"negative size {size} in the tar header at offset {hdr.header_offset}")
    return size


def _finish_header(hdr: TarHeader, pax: Optional[dict[str, str]], long_name: str, long_link: str,
                   found: int) -> None:
    """Merge meta headers into an entry's header, as the default branch of Go's next().

    Checks the payload size and refuses sparse files; sets ``hdr.format``.
    """
    if pax is not None:
        _merge_pax(hdr, pax, hdr.header_offset)
    if long_name:
        hdr.name = long_name
    if long_link:
        hdr.linkname = long_link
    if hdr.typeflag == b"\0":
        hdr.typeflag = b"5" if hdr.name.endswith("/") else b"0"
    _payload_size(hdr)
    if hdr.typeflag == b"S":
        raise UnsupportedTarError(
            f"old GNU sparse file {hdr.name!r} (typeflag 'S') at offset {hdr.header_offset}: "
            "not supported (the reference writer refuses it)"
        )
    if hdr.pax_records and any(key.startswith("GNU.sparse.") for key in hdr.pax_records):
        raise UnsupportedTarError(
            f"PAX sparse file {hdr.name!r} at offset {hdr.header_offset}: not supported "
            "(the reference writer stores the expanded data, so the layer no longer matches the tar)"
        )
    if found & _USTAR and found & _PAX:
        found &= _USTAR
    hdr.format = _FORMATS[found]


# --- tar-split header iteration (asm.IterateHeaders) ------------------------------


def iterate_headers(segments: Iterable[bytes]) -> Iterator[TarHeader]:
    """The tar headers stored in tar-split segments, as tar-split's ``asm.IterateHeaders``.

    For each segment payload (in order), skip the padding the previous header
    expects, then parse one header (with its PAX/GNU meta headers) from the rest
    with a fresh reader. Segments that hold only the end-of-archive blocks (or
    nothing) are skipped. Raises FormatError for a segment shorter than the
    expected padding or holding a malformed header.
    """
    pending = 0
    for index, segment in enumerate(segments):
        hdr, pending = header_in_segment(segment, pending, index)
        if hdr is not None:
            yield hdr


def header_in_segment(segment: bytes, pending: int, index: int) -> tuple[Optional[TarHeader], int]:
    """One step of :func:`iterate_headers`: the header in tar-split segment ``index`` (None if it holds
    none), whose first ``pending`` bytes are the previous file's padding, and the padding that follows it."""
    if len(segment) < pending:
        raise FormatError(
            f"tar-split segment {index}: expected {pending} bytes of padding after the "
            f"previous file, but the segment has only {len(segment)}"
        )
    body = memoryview(segment)[pending:]
    hdr: Optional[TarHeader]
    try:
        first = bytes(body[:BLOCK])
        if len(first) == BLOCK and first[156:157] not in _META_TYPEFLAGS and first != _ZERO_BLOCK:
            # the usual segment: one plain header block (no meta headers); the same
            # steps as a fresh reader's next(), without building one
            hdr = _parse_header_block(first, 0)
            _payload_size(hdr)  # checked before the typeflag fix-up, as next() does
            _finish_header(hdr, None, "", "", (_USTAR | _PAX | _GNU) & hdr.format._value_)
            return hdr, -_payload_size(hdr) % BLOCK
        reader = TarReader(io.BytesIO(body), read_size=max(len(body), 1))
        hdr = reader.next()
        return hdr, 0 if hdr is None else reader.expected_padding
    except TarError as exc:
        raise FormatError(f"tar-split segment {index}: {exc}") from exc


# --- paths ------------------------------------------------------------------------


# A "." or ".." path element.
_DOT_ELEMENT = re.compile(r"(?:^|/)\.\.?(?:/|$)")


def go_clean_path(path: str) -> str:
    """Go's ``path/filepath.Clean`` on Unix: the shortest lexically equivalent path."""
    if path == "":
        return "."
    # Fast path: a clean path, possibly with one final slash (how tars name directories).
    trimmed = path[:-1] if path[-1] == "/" and len(path) > 1 else path
    if (
        "//" not in trimmed
        and (trimmed[-1] != "/" or len(trimmed) == 1)
        and (("/." not in trimmed and trimmed[0] != ".") or _DOT_ELEMENT.search(trimmed) is None)
    ):
        return trimmed
    rooted = path.startswith("/")
    parts: list[str] = []
    for element in path.split("/"):
        if element in ("", "."):
            continue
        if element == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(element)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."
