"""Go-compatible JSON text fragments, for byte-exact output.

The reference writer produces two JSON documents whose bytes we must reproduce:

* the TOC, written by json-iterator/go (``ConfigCompatibleWithStandardLibrary``),
* the tar-split, written by Go's ``encoding/json`` ``Encoder`` (Go >= 1.22).

Both escape strings slightly differently from Python's :mod:`json`. This module
formats single JSON strings and Go ``time.Time`` values the way Go does, and
parses the RFC 3339 times Go's ``time.Parse(time.RFC3339, ...)`` accepts.

Strings that hold arbitrary bytes (tar names are bytes, not text) are represented
in Python as ``str`` decoded from UTF-8 with ``errors="surrogateescape"``;
:func:`go_string_bytes` turns them back into the bytes Go would see.
"""

from __future__ import annotations

import functools
import re
from typing import Optional

from .errors import FormatError, UnsupportedTarError

__all__ = [
    "encoding_json_string",
    "go_string_bytes",
    "go_time_rfc3339nano",
    "is_valid_utf8",
    "jsoniter_string",
    "parse_rfc3339",
]

# --- strings ---------------------------------------------------------------

_HEX = "0123456789abcdef"


def _build_escape_table(short_controls: dict[str, str]) -> dict[str, str]:
    """Escape text for every character Go escapes in a string (HTML escaping on)."""
    table = {chr(c): "\\u00" + _HEX[c >> 4] + _HEX[c & 0xF] for c in range(0x20)}
    for ch in "<>&":
        table[ch] = "\\u00" + _HEX[ord(ch) >> 4] + _HEX[ord(ch) & 0xF]
    table.update({'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
    table.update({"\u2028": "\\u2028", "\u2029": "\\u2029"})
    table.update(short_controls)
    return table


# json-iterator/go stream_str.go: only \n, \r and \t get short forms.
_JSONITER_TABLE = _build_escape_table({})
# encoding/json since Go 1.22 also writes \b and \f.
_ENCODING_JSON_TABLE = _build_escape_table({"\b": "\\b", "\f": "\\f"})

# Characters that need an escape when the string is valid UTF-8 (same set for both).
_NEEDS_ESCAPE = re.compile('[\x00-\x1f"\\\\<>&\u2028\u2029]')
_SURROGATE = re.compile("[\ud800-\udfff]")


def _char_bytes(ch: str) -> bytes:
    """UTF-8 bytes of one character; escaped raw bytes map back, other surrogates encode as-is."""
    return ch.encode("utf-8", "surrogateescape" if "\udc80" <= ch <= "\udcff" else "surrogatepass")


def go_string_bytes(s: str) -> bytes:
    """The bytes of the Go string that ``s`` stands for.

    ``s`` is normally text decoded with ``surrogateescape``; its escaped bytes come
    back unchanged. Other lone surrogates (which cannot come from decoding) are
    encoded as their 3-byte form, which Go would consider invalid UTF-8.
    """
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return b"".join(_char_bytes(ch) for ch in s)


def is_valid_utf8(s: str) -> bool:
    """Whether Go's ``utf8.ValidString`` holds for the string ``s`` stands for."""
    if s.isascii() or not _SURROGATE.search(s):
        return True
    try:
        go_string_bytes(s).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _utf8_rune_length(data: bytes, i: int) -> int:
    """Length of the valid UTF-8 sequence at ``data[i]``, or 0 where Go's DecodeRune fails.

    Mirrors the acceptance ranges of Go's ``unicode/utf8`` (no overlong forms, no
    surrogates, nothing above U+10FFFF).
    """
    lead = data[i]
    if lead < 0x80:
        return 1
    if 0xC2 <= lead <= 0xDF:
        need, lo, hi = 1, 0x80, 0xBF
    elif lead == 0xE0:
        need, lo, hi = 2, 0xA0, 0xBF
    elif lead == 0xED:
        need, lo, hi = 2, 0x80, 0x9F
    elif 0xE1 <= lead <= 0xEF:
        need, lo, hi = 2, 0x80, 0xBF
    elif lead == 0xF0:
        need, lo, hi = 3, 0x90, 0xBF
    elif 0xF1 <= lead <= 0xF3:
        need, lo, hi = 3, 0x80, 0xBF
    elif lead == 0xF4:
        need, lo, hi = 3, 0x80, 0x8F
    else:
        return 0
    if i + need >= len(data):
        return 0
    if not lo <= data[i + 1] <= hi:
        return 0
    for k in range(2, need + 1):
        if not 0x80 <= data[i + k] <= 0xBF:
            return 0
    return need + 1


def _escape_go_bytes(data: bytes, table: dict[str, str]) -> str:
    """Escape a byte string that is not valid UTF-8: each invalid byte becomes \\ufffd."""
    out = []
    i = 0
    while i < len(data):
        size = _utf8_rune_length(data, i)
        if size == 0:
            out.append("\\ufffd")
            i += 1
            continue
        ch = data[i : i + size].decode("utf-8")
        out.append(table.get(ch, ch))
        i += size
    return "".join(out)


def _quote(s: str, table: dict[str, str]) -> str:
    """Quote ``s`` with the given escape table, Go style."""
    if _SURROGATE.search(s):
        data = go_string_bytes(s)
        try:
            s = data.decode("utf-8")
        except UnicodeDecodeError:
            return '"' + _escape_go_bytes(data, table) + '"'
    if not _NEEDS_ESCAPE.search(s):
        return '"' + s + '"'
    return '"' + _NEEDS_ESCAPE.sub(lambda m: table[m.group()], s) + '"'


def jsoniter_string(s: str) -> str:
    """``s`` as a quoted JSON string, exactly as json-iterator/go (std-compatible mode) writes it.

    ``"`` and ``\\`` get a backslash; ``\\n``, ``\\r``, ``\\t`` their short forms;
    other control characters, ``<``, ``>``, ``&``, U+2028 and U+2029 become
    ``\\u00XX`` / ``\\u202X`` (lowercase hex); each byte that is not part of
    valid UTF-8 becomes ``\\ufffd``; everything else is written raw.
    """
    # Fast path: printable ASCII without '"', '\\', '<', '>' or '&' needs no escape.
    if (s.isascii() and s.isprintable() and '"' not in s and "\\" not in s
            and "<" not in s and ">" not in s and "&" not in s):
        return '"' + s + '"'
    return _quote(s, _JSONITER_TABLE)


def encoding_json_string(s: str) -> str:
    """``s`` as a quoted JSON string, exactly as Go (>= 1.22) ``encoding/json`` writes it.

    Same as :func:`jsoniter_string` except that bytes 0x08 and 0x0C are written
    as ``\\b`` and ``\\f``.
    """
    if (s.isascii() and s.isprintable() and '"' not in s and "\\" not in s
            and "<" not in s and ">" not in s and "&" not in s):
        return '"' + s + '"'
    return _quote(s, _ENCODING_JSON_TABLE)


# --- times -----------------------------------------------------------------

_SECONDS_PER_DAY = 86400
_NANOS_PER_SECOND = 1_000_000_000


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) in the proleptic Gregorian calendar for days since 1970-01-01."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (inverse of _civil_from_days)."""
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@functools.lru_cache(maxsize=4096, typed=True)  # archives repeat their times a lot
def go_time_rfc3339nano(seconds: int, nanos: int) -> str:
    """Go's ``time.Unix(seconds, nanos).UTC().MarshalJSON()`` text, without the quotes.

    Layout ``2006-01-02T15:04:05.999999999Z07:00``: the fraction loses its trailing
    zeros (and its dot when zero) and the zone prints as ``Z``. ``nanos`` outside
    [0, 1e9) is normalised as ``time.Unix`` does.

    Raises UnsupportedTarError for years outside 0..9999, where Go's encoder fails.
    """
    extra, nanos = divmod(nanos, _NANOS_PER_SECOND)
    days, secs = divmod(seconds + extra, _SECONDS_PER_DAY)
    year, month, day = _civil_from_days(days)
    if not 0 <= year <= 9999:
        raise UnsupportedTarError(
            f"time {seconds}.{nanos:09d} (year {year}) is outside the years 0..9999 "
            "that Go's JSON time encoder accepts"
        )
    hour, rem = divmod(secs, 3600)
    minute, second = divmod(rem, 60)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


# The union of what Go's RFC 3339 fast path and its general layout parser accept
# (time/format.go, time/format_rfc3339.go): the general parser takes a one-digit
# hour, ',' as fraction separator, any number of fraction digits (truncated to 9)
# and zone offsets up to 24:60.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]+))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)


def _days_in_month(year: int, month: int) -> int:
    """Number of days of ``month`` in ``year`` (proleptic Gregorian)."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _check_range(text: str, what: str, value: int, low: int, high: int) -> None:
    """Raise FormatError unless low <= value <= high."""
    if not low <= value <= high:
        raise FormatError(f"cannot parse time {text!r}: {what} out of range")


@functools.lru_cache(maxsize=4096)
def parse_rfc3339(text: str) -> tuple[int, int]:
    """Parse a time as Go's ``time.Parse(time.RFC3339, text)`` does.

    Returns (seconds since the Unix epoch, nanoseconds in [0, 1e9)). Accepts ``Z``
    or a ``+hh:mm`` / ``-hh:mm`` offset and a fraction of any length (only the
    first 9 digits count). Raises FormatError for anything Go rejects.
    """
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise FormatError(f"cannot parse time {text!r} as RFC 3339")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    _check_range(text, "month", month, 1, 12)
    _check_range(text, "day", day, 1, _days_in_month(year, month))
    _check_range(text, "hour", hour, 0, 23)
    _check_range(text, "minute", minute, 0, 59)
    _check_range(text, "second", second, 0, 59)
    fraction: Optional[str] = m.group(7)
    nanos = int((fraction[:9]).ljust(9, "0")) if fraction else 0
    offset = 0
    if m.group(8) is not None:
        off_hours, off_minutes = int(m.group(9)), int(m.group(10))
        _check_range(text, "time zone offset hour", off_hours, 0, 24)
        _check_range(text, "time zone offset minute", off_minutes, 0, 60)
        offset = (off_hours * 60 + off_minutes) * 60
        if m.group(8) == "-":
            offset = -offset
    days = _days_from_civil(year, month, day)
    seconds = days * _SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset
    return seconds, nanos
