"""The reader against every golden blob made by the reference implementation."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest
from vectors_util import VectorCase

import zstd_chunked
from zstd_chunked import format as fmt
from zstd_chunked.errors import MissingTarSplitError


def _tar_files(case: VectorCase) -> dict[str, bytes]:
    files = {}
    with tarfile.open(fileobj=io.BytesIO(case.tar_bytes())) as tf:
        for member in tf:
            if member.isreg():
                f = tf.extractfile(member)
                assert f is not None
                files[member.name] = f.read()
    return files


def _expected_diffid(case: VectorCase) -> str:
    if case.old_format:
        return case.expected["diffid_full_decompress"]
    return case.diffid


def test_open_with_annotations(vector_case: VectorCase) -> None:
    case = vector_case
    with zstd_chunked.open(case.blob, annotations=case.annotations) as layer:
        assert layer.authenticated
        assert layer.toc_raw == case.toc_raw
        assert layer.toc_digest == case.annotations.get(fmt.MANIFEST_CHECKSUM_KEY, layer.toc_digest)
        names = [e.name for e in layer.entries()]
        assert names == [e["name"] for e in case.toc["entries"] or [] if e["type"] != "chunk"]
        assert layer.has_tarsplit == (not case.old_format)


def test_footer_only_open_finds_the_same_metadata(vector_case: VectorCase) -> None:
    case = vector_case
    with zstd_chunked.open(case.blob) as layer:
        assert not layer.authenticated
        assert layer.toc_raw == case.toc_raw
        assert layer.footer is not None
        assert layer.footer.version == (1 if case.old_format else 3)


def test_rebuild_matches_diffid(vector_case: VectorCase) -> None:
    case = vector_case
    with zstd_chunked.open(case.blob, annotations=case.annotations) as layer:
        if case.old_format:
            with pytest.raises(MissingTarSplitError):
                layer.rebuild_tar(io.BytesIO())
            return
        out = io.BytesIO()
        diff_id = layer.rebuild_tar(out, diff_id=case.diffid)
        assert diff_id == case.diffid
        assert "sha256:" + hashlib.sha256(out.getvalue()).hexdigest() == case.diffid
        if case.tar is not None:
            assert out.getvalue() == case.tar_bytes()


def test_every_regular_file_reads_back(vector_case: VectorCase) -> None:
    case = vector_case
    with zstd_chunked.open(case.blob, annotations=case.annotations) as layer:
        regular = [e for e in layer.entries() if e.type == fmt.TYPE_REG]
        expected = _tar_files(case) if case.tar is not None else None
        for entry in regular:
            data = layer.read(entry.name)
            assert len(data) == entry.size
            if expected is not None:
                assert data == expected[entry.name]
            with layer.open(entry.name) as f:
                assert f.read() == data


def test_verify_passes(vector_case: VectorCase) -> None:
    case = vector_case
    with zstd_chunked.open(case.blob, annotations=case.annotations) as layer:
        report = layer.verify(_expected_diffid(case))
    assert report["diffID"] == _expected_diffid(case)
    assert report["authenticated"]


def test_reading_one_file_touches_only_its_chunks(vector_case: VectorCase) -> None:
    case = vector_case
    with zstd_chunked.open(case.blob, annotations=case.annotations) as probe:
        regular = [e for e in probe.entries() if e.type == fmt.TYPE_REG and e.size > 0]
        if not regular:
            pytest.skip("no regular file with content")
        target = regular[len(regular) // 2]
        chunks = probe.file(target.name).chunks
    source = zstd_chunked.CountingSource(zstd_chunked.FileSource(case.blob))
    with zstd_chunked.open(source, annotations=case.annotations) as layer:
        metadata_reads = len(source.requests)
        before = source.bytes_read
        assert layer.read(target.name)
        data_reads = source.requests[metadata_reads:]
    allowed = {(c.offset, c.end - c.offset) for c in chunks if not c.zeros}
    assert set(data_reads) <= allowed
    assert source.bytes_read - before == sum(length for _, length in allowed)
    # the metadata reads are the TOC, tar-split and their frame headers only
    meta = sum(length for _, length in source.requests[:metadata_reads])
    toc_len = layer.toc_position.length
    ts_len = layer.tarsplit_position.length if layer.tarsplit_position else 0
    assert meta <= toc_len + ts_len + 2 * fmt.SKIPPABLE_HEADER_SIZE


def test_lazy_tarsplit_reads_only_toc_and_chunks(vector_case: VectorCase) -> None:
    case = vector_case
    if case.old_format:
        pytest.skip("no tar-split in the old format")
    source = zstd_chunked.CountingSource(zstd_chunked.FileSource(case.blob))
    with zstd_chunked.open(source, annotations=case.annotations, lazy_tarsplit=True) as layer:
        assert layer.has_tarsplit
        ts = layer.tarsplit_position
        assert ts is None  # not fetched yet
        tarsplit_offset = int(case.annotations[fmt.TARSPLIT_POSITION_KEY].split(":")[0])
        regular = [e for e in layer.entries() if e.type == fmt.TYPE_REG and e.size > 0]
        if regular:
            layer.read(regular[0].name)
        assert all(not (off <= tarsplit_offset < off + n) for off, n in source.requests)
        out = io.BytesIO()
        assert layer.rebuild_tar(out) == case.diffid  # loads and checks the tar-split now
        assert any(off <= tarsplit_offset < off + n for off, n in source.requests)


@pytest.mark.parametrize("enabled", [True, False])
def test_open_leaves_the_garbage_collector_as_it_found_it(vector_case: VectorCase, enabled: bool) -> None:
    # open() pauses the collector while it decodes the metadata, also when decoding fails
    import gc

    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with zstd_chunked.open(vector_case.blob, annotations=vector_case.annotations) as layer:
            assert gc.isenabled() == enabled
            toc_at = layer.toc_position.offset
        broken = bytearray(vector_case.blob.read_bytes())
        broken[toc_at + 20] ^= 0xFF  # the TOC no longer matches its digest: open() fails while paused
        with pytest.raises(zstd_chunked.DigestMismatchError):
            zstd_chunked.open(io.BytesIO(bytes(broken)), annotations=vector_case.annotations).close()
        assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
