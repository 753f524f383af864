"""The C walk of the TOC against the tar-split (csrc/zck_tocmatch.c) against the full Python check.

The C walk may only say "shown equal" when the full check (tocmatch.py without
the scan) passes with the same count; for the layers writers make it must say
so, or the fast path would never be taken.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any, Optional

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import zstd_chunked
from zstd_chunked import format as fmt
from zstd_chunked import tocmatch
from zstd_chunked._native import TocMatcher
from zstd_chunked.errors import FormatError, UsageError
from zstd_chunked.toc import parse_toc, parse_toc_scanned

BLOCK = 512


def _layer_parts(tar: bytes) -> tuple[bytes, list[bytes]]:
    """The TOC JSON and the tar-split segments of ``tar`` converted."""
    blob = io.BytesIO()
    info = zstd_chunked.convert(io.BytesIO(tar), blob)
    with zstd_chunked.open(zstd_chunked.BytesSource(blob.getvalue()), annotations=info.annotations) as layer:
        segments = [e.payload or b"" for e in layer.tarsplit_entries() if e.type == fmt.TARSPLIT_SEGMENT_TYPE]
        return layer.toc_raw, segments


def _tar(fmt_choice: int, long_names: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt_choice) as tf:
        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **kw: Any) -> None:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data)
            info.mtime = kw.pop("mtime", 1_700_000_000)
            for key, value in kw.items():
                setattr(info, key, value)
            tf.addfile(info, io.BytesIO(data) if data else None)

        add("dir/", tarfile.DIRTYPE, mode=0o755)
        add("dir/a.txt", data=b"hello\n" * 50, mode=0o644, uid=1000, gid=1000)
        add("dir/empty", mode=0o600)
        add("dir/link", tarfile.SYMTYPE, linkname="a.txt")
        add("dir/hard", tarfile.LNKTYPE, linkname="dir/a.txt")
        add("dev-null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
        add("fifo", tarfile.FIFOTYPE)
        add("epoch", data=b"x", mtime=0)
        add("odd-size", data=b"y" * 513)
        if long_names:
            add("long/" + "n" * 120, data=b"long name")
            add("caf\u00e9", data=b"non-ASCII name")
    return buf.getvalue()


TARS = {
    "gnu": _tar(tarfile.GNU_FORMAT),
    "pax": _tar(tarfile.PAX_FORMAT),
    "ustar": _tar(tarfile.USTAR_FORMAT, long_names=False),
}


def _full(toc_raw: bytes, segments: list[bytes]) -> int:
    return tocmatch.check_toc_matches_tarsplit(parse_toc(toc_raw), segments)


def _fast(toc_raw: bytes, segments: list[bytes]) -> Optional[int]:
    toc, scan = parse_toc_scanned(toc_raw)
    assert scan is not None, "the TOC did not take the C scanner's path"
    return tocmatch._shown_in_step(toc, segments, scan)


@pytest.mark.parametrize("window", [TocMatcher.WINDOW, 1, 3])
@pytest.mark.parametrize("name", sorted(TARS))
def test_writer_layouts_are_shown_equal(name: str, window: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TocMatcher, "WINDOW", window)  # segments handed to C a few at a time
    toc_raw, segments = _layer_parts(TARS[name])
    assert _fast(toc_raw, segments) == _full(toc_raw, segments) == 11 - (name == "ustar") * 2


def test_layer_open_takes_the_c_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Optional[int]] = []
    real = tocmatch._shown_in_step

    def spy(*args: Any) -> Optional[int]:
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(tocmatch, "_shown_in_step", spy)
    blob = io.BytesIO()
    info = zstd_chunked.convert(io.BytesIO(TARS["pax"]), blob)
    with zstd_chunked.open(zstd_chunked.BytesSource(blob.getvalue()), annotations=info.annotations):
        pass
    assert seen == [11]


def _mutate_toc(toc_raw: bytes, data: st.DataObject) -> bytes:
    doc = json.loads(toc_raw)
    entries = doc["entries"]
    files = [i for i, e in enumerate(entries) if e["type"] != fmt.TYPE_CHUNK]
    i = data.draw(st.sampled_from(files))
    e = entries[i]
    how = data.draw(st.sampled_from(
        ["mode", "uid", "gid", "size", "devMajor", "devMinor", "modtime", "modtime-spelling", "accesstime",
         "linkName", "name", "type", "drop", "duplicate", "swap", "xattrs", "add"]))
    if how in ("mode", "uid", "gid", "size", "devMajor", "devMinor"):
        e[how] = e.get(how, 0) + data.draw(st.sampled_from([1, -1, 8, 1 << 20]))
    elif how == "modtime":
        e["modtime"] = data.draw(st.sampled_from(["2023-11-14T22:13:21Z", "1970-01-01T00:00:00Z",
                                                  "0001-01-01T00:00:00Z"]))
    elif how == "modtime-spelling":  # the same instant, spelt another way
        e["modtime"] = "2023-11-14T22:13:20+00:00"
    elif how == "accesstime":
        e["accesstime"] = "2023-11-14T22:13:20Z"
    elif how == "linkName":
        e["linkName"] = e.get("linkName", "") + "x"
    elif how == "name":
        e["name"] = data.draw(st.sampled_from([e["name"] + "x", "dir/a.txt", "caf\u00e9", e["name"].rstrip("/")]))
    elif how == "type":
        e["type"] = data.draw(st.sampled_from(["reg", "dir", "symlink", "hardlink", "char", "block", "fifo"]))
    elif how == "drop":
        del entries[i]
    elif how == "duplicate":
        entries.insert(i, dict(e))
    elif how == "swap":
        j = data.draw(st.sampled_from(files))
        entries[i], entries[j] = entries[j], entries[i]
    elif how == "xattrs":
        e["xattrs"] = {"user.a": "Yg=="}
    else:
        entries.insert(i, {"type": "reg", "name": "extra", "mode": 420})
    return json.dumps(doc, separators=(",", ":")).encode()


def _header_segments(segments: list[bytes]) -> list[tuple[int, int]]:
    """(segment index, offset of its header) of every plain header segment."""
    out, pending = [], 0
    for i, seg in enumerate(segments):
        body = seg[pending:]
        if len(body) >= BLOCK and body[156:157] not in (b"x", b"g", b"L", b"K") and any(body[:BLOCK]):
            out.append((i, pending))
            size = int(body[124:136].strip(b"\0 ") or b"0", 8)
            pending = 0 if body[156:157] in b"123456" and body[156:157] else -size % BLOCK
        else:
            pending = 0
    return out


def _mutate_segments(segments: list[bytes], data: st.DataObject) -> list[bytes]:
    headers = _header_segments(segments)
    i, at = data.draw(st.sampled_from(headers))
    block = bytearray(segments[i][at:at + BLOCK])
    pos = data.draw(st.integers(0, BLOCK - 1))
    block[pos] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):  # keep the checksum valid, so that the header is still read
        block[148:156] = b"        "
        block[148:156] = b"%06o\0 " % sum(block)
    out = list(segments)
    out[i] = segments[i][:at] + bytes(block) + segments[i][at + BLOCK:]
    return out


def _full_or_error(toc_raw: bytes, segments: list[bytes]) -> Optional[int]:
    try:
        return _full(toc_raw, segments)
    except FormatError:
        return None


@settings(max_examples=300)
@given(st.sampled_from(sorted(TARS)), st.booleans(), st.data())
def test_shown_equal_only_when_the_full_check_passes(name: str, toc_side: bool, data: st.DataObject) -> None:
    toc_raw, segments = _layer_parts(TARS[name])
    if toc_side:
        toc_raw = _mutate_toc(toc_raw, data)
    else:
        segments = _mutate_segments(segments, data)
    try:
        toc, scan = parse_toc_scanned(toc_raw)
    except FormatError:
        scan = None  # a mutation the TOC rules refuse (a negative size)
    assume(scan is not None)
    assert scan is not None
    shown = tocmatch._shown_in_step(toc, segments, scan)
    if shown is not None:
        assert _full(toc_raw, segments) == shown
    # and the check as the reader runs it agrees with the full one, error or not
    try:
        result: Optional[int] = tocmatch.check_toc_matches_tarsplit(toc, segments, scan)
    except FormatError:
        result = None
    assert result == _full_or_error(toc_raw, segments)


def test_vectors_are_shown_equal(vector_case: Any) -> None:
    with zstd_chunked.open(vector_case.blob, annotations=vector_case.annotations) as layer:
        if not layer.has_tarsplit:
            pytest.skip("no tar-split in this layout")
        segments = [e.payload or b"" for e in layer.tarsplit_entries() if e.type == fmt.TARSPLIT_SEGMENT_TYPE]
        toc_raw = layer.toc_raw
    toc, scan = parse_toc_scanned(toc_raw)
    full = _full(toc_raw, segments)
    if scan is None:
        pytest.skip("the TOC does not take the C scanner's path")
    assert tocmatch._shown_in_step(toc, segments, scan) == full


def test_calls_out_of_order_are_refused() -> None:
    toc_raw, segments = _layer_parts(TARS["pax"])
    _toc, scan = parse_toc_scanned(toc_raw)
    assert scan is not None
    with TocMatcher(scan, segments, fmt.TAR_TYPES, fmt.TYPE_CHUNK) as m:
        with pytest.raises(zstd_chunked.NativeError):
            m.take(True, 0)  # nothing stopped
        status, index, _entry, _pending = m.run(0)
        assert status == TocMatcher.STOP  # the PAX header of the long name
        with pytest.raises(zstd_chunked.NativeError):
            m.run(index)  # the stopped segment must be reported first
        with pytest.raises(zstd_chunked.NativeError):
            m.finish()
    with pytest.raises(UsageError):
        m.run(0)
