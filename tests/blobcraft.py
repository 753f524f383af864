"""Build zstd:chunked blobs by hand, for hostile-input tests and fuzz seeds.

Three levels, from faithful to hostile:

* :func:`make_tar` + :func:`convert_tar`: a tar written with Python's tarfile
  (names the writer accepts, like ``../x`` or ``/abs``), converted by the
  package's own writer.
* :func:`split_blob` / :func:`assemble` / :func:`reseal`: take a blob apart
  into payload frames, TOC JSON and tar-split text, change any of them, and
  put it back together with a correct footer, skippable frames, annotations
  and (unless asked otherwise) a ``tarSplitDigest`` that matches, so a test
  reaches the check it aims at instead of failing on a digest first.
* :func:`craft_blob`: a blob around TOC entries given as dicts (anything the
  JSON can say, NUL bytes included), with file contents compressed as frames
  and offsets and digests filled in. Without a tar-split unless one is given.

Nothing here is part of the package: compression uses python-zstandard, the
footer comes from ``zstd_chunked._native.build_footer`` and the annotations
from ``zstd_chunked.annotations.format_annotations``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Callable, Optional

import zstandard

import zstd_chunked
from zstd_chunked import format as fmt
from zstd_chunked._native import build_footer
from zstd_chunked.annotations import Position, format_annotations, parse_annotations

MTIME = 1700000000


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(data: bytes, level: int = 3) -> bytes:
    """One zstd frame with a content checksum (as every writer of the format makes them)."""
    return zstandard.ZstdCompressor(level=level, write_checksum=True).compress(data)


def decompress(data: bytes) -> bytes:
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
    return reader.read()


def skippable(payload: bytes) -> bytes:
    return fmt.SKIPPABLE_MAGIC_BYTES + len(payload).to_bytes(4, "little") + payload


# --------------------------------------------------------------------------- tars


def make_tar(members: Iterable[tuple[Any, ...]], *, fmt_: int = tarfile.PAX_FORMAT, end: bool = True) -> bytes:
    """A tar from ``(kind, name, arg)`` tuples.

    kinds: ``file`` (arg: bytes), ``dir``, ``symlink``/``hardlink`` (arg: target),
    ``fifo``, ``char``/``block`` (arg: (major, minor)). ``end=False`` leaves out
    the end-of-archive blocks and record padding.
    """
    out = io.BytesIO()
    tf = tarfile.TarFile(fileobj=out, mode="w", format=fmt_)
    for member in members:
        kind, name = member[0], member[1]
        arg = member[2] if len(member) > 2 else None
        info = tarfile.TarInfo(name)
        info.mtime = MTIME
        info.mode = 0o644
        data = None
        if kind == "file":
            data = arg or b""
            info.size = len(data)
        elif kind == "dir":
            info.type, info.mode = tarfile.DIRTYPE, 0o755
        elif kind == "symlink":
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, arg, 0o777
        elif kind == "hardlink":
            info.type, info.linkname = tarfile.LNKTYPE, arg
        elif kind == "fifo":
            info.type = tarfile.FIFOTYPE
        elif kind in ("char", "block"):
            info.type = tarfile.CHRTYPE if kind == "char" else tarfile.BLKTYPE
            info.devmajor, info.devminor = arg or (1, 3)
        else:
            raise ValueError(kind)
        tf.addfile(info, io.BytesIO(data) if data is not None else None)
    if end:
        tf.close()
    return out.getvalue()  # without close(): no end-of-archive blocks, no record padding


def convert_tar(tar: bytes, *, level: int = 3, threads: int = 1) -> tuple[bytes, dict[str, str]]:
    """Convert a tar with the package's writer; returns the blob and its annotations."""
    out = io.BytesIO()
    info = zstd_chunked.convert(io.BytesIO(tar), out, level=level, threads=threads)
    return out.getvalue(), dict(info.annotations)


# --------------------------------------------------------------------- blob parts


@dataclass
class Parts:
    """A blob taken apart: everything before the TOC frame, and the two metadata documents."""

    payload: bytes
    toc: bytes
    tarsplit: Optional[bytes]


