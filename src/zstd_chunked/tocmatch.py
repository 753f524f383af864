"""Check that the TOC and the tar-split describe the same entries (ensureTOCMatchesTarSplit).

The TOC is authenticated by the layer's TOC digest and the tar-split by the
TOC's ``tarSplitDigest``; this check makes sure they also agree, so a partial
pull (TOC) and a tar rebuild (tar-split) yield the same files and metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import format as fmt
from ._native import TocMatcher, TocScan
from .errors import FormatError, LimitExceededError
from .gojson import parse_rfc3339
from .tarstream import TarHeader, header_in_segment, iterate_headers
from .toc import GO_ZERO_TIME, Toc, TocEntry, entry_from_header

_FIELDS = ("type", "linkname", "mode", "size", "uid", "gid", "devmajor", "devminor")


def _instant(entry: TocEntry, attr: str) -> tuple[int, int] | None:
    text = getattr(entry, attr)
    if text is None:
        return None
    value = parse_rfc3339(text)
    if value in (GO_ZERO_TIME, (0, 0)):  # absent, Go's zero time and the Unix epoch all mean "no time"
        return None
    return value


def _compare(toc_entry: TocEntry, hdr: TarHeader) -> None:
    try:
        expected = entry_from_header(hdr)
    except FormatError as exc:
        raise FormatError(f"tar-split entry {hdr.name!r}: {exc}") from None
    for attr in _FIELDS:
        if getattr(expected, attr) != getattr(toc_entry, attr):
            raise FormatError(
                f"TOC and tar-split disagree on {attr} of {hdr.name!r}: "
                f"{getattr(toc_entry, attr)!r} != {getattr(expected, attr)!r}")
    if expected.xattrs != toc_entry.xattrs:
        raise FormatError(f"TOC and tar-split disagree on xattrs of {hdr.name!r}")
    for attr in ("modtime", "accesstime", "changetime"):
        if getattr(expected, attr) == getattr(toc_entry, attr):
            continue  # the same text (as the writer made it) is the same instant
        if _instant(expected, attr) != _instant(toc_entry, attr):
            raise FormatError(f"TOC and tar-split disagree on {attr} of {hdr.name!r}")


#: Times the fast comparison handles: years 1970 to 9999, where Go's RFC 3339 text of a
#: time parses back to the same instant.
_FAST_SECONDS = range(0, 253402300800)
_NO_TIME = (GO_ZERO_TIME, (0, 0))


def _same_fast(toc_entry: TocEntry, hdr: TarHeader, instants: dict[str, tuple[int, int] | None]) -> bool:
    """True when ``hdr`` and ``toc_entry`` agree on everything :func:`_compare` checks.

    The common case (ASCII names, no PAX records, times in 1970-9999) without
    building the expected TocEntry; False means "not shown equal", and
    :func:`_compare` then decides (and words the error).  ``instants`` caches
    the instant of each TOC time text.
    """
    if (hdr.pax_records or toc_entry.xattrs or fmt.TAR_TYPES.get(hdr.typeflag) != toc_entry.type
            or hdr.linkname != toc_entry.linkname or hdr.mode != toc_entry.mode or hdr.size != toc_entry.size
            or hdr.uid != toc_entry.uid or hdr.gid != toc_entry.gid or hdr.devmajor != toc_entry.devmajor
            or hdr.devminor != toc_entry.devminor or not hdr.name.isascii() or not hdr.linkname.isascii()):
        return False
    for value, text in ((hdr.mtime, toc_entry.modtime), (hdr.atime, toc_entry.accesstime),
                        (hdr.ctime, toc_entry.changetime)):
        if value is None or value in _NO_TIME:
            expected = None
        elif value[0] in _FAST_SECONDS and 0 <= value[1] < 1_000_000_000:
            expected = value
        else:
            return False
        if text is None:
            actual = None
        else:
            if text not in instants:
                instants[text] = _instant_of(text)
            actual = instants[text]
        if expected != actual:
            return False
    return True


def _instant_of(text: str) -> tuple[int, int] | None:
    value = parse_rfc3339(text)
    return None if value in _NO_TIME else value


def check_toc_matches_tarsplit(toc: Toc, segments: Sequence[bytes], scan: TocScan | None = None) -> int:
    """Raise :class:`FormatError` unless every tar-split header has an identical TOC entry and vice versa.

    ``segments`` are the tar-split segment payloads in order. Returns the number
    of headers compared. ``scan``, the C scanner's result the TOC was decoded
    from (:func:`~zstd_chunked.toc.parse_toc_scanned`), lets the common case be
    shown in C (:class:`~zstd_chunked._native.TocMatcher`); whatever
    it does not show equal is checked here.
    """
    if scan is not None and scan.count == len(toc.entries):
        shown = _shown_in_step(toc, segments, scan)
        if shown is not None:
            return shown
    by_name: dict[str, TocEntry] = {}
    for entry in toc.entries:
        if entry.type == fmt.TYPE_CHUNK:
            continue
        if entry.name in by_name:
            raise FormatError(f"TOC: duplicate entry {entry.name!r}")
        by_name[entry.name] = entry
    count = 0
    instants: dict[str, tuple[int, int] | None] = {}
    for hdr in iterate_headers(segments):
        if hdr.name not in by_name:
            raise FormatError(f"tar-split contains an entry for {hdr.name!r} missing in the TOC")
        toc_entry = by_name.pop(hdr.name)
        if not _same_fast(toc_entry, hdr, instants):
            _compare(toc_entry, hdr)
        count += 1
    if by_name:
        name = next(iter(by_name))
        raise FormatError(f"TOC contains {len(by_name)} entries not present in tar-split, e.g. {name!r}")
    return count


def _shown_in_step(toc: Toc, segments: Sequence[bytes], scan: TocScan) -> int | None:
    """The number of headers when they equal the TOC entries in the same order; None when not shown.

    Plain headers are compared in C (:class:`~zstd_chunked._native.TocMatcher`);
    the others (PAX and GNU meta headers, other layouts) are read here and
    compared with the entry the C walk has reached.  Never raises for a
    mismatch: anything unexpected means "not shown", and the full check then
    decides and words the error.
    """
    instants: dict[str, tuple[int, int] | None] = {}
    with TocMatcher(scan, segments, fmt.TAR_TYPES, fmt.TYPE_CHUNK) as matcher:
        index = 0
        while True:
            status, index, entry_index, pending = matcher.run(index)
            if status != TocMatcher.STOP:
                break
            try:
                hdr, pending_after = header_in_segment(segments[index], pending, index)
            except (FormatError, LimitExceededError):
                return None  # the full check raises it, or whatever it finds first
            if hdr is not None and (entry_index < 0 or toc.entries[entry_index].name != hdr.name
                                    or not _same(toc.entries[entry_index], hdr, instants)):
                return None
            if matcher.take(hdr is not None, pending_after) != TocMatcher.DONE:
                return None
            index += 1
        if status != TocMatcher.DONE:
            return None
        return matcher.finish()


def _same(entry: TocEntry, hdr: TarHeader, instants: dict[str, tuple[int, int] | None]) -> bool:
    """Whether :func:`_compare` would pass (without raising)."""
    if _same_fast(entry, hdr, instants):
        return True
    try:
        _compare(entry, hdr)
    except FormatError:
        return False
    return True
