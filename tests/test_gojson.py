"""Go-compatible JSON strings and times (zstd_chunked.gojson)."""

from __future__ import annotations

import datetime
import json

import pytest
import vectors_util
from hypothesis import given
from hypothesis import strategies as st

from zstd_chunked.errors import FormatError, UnsupportedTarError
from zstd_chunked.gojson import (
    encoding_json_string,
    go_string_bytes,
    go_time_rfc3339nano,
    is_valid_utf8,
    jsoniter_string,
    parse_rfc3339,
)


def raw(data: bytes) -> str:
    """A Go string holding ``data``, as this package represents it."""
    return data.decode("utf-8", "surrogateescape")


# --- string escaping -------------------------------------------------------------

COMMON_CASES = [
    ("", '""'),
    ("plain/path.txt", '"plain/path.txt"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("back\\slash", '"back\\\\slash"'),
    ("a\nb\rc\td", '"a\\nb\\rc\\td"'),
    ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
    ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
    ("line\u2028para\u2029", '"line\\u2028para\\u2029"'),
    ("café 名前 🚀 Ελληνικά", '"café 名前 🚀 Ελληνικά"'),
    ("del\x7f", '"del\x7f"'),
    ("'single' /slash/ =+", "\"'single' /slash/ =+\""),
    ("\u2027\u202a", '"\u2027\u202a"'),  # neighbours of the escaped separators stay raw
    (raw(b"bad\xffbyte"), '"bad\\ufffdbyte"'),
    (raw(b"\xff\xfe"), '"\\ufffd\\ufffd"'),
    (raw(b"trunc\xe2\x82"), '"trunc\\ufffd\\ufffd"'),
    (raw(b"\xe2\x82A"), '"\\ufffd\\ufffdA"'),
    (raw(b"\xc0\xaf"), '"\\ufffd\\ufffd"'),  # overlong '/'
    (raw(b"\xed\xa0\x80"), '"\\ufffd\\ufffd\\ufffd"'),  # encoded surrogate
    (raw(b"\xf4\x90\x80\x80"), '"\\ufffd\\ufffd\\ufffd\\ufffd"'),  # above U+10FFFF
    (raw(b"\xe2\x82\xe2\x82\xac<"), '"\\ufffd\\ufffd€\\u003c"'),
    ("\ud800", '"\\ufffd\\ufffd\\ufffd"'),  # a lone surrogate is three invalid bytes
    ("\ufffd", '"\ufffd"'),  # a real U+FFFD is valid UTF-8 and stays raw
]


@pytest.mark.parametrize(("text", "expected"), COMMON_CASES)
def test_jsoniter_string(text: str, expected: str) -> None:
    assert jsoniter_string(text) == expected


@pytest.mark.parametrize(("text", "expected"), COMMON_CASES)
def test_encoding_json_string_common(text: str, expected: str) -> None:
    assert encoding_json_string(text) == expected


def test_backspace_and_form_feed_differ() -> None:
    # json-iterator keeps the \u00XX form; encoding/json (Go >= 1.22) uses \b and \f.
    assert jsoniter_string("\b\f") == '"\\u0008\\u000c"'
    assert encoding_json_string("\b\f") == '"\\b\\f"'
    assert encoding_json_string(raw(b"\x08\xff\x0c")) == '"\\b\\ufffd\\f"'


def test_every_control_character() -> None:
    for code in range(0x20):
        ch = chr(code)
        short = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
        expected_iter = short.get(ch, f"\\u{code:04x}")
        expected_std = {**short, "\b": "\\b", "\f": "\\f"}.get(ch, f"\\u{code:04x}")
        assert jsoniter_string(ch) == f'"{expected_iter}"'
        assert encoding_json_string(ch) == f'"{expected_std}"'


def test_go_string_bytes_and_validity() -> None:
    assert go_string_bytes(raw(b"a\xffb")) == b"a\xffb"
    assert go_string_bytes("é") == b"\xc3\xa9"
    assert go_string_bytes("\ud800" + raw(b"\xff")) == b"\xed\xa0\x80\xff"
    assert is_valid_utf8("é🚀")
    assert not is_valid_utf8(raw(b"\xff"))
    # Escaped bytes that happen to form valid UTF-8 are valid, as Go sees bytes.
    assert is_valid_utf8("\udcc3\udca9")
    assert jsoniter_string("\udcc3\udca9") == '"é"'


def test_vector_names_escape_like_the_reference() -> None:
    case = vectors_util.get_case("py-pax-long-unicode")
    assert case.tarsplit is not None
    name = 'unicode/json-special-&<>-"quote"-back\\slash-\u2028.txt'
    escaped = '"unicode/json-special-\\u0026\\u003c\\u003e-\\"quote\\"-back\\\\slash-\\u2028.txt"'
    assert encoding_json_string(name) == escaped
    assert jsoniter_string(name) == escaped
    assert b'"name":' + escaped.encode() in case.tarsplit
    assert b'"name":' + escaped.encode() in case.toc_raw
    for other in ("unicode/ünïcødé-名前-🚀.txt", "unicode/link-→-target"):
        assert b'"name":' + encoding_json_string(other).encode() in case.tarsplit
        assert b'"name":' + jsoniter_string(other).encode() in case.toc_raw


@given(st.text())
def test_valid_text_round_trips_through_json(text: str) -> None:
    for encode in (jsoniter_string, encoding_json_string):
        out = encode(text)
        assert not any(ch in out for ch in "\u2028\u2029<>&")
        assert not any(ch < " " for ch in out)
        assert json.loads(out) == text


@given(st.binary(max_size=64))
def test_each_invalid_byte_becomes_one_replacement(data: bytes) -> None:
    text = raw(data)
    out = jsoniter_string(text)
    decoded = json.loads(out)
    invalid_bytes = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    assert decoded.count("\ufffd") == invalid_bytes + text.count("\ufffd")
    # Dropping the replacements leaves exactly the valid characters, in order.
    assert decoded.replace("\ufffd", "") == "".join(
        ch for ch in text if not "\udc80" <= ch <= "\udcff" and ch != "\ufffd"
    )


# --- times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (0, 0, "1970-01-01T00:00:00Z"),
        (1700000000, 0, "2023-11-14T22:13:20Z"),
        (0, 500_000_000, "1970-01-01T00:00:00.5Z"),
        (0, 1, "1970-01-01T00:00:00.000000001Z"),
        (0, 120, "1970-01-01T00:00:00.00000012Z"),
        (1350266320, 910238425, "2012-10-15T01:58:40.910238425Z"),
        (-1, 0, "1969-12-31T23:59:59Z"),
        (-1, 500_000_000, "1969-12-31T23:59:59.5Z"),
        (0, -1, "1969-12-31T23:59:59.999999999Z"),  # normalised like time.Unix
        (0, 1_500_000_000, "1970-01-01T00:00:01.5Z"),
        (-86400 * 365, 0, "1969-01-01T00:00:00Z"),
        (951782400, 0, "2000-02-29T00:00:00Z"),
        (-2208988800, 0, "1900-01-01T00:00:00Z"),
        (-62135596800, 0, "0001-01-01T00:00:00Z"),
        (-62167219200, 0, "0000-01-01T00:00:00Z"),
        (-62162035200, 0, "0000-03-01T00:00:00Z"),  # year 0 is a leap year
        (253402300799, 999_999_999, "9999-12-31T23:59:59.999999999Z"),
    ],
)
def test_go_time(seconds: int, nanos: int, expected: str) -> None:
    assert go_time_rfc3339nano(seconds, nanos) == expected