def split_blob(blob: bytes, annotations: dict[str, str]) -> Parts:
    ann = parse_annotations(annotations)
    toc_data = blob[ann.toc.offset:ann.toc.end]
    payload = blob[:ann.toc.offset - fmt.SKIPPABLE_HEADER_SIZE]
    tarsplit = None
    if ann.tarsplit is not None:
        tarsplit = decompress(blob[ann.tarsplit.offset:ann.tarsplit.end])
    return Parts(payload, decompress(toc_data), tarsplit)


_TARSPLIT_DIGEST_RE = re.compile(rb'"tarSplitDigest":"[^"]*"')


def assemble(payload: bytes, toc: bytes, tarsplit: Optional[bytes], *, fix_digest: bool = True,
             toc_frame: Optional[bytes] = None, tarsplit_frame: Optional[bytes] = None,
             level: int = 3) -> tuple[bytes, dict[str, str]]:
    """Payload frames + TOC + tar-split + footer, and matching annotations.

    With ``fix_digest`` the TOC's ``tarSplitDigest`` (if present, as compact
    JSON) is replaced by the digest of the compressed tar-split. ``toc_frame`` /
    ``tarsplit_frame`` give the compressed bytes verbatim instead.
    """
    ts_data = b""
    if tarsplit is not None:
        ts_data = tarsplit_frame if tarsplit_frame is not None else compress(tarsplit, level)
        if fix_digest:
            digest = f'"tarSplitDigest":"{sha256(ts_data)}"'.encode()
            toc = _TARSPLIT_DIGEST_RE.sub(lambda _m: digest, toc)
    toc_data = toc_frame if toc_frame is not None else compress(toc, level)
    blob = bytearray(payload)
    toc_pos = Position(len(blob) + fmt.SKIPPABLE_HEADER_SIZE, len(toc_data), len(toc))
    blob += skippable(toc_data)
    ts_pos = None
    if tarsplit is not None:
        ts_pos = Position(len(blob) + fmt.SKIPPABLE_HEADER_SIZE, len(ts_data), len(tarsplit))
        blob += skippable(ts_data)
    blob += build_footer(toc_pos.offset, toc_pos.length, toc_pos.uncompressed,
                         ts_pos.offset if ts_pos else 0, ts_pos.length if ts_pos else 0,
                         ts_pos.uncompressed if ts_pos else 0)
    return bytes(blob), format_annotations(sha256(toc_data), toc_pos, ts_pos)


