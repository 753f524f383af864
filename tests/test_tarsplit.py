"""tar-split encoding and decoding (zstd_chunked.tarsplit), driven the way the writer drives it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import vectors_util
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_tarstream import VECTOR_TARS, ShortReads, assert_header_matches, build_tar, tar_members

from zstd_chunked.errors import FormatError, LimitExceededError, UnsupportedTarError
from zstd_chunked.tarsplit import (
    TarSplitEncoder,
    TarSplitEntry,
    iter_tarsplit,
    tar_size_from_entries,
)
from zstd_chunked.tarstream import TarHeader, TarReader

# --- CRC-64 (Go's crc64.ISO table, CRC-64/GO-ISO) --------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xD800000000000000 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()
_MASK = (1 << 64) - 1


def slow_crc64(data: bytes, crc: int = 0) -> int:
    """Reflected CRC-64 with the ISO polynomial, init and final xor all ones; chainable."""
    crc ^= _MASK
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK


def _pick_crc() -> Callable[[bytes, int], int]:
    try:
        from zstd_chunked._native import crc64  # the lead's fast version, when built
    except ImportError:
        return slow_crc64
    return crc64


crc64 = _pick_crc()
_CRC_CACHE: dict[bytes, int] = {}


def cached_crc(data: bytes) -> int:
    """CRC of a whole payload, memoised so repeated runs over the vectors stay fast."""
    key = hashlib.sha1(data).digest() + len(data).to_bytes(8, "big")
    if key not in _CRC_CACHE:
        _CRC_CACHE[key] = crc64(data, 0)
    return _CRC_CACHE[key]


@pytest.mark.parametrize(
    ("text", "hex_digest"),
    [
        (b"foo", "3c3c303000000000"),
        (b"bar", "2dc416f000000000"),
        (b"baz", "204416f000000000"),
        (b"bif", "300996f000000000"),
        (b"imma hurr til I derp", "0274a4b1abec6b4e"),
        ("café con leche, por favor".encode(), "7e4859efe6fca0bb"),
        (b"123456789", "b90956c775a41001"),
        (b"hello", "3c3eeee2d8100000"),
        (b"", "0000000000000000"),
    ],
)
def test_crc64_vectors(text: bytes, hex_digest: str) -> None:
    assert slow_crc64(text).to_bytes(8, "big").hex() == hex_digest
    assert crc64(text, 0).to_bytes(8, "big").hex() == hex_digest
    assert slow_crc64(text[3:], slow_crc64(text[:3])) == slow_crc64(text)


# --- the writer's loop ------------------------------------------------------------------------------


def convert(reader: TarReader, *, read_size: int = 1 << 20) -> tuple[bytes, dict[bytes, bytes], list[TarHeader]]:
    """TarReader + TarSplitEncoder exactly as the writer uses them.

    Returns the tar-split text, the payloads by raw name and the headers.
    """
    lines: list[bytes] = []
    encoder = TarSplitEncoder(lines.append)
    payloads: dict[bytes, bytes] = {}
    headers: list[TarHeader] = []
    while True:
        hdr = reader.next()
        encoder.add_segment(reader.raw_bytes())
        if hdr is None:
            break
        headers.append(hdr)
        pieces = []
        while True:
            piece = reader.read(read_size)
            if not piece:
                break
            pieces.append(bytes(piece))
        payload = b"".join(pieces)
        crc = cached_crc(payload).to_bytes(8, "big") if hdr.size > 0 else None
        encoder.add_file(hdr.name, hdr.size, crc)
        payloads[hdr.name_bytes] = payload
        encoder.add_segment(reader.raw_bytes())
    for tail in reader.trailing():
        encoder.add_segment(tail)
    encoder.flush()
    text = b"".join(lines)
    assert encoder.uncompressed_size == len(text)
    return text, payloads, headers


def reassemble(tarsplit: bytes, payloads: dict[bytes, bytes]) -> bytes:
    """tar-split's WriteOutputTarStream: segments verbatim, files from the store, CRC checked."""
    out = bytearray()
    for entry in iter_tarsplit(io.BytesIO(tarsplit)):
        if entry.type == 2:
            out += entry.payload or b""
        elif entry.size > 0:
            data = payloads[entry.raw_name]
            assert cached_crc(data).to_bytes(8, "big") == entry.payload
            out += data
    return bytes(out)


def _patterns(size: int) -> list[int]:
    patterns = [32768, 4096 + 3]
    if size <= 1_500_000:
        patterns.append(7)
    if size <= 100_000:
        patterns.append(1)
    return patterns