@pytest.mark.parametrize("seconds", [253402300800, -62167219201, 1 << 62, -(1 << 62)])
def test_go_time_out_of_range(seconds: int) -> None:
    with pytest.raises(UnsupportedTarError, match="year"):
        go_time_rfc3339nano(seconds, 0)


@given(st.datetimes(min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31, 23, 59, 59)),
       st.integers(0, 999_999_999))
def test_go_time_matches_datetime(moment: datetime.datetime, nanos: int) -> None:
    moment = moment.replace(microsecond=0, tzinfo=datetime.timezone.utc)
    seconds = int((moment - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds())
    text = go_time_rfc3339nano(seconds, nanos)
    assert text.startswith(moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0"))
    assert parse_rfc3339(text) == (seconds, nanos)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01T00:00:00Z", (0, 0)),
        ("2023-11-14T22:13:20Z", (1700000000, 0)),
        ("2023-11-14T23:13:20+01:00", (1700000000, 0)),
        ("2022-01-07T12:36:43+01:00", (1641555403, 0)),
        ("2023-11-14T14:43:20-07:30", (1700000000, 0)),
        ("1970-01-01T00:00:00.5Z", (0, 500_000_000)),
        ("1970-01-01T00:00:00,5Z", (0, 500_000_000)),  # Go's general parser takes ','
        ("1970-01-01T00:00:00.1234567891Z", (0, 123_456_789)),  # digits past 9 are dropped
        ("1970-01-01T0:00:00Z", (0, 0)),  # and a one-digit hour
        ("1970-01-01T00:00:00+24:00", (-86400, 0)),  # offsets are range-checked with >
        ("1970-01-01T00:00:00-00:60", (3600, 0)),
        ("0001-01-01T00:00:00Z", (-62135596800, 0)),
        ("0000-01-01T00:00:00Z", (-62167219200, 0)),
        ("9999-12-31T23:59:59.999999999Z", (253402300799, 999_999_999)),
        ("2024-02-29T00:00:00Z", (1709164800, 0)),
    ],
)
def test_parse_rfc3339(text: str, expected: tuple[int, int]) -> None:
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2023-11-14",
        "2023-11-14T22:13:20",
        "2023-11-14t22:13:20Z",
        "2023-11-14T22:13:20z",
        "2023-11-14 22:13:20Z",
        "2023-13-01T00:00:00Z",
        "2023-00-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2023-04-31T00:00:00Z",
        "2023-01-00T00:00:00Z",
        "2023-01-01T24:00:00Z",
        "2023-01-01T00:60:00Z",
        "2023-01-01T00:00:60Z",
        "2023-01-01T000:00:00Z",
        "2023-01-01T00:00:00.Z",
        "2023-01-01T00:00:00+25:00",
        "2023-01-01T00:00:00+00:61",
        "2023-01-01T00:00:00+1:00",
        "2023-01-01T00:00:00+0100",
        "2023-01-01T00:00:00ZZ",
        "2023-01-01T00:00:00Z ",
        " 2023-01-01T00:00:00Z",
        "+023-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "２０２３-01-01T00:00:00Z",
        "2023-01-01T00:00:00.１Z",
    ],
)
def test_parse_rfc3339_rejects(text: str) -> None:
    with pytest.raises(FormatError):
        parse_rfc3339(text)


@given(st.integers(-62167219200, 253402300799), st.integers(0, 999_999_999))
def test_time_round_trip(seconds: int, nanos: int) -> None:
    assert parse_rfc3339(go_time_rfc3339nano(seconds, nanos)) == (seconds, nanos)
