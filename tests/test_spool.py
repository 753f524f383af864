"""The writer's append-only spool: memory first, then an anonymous temporary file."""

from __future__ import annotations

import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zstd_chunked import _spool
from zstd_chunked._spool import Spool


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20), st.integers(0, 400), st.integers(1, 500))
def test_reads_give_back_what_was_written(pieces: list[bytes], limit: int, piece_size: int) -> None:
    data = b"".join(pieces)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_spool, "SPOOL_BYTES", limit)
        mp.setattr(_spool, "SPOOL_PIECE", piece_size)
        with Spool() as spool:
            for i, piece in enumerate(pieces):
                spool.write(memoryview(piece) if i % 2 else piece)
                # reading in between must not move where the next write goes
                written = data[:spool.size]
                assert spool.read_at(0, 5) == written[:5]
                assert spool.read_at(max(0, len(written) - 3), 3) == written[-3:]
            assert spool.size == len(data)
            out = bytearray()
            spool.copy_to(out.extend)
            assert bytes(out) == data
            for start in range(0, len(data) + 1, 37):
                assert spool.read_at(start, 50) == data[start:start + 50]


def test_spills_to_a_file_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[int] = []
    real = tempfile.TemporaryFile

    def counting(*args: object, **kwargs: object) -> object:
        made.append(1)
        return real()

    monkeypatch.setattr(_spool, "SPOOL_BYTES", 10)
    monkeypatch.setattr(tempfile, "TemporaryFile", counting)
    with Spool() as spool:
        spool.write(b"0123456789")
        assert made == []
        spool.write(b"a")
        assert made == [1]
        spool.write(b"bc")
        assert spool.read_at(9, 10) == b"9abc"
    spool.close()  # twice is fine


def test_without_a_temporary_directory_it_stays_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(_spool, "SPOOL_BYTES", 4)
    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with Spool() as spool:
        for _ in range(10):
            spool.write(b"xyz")
        assert spool.read_at(0, 100) == b"xyz" * 10