@pytest.mark.parametrize("tar", VECTOR_TARS, ids=lambda p: p.name)
def test_vector_tarsplit_is_byte_identical(tar: Path) -> None:
    data = tar.read_bytes()
    expected_path = tar.with_name(tar.name[:-4] + ".tarsplit.json")
    expected = expected_path.read_bytes() if expected_path.exists() else None
    for piece in _patterns(len(data)):
        reader = TarReader(ShortReads(data, piece), read_size=32768)
        text, payloads, _ = convert(reader, read_size=max(piece, 1000))
        if expected is not None:
            assert text == expected, f"read size {piece}"
        assert reassemble(text, payloads) == data
        entries = list(iter_tarsplit(io.BytesIO(text)))
        assert tar_size_from_entries(entries) == len(data)
        assert [e.position for e in entries] == list(range(len(entries)))


@pytest.mark.large_vectors
@pytest.mark.parametrize("name", vectors_util.LARGE_CASE_NAMES)
def test_large_vector_tarsplit(name: str) -> None:
    if crc64 is slow_crc64:
        pytest.skip("needs the native crc64 to stay fast")
    if not vectors_util.shared_vectors_available():
        pytest.skip(vectors_util.SHARED_MISSING_REASON)
    zstandard = pytest.importorskip("zstandard")
    case = vectors_util.large_case(name)
    reader = zstandard.ZstdDecompressor().stream_reader(case.blob.open("rb"), read_across_frames=True)
    text, _, _ = convert(TarReader(reader))
    assert text == case.tarsplit


# --- encoder ---------------------------------------------------------------------------------------------


def raw(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def encode_all(calls: list[tuple[Any, ...]]) -> list[bytes]:
    blocks: list[bytes] = []
    with TarSplitEncoder(blocks.append) as encoder:
        for call in calls:
            if len(call) == 1:
                encoder.add_segment(call[0])
            else:
                encoder.add_file(*call)
        encoder.flush()
    return b"".join(blocks).splitlines(keepends=True)


def test_encoder_lines() -> None:
    hello = slow_crc64(b"hello").to_bytes(8, "big")
    lines = encode_all([
        (b"",),
        (b"abc",),
        ("d/", 0, None),
        ("d/a", 5, hello),
        (raw(b"hi\xff"), 0, None),
        ("", 0, None),
        ("a<b>&\b\f\u2028é", 0, None),
        (b"\0" * 1000,),
    ])
    assert lines[:6] == [
        b'{"type":2,"payload":"YWJj","position":0}\n',
        b'{"type":1,"name":"d/","payload":null,"position":1}\n',
        b'{"type":1,"name":"d/a","size":5,"payload":"PD7u4tgQAAA=","position":2}\n',
        b'{"type":1,"name_raw":"aGn/","payload":null,"position":3}\n',
        b'{"type":1,"payload":null,"position":4}\n',
        b'{"type":1,"name":"a\\u003cb\\u003e\\u0026\\b\\f\\u2028\xc3\xa9","payload":null,"position":5}\n',
    ]
    assert lines[6].startswith(b'{"type":2,"payload":"AAAA') and lines[6].endswith(b'=","position":6}\n')


def test_encoder_refuses_duplicates() -> None:
    lines: list[bytes] = []
    encoder = TarSplitEncoder(lines.append)
    encoder.add_file("d/file", 0, None)
    with pytest.raises(UnsupportedTarError, match="duplicate path"):
        encoder.add_file("./d//file", 0, None)
    encoder.flush()
    assert encoder.position == 1 and b"".join(lines).count(b"\n") == 1
    encoder.add_file("é", 0, None)
    with pytest.raises(UnsupportedTarError, match="duplicate path"):
        encoder.add_file("\udcc3\udca9", 0, None)  # the same bytes
    encoder.add_file("d/", 0, None)  # "d/" cleans to "d", distinct from "d/file"
    with pytest.raises(UnsupportedTarError):
        encoder.add_file("d", 0, None)


def test_encoder_argument_checks() -> None:
    encoder = TarSplitEncoder(lambda line: None)
    with pytest.raises(UnsupportedTarError, match="negative size"):
        encoder.add_file("neg", -1, None)
    with pytest.raises(ValueError):
        encoder.add_file("a", 5, None)
    with pytest.raises(ValueError):
        encoder.add_file("b", 0, bytes(8))
    with pytest.raises(ValueError):
        encoder.add_file("c", 5, bytes(7))
    assert encoder.position == 0 and encoder.uncompressed_size == 0


def test_duplicate_paths_in_a_tar() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name in ("d/file", "./d//file"):
            tf.addfile(tarfile.TarInfo(name))
    with pytest.raises(UnsupportedTarError, match="duplicate"):
        convert(TarReader(io.BytesIO(buf.getvalue())))


def test_non_utf8_names_use_name_raw() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:
        info = tarfile.TarInfo(raw(b"bad\xff/n\xc3\xa9" + b"x" * 120))
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    data = buf.getvalue()
    text, payloads, _ = convert(TarReader(io.BytesIO(data)))
    assert b'"name_raw":' in text and b'"name":' not in text
    (entry,) = [e for e in iter_tarsplit(io.BytesIO(text)) if e.type == 1]
    assert entry.name is None and entry.raw_name == b"bad\xff/n\xc3\xa9" + b"x" * 120
    assert reassemble(text, payloads) == data


# --- decoder --------------------------------------------------------------------------------------------


def decode(text: bytes, **kw: int) -> list[TarSplitEntry]:
    return list(iter_tarsplit(io.BytesIO(text), **kw))


ZERO_CRC = '"AAAAAAAAAAA="'


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[]",
        "null",
        '"text"',
        "5",
        '{"type":2,"payload":"YWJj","position":0',
        '{"type":2,"payload":"YWJj"} {"type":2}',
        '{"type":true}',
        '{"type":1.0}',
        '{"type":1e0}',
        '{"type":"2"}',
        '{"type":3,"position":0}',
        '{"type":0}',
        '{"position":0}',
        '{"type":2,"payload":"YWJ"}',
        '{"type":2,"payload":"YW Jj"}',
        '{"type":2,"payload":"YWJj=="}',
        '{"type":2,"payload":"YQ==YQ=="}',
        '{"type":2,"payload":"é"}',
        '{"type":2,"payload":5}',
        '{"type":2,"payload":["YWJj"]}',
        '{"type":2,"payload":NaN}',
        '{"type":2,"payload":"YWJj","position":Infinity}',
        '{"type":1,"name":"a","size":-1,"payload":null}',
        '{"type":1,"name":"a","size":5,"payload":null}',
        '{"type":1,"name":"a","size":5,"payload":"YWJj"}',
        '{"type":1,"name":5}',
        '{"type":1,"name_raw":"%%%"}',
        '{"type":1,"size":9223372036854775808,"payload":' + ZERO_CRC + "}",
        '{"type":2,"payload":"YWJj","position":1.5}',
        '{"type":2,"name":"\x01"}',
        '{"x":' + "[" * 100000 + "]" * 100000 + ',"type":2}',
    ],
)
def test_decoder_rejects(line: str) -> None:
    with pytest.raises(FormatError):
        decode(line.encode() + b"\n")


