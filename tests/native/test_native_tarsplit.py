"""The C tar-split encoder (csrc/zck_tarsplit.c) against Python oracles written from the Go rules."""

from __future__ import annotations

import base64
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zstd_chunked._native import TarSplitLines, clean_path, json_quote, utf8_valid
from zstd_chunked.errors import UnsupportedTarError, UsageError
from zstd_chunked.gojson import encoding_json_string, is_valid_utf8, jsoniter_string
from zstd_chunked.tarstream import go_clean_path

# Bytes that matter to the escaping rules, mixed with arbitrary ones: ASCII specials,
# U+2028/U+2029, a 2-, 3- and 4-byte character, and broken sequences (overlong,
# surrogate, above U+10FFFF, truncated).
_SPECIAL = [b'"', b"\\", b"\n", b"\r", b"\t", b"\b", b"\f", b"\x00", b"\x1f", b"\x7f", b"<", b">", b"&",
            "\u2028".encode(), "\u2029".encode(), "é".encode(), "€".encode(), "😀".encode(),
            b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x80", b"\xff", b"\x80", b"a", b"/", b"."]
_mixed = st.lists(st.one_of(st.sampled_from(_SPECIAL), st.binary(max_size=4)), max_size=24).map(b"".join)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


@given(_mixed)
@settings(max_examples=400, deadline=None)
def test_json_quote_matches_the_python_encoders(data: bytes) -> None:
    assert json_quote(data, jsoniter=True) == jsoniter_string(_text(data)).encode("utf-8", "surrogateescape")
    assert json_quote(data, jsoniter=False) == encoding_json_string(_text(data)).encode("utf-8", "surrogateescape")


def test_json_quote_examples() -> None:
    assert json_quote(b"", jsoniter=True) == b'""'
    assert json_quote(b"a\bb\fc", jsoniter=True) == b'"a\\u0008b\\u000cc"'
    assert json_quote(b"a\bb\fc", jsoniter=False) == b'"a\\bb\\fc"'
    assert json_quote(b"<&>\xff\xe2\x80\xa8", jsoniter=False) == b'"\\u003c\\u0026\\u003e\\ufffd\\u2028"'


@given(_mixed)
@settings(max_examples=300, deadline=None)
def test_utf8_valid_is_go_utf8_valid(data: bytes) -> None:
    try:
        data.decode("utf-8")  # Python's decoder refuses what Go's does: overlongs, surrogates, > U+10FFFF
        strict = True
    except UnicodeDecodeError:
        strict = False
    assert utf8_valid(data) is strict is is_valid_utf8(_text(data))


_paths = st.lists(st.sampled_from(["/", ".", "..", "a", "bc", "\xe9", ".a", "a."]), max_size=12).map("".join)


@given(_paths)
@settings(max_examples=400, deadline=None)
def test_clean_path_is_go_clean(path: str) -> None:
    assert clean_path(path.encode()) == go_clean_path(path).encode()


@pytest.mark.parametrize(("path", "cleaned"), [
    ("", "."), ("/", "/"), ("a//b/./c/..", "a/b"), ("../../a", "../../a"), ("/../a", "/a"),
    ("a/../..", ".."), ("./", "."), ("abc/", "abc"),
])
def test_clean_path_examples(path: str, cleaned: str) -> None:
    assert clean_path(path.encode()) == cleaned.encode()


# -- the encoder ---------------------------------------------------------------------------------


def _expected_file_line(name: bytes, size: int, crc: Optional[bytes], position: int) -> bytes:
    """What Go's encoding/json writes for a tar-split storage.Entry of type 1."""
    line = b'{"type":1'
    if name and utf8_valid(name):
        line += b',"name":' + encoding_json_string(_text(name)).encode("utf-8", "surrogateescape")
    elif name:
        line += b',"name_raw":"' + base64.b64encode(name) + b'"'
    if crc is None:
        line += b',"payload":null'
    else:
        line += b',"size":%d,"payload":"%s"' % (size, base64.b64encode(crc))
    return line + b',"position":%d}\n' % position


_entries = st.lists(
    st.tuples(st.binary(max_size=40), _mixed, st.integers(min_value=0, max_value=(1 << 63) - 1), st.binary(min_size=8,
              max_size=8)),
    max_size=30,
)


@given(_entries)
@settings(max_examples=150, deadline=None)
def test_lines_match_the_oracle(entries: list[tuple[bytes, bytes, int, bytes]]) -> None:
    expected = b""
    seen: set[bytes] = set()
    with TarSplitLines() as lines:
        for segment, name, size, crc in entries:
            position = lines.position
            lines.segment(segment)
            if segment:
                expected += b'{"type":2,"payload":"%s","position":%d}\n' % (base64.b64encode(segment), position)
            key = go_clean_path(_text(name)).encode("utf-8", "surrogateescape")
            checksum = crc if size else None
            if key in seen:
                with pytest.raises(UnsupportedTarError, match="duplicate path"):
                    lines.file(name, size, checksum)
                continue
            seen.add(key)
            position = lines.position
            lines.file(name, size, checksum)
            expected += _expected_file_line(name, size, checksum, position)
        assert lines.pending() == len(expected)
        assert lines.total == len(expected)
        assert lines.take() == expected
        assert lines.take() == b""
        assert lines.total == len(expected)


def test_errors_leave_the_encoder_unchanged() -> None:
    with TarSplitLines() as lines:
        lines.file(b"d/file", 3, bytes(8))
        before = (lines.position, lines.total, lines.pending())
        with pytest.raises(UnsupportedTarError, match="duplicate path 'd//file'.*cleaned: 'd/file'"):
            lines.file(b"d//file", 0, None)
        with pytest.raises(UnsupportedTarError, match="negative size"):
            lines.file(b"neg", -1, None)
        with pytest.raises(ValueError):
            lines.file(b"a", 5, None)
        with pytest.raises(ValueError):
            lines.file(b"b", 0, bytes(8))
        with pytest.raises(ValueError):
            lines.file(b"c", 5, bytes(7))
        assert (lines.position, lines.total, lines.pending()) == before
        # the refused names were not recorded
        lines.file(b"neg", 0, None)
        lines.file(b"a", 0, None)
    assert lines.closed
    with pytest.raises(UsageError):
        lines.file(b"x", 0, None)


def test_many_paths_and_long_lines() -> None:
    """The path set grows past its first table; a long segment and a long name are whole lines."""
    with TarSplitLines() as lines:
        for i in range(5000):
            lines.file(b"usr/lib/%d" % i, 0, None)
        with pytest.raises(UnsupportedTarError):
            lines.file(b"./usr/lib/4999/", 0, None)
        lines.file(b"usr/lib/1\x00", 0, None)  # bytes, not C strings
        big = bytes(range(256)) * 4096
        lines.segment(memoryview(big)[1:])
        lines.file(b"\xff" * 3000, 0, None)
        text = lines.take()
    rows = text.splitlines()
    assert len(rows) == 5003
    assert rows[-2] == b'{"type":2,"payload":"%s","position":5001}' % base64.b64encode(big[1:])
    assert rows[-1] == b'{"type":1,"name_raw":"%s","payload":null,"position":5002}' % base64.b64encode(b"\xff" * 3000)


# --- the reader's line scanner (csrc/zck_tarsplit_scan.c) ------------------------------------------


def test_scan_decodes_the_reference_lines() -> None:
    from zstd_chunked._native import TarSplitScan

    doc = (b'{"type":2,"payload":"YWJj","position":0}\n'
           b'{"type":1,"name":"d/a","size":5,"payload":"PD7u4tgQAAA=","position":1}\n'
           b'{"type":1,"name":"e","payload":null,"position":2}\n'
           b'{"TYPE":2,"payload":"","position":3}\n')
    with TarSplitScan() as scan:
        fields, data, lines, end, stop = scan.scan(doc, 0, 1 << 20)
        assert (lines, stop) == (3, TarSplitScan.OTHER)
        assert doc[end:].startswith(b'{"TYPE"')
        assert fields == [2, 0, 0, 0, 3, 1, 1, 5, 6, 14, 1, 2, 0, 15, 15]
        assert data == b"abc" + b"d/a" + bytes.fromhex("3c3eeee2d8100000") + b"e"
        # the scan can start anywhere; the recorded paths stay recorded
        assert scan.scan(doc, end, 1 << 20)[2:] == (0, end, TarSplitScan.OTHER)
        assert not scan.add_path(b"./d//a") and scan.add_path(b"d/b")
        with pytest.raises(ValueError):
            scan.scan(doc, len(doc) + 1, 1 << 20)
    with pytest.raises(UsageError):
        scan.scan(doc, 0, 1 << 20)


def test_scan_stops_when_its_line_array_is_full() -> None:
    from zstd_chunked._native import TarSplitScan

    doc = b'{"type":2,"payload":"","position":0}\n' * (TarSplitScan.CAP + 5)
    with TarSplitScan() as scan:
        _fields, _data, lines, end, stop = scan.scan(doc, 0, 1 << 20)
        assert (lines, stop) == (TarSplitScan.CAP, TarSplitScan.FULL)
        assert scan.scan(doc, end, 1 << 20)[2:] == (5, len(doc), TarSplitScan.END)


# --- bounded duplicate check: sorted runs of path keys, merged at the end ---------------


def _merge(runs: list[bytes]) -> Optional[bytes]:
    from zstd_chunked._native import PATH_KEY_SIZE, find_duplicate_key

    def read(run: int, first: int, count: int) -> bytes:
        return runs[run][first * PATH_KEY_SIZE:(first + count) * PATH_KEY_SIZE]

    return find_duplicate_key([len(r) // PATH_KEY_SIZE for r in runs], read)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.integers(0, 400), max_size=150), max_size=6), st.integers(1, 64))
def test_run_merge_finds_exactly_the_repeated_keys(groups: list[list[int]], run_keys: int) -> None:
    """Names split over runs as the encoder splits them: a duplicate is found iff one exists."""
    from zstd_chunked._native import path_key

    names = [b"dir/f%d" % i for group in groups for i in group]
    lines = TarSplitLines()
    lines.set_run_keys(run_keys)
    runs: list[bytes] = []
    refused_at_once = False
    for name in names:
        try:
            lines.file(name, 0, None)
        except UnsupportedTarError:
            refused_at_once = True  # within one run: the encoder itself refuses it
            break
        run = lines.take_run()
        if run:
            runs.append(run)
    lines.end_run()
    runs.append(lines.take_run())
    lines.close()
    repeated = {n for n in names if names.count(n) > 1}
    if refused_at_once:
        assert repeated
        return
    dup = _merge([r for r in runs if r])
    if repeated:
        assert dup in {path_key(n) for n in repeated}
    else:
        assert dup is None
    assert all(len(r) <= run_keys * 16 for r in runs)


def test_run_keys_are_the_cleaned_paths_keys() -> None:
    from zstd_chunked._native import PATH_KEY_SIZE, path_key

    lines = TarSplitLines()
    lines.set_run_keys(2)
    for name in (b"./a//b/", b"c", b"d"):
        lines.file(name, 0, None)
    run = lines.take_run()
    assert len(run) == 2 * PATH_KEY_SIZE
    assert sorted([run[:16], run[16:]]) == [run[:16], run[16:]]
    assert set([run[:16], run[16:]]) == {path_key(b"a/b"), path_key(b"c")}
    assert path_key(b"./a//b/") == path_key(b"a/b")
    assert lines.take_run() == b""
    lines.end_run()
    with pytest.raises(UsageError):
        lines.end_run()  # a run is waiting
    assert lines.take_run() == path_key(b"d")
    lines.end_run()  # nothing recorded: no run
    assert lines.take_run() == b""
    with pytest.raises(ValueError):
        lines.set_run_keys(-1)
    lines.close()


def test_merge_rejects_a_short_read() -> None:
    from zstd_chunked._native import find_duplicate_key
    from zstd_chunked.errors import NativeError

    with pytest.raises(NativeError):
        find_duplicate_key([3], lambda run, first, count: b"\0" * 16)
    assert find_duplicate_key([], lambda run, first, count: b"") is None
    assert find_duplicate_key([0, 0], lambda run, first, count: b"") is None
