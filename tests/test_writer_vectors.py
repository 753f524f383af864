"""The writer reproduces the reference's TOC and tar-split for every golden tar."""

from __future__ import annotations

import io
import json
import re

import pytest
import zstandard
from vectors_util import VectorCase

import zstd_chunked
from zstd_chunked import format as fmt

_MASKS = [
    (re.compile(rb'"offset":\d+'), b'"offset":N'),
    (re.compile(rb'"endOffset":\d+'), b'"endOffset":N'),
    (re.compile(rb'"tarSplitDigest":"sha256:[0-9a-f]{64}"'), b'"tarSplitDigest":"D"'),
]


def mask_toc(text: bytes) -> bytes:
    """Blank the values that depend on compressed bytes (and nothing else)."""
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def _offset_digits(text: bytes) -> int:
    return sum(len(m.group(1)) for m in re.finditer(rb'"(?:offset|endOffset)":(\d+)', text))


def decompress_all(blob: bytes) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(blob), read_across_frames=True)
    return reader.read()


def _layer_metadata(blob: bytes, info: zstd_chunked.LayerInfo) -> tuple[bytes, bytes]:
    d = zstandard.ZstdDecompressor()
    toc = blob[info.toc_offset:info.toc_offset + info.toc_length]
    ts = blob[info.tarsplit_offset:info.tarsplit_offset + info.tarsplit_length]
    return (d.stream_reader(io.BytesIO(toc), read_across_frames=True).read(),
            d.stream_reader(io.BytesIO(ts), read_across_frames=True).read())


def _input_tar(case: VectorCase, tmp_path):
    """The case's input tar; for the large cases (tar left out) the plain decompression of the
    reference blob, which the vector README states is byte for byte the input tar."""
    if case.tar is not None:
        return case.tar
    path = tmp_path / "input.tar"
    path.write_bytes(decompress_all(case.blob_bytes()))
    return path


def _convert(case: VectorCase, tmp_path, threads: int | None = None) -> tuple[bytes, zstd_chunked.LayerInfo]:
    out = tmp_path / "out.zst"
    info = zstd_chunked.convert(_input_tar(case, tmp_path), out, level=case.effective_level, threads=threads)
    return out.read_bytes(), info


def test_writer_matches_reference(vector_case: VectorCase, tmp_path) -> None:
    case = vector_case
    if case.old_format:
        pytest.skip(f"{case.name}: written by skopeo 1.9.3 in the old format, which this writer does not produce")
    blob, info = _convert(case, tmp_path)
    toc_text, tarsplit_text = _layer_metadata(blob, info)

    assert mask_toc(toc_text) == mask_toc(case.toc_raw)
    assert case.tarsplit is not None
    assert tarsplit_text == case.tarsplit
    assert info.diff_id == case.diffid
    tar_bytes = _input_tar(case, tmp_path).read_bytes()

    ours = info.annotations
    theirs = case.annotations
    assert set(ours) == set(theirs)
    # The TOC's uncompressed length counts the digits of its offsets, which depend on the
    # encoder: ours must be the length of our TOC text, and equal the reference's whenever
    # the offsets have as many digits (the masked texts are already equal above).
    toc_fields = ours[fmt.MANIFEST_POSITION_KEY].split(":")
    assert int(toc_fields[2]) == len(toc_text) and toc_fields[3] == "1"
    if _offset_digits(toc_text) == _offset_digits(case.toc_raw):
        assert toc_fields[2:] == theirs[fmt.MANIFEST_POSITION_KEY].split(":")[2:]
    assert ours[fmt.TARSPLIT_POSITION_KEY].split(":")[2] == theirs[fmt.TARSPLIT_POSITION_KEY].split(":")[2]

    # any plain zstd decoder gives the input tar back
    assert decompress_all(blob) == tar_bytes
    # our own TOC is internally consistent: the digests in it are the ones we publish
    assert info.size == len(blob)
    assert info.annotations[fmt.MANIFEST_CHECKSUM_KEY] == info.toc_digest
    assert json.loads(toc_text)["tarSplitDigest"].startswith("sha256:")


def test_output_identical_for_every_thread_count(vector_case: VectorCase, tmp_path) -> None:
    case = vector_case
    if case.old_format or case.level is not None or case.large:
        pytest.skip("one level per tar is enough here; the large cases run in the other test")
    one, _ = _convert(case, tmp_path, threads=1)
    two, _ = _convert(case, tmp_path, threads=2)
    four, _ = _convert(case, tmp_path, threads=4)
    assert one == two == four


def test_zstd_cli_decompresses_our_blob(tmp_path) -> None:
    import shutil
    import subprocess

    from vectors_util import LOCAL_VECTORS

    zstd = shutil.which("zstd")
    if zstd is None:
        pytest.skip("the zstd command is not installed")
    tar = LOCAL_VECTORS / "gnutar-gnu-tree.tar"
    out = tmp_path / "layer.zst"
    zstd_chunked.convert(tar, out)
    result = subprocess.run([zstd, "-d", "-c", str(out)], check=True, capture_output=True)
    assert result.stdout == tar.read_bytes()
