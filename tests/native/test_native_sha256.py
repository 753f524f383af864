"""SHA-256 of the native core (portable C and SHA-NI) against FIPS vectors and hashlib."""

from __future__ import annotations

import hashlib
import random

import pytest

from zstd_chunked import _native
from zstd_chunked._native import sha256, sha256_implementation
from zstd_chunked.errors import NativeError

# FIPS 180-2 appendix B and the NIST example messages
FIPS_VECTORS = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
     b"ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]

HAVE_NI = sha256_implementation() == "shani"
IMPLS = [
    "portable",
    pytest.param("shani", marks=pytest.mark.skipif(not HAVE_NI, reason="no SHA extensions on this CPU/build")),
    "auto",
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize(("message", "hexdigest"), FIPS_VECTORS, ids=["empty", "abc", "448bit", "896bit", "million-a"])
def test_fips_vectors(impl: str, message: bytes, hexdigest: str) -> None:
    assert sha256(message, impl=impl).hex() == hexdigest


@pytest.mark.parametrize("impl", IMPLS)
def test_random_lengths_match_hashlib(impl: str) -> None:
    rng = random.Random(256)
    data = rng.randbytes(10_000)
    lengths = list(range(0, 300)) + [rng.randrange(10_001) for _ in range(300)] + [10_000]
    for n in lengths:
        assert sha256(data[:n], impl=impl) == hashlib.sha256(data[:n]).digest(), n
    # unaligned starts
    for start in range(1, 17):
        assert sha256(memoryview(data)[start:], impl=impl) == hashlib.sha256(data[start:]).digest()


@pytest.mark.parametrize("impl", IMPLS)
def test_64_mib(impl: str) -> None:
    data = random.Random(64).randbytes(64 << 20)
    assert sha256(data, impl=impl) == hashlib.sha256(data).digest()


def test_buffer_types() -> None:
    data = b"zstd:chunked " * 1000
    want = hashlib.sha256(data).digest()
    assert sha256(data) == sha256(bytearray(data)) == sha256(memoryview(data)) == want


def test_implementation_choice() -> None:
    assert sha256_implementation() in ("shani", "portable")
    if not HAVE_NI:
        with pytest.raises(NativeError, match="ZCK_E_UNSUPPORTED") as info:
            sha256(b"abc", impl="shani")
        assert info.value.code == _native.lib.ZCK_E_UNSUPPORTED
    with pytest.raises(ValueError, match="impl"):
        sha256(b"abc", impl="sha3")


def test_unsupported_code_is_stable() -> None:
    assert _native.lib.ZCK_E_UNSUPPORTED == 12
    assert _native.error_name(12) == "ZCK_E_UNSUPPORTED"