def test_decoder_go_semantics() -> None:
    text = "\n".join([
        '{"TYPE":2,"Payload":"YWJj","POSITION":3}',
        '{"type":1,"name":"a","\u017fize":5,"payload":' + ZERO_CRC + "}",  # U+017F folds to 's'
        '{"type":2,"payload":"YWJj","extra":[1,{"a":null}],"type":2}',
        '{"type":1,"name":"b","size":5,"size":null,"payload":' + ZERO_CRC + "}",  # null keeps 5
        '{"type":2,"payload":"YWJj","payload":null}',  # null resets a []byte
        '{"type":2,"payload":"YW\\nJj"}',  # Go's base64 skips newlines
        '{"type":1,"name":"first","name":"second"}',
        "",
        "   \t",
        '{"type":1,"name":"c","size":0,"payload":"aWdub3JlZA=="}',  # ignored for empty files
        '  {"type":2,"payload":"eHl6"}  \r',
        '{"type":2,"payload":"cQ=="}',  # last line without a newline
    ]).encode()
    entries = decode(text)
    assert [(e.type, e.name, e.size, e.payload, e.position) for e in entries] == [
        (2, None, 0, b"abc", 3),
        (1, "a", 5, bytes(8), 0),
        (2, None, 0, b"abc", 0),
        (1, "b", 5, bytes(8), 0),
        (2, None, 0, b"", 0),
        (2, None, 0, b"abc", 0),
        (1, "second", 0, None, 0),
        (1, "c", 0, b"ignored", 0),
        (2, None, 0, b"xyz", 0),
        (2, None, 0, b"q", 0),
    ]
    assert tar_size_from_entries(entries) == 3 + 5 + 3 + 5 + 0 + 3 + 0 + 0 + 3 + 1


