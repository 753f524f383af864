"""CRC-64, versions, error naming."""

from __future__ import annotations

import random

import pytest

from zstd_chunked import _native
from zstd_chunked._native import crc64, error_name, zstd_version, zstd_version_number

# FORMAT.md 3.3 (first four from tar-split's tests)
CRC_VECTORS = [
    (b"foo", "3c3c303000000000"),
    (b"bar", "2dc416f000000000"),
    (b"baz", "204416f000000000"),
    (b"bif", "300996f000000000"),
    (b"imma hurr til I derp", "0274a4b1abec6b4e"),
    ("café con leche, por favor".encode(), "7e4859efe6fca0bb"),
    (b"123456789", "b90956c775a41001"),
    (b"hello", "3c3eeee2d8100000"),
]


def crc64_bitwise(data: bytes, crc: int = 0) -> int:
    crc ^= 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xD800000000000000 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFFFFFFFFFF


@pytest.mark.parametrize(("data", "hexdigest"), CRC_VECTORS)
def test_crc64_vectors(data: bytes, hexdigest: str) -> None:
    assert crc64(data).to_bytes(8, "big").hex() == hexdigest
    assert crc64_bitwise(data).to_bytes(8, "big").hex() == hexdigest


def test_crc64_chaining_and_lengths() -> None:
    rng = random.Random(0)
    data = rng.randbytes(5000)
    for n in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 5000]:
        assert crc64(data[:n]) == crc64_bitwise(data[:n])
        for cut in (0, min(1, n), n // 3, n):
            assert crc64(data[cut:n], crc64(data[:cut])) == crc64(data[:n])
    assert crc64(b"") == 0
    assert crc64(memoryview(data)[3:]) == crc64(data[3:])
    assert crc64(bytearray(b"foo")) == crc64(b"foo")
    with pytest.raises(ValueError):
        crc64(b"x", -1)


def test_versions() -> None:
    v = zstd_version()
    major, minor, patch = (int(x) for x in v.split("."))
    assert zstd_version_number() == major * 10000 + minor * 100 + patch >= 10400


def test_error_names_are_stable() -> None:
    lib = _native.lib
    assert error_name(0) == "ZCK_OK"
    assert error_name(lib.ZCK_E_NOMEM) == "ZCK_E_NOMEM"
    assert error_name(12345) == "ZCK_E_UNKNOWN"
    # The numbers are API: they must never change.
    assert (lib.ZCK_E_NOMEM, lib.ZCK_E_BUSY, lib.ZCK_E_FOOTER_MAGIC, lib.ZCK_E_FRAME_GARBAGE,
            lib.ZCK_E_DATA_TRUNCATED, lib.ZCK_E_WINDOW_TOO_LARGE) == (1, 4, 22, 40, 60, 63)
    names = {n: getattr(lib, n) for n in dir(lib) if n.startswith("ZCK_E_")}
    for name, code in names.items():
        assert error_name(code) == name
    assert len(set(names.values())) == len(names)


# -- CRC-64 implementations --------------------------------------------------------------------


def test_crc64_implementations_agree() -> None:
    """The PCLMULQDQ folding path and the tables give the same CRC at every length and alignment."""
    rng = random.Random(11)
    data = rng.randbytes(5000)
    impls = ["tables", "auto"] + (["clmul"] if _native.crc64_implementation() == "clmul" else [])
    for start in range(0, 20, 7):
        for length in list(range(0, 300)) + [511, 512, 513, 1024 + 15, 4096, 4977]:
            piece = memoryview(data)[start:start + length]
            init = rng.getrandbits(64)
            want = crc64(piece, init, impl="tables")
            assert [crc64(piece, init, impl=i) for i in impls] == [want] * len(impls), (start, length)
    # chaining across the folding threshold
    assert crc64(data[3000:], crc64(data[:3000])) == crc64(data, impl="tables")


def test_crc64_impl_errors() -> None:
    with pytest.raises(ValueError, match="impl"):
        crc64(b"x", impl="fast")
    if _native.crc64_implementation() == "tables":
        with pytest.raises(_native.NativeError):
            crc64(b"x" * 200, impl="clmul")
