"""The C TOC entry encoder (csrc/zck_toctext.c) against a Python oracle of json-iterator's output."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zstd_chunked import format as fmt
from zstd_chunked._native import TocText
from zstd_chunked.errors import UsageError
from zstd_chunked.gojson import go_time_rfc3339nano, jsoniter_string
from zstd_chunked.toc import TocEntry


def oracle(e: TocEntry) -> str:
    """minimal.FileMetadata as json-iterator (std mode) writes it: struct order, omitempty."""
    quote = jsoniter_string
    parts = ['{"type":' + quote(e.type), '"name":' + quote(e.name)]
    if e.linkname:
        parts.append('"linkName":' + quote(e.linkname))
    for key, value in (("mode", e.mode), ("size", e.size), ("uid", e.uid), ("gid", e.gid)):
        if value:
            parts.append(f'"{key}":{value}')
    for key, when in (("modtime", e.modtime), ("accesstime", e.accesstime), ("changetime", e.changetime)):
        if when is not None:
            parts.append(f'"{key}":"{when}"')
    for key, value in (("devMajor", e.devmajor), ("devMinor", e.devminor)):
        if value:
            parts.append(f'"{key}":{value}')
    if e.xattrs:
        items = sorted(e.xattrs.items(), key=lambda kv: kv[0].encode("utf-8", "surrogateescape"))
        parts.append('"xattrs":{' + ",".join(quote(k) + ":" + quote(v) for k, v in items) + "}")
    if e.digest:
        parts.append('"digest":' + quote(e.digest))
    for key, value in (("offset", e.offset), ("endOffset", e.end_offset), ("chunkSize", e.chunk_size),
                       ("chunkOffset", e.chunk_offset)):
        if value:
            parts.append(f'"{key}":{value}')
    if e.chunk_digest:
        parts.append('"chunkDigest":' + quote(e.chunk_digest))
    if e.chunk_type:
        parts.append('"chunkType":' + quote(e.chunk_type))
    return ",".join(parts) + "}"


_names = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["a<b>&c", 'q"\\\n\t\b\f\x7f', "\u2028\u2029", "é/😀", "\udcff\udcfe", "nul\x00byte"]),
)
_ints = st.one_of(st.just(0), st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1))
_times = st.one_of(st.none(), st.integers(min_value=-62135596800, max_value=253402300799).map(
    lambda s: go_time_rfc3339nano(s, s % 1000 * 1000)))
_digests = st.one_of(st.just(""), st.binary(min_size=32, max_size=32).map(lambda b: "sha256:" + b.hex()))


@st.composite
def entries(draw: st.DrawFn) -> TocEntry:
    return TocEntry(
        type=draw(st.sampled_from(sorted(fmt.ENTRY_TYPES))),
        name=draw(_names), linkname=draw(st.one_of(st.just(""), _names)),
        mode=draw(_ints), size=draw(_ints), uid=draw(_ints), gid=draw(_ints),
        modtime=draw(_times), accesstime=draw(_times), changetime=draw(_times),
        devmajor=draw(_ints), devminor=draw(_ints),
        xattrs=draw(st.dictionaries(st.text(max_size=8), st.text(alphabet="AB+/=", max_size=8), max_size=3)),
        digest=draw(_digests), offset=draw(_ints), end_offset=draw(_ints), chunk_size=draw(_ints),
        chunk_offset=draw(_ints), chunk_digest=draw(_digests),
        chunk_type=draw(st.sampled_from(["", fmt.CHUNK_TYPE_DATA, fmt.CHUNK_TYPE_ZEROS, "odd\x00type"])),
    )


@given(st.lists(entries(), max_size=6))
@settings(max_examples=200, deadline=None)
def test_entries_match_the_oracle(batch: list[TocEntry]) -> None:
    with TocText() as text:
        for e in batch:
            e.write_to(text)
        assert len(text) == len(batch)
        got = text.take()
        assert text.take() == b""
    assert got.decode("utf-8", "surrogateescape") == ",".join(oracle(e) for e in batch)
    for e in batch:
        assert e.to_json() == oracle(e)


def test_a_typical_file_entry() -> None:
    e = TocEntry(type="reg", name="usr/bin/tool", mode=0o755, size=12, modtime="2024-01-02T03:04:05.5Z",
                 digest="sha256:" + "ab" * 32, offset=100, end_offset=130)
    assert e.to_json() == (
        '{"type":"reg","name":"usr/bin/tool","mode":493,"size":12,"modtime":"2024-01-02T03:04:05.5Z",'
        '"digest":"sha256:' + "ab" * 32 + '","offset":100,"endOffset":130}'
    )
    assert TocEntry(type="dir", name="").to_json() == '{"type":"dir","name":""}'


def test_closed_encoder_refuses() -> None:
    text = TocText()
    text.close()
    with pytest.raises(UsageError):
        TocEntry(type="dir", name="d").write_to(text)