def test_decoder_invalid_utf8_names_become_replacement_characters() -> None:
    (entry,) = decode(b'{"type":1,"name":"a\xffb\\ud800c"}\n')
    assert entry.name == "a\ufffdb\ufffdc"
    assert entry.raw_name == "a\ufffdb\ufffdc".encode()


def test_decoder_duplicates() -> None:
    with pytest.raises(FormatError, match="duplicate path"):
        decode(b'{"type":1,"name":"d/file"}\n{"type":1,"name":"./d//file"}\n')
    with pytest.raises(FormatError, match="duplicate path"):
        decode(b'{"type":1,"name":"ab"}\n{"type":1,"name_raw":"YWI="}\n')
    # Segments never count, and name_raw wins over name.
    entries = decode(b'{"type":2,"name":"x","payload":""}\n{"type":1,"name":"x","name_raw":"eQ=="}\n'
                     b'{"type":1,"name":"x"}\n')
    assert [e.raw_name for e in entries[1:]] == [b"y", b"x"]
    with pytest.raises(FormatError, match="duplicate"):
        decode(b'{"type":1,"name":"x","name_raw":"eQ=="}\n{"type":1,"name":"y"}\n')


def test_decoder_line_limit() -> None:
    line = b'{"type":2,"payload":"' + b"A" * 96 + b'"}\n'
    assert len(decode(line * 3, max_line=len(line))) == 3
    with pytest.raises(LimitExceededError):
        decode(line, max_line=len(line) - 1)
    with pytest.raises(LimitExceededError):
        decode(line[:-1], max_line=len(line) - 2)
    big = b'{"type":2,"payload":"' + b"A" * 300_000 + b'"}\n'
    assert len(decode(big * 2)) == 2


def test_tar_size_rejects_unknown_types() -> None:
    with pytest.raises(FormatError):
        tar_size_from_entries([TarSplitEntry(type=3, name=None, name_raw=None, size=0, payload=None, position=0)])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_decoder_never_crashes(data: bytes) -> None:
    try:
        decode(data, max_line=200)
    except (FormatError, LimitExceededError):
        pass


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([
    b'{"type":2,"payload":"YWJj","position":0}', b'{"type":1,"name":"a","payload":null}', b'{"TYPE":1,',
    b'"size":5', b'"payload":"AAAAAAAAAAA="', b"null", b"}", b"\n", b",", b'"name_raw":"YQ=="', b"\xff",
])))
def test_decoder_never_crashes_on_fragments(parts: list[bytes]) -> None:
    try:
        decode(b"".join(parts))
    except (FormatError, LimitExceededError):
        pass


# --- round trips with Python's tarfile ----------------------------------------------------------------


@pytest.mark.parametrize(
    "tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT], ids=["pax", "gnu", "ustar"]
)
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
@given(data=st.data())
def test_tarfile_round_trip(tar_format: int, data: st.DataObject) -> None:
    members = data.draw(tar_members(tar_format))
    try:
        blob = build_tar(members, tar_format)
    except ValueError:
        assume(False)
        return
    piece: Optional[int] = data.draw(st.sampled_from([1 << 20, 512, 4099, 61]))
    assert piece is not None
    text, payloads, headers = convert(TarReader(ShortReads(blob, piece), read_size=8192))
    assert reassemble(text, payloads) == blob
    assert tar_size_from_entries(iter_tarsplit(io.BytesIO(text))) == len(blob)
    assert len(headers) == len(members)
    for hdr, info in zip(headers, members):
        assert_header_matches(hdr, info)


# --- the decoder's fast path for canonical lines agrees with the general path ------------------


_NAMES = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=8) | st.sampled_from(
    ["a", "dir/file", "with space", 'q"uote', "back\\slash", "\x7f", "\u00e9", "x/../y"])


