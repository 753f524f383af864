"""Footer and skippable-header encoding/decoding (FORMAT.md 1.5-1.7)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from zstd_chunked._native import FooterInfo, build_footer, parse_footer, skippable_header
from zstd_chunked.errors import FormatError, LimitExceededError

SKIP = b"\x50\x2a\x4d\x18"


def footer_of(path: Path) -> FooterInfo:
    data = path.read_bytes()
    return parse_footer(data[-72:], len(data))


def test_skippable_header() -> None:
    assert skippable_header(0) == SKIP + b"\0\0\0\0"
    assert skippable_header(64) == SKIP + b"\x40\0\0\0"
    assert skippable_header(0xFFFFFFFF) == SKIP + b"\xff\xff\xff\xff"
    with pytest.raises(LimitExceededError):
        skippable_header(1 << 32)
    with pytest.raises(ValueError):
        skippable_header(-1)


def test_build_footer_layout() -> None:
    out = build_footer(1000, 200, 900, 1208, 50, 300)
    assert len(out) == 72
    assert out[:8] == SKIP + b"\x40\0\0\0"
    assert struct.unpack("<7Q", out[8:64]) == (1000, 200, 900, 1, 1208, 50, 300)
    assert out[64:] == b"GNUlInUx"


def test_round_trip() -> None:
    # blob: [data 1000][skip hdr][toc 200][skip hdr][tarsplit 50][footer frame 72]
    toc_off, ts_off = 1008, 1216
    blob_size = ts_off + 50 + 72
    info = parse_footer(build_footer(toc_off, 200, 900, ts_off, 50, 300), blob_size)
    assert info == FooterInfo(3, toc_off, 200, 900, 1, ts_off, 50, 300, blob_size - 72)
    assert info.has_tarsplit


def test_round_trip_without_tarsplit() -> None:
    info = parse_footer(build_footer(8, 10, 20, 0, 0, 0), 8 + 10 + 72)
    assert (info.version, info.tarsplit_offset, info.has_tarsplit) == (3, 0, False)


def test_longer_tail_is_fine() -> None:
    blob = bytes(100) + build_footer(8, 92, 1, 0, 0, 0)
    assert parse_footer(blob, len(blob)).toc_length == 92


def _vector_blobs() -> list[Path]:
    here = Path(__file__).resolve().parent.parent
    paths = sorted((here / "vectors").glob("*.zst")) + sorted((here / "vectors" / "old-format").glob("*.zst"))
    shared = here.parent.parent / "shared" / "vectors"
    for name in ("py-large.zst", "realistic-python311-stdlib.zst"):
        if (shared / name).is_file():
            paths.append(shared / name)
    return paths


@pytest.mark.parametrize("path", _vector_blobs(), ids=lambda p: p.name)
def test_vector_footers(path: Path) -> None:
    import json

    expected = json.loads(path.with_name(path.name[: -len(".zst")] + ".expected.json").read_text())["footer"]
    info = footer_of(path)
    assert info.toc_offset == expected["manifest_offset"]
    assert info.toc_length == expected["manifest_length_compressed"]
    assert info.toc_uncompressed == expected["manifest_length_uncompressed"]
    assert info.manifest_type == 1
    assert info.frame_offset == expected["frame_offset"]
    if expected["format"] == "v1-40":
        assert info.version == 1
        assert (info.tarsplit_offset, info.tarsplit_length, info.tarsplit_uncompressed) == (0, 0, 0)
    else:
        assert info.version == 3
        assert info.tarsplit_offset == expected["tarsplit_offset"]
        assert info.tarsplit_length == expected["tarsplit_length_compressed"]
        assert info.tarsplit_uncompressed == expected["tarsplit_length_uncompressed"]


def _v1(toc_off: int, toc_len: int, toc_unc: int, mtype: int = 1) -> bytes:
    return SKIP + struct.pack("<I", 40) + struct.pack("<4Q", toc_off, toc_len, toc_unc, mtype) + b"GnUlInUx"


def _v2(toc_off: int, toc_len: int, toc_unc: int) -> bytes:
    return SKIP + struct.pack("<I", 56) + struct.pack("<4Q", toc_off, toc_len, toc_unc, 1) + b"GnUlInUx" + bytes(16)


def test_v1_and_v2_footers() -> None:
    blob = bytes(8) + bytes(30) + _v1(8, 30, 99)
    info = parse_footer(blob[-72:], len(blob))
    assert (info.version, info.toc_offset, info.toc_length, info.frame_offset) == (1, 8, 30, 38)
    blob = bytes(8) + bytes(30) + _v2(8, 30, 99)
    info = parse_footer(blob[-72:], len(blob))
    assert (info.version, info.toc_length, info.frame_offset) == (2, 30, 38)
    # short blobs: the whole blob is the tail
    blob = bytes(8) + bytes(1) + _v1(8, 1, 1)
    assert parse_footer(blob, len(blob)).version == 1


def _v3(*fields: int, magic: bytes = b"GNUlInUx", size: int = 64, smagic: bytes = SKIP) -> bytes:
    return smagic + struct.pack("<I", size) + struct.pack("<7Q", *fields) + magic


GOOD = (1008, 200, 900, 1, 1216, 50, 300)
BLOB = 1216 + 50 + 72


@pytest.mark.parametrize(
    ("fields", "blob_size", "kw", "error"),
    [
        (GOOD, BLOB, {"magic": b"GNUlInUX"}, "ZCK_E_FOOTER_MAGIC"),
        (GOOD, BLOB, {"size": 56}, "ZCK_E_FOOTER_FRAME"),
        (GOOD, BLOB, {"smagic": b"\x28\xb5\x2f\xfd"}, "ZCK_E_FOOTER_FRAME"),
        ((1008, 200, 900, 2, 1216, 50, 300), BLOB, {}, "ZCK_E_FOOTER_MANIFEST_TYPE"),
        ((1008, 0, 900, 1, 1216, 50, 300), BLOB, {}, "ZCK_E_FOOTER_TOC_EMPTY"),
        ((4, 200, 900, 1, 1216, 50, 300), BLOB, {}, "ZCK_E_FOOTER_TOC_OFFSET"),
        ((1008, BLOB, 900, 1, 0, 0, 0), BLOB, {}, "ZCK_E_FOOTER_TOC_RANGE"),
        ((2**64 - 8, 200, 900, 1, 1216, 50, 300), BLOB, {}, "ZCK_E_FOOTER_TOC_RANGE"),
        ((1008, 2**64 - 1000, 900, 1, 0, 0, 0), BLOB, {}, "ZCK_E_FOOTER_TOC_RANGE"),
        ((1008, 200, 900, 1, 0, 50, 300), BLOB, {}, "ZCK_E_FOOTER_TARSPLIT_PARTIAL"),
        ((1008, 200, 900, 1, 1216, 0, 300), BLOB, {}, "ZCK_E_FOOTER_TARSPLIT_PARTIAL"),
        ((1008, 200, 900, 1, 0, 0, 300), BLOB, {}, "ZCK_E_FOOTER_TARSPLIT_PARTIAL"),
        ((1008, 200, 900, 1, 7, 50, 300), BLOB, {}, "ZCK_E_FOOTER_TARSPLIT_OFFSET"),
        ((1008, 200, 900, 1, 1216, 51, 300), BLOB, {}, "ZCK_E_FOOTER_TARSPLIT_RANGE"),
        ((1008, 200, 900, 1, 2**64 - 1, 2, 300), BLOB, {}, "ZCK_E_FOOTER_TARSPLIT_RANGE"),
        ((1008, 200, 900, 1, 1200, 50, 300), BLOB, {}, "ZCK_E_FOOTER_OVERLAP"),
        ((1008, 200, 900, 1, 1008, 200, 300), BLOB, {}, "ZCK_E_FOOTER_OVERLAP"),
        ((1100, 100, 900, 1, 1008, 90, 300), BLOB, {}, "ZCK_E_FOOTER_OVERLAP"),
    ],
)
def test_malformed_v3(fields: tuple[int, ...], blob_size: int, kw: dict[str, bytes], error: str) -> None:
    tail = _v3(*fields, **kw)  # type: ignore[arg-type]
    with pytest.raises(FormatError, match=error):
        parse_footer(tail, blob_size)


def test_good_v3_passes() -> None:
    assert parse_footer(_v3(*GOOD), BLOB).version == 3
    # tar-split before the TOC is allowed as long as they do not overlap
    assert parse_footer(_v3(1100, 100, 9, 1, 1008, 84, 9), BLOB).tarsplit_offset == 1008


def test_malformed_old_footers() -> None:
    with pytest.raises(FormatError, match="ZCK_E_FOOTER_MANIFEST_TYPE"):
        parse_footer(bytes(24) + _v1(8, 10, 10, mtype=0), 100)
    with pytest.raises(FormatError, match="ZCK_E_FOOTER_TOC_RANGE"):
        parse_footer(bytes(24) + _v1(8, 60, 10), 100)
    bad_v2 = bytearray(_v2(8, 10, 10))
    bad_v2[-1] = 1  # v2 padding must be zero: then no footer is recognised
    with pytest.raises(FormatError, match="ZCK_E_FOOTER_MAGIC"):
        parse_footer(bytes(8) + bytes(bad_v2), 200)
    wrong_size = bytearray(_v1(8, 10, 10))
    wrong_size[4] = 64
    with pytest.raises(FormatError, match="ZCK_E_FOOTER_FRAME"):
        parse_footer(bytes(24) + bytes(wrong_size), 100)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 47])
def test_too_short(size: int) -> None:
    with pytest.raises(FormatError, match="ZCK_E_FOOTER_(TRUNCATED|MAGIC)"):
        parse_footer(bytes(size), size)


def test_short_blob_with_v3_magic() -> None:
    blob = bytes(40) + b"GNUlInUx"
    with pytest.raises(FormatError, match="ZCK_E_FOOTER_TRUNCATED"):
        parse_footer(blob, len(blob))


def test_tail_argument_checked() -> None:
    with pytest.raises(ValueError):
        parse_footer(bytes(10), 100)  # not the last 72 bytes
    with pytest.raises(ValueError):
        parse_footer(bytes(80), 72)  # longer than the blob


def test_garbage_never_crashes() -> None:
    import random

    rng = random.Random(3)
    for _ in range(3000):
        tail = bytearray(_v3(*GOOD))
        for _ in range(rng.randrange(1, 4)):
            tail[rng.randrange(72)] = rng.randrange(256)
        try:
            parse_footer(bytes(tail), rng.choice([72, BLOB, 2**64 - 1, 80]))
        except FormatError:
            pass
