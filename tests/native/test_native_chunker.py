"""The C chunker against the FORMAT.md vector, a Python model of the Go code, and the golden layers."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import tarfile
import threading

import pytest
from native_chunker_ref import cuts_to_chunks, reference_chunks, split_window

from zstd_chunked._native import Chunker
from zstd_chunked.errors import UsageError

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def chunk_all(data: bytes, pieces: list[int] | None = None) -> list[tuple[int, int, bool]]:
    """Chunk ``data`` fed in pieces of the given sizes (cycled), via the C chunker."""
    cuts = []
    with Chunker() as c:
        if not pieces:
            cuts += c.feed(data)
        else:
            pos = i = 0
            while pos < len(data):
                n = pieces[i % len(pieces)]
                i += 1
                cuts += c.feed(memoryview(data)[pos : pos + n])
                pos += n
        cuts += c.finish()
    return cuts_to_chunks(cuts)


def vector_payload() -> bytes:
    b = b"".join(hashlib.sha256(struct.pack(">I", i)).digest() for i in range(8192))
    return b[:100000] + bytes(5000) + b[100000:200000] + bytes(1000) + b[200000:]


VECTOR_CHUNKS = [
    (0, 73940, False),
    (73940, 26060, False),
    (100000, 5000, True),
    (105000, 40877, False),
    (145877, 10774, False),
    (156651, 45174, False),
    (201825, 66319, False),
]


def test_format_md_vector() -> None:
    payload = vector_payload()
    assert hashlib.sha256(payload).hexdigest() == "fb7211aaed3e5a8d9bae72d5e4913c1a47aa07075c730d918f5cb9657b582a70"
    assert chunk_all(payload) == VECTOR_CHUNKS
    assert chunk_all(payload, [1]) == VECTOR_CHUNKS
    assert chunk_all(payload, [7, 4096, 1, 65536, 63, 64, 65]) == VECTOR_CHUNKS


def test_format_md_vector_reference_model() -> None:
    assert reference_chunks(vector_payload()) == VECTOR_CHUNKS


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00",
        b"x",
        bytes(1023),
        bytes(1024),
        bytes(1025),
        bytes(100000),
        b"a" + bytes(1023),
        b"a" + bytes(1024),
        bytes(1024) + b"a",
        bytes(1023) + b"a",
        b"a" + bytes(1024) + b"b" + bytes(1023) + b"c" + bytes(1025),
    ],
    ids=lambda d: f"len{len(d)}",
)
def test_small_cases_match_model(data: bytes) -> None:
    expected = reference_chunks(data)
    assert chunk_all(data) == expected
    assert chunk_all(data, [1]) == expected
    assert chunk_all(data, [3, 1000]) == expected


def test_empty_file_has_no_chunks() -> None:
    with Chunker() as c:
        assert c.feed(b"") == []
        assert c.finish() == []


@pytest.mark.parametrize("zeros", [1, 2, 17, 40, 62])
@pytest.mark.parametrize("run", ["exact", "short", "long", "eof"])
def test_split_inside_zero_run(zeros: int, run: str) -> None:
    """A split point that falls on a zero byte counts only if the run stays below 1024."""
    rng = random.Random(zeros)
    head = bytes(rng.randrange(1, 256) for _ in range(300)) + split_window(zeros, zeros)
    length = {"exact": zeros, "short": 1023, "long": 1024 + zeros, "eof": zeros + 5}[run]
    tail = b"" if run == "eof" else bytes(rng.randrange(1, 256) for _ in range(200))
    data = head + bytes(length) + tail
    expected = reference_chunks(data)
    if run != "long":
        assert (len(head) + zeros) in {off + size for off, size, _z in expected}
    assert chunk_all(data) == expected
    assert chunk_all(data, [1]) == expected
    assert chunk_all(data, [len(head) + 1, 5]) == expected


def sparse_zero_data(seed: int, size: int) -> bytes:
    """Machine-code-like bytes: short runs of data and of zeros (the AVX2 path
    rolls those as data), now and then a zero run around the 32-byte block,
    window and hole sizes, and a split at the end of a short zero run."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        r = rng.random()
        if r < 0.45:
            out += bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40)))
        elif r < 0.9:
            out += bytes(rng.randrange(1, 8))
        elif r < 0.97:
            out += bytes(rng.choice([31, 32, 33, 63, 64, 65, 95, 96, 97, 1023, 1024, 1025]))
        else:
            zeros = rng.randrange(1, 63)
            out += split_window(zeros, rng.randrange(2**30)) + bytes(zeros)
    return bytes(out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sparse_zero_data_matches_model(seed: int) -> None:
    data = sparse_zero_data(seed, 300_000)
    expected = reference_chunks(data)
    assert len(expected) > 20
    assert chunk_all(data) == expected
    assert chunk_all(data, [1, 31, 32, 33, 64, 65, 4096]) == expected
    rng = random.Random(seed)
    assert chunk_all(data, [rng.randrange(1, 3000) for _ in range(50)]) == expected


def test_random_data_matches_model() -> None:
    rng = random.Random(1234)
    data = rng.randbytes(400_000)
    expected = reference_chunks(data)
    assert len(expected) > 2
    assert chunk_all(data) == expected
    assert chunk_all(data, [rng.randrange(1, 70000) for _ in range(50)]) == expected


SEGMENT = st.one_of(
    st.binary(min_size=1, max_size=3000),
    st.sampled_from([1, 2, 63, 64, 65, 100, 1000, 1022, 1023, 1024, 1025, 1100, 5000]).map(bytes),
    st.tuples(st.integers(1, 62), st.integers(0, 1000)).map(lambda t: split_window(*t)),
    st.integers(0, 2**32).map(lambda seed: random.Random(seed).randbytes(70000)),
    st.integers(0, 2**32).map(lambda seed: sparse_zero_data(seed, 5000)),
)


@settings(max_examples=60)
@given(
    segments=st.lists(SEGMENT, max_size=12),
    pieces=st.lists(st.integers(1, 70000), min_size=1, max_size=20),
)
def test_matches_model_any_pieces(segments: list[bytes], pieces: list[int]) -> None:
    data = b"".join(segments)
    expected = reference_chunks(data)
    assert chunk_all(data, pieces) == expected


@settings(max_examples=200)
@given(
    segments=st.lists(SEGMENT.filter(lambda s: len(s) < 10000), max_size=12),
    pieces=st.lists(st.integers(1, 5000), min_size=1, max_size=20),
)
def test_piece_boundaries_do_not_matter(segments: list[bytes], pieces: list[int]) -> None:
    data = b"".join(segments)
    assert chunk_all(data, pieces) == chunk_all(data)


def test_many_cuts_in_one_feed() -> None:
    """More cuts than the C output array holds in one call (the wrapper loops)."""
    rng = random.Random(5)
    unit = bytes(rng.randrange(1, 256) for _ in range(300)) + split_window(1, 3) + b"\x00" + b"\x01" * 10
    data = unit * 1200  # one split per unit
    chunks = chunk_all(data)
    assert len(chunks) >= 1200
    assert chunks == chunk_all(data, [70000, 1, 4096])
    assert chunks == reference_chunks(data)


def test_settled_tracks_pending_zero_run() -> None:
    with Chunker() as c:
        c.feed(b"abc")
        assert c.settled == 3 == c.position
        c.feed(bytes(500))
        assert c.settled == 3
        assert c.position == 503
        # Now 1100 zeros: a hole.  The data chunk before it is closed at once,
        # the hole itself stays open until a non-zero byte or EOF.
        assert c.feed(bytes(600)) == [(3, False)]
        assert c.settled == 3
        assert c.feed(b"z") == [(1103, True)]
        assert c.settled == c.position == 1104
        assert c.finish() == [(1104, False)]


def test_reset_starts_a_new_file() -> None:
    data = random.Random(9).randbytes(300000)
    with Chunker() as c:
        first = c.feed(data) + c.finish()
        c.reset()
        assert c.position == 0
        assert c.feed(data) + c.finish() == first


def test_feed_after_finish_is_refused() -> None:
    with Chunker() as c:
        c.feed(b"abc")
        c.finish()
        assert c.finish() == []
        with pytest.raises(UsageError, match="ZCK_E_STATE"):
            c.feed(b"more")


def test_close_and_context_manager() -> None:
    c = Chunker()
    with c:
        pass
    assert c.closed
    c.close()  # idempotent
    with pytest.raises(UsageError):
        c.feed(b"x")
    c2 = Chunker()
    with c2, pytest.raises(UsageError):
        c2.__enter__()


def test_concurrent_use_fails_loudly() -> None:
    c = Chunker()
    data = bytes(range(1, 256)) * 120_000  # ~30 MB, slow enough to overlap
    errors: list[BaseException] = []

    def work() -> None:
        try:
            c.feed(data)
        except UsageError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.close()
    assert len(errors) <= 1  # usually 1; 0 only if the calls did not overlap


def test_accepts_buffer_types() -> None:
    data = random.Random(2).randbytes(200000)
    expected = chunk_all(data)
    for buf in (bytearray(data), memoryview(data)):
        with Chunker() as c:
            assert cuts_to_chunks(c.feed(buf) + c.finish()) == expected


# ------------------------------------------------------------ golden layers


def _tar_bytes(case) -> bytes:  # type: ignore[no-untyped-def]
    if case.tar is not None:
        return case.tar_bytes()
    zstandard = pytest.importorskip("zstandard")
    with zstandard.ZstdDecompressor().stream_reader(case.blob_bytes(), read_across_frames=True) as r:
        return r.read()


def _toc_chunks(entries: list[dict]) -> list[tuple[int, list[tuple[int, int, str]] | None]]:
    """(size, chunks) per regular file with data, in TOC order; chunks None if not recorded."""
    files: list[tuple[int, list[tuple[int, int, str]] | None]] = []
    for e in entries:
        if e["type"] == "reg":
            size = e.get("size", 0)
            if "chunkSize" in e:
                files.append((size, [(e.get("chunkOffset", 0), e["chunkSize"], e.get("chunkType", ""))]))
            else:
                files.append((size, None))
        elif e["type"] == "chunk":
            chunks = files[-1][1]
            assert chunks is not None
            chunks.append((e.get("chunkOffset", 0), e["chunkSize"], e.get("chunkType", "")))
    return [f for f in files if f[0] > 0]


def test_golden_vector_chunk_boundaries(vector_case) -> None:  # type: ignore[no-untyped-def]
    toc_files = _toc_chunks(vector_case.toc.get("entries") or [])
    with tarfile.open(fileobj=io.BytesIO(_tar_bytes(vector_case))) as tf:
        members = [m for m in tf.getmembers() if m.isreg() and m.size > 0]
        assert len(members) == len(toc_files)
        with Chunker() as c:
            for m, (size, chunks) in zip(members, toc_files):
                assert m.size == size, m.name
                f = tf.extractfile(m)
                assert f is not None
                c.reset()
                cuts = []
                while True:
                    piece = f.read(65521)
                    if not piece:
                        break
                    cuts += c.feed(piece)
                cuts += c.finish()
                got = cuts_to_chunks(cuts)
                if chunks is None:
                    assert [(o, s) for o, s, _z in got] == [(0, size)], m.name
                else:
                    assert [(o, s, "zeros" if z else "") for o, s, z in got] == chunks, m.name
