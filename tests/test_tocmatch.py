"""The fast comparison of a TOC entry with its tar header against the full one (zstd_chunked.tocmatch)."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from zstd_chunked import format as fmt
from zstd_chunked.errors import FormatError
from zstd_chunked.tarstream import TarHeader
from zstd_chunked.toc import GO_ZERO_TIME, TocEntry, entry_from_header
from zstd_chunked.tocmatch import _compare, _same_fast

_TIMES = st.one_of(
    st.none(),
    st.sampled_from([GO_ZERO_TIME, (0, 0), (0, 1), (253402300799, 999999999), (253402300800, 0), (-1, 0)]),
    st.tuples(st.integers(-(1 << 40), 1 << 40), st.integers(0, 999_999_999)),
)


@st.composite
def _headers(draw: Any) -> TarHeader:
    return TarHeader(
        typeflag=draw(st.sampled_from([b"0", b"5", b"2", b"1", b"3", b"4", b"6", b"7", b"S"])),
        name=draw(st.sampled_from(["a", "dir/", "\u00e9t\u00e9", "x\udcff"])),
        linkname=draw(st.sampled_from(["", "target", "\u00e9"])),
        size=draw(st.sampled_from([0, 1, 1 << 40])),
        mode=draw(st.sampled_from([0o644, 0o4755, 0])),
        uid=draw(st.sampled_from([0, 1000])), gid=draw(st.sampled_from([0, 1000])),
        mtime=draw(_TIMES), atime=draw(_TIMES), ctime=draw(_TIMES),
        devmajor=draw(st.sampled_from([0, 8])), devminor=draw(st.sampled_from([0, 1])),
        pax_records=draw(st.sampled_from([{}, {"SCHILY.xattr.user.a": "b"}, {"comment": "c"}])),
    )


# TOC texts for the same instant the writer would not make, and texts for other instants
_TEXT_EDITS = [
    lambda t: t,
    lambda t: None,
    lambda t: "1970-01-01T00:00:00Z",
    lambda t: "0001-01-01T00:00:00Z",
    lambda t: None if t is None else t.replace("Z", "+00:00"),
    lambda t: None if t is None or "." in t else t.replace("Z", ".000Z"),
    lambda t: "2001-02-03T04:05:06+01:00",
]


@settings(max_examples=1500, deadline=None)
@given(_headers(), st.sampled_from(["type", "linkname", "mode", "size", "uid", "gid", "devmajor", "devminor",
                                    "xattrs", None]),
       st.sampled_from(_TEXT_EDITS), st.sampled_from(["modtime", "accesstime", "changetime"]))
def test_fast_comparison_never_passes_what_the_full_one_refuses(hdr: TarHeader, field: str | None, edit: Any,
                                                                time_field: str) -> None:
    try:
        entry = entry_from_header(hdr)
    except FormatError:
        entry = TocEntry(fmt.TAR_TYPES.get(hdr.typeflag, "reg"), hdr.name)
    if field is not None:
        value = getattr(entry, field)
        if field == "type":
            value = "fifo" if value != "fifo" else "reg"
        elif field == "xattrs":
            value = {"user.z": ""}
        else:
            value = value + ("x" if isinstance(value, str) else 1)
        entry = dataclasses.replace(entry, **{field: value})
    entry = dataclasses.replace(entry, **{time_field: edit(getattr(entry, time_field))})
    try:
        _compare(entry, hdr)
        agrees = True
    except FormatError:
        agrees = False
    if _same_fast(entry, hdr, {}):
        assert agrees


def test_fast_comparison_takes_the_common_header() -> None:
    hdr = TarHeader(typeflag=b"0", name="usr/bin/x", size=10, mode=0o755, uid=0, gid=0, mtime=(1700000000, 0))
    entry = entry_from_header(hdr)
    assert _same_fast(entry, hdr, {})
    assert not _same_fast(dataclasses.replace(entry, mode=0o700), hdr, {})
    assert not _same_fast(dataclasses.replace(entry, modtime="2023-11-14T22:13:21Z"), hdr, {})
