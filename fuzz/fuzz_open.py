"""Fuzz target: the whole read path - open, verify, read, rebuild, extract.

Two input forms:

* a blob, used as is. It is opened through its footer (unauthenticated) and,
  when the footer parses, again with annotations made from the footer and the
  true digest of the bytes it points at, so mutations get past the TOC digest;
* ``ZCKPARTS`` + TOC JSON + ``\\0\\0`` + tar-split JSON lines + ``\\0\\0`` +
  payload frames (JSON has no raw NUL bytes; the payload, last, may hold
  anything): the three parts are assembled into a blob with correct frames,
  footer, annotations and ``tarSplitDigest`` (tests/blobcraft.py), so
  mutations of the JSON reach the TOC, tar-split and agreement checks and
  extraction.

Each layer that opens is verified, every regular file is read (whole and
through ``Layer.open``), the tar is rebuilt, and the layer is extracted into a
fresh directory. Checked: only exceptions from zstd_chunked.errors (and
OSError from the file system during extraction, e.g. a name too long); limits
of 1 MiB on TOC and tar-split; nothing written outside the extraction
directory.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile

from _harness import fuzz, instrument_if_main

instrument_if_main(__name__)

import blobcraft  # noqa: E402

import zstd_chunked  # noqa: E402
from zstd_chunked import format as fmt  # noqa: E402
from zstd_chunked._native import parse_footer  # noqa: E402
from zstd_chunked.annotations import Position, format_annotations  # noqa: E402
from zstd_chunked.errors import FormatError, ZstdChunkedError  # noqa: E402

LIMIT = 1 << 20
_SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def annotations_for(data: bytes) -> dict[str, str] | None:
    """Annotations matching what the footer says, with the TOC's true digest."""
    try:
        f = parse_footer(data[-fmt.FOOTER_FRAME_SIZE:], len(data))
    except FormatError:
        return None
    toc = Position(f.toc_offset, f.toc_length, f.toc_uncompressed)
    digest = "sha256:" + hashlib.sha256(data[toc.offset:toc.end]).hexdigest()
    tarsplit = Position(f.tarsplit_offset, f.tarsplit_length, f.tarsplit_uncompressed) if f.tarsplit_offset else None
    return format_annotations(digest, toc, tarsplit)


PARTS_MAGIC = b"ZCKPARTS"
SEPARATOR = b"\0\0"


def from_parts(data: bytes) -> tuple[bytes, dict[str, str]]:
    toc, _, rest = data[len(PARTS_MAGIC):].partition(SEPARATOR)
    tarsplit, _, payload = rest.partition(SEPARATOR)
    return blobcraft.assemble(payload, toc, tarsplit or None)


def to_parts(payload: bytes, toc: bytes, tarsplit: bytes | None) -> bytes:
    return PARTS_MAGIC + toc + SEPARATOR + (tarsplit or b"") + SEPARATOR + payload


class _NoCache:
    def forget(self, rel: str) -> None:
        pass


def _rmtree(path: str) -> None:
    """Remove a tree of any depth (shutil.rmtree recurses, and extracted trees can be deep)."""
    from zstd_chunked.extract import _remove

    parent, name = os.path.split(path)
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _remove(_NoCache(), name, name, fd)  # type: ignore[arg-type]
    finally:
        os.close(fd)


def _extract(data: bytes, annotations: dict[str, str] | None) -> None:
    with zstd_chunked.open(data, annotations, max_toc_size=LIMIT, max_tarsplit_size=LIMIT, threads=1) as layer:
        sandbox = tempfile.mkdtemp(prefix="zck-fuzz-", dir=_SCRATCH)
        try:
            try:
                layer.extract(os.path.join(sandbox, "dest"), whiteouts="apply", owners=False)
            except OSError:
                pass  # the file system refused a name (too long...): not a finding
            outside = [name for name in os.listdir(sandbox) if name != "dest"]
            assert not outside, f"extraction wrote outside its directory: {outside}"
        finally:
            _rmtree(sandbox)


def check(data: bytes) -> None:
    if data.startswith(PARTS_MAGIC):
        blob, annotations = from_parts(data)
        attempts: list[tuple[bytes, dict[str, str] | None]] = [(blob, annotations)]
    else:
        found = annotations_for(data)
        attempts = [(data, None)] + ([(data, found)] if found else [])
    for blob, ann in attempts:
        for step in (blobcraft.exercise, _extract):
            try:
                if step is _extract:
                    _extract(blob, ann)
                else:
                    blobcraft.exercise(blob, ann, max_toc_size=LIMIT, max_tarsplit_size=LIMIT, threads=1)
            except ZstdChunkedError:
                pass


if __name__ == "__main__":
    fuzz(check)
    sys.exit(0)