@st.composite
def _tarsplit_documents(draw: Any) -> bytes:
    lines: list[bytes] = []
    enc = TarSplitEncoder(lines.append)
    for i in range(draw(st.integers(0, 12))):
        if draw(st.booleans()):
            enc.add_segment(draw(st.binary(min_size=1, max_size=40)))
        else:
            size = draw(st.sampled_from([0, 1, 7, 1 << 40]))
            try:
                enc.add_file(draw(_NAMES) + f"#{i}", size, draw(st.binary(min_size=8, max_size=8)) if size else None)
            except UnsupportedTarError:
                pass
    out = []
    for line in lines:  # mutations that only the general path may accept
        kind = draw(st.sampled_from(["keep"] * 6 + ["crlf", "space", "upper", "blank", "badpad", "nocrc",
                                                    "zeropos", "size0", "twice", "nonl", "pad2", "neg"]))
        if kind == "crlf":
            line = line[:-1] + b"\r\n"
        elif kind == "space":
            line = b" " + line
        elif kind == "upper":
            line = line.replace(b'"type"', b'"TYPE"')
        elif kind == "blank":
            line = b"\n" + line
        elif kind == "badpad":
            line = line.replace(b'=",', b'",', 1)
        elif kind == "nocrc":
            line = line.replace(b',"payload":"', b',"payload":null,"x":"', 1)
        elif kind == "zeropos":  # JSON has no leading zeros
            line = line.replace(b'"position":', b'"position":0', 1)
        elif kind == "size0":
            line = line.replace(b'"payload":null', b'"size":0,"payload":null', 1)
        elif kind == "twice":  # a file line again is a duplicate path
            line = line + line
        elif kind == "nonl":
            line = line[:-1]
        elif kind == "pad2":  # a 12-character CRC with two '=': 7 bytes
            line = line.replace(b'=",', b'==",', 1).replace(b'A==",', b'==",', 1)
        elif kind == "neg":
            line = line.replace(b'"position":', b'"position":-', 1)
        out.append(line)
    return b"".join(out)


def _outcome(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (FormatError, LimitExceededError) as exc:
        return type(exc)


def _general_path(doc: bytes) -> list[TarSplitEntry]:
    """Every line decoded by the strict general decoder alone (the oracle of the C fast path)."""
    from zstd_chunked import tarsplit

    seen: set[str] = set()
    entries = []
    lines = doc.split(b"\n")  # lines end at "\n" only (not at a lone "\r")
    if not lines[-1]:
        lines.pop()  # nothing after the last newline
    for no, line in enumerate(lines, start=1):
        entry = tarsplit._general_entry(line, no)
        if entry is None:
            continue
        if entry.type == 1:
            key = tarsplit.go_clean_path(entry.raw_name.decode("utf-8", "surrogateescape"))
            if key in seen:
                raise FormatError("duplicate")
            seen.add(key)
        entries.append(entry)
    return entries


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_tarsplit_documents(), st.integers(1, 64))
def test_fast_path_equals_general_path(doc: bytes, piece: int) -> None:
    expected = _outcome(lambda: _general_path(doc))
    assert _outcome(lambda: list(iter_tarsplit(ShortReads(doc, piece)))) == expected
    assert _outcome(lambda: list(iter_tarsplit(io.BytesIO(doc)))) == expected
    assert _outcome(lambda: list(iter_tarsplit(io.BytesIO(doc), fast=False))) == expected


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_tarsplit_documents(), st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(min_size=1, max_size=3)),
                                       min_size=1, max_size=4))
def test_fast_path_equals_general_path_on_damaged_lines(doc: bytes, flips: list[tuple[int, bytes]]) -> None:
    # a few bytes overwritten anywhere: whatever the C scanner accepts must be what Go's rules give
    data = bytearray(doc)
    for at, new in flips:
        if data:
            at %= len(data)
            data[at:at + len(new)] = new
    damaged = bytes(data)
    assert _outcome(lambda: list(iter_tarsplit(io.BytesIO(damaged)))) == _outcome(lambda: _general_path(damaged))


def test_more_lines_than_one_scan_takes() -> None:
    # the C scanner stops after TarSplitScan.CAP lines and is called again; a line it leaves to
    # the general path (CRLF) sits between two full scans, and a duplicate comes at the very end
    lines: list[bytes] = []
    enc = TarSplitEncoder(lines.append)
    for i in range(6000):
        enc.add_segment(bytes([i % 256]) * (1 + i % 700))
        enc.add_file(f"dir{i % 7}/file{i}", i % 3, (i * 7919).to_bytes(8, "big") if i % 3 else None)
    enc.flush()
    doc = b"".join(lines).split(b"\n")
    doc[4200] += b"\r"
    text = b"\n".join(doc)
    entries = list(iter_tarsplit(io.BytesIO(text)))
    assert entries == _general_path(text)
    assert len(entries) == 12000 and entries[-1].name == "dir0/file5999" and entries[-1].position == 11999
    again = text + b'{"type":1,"name":"./dir0//file5999","payload":null,"position":12000}\n'
    with pytest.raises(FormatError, match="line 12001: duplicate path 'dir0/file5999'"):
        list(iter_tarsplit(io.BytesIO(again)))
