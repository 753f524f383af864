"""The TOC parser's fast path (keys spelt as writers spell them) agrees with the general one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zstd_chunked.errors import FormatError, LimitExceededError
from zstd_chunked.toc import _parse_canonical, _parse_general, _parse_scanned, parse_toc

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12) | st.sampled_from(
    ["reg", "dir", "symlink", "chunk", "a/b", "\u00e9t\u00e9", "sha256:" + "ab" * 32, "zeros", ""])
_INT = st.integers(-(1 << 64), 1 << 64) | st.integers(0, 1 << 20)
_TIME = st.sampled_from(["2023-01-02T03:04:05Z", "2023-02-30T00:00:00Z", "2024-02-29T23:59:59.5+01:00",
                         "1970-01-01T00:00:00Z", "not a time"])
_ANY = st.none() | st.booleans() | _INT | _TEXT | st.lists(st.integers(), max_size=2)
_FIELDS = {
    "type": st.sampled_from(["reg", "dir", "symlink", "chunk", "bogus"]) | _ANY,
    "name": st.sampled_from(["a", "dir/b", "\u00fc"]) | _ANY,
    "linkName": _TEXT | st.none(), "mode": _INT | _ANY, "size": _INT, "uid": _INT, "gid": _INT,
    "modtime": _TIME | _ANY, "accesstime": _TIME, "changetime": _TIME,
    "devMajor": _INT, "devMinor": _INT,
    "xattrs": st.dictionaries(_TEXT, _TEXT | st.integers(), max_size=2) | _ANY,
    "digest": st.sampled_from(["", "sha256:" + "0" * 64, "sha256:XYZ"]) | _ANY,
    "offset": _INT, "endOffset": _INT, "chunkSize": _INT, "chunkOffset": _INT,
    "chunkDigest": st.sampled_from(["", "sha256:" + "1" * 64]), "chunkType": st.sampled_from(["", "zeros"]),
    # spellings and keys that only the general path handles
    "Name": _TEXT, "SIZE": _INT, "unknown": _ANY,
}


@st.composite
def entries(draw: Any) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(sorted(_FIELDS)), max_size=8, unique=True))
    obj = {"type": "reg", "name": draw(st.sampled_from(["x", "y/z"]))}
    for key in keys:
        obj[key] = draw(_FIELDS[key])
    return obj


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except (FormatError, LimitExceededError) as exc:
        return ("error", str(exc))


@settings(max_examples=300)
@given(st.lists(entries(), max_size=4), st.sampled_from([None, "", "sha256:" + "2" * 64, 5]),
       st.sampled_from([1, None, True, "1"]), st.booleans(), st.sampled_from([(",", ":"), (", ", ": ")]))
def test_fast_paths_equal_general_path(objs: list[dict[str, Any]], digest: Any, version: Any, ascii_only: bool,
                                       separators: tuple[str, str]) -> None:
    doc: dict[str, Any] = {"version": version, "entries": objs}
    if digest is not None:
        doc["tarSplitDigest"] = digest
    text = json.dumps(doc, ensure_ascii=ascii_only, separators=separators)
    _check_paths(text)


def _check_paths(text: str, max_entries: int = 1000) -> None:
    """The C scan and the json fast path, where they take a document, give what the general path gives."""
    general = _outcome(_parse_general, text, max_entries)
    fast = _parse_canonical(text, max_entries)
    if fast is not None:
        assert fast == general
    scanned = _parse_scanned(text.encode(), max_entries)
    if scanned is not None:
        assert scanned == general
    assert _outcome(lambda: parse_toc(text.encode(), max_entries=max_entries)) == general


_WRITER_TOC = ('{"version":1,"entries":[{"type":"dir","name":"d/","mode":493,"modtime":"2023-01-02T03:04:05Z"},'
               '{"type":"reg","name":"d/a\u003cb\u0026","mode":420,"size":5,"modtime":"2023-01-02T03:04:05Z",'
               '"digest":"sha256:' + "ab" * 32 + '","offset":10,"endOffset":40,"chunkSize":3,'
               '"chunkDigest":"sha256:' + "cd" * 32 + '"},'
               '{"type":"chunk","name":"d/a\u003cb\u0026","offset":40,"chunkSize":2,"chunkOffset":3,'
               '"chunkDigest":"sha256:' + "ef" * 32 + '","chunkType":"zeros"},'
               '{"type":"symlink","name":"d/l","linkName":"a","xattrs":{"user.x":"eQ=="}}],'
               '"tarSplitDigest":"sha256:' + "12" * 32 + '"}')


def test_c_scan_takes_writer_output() -> None:
    scanned = _parse_scanned(_WRITER_TOC.encode(), 10)
    assert scanned is not None and scanned == _parse_general(_WRITER_TOC, 10)
    assert scanned.entries[1].name == "d/a<b&" and scanned.entries[3].xattrs == {"user.x": "eQ=="}
    assert scanned.entries[2].chunk_type == "zeros" and scanned.tarsplit_digest.endswith("12" * 32)


@pytest.mark.parametrize("old,new", [
    ('"mode":420,', '"mode":420,"mode":null,'),            # the last of repeated keys counts; null means unset
    ('"mode":420,', '"mode":null,"mode":420,'),
    ('"linkName":"a"', '"linkName":"a","linkName":null'),
    ('"modtime":"2023-01-02T03:04:05Z","digest"', '"modtime":null,"digest"'),
    ('"modtime":"2023-01-02T03:04:05Z","digest"', '"modtime":"","digest"'),
    ('"modtime":"2023-01-02T03:04:05Z","digest"', '"modtime":"2023-02-30T00:00:00Z","digest"'),
    ('"mode":420', '"mode":-0'), ('"mode":420', '"mode":0420'), ('"mode":420', '"mode":420.0'),
    ('"mode":420', '"mode":4e2'), ('"mode":420', '"mode":9223372036854775807'),
    ('"mode":420', '"mode":-9223372036854775808'), ('"mode":420', '"mode":9223372036854775808'),
    ('"mode":420', '"mode":"420"'), ('"mode":420', '"mode":true'), ('"size":5', '"size":-5'),
    ('"name":"d/l"', r'"name":"d/\ud83d\ude00"'), ('"name":"d/l"', r'"name":"d/\ud83d"'),
    ('"name":"d/l"', r'"name":"d/\ude00x"'), ('"name":"d/l"', r'"name":"d/\ud83d\u0041"'),
    ('"name":"d/l"', r'"name":"d/\u0000"'), ('"name":"d/l"', '"name":""'), ('"name":"d/l"', r'"name":"\/\b\f\n\r\t"'),
    ('"name":"d/l"', '"name":"d/\u00e9\u20ac"'), ('"name":"d/l"', r'"n\u0061me":"d/l"'),
    ('"name":"d/l"', '"Name":"d/l"'), ('"type":"dir"', '"type":"bogus"'), ('"type":"dir"', '"type":null'),
    ('"digest":"sha256:', '"digest":"sha1:'), ('"xattrs":{"user.x":"eQ=="}', '"xattrs":null'),
    ('"xattrs":{"user.x":"eQ=="}', '"xattrs":{"user.x":1}'), ('"xattrs":{"user.x":"eQ=="}', '"xattrs":{}'),
    ('"xattrs":{"user.x":"eQ=="}', '"xattrs":{"user.x":"eQ==","user.x":"eg=="}'),
    ('"xattrs":{"user.x":"eQ=="}', '"xattrs":{"a":{"b":"c"}}'),
    ('"version":1', '"version":null'), ('"version":1', '"version":1,"version":2'), ('"version":1,', ''),
    ('"tarSplitDigest":"sha256:', '"tarSplitDigest":null,"x":"sha256:'),
    ('"tarSplitDigest":"sha256:', '"tarSplitDigest":"sha256:0'),
    ('{"version"', ' \n\t{ "version" '), ('}]', '} ] '), ('"}', '"} x'), ('"}', '"}\u0000'),
    ('{"type":"dir"', '{ "type" : "dir" '), ('"d/l"', '"d/l\x01"'), ('"d/l"', r'"d/l\q"'),
    ('"entries":[', '"entries":null,"x":['), ('"entries":[', '"entries":{"a":['), ('},{', '},1,{'),
])
def test_c_scan_on_odd_documents(old: str, new: str) -> None:
    assert old in _WRITER_TOC
    _check_paths(_WRITER_TOC.replace(old, new, 1))


def test_c_scan_entry_limit() -> None:
    _check_paths(_WRITER_TOC, max_entries=3)
    _check_paths(_WRITER_TOC, max_entries=4)


@settings(max_examples=400)
@given(st.lists(st.tuples(st.integers(0, 1 << 12), st.binary(min_size=1, max_size=3)), min_size=1, max_size=3))
def test_c_scan_on_damaged_documents(flips: list[tuple[int, bytes]]) -> None:
    data = bytearray(_WRITER_TOC.encode())
    for at, new in flips:
        at %= len(data)
        data[at:at + len(new)] = new
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        return  # parse_toc refuses it before any decoder runs
    _check_paths(text)


def test_fast_path_takes_writer_output_and_leaves_other_spellings() -> None:
    text = '{"version":1,"entries":[{"type":"reg","name":"a","size":1,"digest":"sha256:' + "0" * 64 + \
        '","offset":10,"endOffset":20,"modtime":"2023-01-02T03:04:05Z","xattrs":{"user.a":"eA=="}}]}'
    assert _parse_canonical(text, 10) is not None
    assert _parse_canonical(text.replace('"name"', '"NAME"'), 10) is None
    assert _parse_canonical(text.replace('"version":1', '"version":null'), 10) is None
    with pytest.raises(FormatError):
        parse_toc(text.replace('"version":1', '"version":null').encode())
    assert parse_toc(text.replace('"name"', '"NAME"').encode()) == parse_toc(text.encode())
