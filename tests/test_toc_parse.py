"""The TOC parser's fast path (keys spelt as writers spell them) agrees with the general one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zstd_chunked.errors import FormatError
from zstd_chunked.toc import _parse_canonical, _parse_general, parse_toc

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
    except FormatError as exc:
        return ("error", str(exc))


@settings(max_examples=300)
@given(st.lists(entries(), max_size=4), st.sampled_from([None, "", "sha256:" + "2" * 64, 5]),
       st.sampled_from([1, None, True, "1"]))
def test_fast_path_equals_general_path(objs: list[dict[str, Any]], digest: Any, version: Any) -> None:
    doc: dict[str, Any] = {"version": version, "entries": objs}
    if digest is not None:
        doc["tarSplitDigest"] = digest
    text = json.dumps(doc)
    general = _outcome(_parse_general, text, 1000)
    fast = _parse_canonical(text, 1000)
    if fast is not None:
        assert fast == general
    assert _outcome(parse_toc, text.encode()) == general


def test_fast_path_takes_writer_output_and_leaves_other_spellings() -> None:
    text = '{"version":1,"entries":[{"type":"reg","name":"a","size":1,"digest":"sha256:' + "0" * 64 + \
        '","offset":10,"endOffset":20,"modtime":"2023-01-02T03:04:05Z","xattrs":{"user.a":"eA=="}}]}'
    assert _parse_canonical(text, 10) is not None
    assert _parse_canonical(text.replace('"name"', '"NAME"'), 10) is None
    assert _parse_canonical(text.replace('"version":1', '"version":null'), 10) is None
    with pytest.raises(FormatError):
        parse_toc(text.replace('"version":1', '"version":null').encode())
    assert parse_toc(text.replace('"name"', '"NAME"').encode()) == parse_toc(text.encode())
