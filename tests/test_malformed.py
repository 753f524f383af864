"""Malformed and hostile layers, built by the tests from the golden blobs.

Every case must end in a specific exception from :mod:`zstd_chunked.errors`
(never another exception type, a crash, a hang or an allocation the input
does not justify), or, where a change is harmless, in exactly the original
layer. ``blobcraft.exercise`` does what a consumer does: open, verify, read
every file whole and through ``Layer.open``, rebuild the tar.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import signal
import tracemalloc
from collections.abc import Iterator
from typing import Any, Optional

import blobcraft as bc
import pytest
from vectors_util import get_case

import zstd_chunked
from zstd_chunked import format as fmt
from zstd_chunked._native import build_footer, parse_footer, scan_frames
from zstd_chunked.annotations import parse_annotations
from zstd_chunked.errors import (
    AnnotationError,
    DigestMismatchError,
    FormatError,
    LimitExceededError,
    NotFoundError,
    ZstdChunkedError,
)

#: Small golden cases: every structural boundary of these is tried.
SMALL = ["py-special", "py-pax-xattrs", "py-single-small", "gnutar-ustar-prefix", "py-empty-files",
         "py-pax-long-unicode", "skopeo-py-single-small"]
BASE = "py-special"  # the case most hostile variants start from (dirs, files, links, devices)


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    """Every test here must finish quickly: a hang is a failure, not a stuck CI job."""
    def _alarm(signum: int, frame: Any) -> None:
        raise TimeoutError("test took longer than 60 s: the reader hangs on this input")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _blob(name: str) -> tuple[bytes, dict[str, str]]:
    case = get_case(name)
    return case.blob_bytes(), dict(case.annotations)


_BASELINES: dict[bytes, dict[str, Any]] = {}


def _baseline(blob: bytes) -> dict[str, Any]:
    """What the unchanged layer reads as (through its footer: every layer here has a valid one)."""
    key = hashlib.sha256(blob).digest()
    if key not in _BASELINES:
        _BASELINES[key] = bc.exercise(blob, None)
    return _BASELINES[key]


def outcome(blob: bytes, ann: Optional[dict[str, str]], original: Optional[bytes] = None, **kw: Any) -> Any:
    """The exception class the package raised, or "same" when the layer reads exactly as ``original``."""
    try:
        seen = bc.exercise(blob, ann, **kw)
    except ZstdChunkedError as exc:
        return type(exc)
    # Anything else propagates and fails the test. Accepted input must mean the original layer.
    assert original is not None, "a malformed layer was accepted"
    expected = _baseline(original)
    for key in ("entries", "files", "diffID", "tar"):
        assert seen.get(key) == expected.get(key), f"accepted layer differs from the original in {key}"
    return "same"


def _metadata_regions(blob: bytes, ann: dict[str, str]) -> dict[str, tuple[int, int]]:
    a = parse_annotations(ann)
    footer = parse_footer(blob[-fmt.FOOTER_FRAME_SIZE:], len(blob))
    regions = {"toc": (a.toc.offset, a.toc.end), "footer": (footer.frame_offset, len(blob)),
               "payload": (0, a.toc.offset - fmt.SKIPPABLE_HEADER_SIZE)}
    if a.tarsplit is not None:
        regions["tarsplit"] = (a.tarsplit.offset, a.tarsplit.end)
    return regions


# ----------------------------------------------------------------- truncation


def _boundaries(blob: bytes) -> set[int]:
    cuts = {0, 1, len(blob) - 1}
    for f in scan_frames(blob):
        cuts |= {f.offset, f.offset + 1, f.offset + 4, f.offset + 8, f.end - 4, f.end - 1}
    footer = len(blob) - fmt.FOOTER_SIZE
    cuts |= {footer + 8 * i for i in range(8)}  # every footer field
    return {c for c in cuts if 0 <= c < len(blob)}


@pytest.mark.parametrize("name", SMALL)
def test_truncation_at_every_structural_boundary(name: str) -> None:
    blob, ann = _blob(name)
    cuts = sorted(_boundaries(blob))
    assert len(cuts) > 10
    for cut in cuts:
        for with_ann in (ann, None):
            assert outcome(blob[:cut], with_ann) is FormatError, (cut, with_ann is None)


def test_truncation_at_every_byte() -> None:
    blob, ann = _blob("py-single-small")
    for cut in range(len(blob)):
        assert outcome(blob[:cut], ann) is FormatError, cut
        assert outcome(blob[:cut], None) is FormatError, cut


def test_trailing_bytes_after_the_footer() -> None:
    blob, ann = _blob(BASE)
    for junk in (b"\0", b"x" * 100, bc.compress(b"more"), bc.skippable(b"meta")):
        assert outcome(blob + junk, ann) is FormatError
        assert outcome(blob + junk, None) is FormatError


# ------------------------------------------------------------------ bit flips


def _flip(blob: bytes, pos: int, bit: int) -> bytes:
    out = bytearray(blob)
    out[pos] ^= 1 << bit
    return bytes(out)


@pytest.mark.parametrize("name", ["py-special", "py-pax-xattrs", "skopeo-py-single-small"])
@pytest.mark.parametrize("region", ["payload", "toc", "tarsplit", "footer"])
def test_bit_flips(name: str, region: str) -> None:
    blob, ann = _blob(name)
    regions = _metadata_regions(blob, ann)
    if region not in regions:
        pytest.skip("no tar-split in the old format")
    start, end = regions[region]
    rng = random.Random(f"{name}/{region}")
    positions = sorted(set(range(start, min(end, start + 12))) | {rng.randrange(start, end) for _ in range(40)})
    results: dict[Any, int] = {}
    for pos in positions:
        bit = rng.randrange(8)
        flipped = _flip(blob, pos, bit)
        with_ann = outcome(flipped, ann, blob)
        without = outcome(flipped, None, blob)
        results[with_ann] = results.get(with_ann, 0) + 1
        if region in ("toc", "tarsplit"):
            # the annotations pin the TOC, the TOC pins the tar-split; without them a flip
            # may still be harmless (a frame header field that does not change the output)
            assert with_ann is DigestMismatchError, (pos, bit)
            assert without in (FormatError, DigestMismatchError, "same"), (pos, bit)
        elif region == "footer":
            if pos == start and bit < 4:  # another skippable magic (0x184D2A5?): still a valid footer frame
                assert with_ann == without == "same"
            else:
                # verify() holds the footer to the annotations; alone, it may also claim too much
                assert with_ann is FormatError, (pos, bit)
                assert without in (FormatError, LimitExceededError), (pos, bit)
        else:
            assert with_ann in (FormatError, DigestMismatchError, "same"), (pos, bit)
            assert without in (FormatError, DigestMismatchError, "same"), (pos, bit)
    # payload flips are caught far more often than not (zstd checksums, chunk and file digests, CRCs)
    assert results.get("same", 0) < len(positions) / 4, results


# ------------------------------------------------------- lying annotations


def _with(ann: dict[str, str], key: str, value: Optional[str]) -> dict[str, str]:
    out = dict(ann)
    if value is None:
        out.pop(key, None)
    else:
        out[key] = value
    return out


def _annotation_lies(blob: bytes, ann: dict[str, str]) -> list[tuple[str, str, Optional[str], type]]:
    a = parse_annotations(ann)
    t, s = a.toc, a.tarsplit
    assert s is not None
    m, p, ts = fmt.MANIFEST_CHECKSUM_KEY, fmt.MANIFEST_POSITION_KEY, fmt.TARSPLIT_POSITION_KEY
    big = (1 << 64) - 1
    return [
        ("toc offset +1", p, f"{t.offset + 1}:{t.length}:{t.uncompressed}:1", FormatError),
        ("toc offset -1", p, f"{t.offset - 1}:{t.length}:{t.uncompressed}:1", FormatError),
        ("toc offset 0", p, f"0:{t.length}:{t.uncompressed}:1", FormatError),
        ("toc offset past the end", p, f"{len(blob)}:{t.length}:{t.uncompressed}:1", FormatError),
        ("toc offset u64 max", p, f"{big}:{t.length}:{t.uncompressed}:1", FormatError),
        ("toc offset 2^64", p, f"{big + 1}:{t.length}:{t.uncompressed}:1", AnnotationError),
        ("toc length -1", p, f"{t.offset}:{t.length - 1}:{t.uncompressed}:1", FormatError),
        ("toc length +1", p, f"{t.offset}:{t.length + 1}:{t.uncompressed}:1", FormatError),
        ("toc length 0", p, f"{t.offset}:0:{t.uncompressed}:1", FormatError),
        ("toc length huge", p, f"{t.offset}:{big}:{t.uncompressed}:1", LimitExceededError),
        ("toc uncompressed -1", p, f"{t.offset}:{t.length}:{t.uncompressed - 1}:1", FormatError),
        ("toc uncompressed +1", p, f"{t.offset}:{t.length}:{t.uncompressed + 1}:1", FormatError),
        ("toc uncompressed 0", p, f"{t.offset}:{t.length}:0:1", FormatError),
        ("toc uncompressed huge", p, f"{t.offset}:{t.length}:{big}:1", LimitExceededError),
        ("toc at the tar-split", p, f"{s.offset}:{s.length}:{t.uncompressed}:1", DigestMismatchError),
        ("manifest type 2", p, f"{t.offset}:{t.length}:{t.uncompressed}:2", AnnotationError),
        ("three fields", p, f"{t.offset}:{t.length}:{t.uncompressed}", AnnotationError),
        ("trailing text", p, f"{t.offset}:{t.length}:{t.uncompressed}:1x", AnnotationError),
        ("negative", p, f"-{t.offset}:{t.length}:{t.uncompressed}:1", AnnotationError),
        ("spaces", p, f" {t.offset}:{t.length}:{t.uncompressed}:1", AnnotationError),
        ("unicode digits", p, f"{t.offset}:{t.length}:{t.uncompressed}:\u0661", AnnotationError),
        ("empty position", p, "", AnnotationError),
        ("no position", p, None, AnnotationError),
        ("no checksum", m, None, AnnotationError),
        ("checksum of other bytes", m, bc.sha256(b"other"), DigestMismatchError),
        ("checksum sha512", m, "sha512:" + "0" * 128, DigestMismatchError),
        ("checksum uppercase", m, ann[m].upper(), AnnotationError),
        ("checksum md5", m, "md5:" + "0" * 32, AnnotationError),
        ("checksum bare hex", m, ann[m].split(":")[1], AnnotationError),
        ("tar-split offset +1", ts, f"{s.offset + 1}:{s.length}:{s.uncompressed}", FormatError),
        ("tar-split length -1", ts, f"{s.offset}:{s.length - 1}:{s.uncompressed}", FormatError),
        ("tar-split past the end", ts, f"{s.offset}:{len(blob)}:{s.uncompressed}", FormatError),
        ("tar-split uncompressed -1", ts, f"{s.offset}:{s.length}:{s.uncompressed - 1}", FormatError),
        ("tar-split uncompressed +1", ts, f"{s.offset}:{s.length}:{s.uncompressed + 1}", FormatError),
        ("tar-split uncompressed huge", ts, f"{s.offset}:{s.length}:{big}", LimitExceededError),
        ("tar-split length huge", ts, f"{s.offset}:{big}:{s.uncompressed}", LimitExceededError),
        ("tar-split = TOC", ts, f"{t.offset}:{t.length}:{t.uncompressed}", FormatError),
        ("tar-split offset 0 (none), TOC wants one", ts, f"0:{s.length}:{s.uncompressed}", FormatError),
        ("tar-split position missing, TOC wants one", ts, None, FormatError),
        ("tar-split position malformed", ts, f"{s.offset}:{s.length}", AnnotationError),
        ("eStargz digest as well", fmt.ESTARGZ_TOC_DIGEST_KEY, ann[m], AnnotationError),
    ]


def test_lying_annotations() -> None:
    blob, ann = _blob(BASE)
    for label, key, value, expected in _annotation_lies(blob, ann):
        try:
            result = outcome(blob, _with(ann, key, value))
        except AssertionError:
            raise AssertionError(f"{label}: accepted") from None
        assert result is expected, label


def test_annotations_of_the_wrong_shape() -> None:
    blob, ann = _blob(BASE)
    for bad in ({}, {"a": "b"}, [("k", "v")], None if False else "text"):
        with pytest.raises(AnnotationError):
            zstd_chunked.open(blob, bad)  # type: ignore[arg-type]


def _footer_lies(blob: bytes, ann: dict[str, str]) -> list[tuple[str, bytes]]:
    a = parse_annotations(ann)
    t, s = a.toc, a.tarsplit
    assert s is not None
    body = blob[:-fmt.FOOTER_FRAME_SIZE]
    big = (1 << 64) - 1

    def footer(*values: int) -> bytes:
        return body + build_footer(*values)

    return [
        ("toc offset +1", footer(t.offset + 1, t.length, t.uncompressed, s.offset, s.length, s.uncompressed)),
        ("toc offset 0", footer(0, t.length, t.uncompressed, s.offset, s.length, s.uncompressed)),
        ("toc length huge", footer(t.offset, big, t.uncompressed, s.offset, s.length, s.uncompressed)),
        ("toc over the footer", footer(t.offset, len(body), t.uncompressed, s.offset, s.length, s.uncompressed)),
        ("toc uncompressed huge", footer(t.offset, t.length, big, s.offset, s.length, s.uncompressed)),
        ("toc uncompressed +1", footer(t.offset, t.length, t.uncompressed + 1, s.offset, s.length, s.uncompressed)),
        ("overlap", footer(t.offset, t.length, t.uncompressed, t.offset, t.length, s.uncompressed)),
        ("tar-split half set", footer(t.offset, t.length, t.uncompressed, s.offset, 0, s.uncompressed)),
        ("tar-split missing", footer(t.offset, t.length, t.uncompressed, 0, 0, 0)),
        ("tar-split past the end", footer(t.offset, t.length, t.uncompressed, s.offset, big, s.uncompressed)),
        ("tar-split uncompressed huge", footer(t.offset, t.length, t.uncompressed, s.offset, s.length, big)),
        ("wrong magic", body + build_footer(t.offset, t.length, t.uncompressed, s.offset, s.length,
                                            s.uncompressed)[:-8] + b"GNUlInUy"),
        ("frame size 63", body + fmt.SKIPPABLE_MAGIC_BYTES + (63).to_bytes(4, "little") + blob[-64:]),
        ("not skippable", body + bc.compress(b"x")[:8] + blob[-64:]),
    ]


def test_lying_footers() -> None:
    blob, ann = _blob(BASE)
    for label, bad in _footer_lies(blob, ann):
        result = outcome(bad, None)
        assert result in (FormatError, LimitExceededError), (label, result)
        if "huge" in label and "uncompressed" in label:
            assert result is LimitExceededError, label
        # with the annotations (the trust anchor) the footer is not used to open the layer, but
        # verify() insists that it exists and points where the annotations do
        assert outcome(bad, ann) is FormatError, label


# ----------------------------------------------------------------- the TOC JSON


def _toc_edit(text_edit: Any = None, doc_edit: Any = None, name: str = BASE,
              fix_digest: bool = True) -> tuple[bytes, dict[str, str]]:
    blob, ann = _blob(name)
    return bc.reseal(blob, ann, toc_text=text_edit, toc=doc_edit, fix_digest=fix_digest)


def _entry_edit(index: int, **changes: Any) -> Any:
    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        for key, value in changes.items():
            if value is _DROP:
                doc["entries"][index].pop(key, None)
            else:
                doc["entries"][index][key] = value
        return doc
    return edit


_DROP = object()


def test_resealed_layer_is_accepted() -> None:
    """The sanity check of the tools below: taking a blob apart and back is harmless."""
    blob, ann = _blob(BASE)
    resealed, new_ann = bc.reseal(blob, ann)
    assert outcome(resealed, new_ann, blob) == "same"


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_toc_nested_deeply(depth: int) -> None:
    arrays = b"[" * depth + b"]" * depth
    objects = b'{"a":' * depth + b"0" + b"}" * depth
    for nested in (arrays, objects):
        assert outcome(*_toc_edit(lambda t, n=nested: t[:-1] + b',"x":' + n + b"}")) is FormatError


def test_toc_over_the_size_limit() -> None:
    blob, ann = _toc_edit(lambda t: t + b" " * 50_000)  # trailing whitespace is valid JSON
    assert outcome(blob, ann, blob if False else None, max_toc_size=40_000) is LimitExceededError
    assert outcome(blob, ann, max_toc_size=40_000) is LimitExceededError
    zstd_chunked.open(blob, ann).close()  # and fine within the default limit


def test_toc_decompression_bomb_is_stopped_early() -> None:
    """A TOC frame holding far more than the annotation says: refused after that many bytes."""
    blob, ann = _blob(BASE)
    parts = bc.split_blob(blob, ann)
    bomb = parts.toc + b" " * (200 << 20)
    frame = bc.compress(bomb, 1)
    crafted, crafted_ann = bc.assemble(parts.payload, parts.toc, parts.tarsplit, toc_frame=frame)
    tracemalloc.start()
    try:
        assert outcome(crafted, crafted_ann) is FormatError
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


@pytest.mark.parametrize("junk", [b"{}", b",", b"[]", b'"aaaa"', b"123", b"aaaa", b"\0"])
def test_toc_trailing_data(junk: bytes) -> None:
    assert outcome(*_toc_edit(lambda t: t + junk)) is FormatError


def test_toc_trailing_whitespace_is_fine() -> None:
    blob, _ = _blob(BASE)
    assert outcome(*_toc_edit(lambda t: t + b" \n\t\r"), original=blob) == "same"


def test_toc_duplicate_keys_last_wins_as_in_go() -> None:
    blob, _ = _blob(BASE)
    # a harmless duplicate: the last value is the right one
    same = _toc_edit(lambda t: t.replace(b'"name":"dir/file.txt","mode":420,',
                                         b'"name":"dir/file.txt","mode":1,"mode":420,', 1))
    assert outcome(*same, original=blob) == "same"
    # the last value wins, so the TOC now disagrees with the tar-split
    for edit in ((b'"name":"dir/file.txt"', b'"name":"dir/file.txt","name":"dir/other.txt"'),
                 (b'"mode":420,', b'"mode":420,"mode":511,'),
                 (b'"tarSplitDigest"', b'"entries":[],"tarSplitDigest"')):
        assert outcome(*_toc_edit(lambda t, e=edit: t.replace(e[0], e[1], 1))) is FormatError, edit


@pytest.mark.parametrize("edit", [
    (b'"version":1', b'"version":NaN'),
    (b'"version":1', b'"version":Infinity'),
    (b'"version":1', b'"version":1.0'),
    (b'"version":1', b'"version":"1"'),
    (b'"version":1', b'"version":' + b"9" * 5000),
    (b'"entries":[', b'"entries":{"a":['),
    (b'"name":"dir/"', b'"name":"dir/\xff"'),
    (b'"name":"dir/"', b'"name":"dir/\\u0000x"'),
    (b'"name":"dir/"', b'"name":""'),
    (b'"name":"dir/"', b'"name":null'),
    (b'"name":"dir/"', b'"name":7'),
    (b'"type":"dir"', b'"type":"DIR"'),
    (b'"type":"dir"', b'"type":"whiteout"'),
    (b'"mode":493', b'"mode":-1'),
    (b'"mode":493', b'"mode":9223372036854775808'),
    (b'"mode":493', b'"mode":1e3'),
    (b'"mode":493', b'"mode":true'),
    (b'"mode":493', b'"mode":[493]'),
    (b'"modtime":"2023-11-14T22:13:20Z"', b'"modtime":"yesterday"'),
    (b'"modtime":"2023-11-14T22:13:20Z"', b'"modtime":"2023-13-14T22:13:20Z"'),
    (b'"modtime":"2023-11-14T22:13:20Z"', b'"modtime":1700000000'),
    (b'"digest":"sha256:', b'"digest":"sha256:zz'),
    (b'"digest":"sha256:', b'"digest":"md5:'),
    (b'"linkName":"file.txt"', b'"linkName":"file\\u0000.txt"'),
    (b'"devMajor":1', b'"devMajor":-1'),
    (b'"xattrs"', b'"xattrs"'),  # (no xattrs in this TOC: a no-op edit, replaced below)
])
def test_toc_bad_values(edit: tuple[bytes, bytes]) -> None:
    old, new = edit
    if old == new:
        new_blob, ann = _toc_edit(doc_edit=_entry_edit(3, xattrs={"user.\u0000": "YQ=="}))
    else:
        blob, _ = _blob(BASE)
        assert old in bc.split_blob(blob, _blob(BASE)[1]).toc, old
        new_blob, ann = _toc_edit(lambda t: t.replace(old, new, 1))
    assert outcome(new_blob, ann) is FormatError, edit


@pytest.mark.parametrize("shape", [b"[]", b"null", b"1", b'"x"', b'{"entries":[1]}', b'{"entries":[[]]}',
                                   b'{"tarSplitDigest":5}', b'{"entries":null,"tarSplitDigest":"sha256:00"}', b""])
def test_toc_wrong_shapes(shape: bytes) -> None:
    assert outcome(*_toc_edit(lambda t: shape)) is FormatError


def test_toc_huge_entry_count_is_refused_before_use() -> None:
    from zstd_chunked.toc import parse_toc

    text = b'{"version":1,"entries":[' + b",".join([b'{"type":"dir","name":"d"}'] * 1001) + b"]}"
    with pytest.raises(LimitExceededError):
        parse_toc(text, max_entries=1000)


# ------------------------------------------------------ lying offsets and sizes


def _files(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["entries"] if e["type"] == "reg" and e.get("size")]


def _edit_file(index: int, **changes: Any) -> Any:
    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        _files(doc)[index].update(changes)
        return doc
    return edit


@pytest.mark.parametrize("label,edit,expected", [
    ("offset 0", _edit_file(0, offset=0), FormatError),
    ("offset = endOffset", _edit_file(0, offset=204), FormatError),
    ("reversed", _edit_file(0, offset=204, endOffset=161), FormatError),
    ("endOffset past the payload", _edit_file(0, endOffset=10**6), FormatError),
    ("endOffset 2^63-1", _edit_file(0, endOffset=(1 << 63) - 1), FormatError),
    ("endOffset into the TOC", _edit_file(2, endOffset=890), FormatError),
    ("overlaps the next file", _edit_file(0, endOffset=300), FormatError),
    ("same range as the next file", _edit_file(1, offset=161, endOffset=204), FormatError),
    ("starts inside the previous file", _edit_file(1, offset=180), FormatError),
    ("range one byte short", _edit_file(0, endOffset=203), FormatError),
    # bytes past a chunk's frames are ignored, as upstream (whose last chunks reach the next file)
    ("range one byte long", _edit_file(0, endOffset=205), "same"),
    ("range shifted", _edit_file(0, offset=162, endOffset=205), FormatError),
    ("other file's frame", _edit_file(0, offset=290, endOffset=325), FormatError),
    ("size impossible for the range", _edit_file(0, size=1 << 40), FormatError),
    ("size 2^63-1", _edit_file(0, size=(1 << 63) - 1), FormatError),
    ("size -1", _edit_file(0, size=-1), FormatError),
    ("size one more", _edit_file(0, size=211), FormatError),
    ("size one less", _edit_file(0, size=209), FormatError),
    ("zeros chunk over data", _edit_file(0, chunkType="zeros"), DigestMismatchError),
    ("unknown chunk type", _edit_file(0, chunkType="bogus"), "same"),
    ("digest of other content", _edit_file(0, digest=bc.sha256(b"other")), DigestMismatchError),
    ("no digest", _edit_file(0, digest=""), FormatError),
    ("sha512 digest", _edit_file(0, digest="sha512:" + "0" * 128), DigestMismatchError),
])
def test_lying_offsets_and_sizes(label: str, edit: Any, expected: Any) -> None:
    blob, ann = _blob(BASE)
    result = outcome(*bc.reseal(blob, ann, toc=edit), original=blob)
    assert result == expected, label


def _chunked_layer() -> tuple[bytes, dict[str, str], bytes]:
    """A layer with a multi-chunk file (data, a zero run, data) followed by another file."""
    rng = random.Random(7)
    body = rng.randbytes(150_000) + bytes(5000) + rng.randbytes(120_000)
    blob, ann = bc.convert_tar(bc.make_tar([("file", "big", body), ("file", "after", b"after" * 50)]))
    return blob, ann, body


def _chunk_edit(index: int, **changes: Any) -> Any:
    def edit(doc: dict[str, Any]) -> dict[str, Any]:
        parts = [e for e in doc["entries"] if e["name"] == "big"]
        parts[index].update(changes)
        return doc
    return edit


def test_chunked_file_reads_back() -> None:
    blob, ann, body = _chunked_layer()
    with zstd_chunked.open(blob, ann) as layer:
        chunks = layer.file("big").chunks
        assert len(chunks) >= 4 and any(c.zeros for c in chunks)
        assert layer.read("big") == body


@pytest.mark.parametrize("label,make,expected", [
    ("chunk without its file", lambda d: {**d, "entries": [e for e in d["entries"] if e["type"] != "reg"]
                                          + [e for e in d["entries"] if e["type"] == "chunk"]}, FormatError),
    ("chunk after another file", lambda d: {**d, "entries": [d["entries"][0]] + [e for e in d["entries"]
                                            if e["name"] == "after"] + d["entries"][1:-1]}, FormatError),
    ("chunk offset gap", _chunk_edit(1, chunkOffset=1), FormatError),
    ("chunk sizes short", _chunk_edit(1, chunkSize=1), FormatError),
    ("chunk size 0", _chunk_edit(1, chunkSize=0), FormatError),
    ("chunk size huge", _chunk_edit(1, chunkSize=1 << 50), FormatError),
    ("chunk offsets reversed", _chunk_edit(2, offset=100), FormatError),
    ("chunk offset 0", _chunk_edit(1, offset=0), FormatError),
    ("chunk offset past the payload", _chunk_edit(1, offset=10**9), FormatError),
    ("chunk digest missing", _chunk_edit(1, chunkDigest=""), FormatError),
    ("chunk digest wrong", _chunk_edit(1, chunkDigest=bc.sha256(b"x")), DigestMismatchError),
    ("zero chunk digest wrong", None, DigestMismatchError),
    ("zero chunk made data", None, "same"),  # its frame holds the zeros: fetched instead of made
    ("data chunk made zeros", _chunk_edit(0, chunkType="zeros"), DigestMismatchError),
])
def test_lying_chunks(label: str, make: Any, expected: Any) -> None:
    blob, ann, _body = _chunked_layer()
    if make is None:
        doc = json.loads(bc.split_blob(blob, ann).toc)
        zero = next(i for i, e in enumerate(e for e in doc["entries"] if e["name"] == "big")
                    if e.get("chunkType") == "zeros")
        make = _chunk_edit(zero, chunkDigest=bc.sha256(b"x")) if "digest" in label else _chunk_edit(zero, chunkType="")
    resealed = bc.reseal(blob, ann, toc=make)
    assert outcome(*resealed, original=blob) == expected, label


# ---------------------------------------------------- TOC against tar-split


@pytest.mark.parametrize("label,edit", [
    ("mode", _entry_edit(3, mode=0o600)),
    ("uid", _entry_edit(3, uid=0)),
    ("gid", _entry_edit(3, gid=0)),
    ("size", _entry_edit(0, size=5)),
    ("modtime", _entry_edit(3, modtime="2001-01-01T00:00:00Z")),
    ("added accesstime", _entry_edit(3, accesstime="2001-01-01T00:00:00Z")),
    ("type", _entry_edit(0, type="symlink", linkName="x")),
    ("linkName", _entry_edit(7, linkName="/etc/shadow")),
    ("hardlink target", _entry_edit(6, linkName="dir/setuid-bin")),
    ("devMajor", _entry_edit(12, devMajor=2)),
    ("xattrs", _entry_edit(3, xattrs={"user.x": "YQ=="})),
    ("name", _entry_edit(3, name="dir/file.TXT")),
    ("name cleaned", _entry_edit(0, name="./dir")),
    ("entry missing", lambda d: {**d, "entries": d["entries"][1:]}),
    ("entry added", lambda d: {**d, "entries": d["entries"] + [{"type": "dir", "name": "extra/"}]}),
    ("duplicate entry", lambda d: {**d, "entries": d["entries"] + [d["entries"][0]]}),
])
def test_toc_and_tarsplit_disagree(label: str, edit: Any) -> None:
    blob, ann = _blob(BASE)
    assert outcome(*bc.reseal(blob, ann, toc=edit)) is FormatError, label


@pytest.mark.parametrize("field,edit", [
    ("mode", _entry_edit(3, mode=0o600)),
    ("uid", _entry_edit(3, uid=0)),
    ("linkname", _entry_edit(7, linkName="/etc/shadow")),
])
def test_toc_and_tarsplit_disagreement_names_the_field(field: str, edit: Any) -> None:
    blob, ann = _blob(BASE)
    blob, ann = bc.reseal(blob, ann, toc=edit)
    with pytest.raises(FormatError, match=f"disagree on {field} of"):
        zstd_chunked.open(blob, ann).close()


def test_toc_order_may_differ_from_tarsplit() -> None:
    """Upstream matches entries by name, so another order describes the same layer."""
    blob, ann = _blob(BASE)
    def swap(doc: dict[str, Any]) -> dict[str, Any]:
        doc["entries"][:2] = doc["entries"][1::-1]
        return doc

    swapped = bc.reseal(blob, ann, toc=swap)
    seen = bc.exercise(*swapped)
    assert seen["diffID"] == _baseline(blob)["diffID"]
    assert sorted(seen["entries"]) == sorted(_baseline(blob)["entries"])


def _ts_edit(fn: Any) -> Any:
    return lambda lines: fn([dict(x) for x in lines])


def _file_lines(lines: list[dict[str, Any]]) -> list[int]:
    return [i for i, x in enumerate(lines) if x["type"] == 1 and x.get("size")]


def _set(lines: list[dict[str, Any]], index: int, **changes: Any) -> list[dict[str, Any]]:
    lines[index].update(changes)
    return lines


@pytest.mark.parametrize("label,edit,expected", [
    ("CRC wrong", lambda ls: _set(ls, _file_lines(ls)[0], payload="AAAAAAAAAAA="), DigestMismatchError),
    ("CRC missing", lambda ls: _set(ls, _file_lines(ls)[0], payload=None), FormatError),
    ("CRC too short", lambda ls: _set(ls, _file_lines(ls)[0], payload="AAAA"), FormatError),
    ("CRC not base64", lambda ls: _set(ls, _file_lines(ls)[0], payload="!!!!!!!!!!!="), FormatError),
    ("file size bigger", lambda ls: _set(ls, _file_lines(ls)[0], size=ls[_file_lines(ls)[0]]["size"] + 1),
     FormatError),
    ("file size negative", lambda ls: _set(ls, _file_lines(ls)[0], size=-1), FormatError),
    ("file renamed", lambda ls: _set(ls, _file_lines(ls)[0], name="nope"), FormatError),
    ("duplicate file path", lambda ls: ls + [ls[_file_lines(ls)[0]]], FormatError),
    ("duplicate cleaned path", lambda ls: ls + [{**ls[_file_lines(ls)[0]], "name": "./dir//file.txt"}],
     FormatError),
    ("unknown type", lambda ls: ls + [{"type": 3, "position": 99}], FormatError),
    ("type as string", lambda ls: _set(ls, 0, type="2"), FormatError),
    ("segment altered", lambda ls: _set(ls, 0, payload="AAAA" + ls[0]["payload"][4:]), FormatError),
    ("segment dropped", lambda ls: ls[1:], FormatError),
    ("header segment removed", lambda ls: [x for i, x in enumerate(ls) if i != 2], FormatError),
    ("trailing segment added", lambda ls: ls + [{"type": 2, "payload": "AAAA", "position": 999}], FormatError),
    ("trailing zero block added", lambda ls: ls + [{"type": 2, "payload": "A" * 683 + "=", "position": 999}],
     DigestMismatchError),
])
def test_hostile_tarsplit(label: str, edit: Any, expected: Any) -> None:
    blob, ann = _blob(BASE)
    result = outcome(*bc.reseal(blob, ann, tarsplit=edit), original=blob)
    assert result is expected, label


@pytest.mark.parametrize("label,toc_edit,tarsplit_edit,message", [
    ("chunk digest", _chunk_edit(1, chunkDigest=bc.sha256(b"x")), None,
     r"^chunk at \d+ does not match its TOC digest$"),
    ("file digest", lambda d: _set_entry(d, "after", digest=bc.sha256(b"x")), None,
     r"^'after' does not match its TOC digest$"),
    ("CRC-64", None, lambda ls: _set(ls, _file_lines(ls)[1], payload="AAAAAAAAAAA="),
     r"^file integrity checksum failed for 'after'$"),
])
def test_rebuild_says_what_failed(label: str, toc_edit: Any, tarsplit_edit: Any, message: str) -> None:
    blob, ann, _body = _chunked_layer()
    blob, ann = bc.reseal(blob, ann, toc=toc_edit, tarsplit=tarsplit_edit)
    with zstd_chunked.open(blob, ann) as layer, pytest.raises(DigestMismatchError, match=message):
        layer.rebuild_tar(io.BytesIO())


def _set_entry(doc: dict[str, Any], name: str, **changes: Any) -> dict[str, Any]:
    next(e for e in doc["entries"] if e["name"] == name).update(changes)
    return doc


@pytest.mark.parametrize("label,edit,expected", [
    ("not JSON", lambda t: t + b"{nope\n", FormatError),
    ("array line", lambda t: t + b"[]\n", FormatError),
    ("NaN", lambda t: t + b'{"type":NaN}\n', FormatError),
    ("deeply nested", lambda t: t + b'{"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", FormatError),
    ("invalid UTF-8", lambda t: t + b'{"type":2,"payload":"","position":1,"x":"\xff"}\n', "same-or-format"),
    ("blank lines", lambda t: t.replace(b"\n", b"\n\n\n"), "same"),
    ("no final newline", lambda t: t.rstrip(b"\n"), "same"),
])
def test_tarsplit_text(label: str, edit: Any, expected: Any) -> None:
    blob, ann = _blob(BASE)
    result = outcome(*bc.reseal(blob, ann, tarsplit_text=edit), original=blob)
    if expected == "same-or-format":
        assert result in ("same", FormatError), label
    else:
        assert result == expected, label


def test_tarsplit_line_limit() -> None:
    from zstd_chunked.tarsplit import iter_tarsplit

    with pytest.raises(LimitExceededError):
        list(iter_tarsplit(io.BytesIO(b'{"type":2,"payload":"' + b"A" * 4096 + b'"}\n'), max_line=1024))
    with pytest.raises(LimitExceededError):
        list(iter_tarsplit(io.BytesIO(b" " * 4096), max_line=1024))


def test_tarsplit_bomb_is_stopped_early() -> None:
    blob, ann = _blob(BASE)
    parts = bc.split_blob(blob, ann)
    assert parts.tarsplit is not None
    frame = bc.compress(parts.tarsplit + b"\n" * (200 << 20), 1)
    crafted, crafted_ann = bc.assemble(parts.payload, parts.toc, parts.tarsplit, tarsplit_frame=frame)
    tracemalloc.start()
    try:
        assert outcome(crafted, crafted_ann) is FormatError
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak
    assert outcome(crafted, crafted_ann, max_tarsplit_size=1 << 20) is FormatError


def test_tarsplit_not_authenticated_is_never_used() -> None:
    """A TOC without tarSplitDigest: the tar-split the annotations point at is not trusted."""
    blob, ann = _blob(BASE)
    resealed = bc.reseal(blob, ann, toc_text=lambda t: t.replace(b'"tarSplitDigest"', b'"ignored"'))
    with zstd_chunked.open(*resealed) as layer:
        assert not layer.has_tarsplit
        with pytest.raises(zstd_chunked.MissingTarSplitError):
            layer.rebuild_tar(io.BytesIO())


# ------------------------------------------------------------- hostile names


def test_hostile_names_are_read_as_written() -> None:
    """Names with .., absolute names, and links out of the tree are data for the reader;
    extraction confines them (tests/test_extract_safety.py)."""
    tar = bc.make_tar([("file", "../../etc/evil", b"1"), ("file", "/abs/evil", b"2"),
                       ("symlink", "up", "../../../../../etc"), ("hardlink", "h", "../../etc/evil"),
                       ("hardlink", "h2", "/etc/passwd")])
    blob, ann = bc.convert_tar(tar)
    with zstd_chunked.open(blob, ann) as layer:
        assert layer.read("../../etc/evil") == b"1"
        assert layer.read("/abs/evil") == b"2"
        assert layer.read("h") == b"1"  # the hard link's target is the layer's own entry
        with pytest.raises(NotFoundError):
            layer.read("h2")  # not in the layer: never looked up on the host
        with pytest.raises(NotFoundError):
            layer.read("up/passwd")
        layer.verify()


def test_nul_in_names() -> None:
    for entry in (bc.reg("a\x00b"), bc.entry("symlink", "s", linkName="/etc\x00x"),
                  bc.entry("hardlink", "h", linkName="a\x00")):
        assert outcome(*bc.craft_blob([entry])) is FormatError


def test_lone_surrogates_in_names_become_replacement_characters() -> None:
    """Go decodes "\\udcff" in JSON to U+FFFD; so must we, or the name could stand for a raw byte."""
    blob, ann = bc.craft_blob([bc.reg("a\udcffb"), bc.reg("c\ud800")], {"a\udcffb": b"1", "c\ud800": b"2"})
    with zstd_chunked.open(blob, ann) as layer:
        assert [e.name for e in layer.entries()] == ["a\ufffdb", "c\ufffd"]


def test_hardlink_chains_and_loops() -> None:
    entries = [bc.entry("hardlink", "h1", linkName="h2"), bc.entry("hardlink", "h2", linkName="h1"),
               bc.entry("hardlink", "h3", linkName="h3"), bc.entry("hardlink", "h4", linkName="d"),
               bc.entry("dir", "d"), bc.reg("f"), bc.entry("hardlink", "h5", linkName="f"),
               bc.entry("hardlink", "h6", linkName="h5")]
    blob, ann = bc.craft_blob(entries, {"f": b"data"})
    with zstd_chunked.open(blob, ann) as layer:
        for name in ("h1", "h2", "h3", "h4", "h6"):
            with pytest.raises(NotFoundError):
                layer.read(name)
        assert layer.read("h5") == b"data"


def test_duplicate_entries() -> None:
    for entries in ([bc.reg("f"), bc.reg("f")], [bc.entry("dir", "d"), bc.entry("symlink", "d", linkName="/")],
                    [bc.reg("f"), bc.entry("chunk", "f")]):
        assert outcome(*bc.craft_blob(entries, {"f": b"x"})) is FormatError


# ----------------------------------------------------------- bounded memory


def test_large_chunks_are_streamed_in_bounded_memory() -> None:
    """No chunk is held whole: a 48 MiB single-chunk file and a 48 MiB hole read in < 16 MiB."""
    ones = b"\x01" * (48 << 20)  # the rolling checksum never cuts a run of one byte value
    blob, ann = bc.craft_blob([bc.reg("ones"), bc.reg("hole", chunkType="zeros")],
                              {"ones": ones, "hole": bytes(48 << 20)})
    with zstd_chunked.open(blob, ann) as layer:
        assert [c.zeros for c in layer.file("hole").chunks] == [True]
        tracemalloc.start()
        try:
            for name, value in (("ones", 1), ("hole", 0)):
                total = 0
                for piece in layer.iter_file(name):
                    assert piece.count(value) == len(piece)
                    total += len(piece)
                assert total == 48 << 20
                with layer.open(name) as f:
                    f.seek(40 << 20)
                    assert f.read(10) == bytes([value]) * 10
                    f.seek(5)
                    assert f.read(3) == bytes([value]) * 3
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 16 << 20, peak


def test_streamed_chunk_errors() -> None:
    ones = b"\x01" * (12 << 20)
    blob, ann = bc.craft_blob([bc.reg("ones")], {"ones": ones})
    wrong = bc.reseal(blob, ann, toc=lambda d: (d["entries"][0].update(digest=bc.sha256(b"x")), d)[1])
    assert outcome(*wrong) is DigestMismatchError
    with zstd_chunked.open(*wrong) as layer, layer.open("ones") as f:
        f.seek(1 << 20)
        f.read(100)  # a partial read cannot check the digest yet
        with pytest.raises(DigestMismatchError):
            f.seek(0)
            f.read()
    longer = bc.reseal(blob, ann, toc=lambda d: (d["entries"][0].update(size=(12 << 20) + 1), d)[1])
    assert outcome(*longer) is FormatError


# ------------------------------------------------------------ range sources


class _LyingSource:
    def __init__(self, data: bytes, mode: str) -> None:
        self.data, self.mode, self.size = data, mode, len(data)

    def read_range(self, offset: int, length: int) -> bytes:
        data = self.data[offset:offset + length]
        if self.mode == "short":
            return data[:-1]
        if self.mode == "long":
            return data + b"x"
        if self.mode == "other":
            return bytes(len(data))
        raise OSError("connection reset")


@pytest.mark.parametrize("mode,expected", [("short", FormatError), ("long", FormatError),
                                           ("other", FormatError), ("oserror", OSError)])
def test_lying_range_source(mode: str, expected: type) -> None:
    blob, ann = _blob(BASE)
    with pytest.raises(expected):
        bc.exercise(_LyingSource(blob, mode), ann)  # type: ignore[arg-type]


def test_range_source_with_bad_size() -> None:
    blob, ann = _blob(BASE)
    for size in (-1, "10", 1.5, True):
        src = _LyingSource(blob, "short")
        src.size = size  # type: ignore[assignment]
        with pytest.raises(ZstdChunkedError):
            zstd_chunked.open(src, ann)
    src = _LyingSource(blob, "short")
    src.size = len(blob) * 2
    assert outcome(src, ann) is FormatError  # type: ignore[arg-type]


def test_payload_decompression_bomb_is_verified_in_bounded_memory() -> None:
    """verify() decompresses the whole payload: 256 MiB of zeros from a few KiB must not be held."""
    blob, ann = _blob("py-single-small")
    parts = bc.split_blob(blob, ann)
    bomb = bc.compress(bytes(256 << 20), 1)
    assert len(bomb) < 64 << 10
    crafted, crafted_ann = bc.assemble(parts.payload + bomb, parts.toc, parts.tarsplit)
    tracemalloc.start()
    try:
        assert outcome(crafted, crafted_ann) is DigestMismatchError  # the tar-split does not know the bytes
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak


def test_tarsplit_line_over_the_decoder_limit() -> None:
    """A line longer than the tar-split decoder accepts (16 MiB) is a limit, not a size lie."""
    blob, ann = _blob(BASE)
    text = bc.split_blob(blob, ann).tarsplit
    assert text is not None
    long_line = b'{"type":2,"payload":"' + b"A" * (17 << 20) + b'","position":99}\n'
    assert outcome(*bc.reseal(blob, ann, tarsplit_text=lambda t: t + long_line)) is LimitExceededError