def reseal(blob: bytes, annotations: dict[str, str], *,
           toc: Optional[Callable[[Any], Any]] = None,
           toc_text: Optional[Callable[[bytes], bytes]] = None,
           tarsplit: Optional[Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = None,
           tarsplit_text: Optional[Callable[[bytes], bytes]] = None,
           payload: Optional[Callable[[bytes], bytes]] = None,
           fix_digest: bool = True) -> tuple[bytes, dict[str, str]]:
    """Rebuild a blob after changing its parts.

    ``toc`` edits the decoded TOC document (a dict; return it); ``toc_text`` the
    raw JSON bytes; ``tarsplit`` the list of decoded tar-split lines;
    ``tarsplit_text`` the raw JSON-lines bytes; ``payload`` the frame bytes.
    """
    parts = split_blob(blob, annotations)
    toc_bytes = parts.toc
    if toc is not None:
        toc_bytes = dump_json(toc(json.loads(toc_bytes)))
    if toc_text is not None:
        toc_bytes = toc_text(toc_bytes)
    ts = parts.tarsplit
    if tarsplit is not None:
        assert ts is not None
        lines = [json.loads(line) for line in ts.splitlines() if line.strip()]
        ts = b"".join(dump_json(obj) + b"\n" for obj in tarsplit(lines))
    if tarsplit_text is not None:
        assert ts is not None
        ts = tarsplit_text(ts)
    body = parts.payload if payload is None else payload(parts.payload)
    return assemble(body, toc_bytes, ts, fix_digest=fix_digest)


def dump_json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


# ------------------------------------------------------------------ crafted TOCs


def craft_blob(entries: list[dict[str, Any]], contents: Optional[dict[str, bytes]] = None, *,
               tarsplit: Optional[bytes] = None, head: bytes = b"\0" * 512,
               tail: bytes = b"\0" * 1024) -> tuple[bytes, dict[str, str]]:
    """A blob whose TOC lists ``entries`` verbatim.

    For each ``reg`` entry whose name is in ``contents`` (and that has no
    ``offset`` of its own), the content is compressed into one frame and the
    entry gets ``size``, ``digest``, ``offset`` and ``endOffset``. The payload
    starts with a frame of ``head`` and ends with a frame of ``tail`` (the
    reference always writes header bytes first). A ``tarSplitDigest`` is added
    when ``tarsplit`` (uncompressed JSON lines) is given.
    """
    contents = contents or {}
    payload = bytearray(compress(head))
    out_entries = []
    for entry in entries:
        entry = dict(entry)
        name = entry.get("name")
        if entry.get("type") == "reg" and name in contents and "offset" not in entry:
            data = contents[name]
            entry.setdefault("size", len(data))
            entry.setdefault("digest", sha256(data))
            if data:
                entry["offset"] = len(payload)
                payload += compress(data)
                entry["endOffset"] = len(payload)
                payload += compress(b"\0" * 512)  # the next header frame
        out_entries.append(entry)
    payload += compress(tail)
    doc: dict[str, Any] = {"version": 1, "entries": out_entries}
    if tarsplit is not None:
        doc["tarSplitDigest"] = "sha256:" + "0" * 64  # fixed by assemble()
    return assemble(bytes(payload), dump_json(doc), tarsplit)


def reg(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "reg", "name": name, "mode": 0o644, **extra}


def entry(kind: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "mode": 0o755 if kind == "dir" else 0o644, **extra}


# ------------------------------------------------------------------ exercising


def exercise(blob: bytes, annotations: Optional[dict[str, str]] = None, **open_kw: Any) -> dict[str, Any]:
    """Everything a consumer does with a layer: open, verify, read every file (whole and
    through ``open()``), rebuild the tar. Returns what it saw; raises whatever the package
    raises. Used by the malformed-input tests and the fuzz targets: the only acceptable
    exceptions are :class:`zstd_chunked.ZstdChunkedError` subclasses.
    """
    seen: dict[str, Any] = {}
    with zstd_chunked.open(blob, annotations, threads=open_kw.pop("threads", 2), **open_kw) as layer:
        seen["entries"] = [(e.type, e.name) for e in layer.entries()]
        seen["verify"] = layer.verify()
        files = {}
        for e in layer.entries():
            if e.type == fmt.TYPE_REG:
                data = layer.read(e.name)
                with layer.open(e.name) as f:
                    if f.read() != data:
                        raise AssertionError(f"LayerFile and read() disagree on {e.name!r}")
                files[e.name] = data
        seen["files"] = files
        if layer.has_tarsplit:
            out = io.BytesIO()
            seen["diffID"] = layer.rebuild_tar(out)
            seen["tar"] = out.getvalue()
    return seen


# ------------------------------------------------------------ resource accounting


@dataclass(frozen=True)
class Resources:
    """What a process holds: Python threads, OS threads (native ones included), descriptors,
    and native contexts of zstd_chunked._native that are alive and not closed."""

    threads: int
    tasks: int
    fds: tuple[str, ...]
    contexts: int


def resources() -> Resources:
    import gc
    import os
    import threading

    from zstd_chunked import _native

    gc.collect()
    contexts = sum(1 for obj in gc.get_objects()
                   if isinstance(obj, _native._Closable) and not obj.closed)
    return Resources(threads=len(threading.enumerate()), tasks=len(os.listdir("/proc/self/task")),
                     fds=tuple(sorted(os.listdir("/proc/self/fd"))), contexts=contexts)


def assert_released(before: Resources, timeout: float = 5.0) -> None:
    """Wait until the process is back to ``before`` (an OS thread lingers for a moment after
    ``Thread.join()`` returns), then compare; fails with what is left over."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        now = resources()
        if now == before or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert now.threads == before.threads, f"Python threads left: {now.threads} > {before.threads}"
    assert now.tasks == before.tasks, f"OS threads left: {now.tasks} > {before.tasks}"
    assert now.fds == before.fds, f"descriptors left: {sorted(set(now.fds) - set(before.fds))}"
    assert now.contexts == before.contexts, f"native contexts left open: {now.contexts} > {before.contexts}"
