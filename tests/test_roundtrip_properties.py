"""Hypothesis round trips: generated tars -> writer -> reader, checked against an independent model."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st
from reference_chunker import reference_chunks

import zstd_chunked
from zstd_chunked import format as fmt

NAME_CHARS = st.characters(codec="utf-8", exclude_characters="/\x00", exclude_categories=("Cs",))
SEGMENT = st.text(NAME_CHARS, min_size=1, max_size=40).filter(lambda s: s not in (".", ".."))


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["small", "edge", "random", "zeros", "mixed"]))
    if kind == "small":
        return draw(st.binary(max_size=600))
    if kind == "edge":
        size = draw(st.sampled_from([0, 1, 511, 512, 513, 1023, 1024, 1025]))
        return bytes(random.Random(size).getrandbits(8) for _ in range(size))
    seed = draw(st.integers(0, 2**32 - 1))
    rnd = random.Random(seed)
    if kind == "random":
        return rnd.randbytes(draw(st.integers(60_000, 300_000)))
    if kind == "zeros":
        return bytes(draw(st.sampled_from([1023, 1024, 1025, 5000, 70_000])))
    parts = []
    for _ in range(draw(st.integers(1, 5))):
        if rnd.random() < 0.5:
            parts.append(bytes(rnd.choice([10, 1023, 1024, 3000])))
        else:
            parts.append(rnd.randbytes(rnd.choice([1, 100, 5000, 90_000])))
    return b"".join(parts)


@st.composite
def tars(draw: st.DrawFn) -> tuple[bytes, dict[str, bytes]]:
    fmt_choice = draw(st.sampled_from([tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT]))
    buf = io.BytesIO()
    files: dict[str, bytes] = {}
    used: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=fmt_choice) as tf:
        for i in range(draw(st.integers(0, 8))):
            depth = draw(st.integers(1, 3 if fmt_choice != tarfile.USTAR_FORMAT else 1))
            parts = [draw(SEGMENT) for _ in range(depth)]
            name = "/".join(parts)
            if fmt_choice == tarfile.USTAR_FORMAT:
                name = f"f{i}-" + "".join(c for c in name if c.isascii() and c.isalnum())[:40]
            if name in used or any(name.startswith(u + "/") or u.startswith(name + "/") for u in used):
                continue
            used.add(name)
            kind = draw(st.sampled_from(["file", "file", "file", "dir", "symlink", "hardlink", "fifo", "char"]))
            info = tarfile.TarInfo(name)
            info.mtime = draw(st.integers(0, 8**11 - 1))
            info.mode = draw(st.sampled_from([0o644, 0o755, 0o4755, 0o600]))
            info.uid = draw(st.integers(0, 70000))
            info.gid = draw(st.integers(0, 70000))
            if fmt_choice == tarfile.PAX_FORMAT and draw(st.booleans()):
                info.pax_headers = {"SCHILY.xattr.user.k": draw(st.text(NAME_CHARS, max_size=20))}
            if kind == "file":
                data = draw(contents())
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
                files[name] = data
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = draw(st.sampled_from(["target", "../up", "/abs/path", "x" * 150]))
                if fmt_choice == tarfile.USTAR_FORMAT:
                    info.linkname = info.linkname[:90]
            elif kind == "hardlink":
                targets = sorted(files)
                if not targets:
                    continue
                info.type = tarfile.LNKTYPE
                info.linkname = draw(st.sampled_from(targets))
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            else:
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = draw(st.integers(0, 4095)), draw(st.integers(0, 255))
            tf.addfile(info)
    return buf.getvalue(), files


def _toc_chunks(layer: zstd_chunked.Layer, name: str) -> list[tuple[int, int, bool]]:
    return [(c.file_offset, c.size, c.zeros) for c in layer.file(name).chunks]


@given(tars(), st.sampled_from([1, 3]), st.sampled_from([1, 2]))
def test_roundtrip(tar_and_files: tuple[bytes, dict[str, bytes]], level: int, threads: int) -> None:
    tar_bytes, files = tar_and_files
    out = io.BytesIO()
    info = zstd_chunked.convert(io.BytesIO(tar_bytes), out, level=level, threads=threads)
    blob = out.getvalue()
    assert info.diff_id == "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    # plain zstd decoders see the input tar
    plain = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True).read()
    assert plain == tar_bytes
    with zstd_chunked.open(blob, annotations=info.annotations) as layer:
        rebuilt = io.BytesIO()
        assert layer.rebuild_tar(rebuilt, diff_id=info.diff_id) == info.diff_id
        assert rebuilt.getvalue() == tar_bytes
        for name, data in files.items():
            entry = layer.entry(name)
            assert entry.size == len(data)
            if data:
                assert entry.digest == "sha256:" + hashlib.sha256(data).hexdigest()
                expected_chunks = reference_chunks(data)
                if len(expected_chunks) == 1:  # one chunk: the TOC has no chunk fields, so no type either
                    expected_chunks = [(0, len(data), False)]
                assert _toc_chunks(layer, name) == expected_chunks
                for chunk in layer.file(name).chunks:
                    piece = data[chunk.file_offset:chunk.file_offset + chunk.size]
                    if chunk.digest:
                        assert chunk.digest == "sha256:" + hashlib.sha256(piece).hexdigest()
                    if chunk.zeros:
                        assert piece == bytes(len(piece))
            assert layer.read(name) == data
        layer.verify(info.diff_id)


@pytest.mark.parametrize("payload", [
    bytes(5 << 20),  # one long run of zeros -> a single "zeros" chunk larger than a one-shot frame
    b"\xff" * ((9 << 20) + 5),  # a single data chunk that never splits and must be streamed
])
def test_long_single_chunk_files(payload: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("big")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    tar_bytes = buf.getvalue()
    out = io.BytesIO()
    info_ = zstd_chunked.convert(io.BytesIO(tar_bytes), out, threads=2)
    with zstd_chunked.open(out.getvalue(), annotations=info_.annotations) as layer:
        entry = layer.entry("big")
        assert entry.chunk_size == 0  # one chunk: no chunk fields
        assert layer.read("big") == payload
        assert layer.verify(info_.diff_id)["diffID"] == info_.diff_id
    assert entry.type == fmt.TYPE_REG
