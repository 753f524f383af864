"""Open a zstd:chunked layer: locate and authenticate its metadata, read files by range.

Trust model (one place, here):

* With the layer's annotations, the TOC digest from the image manifest
  authenticates the TOC; the TOC's ``tarSplitDigest`` authenticates the
  tar-split; the two must then describe the same entries. File contents are
  checked against the TOC's sha256 digests as they are read.
* Without annotations the TOC and tar-split are located through the footer.
  Nothing anchors them to an image: the layer is reported as unauthenticated
  (``Layer.authenticated`` is False) although its internal consistency is still
  checked.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Callable, NamedTuple, Optional

import zstandard

from . import format as fmt
from ._collector import collector_paused
from ._native import DecodeJobs, FooterInfo, TocScan, parse_footer
from .annotations import LayerAnnotations, Position, parse_annotations
from .errors import (
    DigestMismatchError,
    FormatError,
    LimitExceededError,
    MissingTarSplitError,
    NotFoundError,
    UsageError,
)
from .sources import RangeSource, as_range_source
from .tarsplit import TarSplitEntry, iter_tarsplit
from .toc import Chunk, Toc, TocEntry, merge_files, parse_toc_scanned
from .tocmatch import check_toc_matches_tarsplit

#: Tar-split data up to this size (uncompressed) is kept decoded after open() checked it.
TARSPLIT_CACHE_LIMIT = 128 << 20
#: Chunks are fetched and decompressed in groups of about this many bytes.
FETCH_GROUP = 8 << 20
#: Chunks larger than FETCH_GROUP (compressed or not), and zero chunks, are produced
#: in pieces of at most this many bytes, so memory stays bounded whatever sizes the
#: TOC claims.
PIECE = 1 << 20
_ZERO_PIECE = bytes(PIECE)


def sha256_raw(digest: str) -> Optional[bytes]:
    """The 32 raw bytes of a ``sha256:<hex>`` digest; None for other algorithms or odd text."""
    if len(digest) != 71 or not digest.startswith("sha256:"):
        return None
    try:
        return bytes.fromhex(digest[7:])
    except ValueError:
        return None


def digest_of(data: bytes | bytearray | memoryview, algorithm_digest: str) -> str:
    algorithm = algorithm_digest.split(":", 1)[0]
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class _LimitedReader(io.RawIOBase):
    """Reads a decompressing stream, refusing to produce more than ``limit`` bytes."""

    def __init__(self, inner: Any, limit: int, what: str) -> None:
        self._inner = inner
        self._left = limit
        self._limit = limit
        self._what = what
        self.count = 0
        self.exceeded = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        view = memoryview(buf)
        want = min(len(view), self._left + 1)
        if want == 0:
            return 0
        try:
            data = self._inner.read(want)
        except zstandard.ZstdError as exc:
            raise FormatError(f"{self._what}: corrupt zstd data: {exc}") from None
        n = len(data)
        if n > self._left:
            self.exceeded = True
            raise LimitExceededError(f"{self._what} decompresses to more than {self._limit} bytes")
        view[:n] = data
        self._left -= n
        self.count += n
        return n


def _decompress_limited(data: bytes, limit: int, what: str) -> bytes:
    reader = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
        io.BytesIO(data), read_across_frames=True)
    limited = _LimitedReader(reader, limit, what)
    out = io.BytesIO()
    while True:
        chunk = limited.read(1 << 20)
        if not chunk:
            break
        out.write(chunk)
    return out.getvalue()


class FileContent(NamedTuple):
    """Where a regular file's bytes are: its TOC entry and chunk list (made on every lookup)."""

    entry: TocEntry
    chunks: tuple[Chunk, ...]


class Layer:
    """An open zstd:chunked layer. Create with :func:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, source: RangeSource, owned: bool, *, annotations: Optional[Mapping[str, str]],
                 max_toc_size: int, max_tarsplit_size: int, threads: int, lazy_tarsplit: bool = False) -> None:
        self._lazy_tarsplit = lazy_tarsplit
        self._deferred_tarsplit: Optional[tuple[Position, str]] = None
        self._source = source
        self._owned = owned
        self._closed = False
        self.size = source.size
        self.threads = threads
        self.max_toc_size = max_toc_size
        self.max_tarsplit_size = max_tarsplit_size
        self.footer: Optional[FooterInfo] = None
        self.annotations: Optional[LayerAnnotations] = None
        self.authenticated = False
        self.tarsplit_compressed: Optional[bytes] = None
        self.tarsplit_position: Optional[Position] = None
        self._tarsplit_uncompressed_size = 0
        self.tar_size: Optional[int] = None
        if annotations is not None:
            self.annotations = parse_annotations(annotations)
            toc_pos, tarsplit_pos = self.annotations.toc, self.annotations.tarsplit
        else:
            toc_pos, tarsplit_pos = self._positions_from_footer()
        self.toc_position = toc_pos
        with collector_paused():
            self._load(toc_pos, tarsplit_pos)

    # -- loading ----------------------------------------------------------------

    def _read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FormatError(f"range {offset}+{length} is outside the blob of {self.size} bytes")
        data = self._source.read_range(offset, length)
        if len(data) != length:
            raise FormatError(f"range source returned {len(data)} bytes for {offset}+{length}")
        return bytes(data)

    def _positions_from_footer(self) -> tuple[Position, Optional[Position]]:
        tail_len = min(self.size, fmt.FOOTER_FRAME_SIZE)
        if tail_len <= 0:
            raise FormatError("empty blob")
        self.footer = parse_footer(self._read(self.size - tail_len, tail_len), self.size)
        f = self.footer
        toc = Position(f.toc_offset, f.toc_length, f.toc_uncompressed)
        tarsplit = None
        if f.tarsplit_offset:
            tarsplit = Position(f.tarsplit_offset, f.tarsplit_length, f.tarsplit_uncompressed)
        return toc, tarsplit

    def _check_frame_header(self, pos: Position, what: str) -> None:
        """The metadata must sit in a skippable frame of exactly its length (a check upstream lacks)."""
        if pos.offset < fmt.SKIPPABLE_HEADER_SIZE:
            raise FormatError(f"{what} offset {pos.offset} leaves no room for its skippable frame header")
        if pos.end > self.size:
            raise FormatError(f"{what} range {pos.offset}+{pos.length} is outside the blob of {self.size} bytes")
        header = self._read(pos.offset - fmt.SKIPPABLE_HEADER_SIZE, fmt.SKIPPABLE_HEADER_SIZE)
        magic = int.from_bytes(header[:4], "little")
        if magic & fmt.SKIPPABLE_MAGIC_MASK != fmt.SKIPPABLE_MAGIC:
            raise FormatError(f"{what} at {pos.offset} is not inside a skippable frame")
        if int.from_bytes(header[4:], "little") != pos.length:
            raise FormatError(f"{what} length {pos.length} differs from its skippable frame's")

    def _load(self, toc_pos: Position, tarsplit_pos: Optional[Position]) -> None:
        if toc_pos.length > self.max_toc_size or toc_pos.uncompressed > self.max_toc_size:
            raise LimitExceededError(
                f"TOC of {toc_pos.length} compressed / {toc_pos.uncompressed} uncompressed bytes "
                f"exceeds the limit of {self.max_toc_size}")
        self._check_frame_header(toc_pos, "TOC")
        toc_data = self._read(toc_pos.offset, toc_pos.length)
        self.toc_digest = "sha256:" + hashlib.sha256(toc_data).hexdigest()
        if self.annotations is not None:
            expected = self.annotations.toc_digest
            actual = digest_of(toc_data, expected)
            if actual != expected:
                raise DigestMismatchError(f"TOC digest mismatch: annotation says {expected}, blob has {actual}")
            self.authenticated = True
        try:
            self.toc_raw = _decompress_limited(toc_data, toc_pos.uncompressed, "TOC")
        except LimitExceededError:
            raise FormatError(
                f"TOC decompresses to more than the {toc_pos.uncompressed} bytes the layer says") from None
        if len(self.toc_raw) != toc_pos.uncompressed:
            raise FormatError(
                f"TOC decompresses to {len(self.toc_raw)} bytes, the layer says {toc_pos.uncompressed}")
        toc, scan = parse_toc_scanned(self.toc_raw)
        self.toc: Toc = toc
        self._files = merge_files(self.toc, toc_pos.offset - fmt.SKIPPABLE_HEADER_SIZE)
        self._by_name: dict[str, TocEntry] = {e.name: e for e in self.toc.files()}
        if self.toc.tarsplit_digest:
            if tarsplit_pos is None:
                raise FormatError("the TOC requires a tar-split, but the layer does not say where it is")
            if self._lazy_tarsplit:
                self._deferred_tarsplit = (tarsplit_pos, self.toc.tarsplit_digest)
            else:
                self._load_tarsplit(tarsplit_pos, self.toc.tarsplit_digest, scan)

    def _ensure_tarsplit(self) -> None:
        """Load and cross-check a tar-split that open() was asked to defer."""
        if self._deferred_tarsplit is not None:
            pos, digest = self._deferred_tarsplit
            self._deferred_tarsplit = None
            self._load_tarsplit(pos, digest)

    def _load_tarsplit(self, pos: Position, digest: str, scan: Optional[TocScan] = None) -> None:
        if pos.length > self.max_tarsplit_size or pos.uncompressed > self.max_tarsplit_size:
            raise LimitExceededError(
                f"tar-split of {pos.length} compressed / {pos.uncompressed} uncompressed bytes "
                f"exceeds the limit of {self.max_tarsplit_size}")
        self._check_frame_header(pos, "tar-split")
        if pos.offset < self.toc_position.end and self.toc_position.offset < pos.end:
            raise FormatError("TOC and tar-split overlap")
        data = self._read(pos.offset, pos.length)
        actual = digest_of(data, digest)
        if actual != digest:
            raise DigestMismatchError(f"tar-split digest mismatch: TOC says {digest}, blob has {actual}")
        self.tarsplit_compressed = data
        self.tarsplit_position = pos
        segments: list[bytes] = []
        size = 0
        keep = pos.uncompressed <= TARSPLIT_CACHE_LIMIT
        entries: list[TarSplitEntry] = []
        stream = self._tarsplit_stream(pos.uncompressed)
        try:
            for e in iter_tarsplit(stream):
                if keep:
                    entries.append(e)
                if e.type == fmt.TARSPLIT_SEGMENT_TYPE:
                    segments.append(e.payload or b"")
                    size += len(e.payload or b"")
                else:
                    size += e.size
            if stream.count != pos.uncompressed:
                raise FormatError(
                    f"tar-split decompresses to {stream.count} bytes, the layer says {pos.uncompressed}")
        except LimitExceededError:
            if not stream.exceeded:
                raise  # a line over the decoder's limit
            raise FormatError(
                f"tar-split decompresses to more than the {pos.uncompressed} bytes the layer says") from None
        finally:
            stream.close()
        check_toc_matches_tarsplit(self.toc, segments, scan)
        self.tar_size = size
        self._tarsplit_cache: Optional[list[TarSplitEntry]] = entries if keep else None

    def _tarsplit_stream(self, limit: Optional[int] = None) -> _LimitedReader:
        self._ensure_tarsplit()
        if self.tarsplit_compressed is None:
            raise MissingTarSplitError("this layer has no tar-split: the exact tar cannot be rebuilt")
        reader = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
            io.BytesIO(self.tarsplit_compressed), read_across_frames=True)
        return _LimitedReader(reader, self.max_tarsplit_size if limit is None else limit, "tar-split")

    def tarsplit_entries(self) -> Iterator[TarSplitEntry]:
        """The decoded tar-split entries, streamed. Raises MissingTarSplitError without one."""
        self._ensure_tarsplit()
        cached = getattr(self, "_tarsplit_cache", None)
        if cached is not None:
            yield from cached
            return
        stream = self._tarsplit_stream()
        try:
            yield from iter_tarsplit(io.BufferedReader(stream, 1 << 20))
        finally:
            stream.close()

    # -- queries -----------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("layer is closed")

    @property
    def has_tarsplit(self) -> bool:
        return self.tarsplit_compressed is not None or self._deferred_tarsplit is not None

    def entries(self) -> list[TocEntry]:
        """Every TOC entry except ``chunk`` continuations, in layer order."""
        return list(self.toc.files())

    def entry(self, path: str) -> TocEntry:
        """The TOC entry for ``path`` (exact TOC name, or the same path without ``./`` or ``/``)."""
        found = self._by_name.get(path)
        if found is None:
            found = self._lookup_normalized(path)
        if found is None:
            raise NotFoundError(f"{path!r} is not in the layer")
        return found

    def _lookup_normalized(self, path: str) -> Optional[TocEntry]:
        from .tarstream import go_clean_path

        want = go_clean_path("/" + path)
        if not hasattr(self, "_normalized"):
            self._normalized = {go_clean_path("/" + name): e for name, e in self._by_name.items()}
        return self._normalized.get(want)

    def entry_exact(self, name: str) -> TocEntry:
        """The TOC entry named exactly ``name``; KeyError if none."""
        return self._by_name[name]

    def content_of(self, entry: TocEntry) -> FileContent:
        """Chunk list of a ``reg`` entry."""
        rec = self._files[entry.name]
        return FileContent(rec.entry, tuple(rec.chunks))

    def file(self, path: str) -> FileContent:
        entry = self.entry(path)
        if entry.type == fmt.TYPE_HARDLINK:
            entry = self.entry(entry.linkname)
        if entry.type != fmt.TYPE_REG:
            raise NotFoundError(f"{path!r} is not a regular file (type {entry.type})")
        return self.content_of(entry)

    def info(self) -> dict[str, Any]:
        """A summary of the layer's structure and trust state."""
        self._ensure_tarsplit()
        files = self.entries()
        chunk_count = sum(len(r.chunks) for r in self._files.values())
        zero_chunks = sum(1 for r in self._files.values() for c in r.chunks if c.zeros)
        out: dict[str, Any] = {
            "size": self.size,
            "authenticated": self.authenticated,
            "tocDigest": self.toc_digest,
            "tocOffset": self.toc_position.offset,
            "tocLength": self.toc_position.length,
            "tocUncompressed": self.toc_position.uncompressed,
            "tocVersion": self.toc.version,
            "entries": len(files),
            "regularFiles": sum(1 for e in files if e.type == fmt.TYPE_REG),
            "chunks": chunk_count,
            "zeroChunks": zero_chunks,
            "contentBytes": sum(r.entry.size for r in self._files.values()),
            "tarSplit": self.has_tarsplit,
            "tarSplitDigest": self.toc.tarsplit_digest or None,
            "tarSize": self.tar_size,
            "footer": None if self.footer is None else f"v{self.footer.version}",
            "annotations": None if self.annotations is None else self.annotations.to_dict(),
            "oldAnnotationKeys": bool(self.annotations and self.annotations.old_keys),
        }
        if self.tarsplit_position is not None:
            out["tarSplitOffset"] = self.tarsplit_position.offset
            out["tarSplitLength"] = self.tarsplit_position.length
            out["tarSplitUncompressed"] = self.tarsplit_position.uncompressed
        return out

    def ranges(self, paths: Iterable[str], gap: int = fmt.RANGE_MERGE_GAP) -> list[tuple[int, int]]:
        """Merged ``(offset, length)`` byte ranges needed to read ``paths`` (zero chunks need none)."""
        spans: list[tuple[int, int]] = []
        for path in paths:
            for c in self.file(path).chunks:
                if not c.zeros:
                    spans.append((c.offset, c.end))
        return merge_ranges(spans, gap)

    # -- reading -------------------------------------------------------------------

    def _decompress_chunks(self, chunks: Sequence[Chunk]) -> list[bytes]:
        """Fetch and decompress data chunks (in parallel in C), verifying chunk digests."""
        arena = bytearray(sum(c.size for c in chunks))
        jobs = DecodeJobs(arena)
        python_checks = set()
        at = 0
        for i, c in enumerate(chunks):
            raw = sha256_raw(c.digest) if c.digest else None
            if c.digest and raw is None:
                python_checks.add(i)
            jobs.decode(jobs.source(self._read(c.offset, c.end - c.offset)), 0, c.end - c.offset, at, c.size, raw)
            at += c.size
        failure = jobs.run(self.threads if len(chunks) > 1 else 0)
        if failure is not None:
            index, exc = failure
            c = chunks[index]
            if isinstance(exc, DigestMismatchError):
                raise DigestMismatchError(f"chunk at {c.offset} does not match its TOC digest {c.digest}")
            raise type(exc)(f"chunk data at {c.offset}: {exc}")
        result = []
        view = memoryview(arena)
        at = 0
        for i, c in enumerate(chunks):
            piece = view[at:at + c.size]
            at += c.size
            if i in python_checks:
                actual = digest_of(piece, c.digest)
                if actual != c.digest:
                    raise DigestMismatchError(f"chunk at {c.offset} has digest {actual}, TOC says {c.digest}")
            result.append(bytes(piece))
        return result

    def iter_file(self, path_or_content: str | FileContent) -> Iterator[bytes]:
        """Yield a regular file's bytes chunk by chunk, verifying every digest.

        Memory stays bounded: zero chunks and chunks above :data:`FETCH_GROUP`
        come in pieces of at most :data:`PIECE` bytes.
        """
        self._check_open()
        content = self.file(path_or_content) if isinstance(path_or_content, str) else path_or_content
        entry = content.entry
        sha = hashlib.new(entry.digest.split(":", 1)[0]) if entry.digest else hashlib.sha256()
        for group in _groups(content.chunks):
            first = group[0]
            pieces: Iterable[bytes]
            if first.zeros:
                pieces = _zero_pieces(first, entry.name)
            elif len(group) == 1 and _cost(first) > FETCH_GROUP:
                pieces = self._stream_pieces(first)
            else:
                pieces = self._decompress_chunks(group)
            for piece in pieces:
                sha.update(piece)
                yield piece
        actual = f"{sha.name}:{sha.hexdigest()}"
        expected = entry.digest or fmt.EMPTY_SHA256
        if actual != expected:
            raise DigestMismatchError(f"{entry.name!r} has digest {actual}, TOC says {expected}")

    def _stream_pieces(self, chunk: Chunk) -> Iterator[bytes]:
        stream = _ChunkStream(self, chunk, chunk.digest)
        try:
            while True:
                piece = stream.read(PIECE)
                if not piece:
                    return
                yield piece
        finally:
            stream.close()

    def read(self, path: str) -> bytes:
        """The whole content of a regular file (hard links are followed), verified."""
        return b"".join(self.iter_file(path))

    def open(self, path: str) -> LayerFile:
        """A seekable binary file object over a regular file; fetches only the chunks it reads."""
        self._check_open()
        return LayerFile(self, self.file(path))

    # -- rebuild and verify -----------------------------------------------------------

    def rebuild_tar(self, out: Any, diff_id: Optional[str] = None,
                    on_progress: Optional[Callable[[int], None]] = None) -> str:
        """Write the exact original tar to ``out`` (a path or binary file); returns its DiffID.

        Raises :class:`MissingTarSplitError` for layers without tar-split and
        :class:`DigestMismatchError` when ``diff_id`` is given and differs (a
        destination path is then removed).
        """
        from .rebuild import rebuild_tar

        return rebuild_tar(self, out, diff_id, on_progress)

    def verify(self, diff_id: Optional[str] = None) -> dict[str, Any]:
        """Check everything; returns a report, raises on the first failure."""
        self._ensure_tarsplit()
        from .verify import verify_layer

        return verify_layer(self, diff_id)

    def extract(self, dest: Any, **options: Any) -> Any:
        """Extract into ``dest`` safely (see :func:`zstd_chunked.extract.extract`)."""
        from .extract import extract

        return extract(self, dest, **options)

    def read_range(self, offset: int, length: int) -> bytes:
        """Raw blob bytes (for tools that walk frames)."""
        return self._read(offset, length)

    @property
    def source(self) -> RangeSource:
        return self._source

    # -- lifetime -------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owned:
            closer = getattr(self._source, "close", None)
            if closer is not None:
                closer()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Layer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cost(chunk: Chunk) -> int:
    """Bytes held in memory to decompress a chunk at once: its compressed range and its output."""
    return max(chunk.size, chunk.end - chunk.offset)


def _groups(chunks: Sequence[Chunk]) -> Iterator[list[Chunk]]:
    """Consecutive data chunks grouped up to FETCH_GROUP bytes; each zero chunk alone."""
    group: list[Chunk] = []
    size = 0
    for c in chunks:
        if c.zeros:
            if group:
                yield group
                group, size = [], 0
            yield [c]
            continue
        cost = _cost(c)
        if group and size + cost > FETCH_GROUP:
            yield group
            group, size = [], 0
        group.append(c)
        size += cost
    if group:
        yield group


def _zero_pieces(chunk: Chunk, name: str) -> Iterator[bytes]:
    """A zero chunk's bytes in pieces of at most PIECE, its digest checked at the end."""
    sha = hashlib.new(chunk.digest.split(":", 1)[0]) if chunk.digest else None
    left = chunk.size
    while left:
        n = min(left, PIECE)
        piece = _ZERO_PIECE if n == PIECE else bytes(n)
        if sha is not None:
            sha.update(piece)
        left -= n
        if not left and sha is not None and f"{sha.name}:{sha.hexdigest()}" != chunk.digest:
            raise DigestMismatchError(f"zero chunk of {name!r} has a wrong digest")
        yield piece


class RangeStream(io.RawIOBase):
    """Blob bytes ``[offset, end)``, fetched at most PIECE bytes at a time."""

    def __init__(self, layer: Layer, offset: int, end: int) -> None:
        super().__init__()
        self._layer = layer
        self._pos = offset
        self._end = end

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = min(len(buf), self._end - self._pos, PIECE)
        if n <= 0:
            return 0
        data = self._layer._read(self._pos, n)
        memoryview(buf)[:n] = data
        self._pos += n
        return n


class _ChunkStream:
    """A data chunk decompressed incrementally (for chunks too large to hold at once).

    Produces exactly ``chunk.size`` bytes (compressed bytes left over in the range
    are ignored, as upstream does) and checks ``digest`` once all are out.
    """

    def __init__(self, layer: Layer, chunk: Chunk, digest: str) -> None:
        self.chunk = chunk
        self.pos = 0
        self._digest = digest
        self._sha = hashlib.new(digest.split(":", 1)[0]) if digest else None
        source: Any = RangeStream(layer, chunk.offset, chunk.end)
        self._reader: Any = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
            source, read_size=PIECE, read_across_frames=True)

    def read(self, n: int) -> bytes:
        """Up to ``n`` further bytes; b"" at the end of the chunk."""
        c = self.chunk
        n = min(n, c.size - self.pos)
        if n <= 0:
            return b""
        try:
            data = self._reader.read(n)
        except zstandard.ZstdError as exc:
            raise FormatError(f"chunk data at {c.offset}..{c.end}: {exc}") from None
        if not data:
            raise FormatError(f"chunk data at {c.offset}..{c.end} ends after {self.pos} of {c.size} bytes")
        self.pos += len(data)
        if self._sha is not None:
            self._sha.update(data)
            if self.pos == c.size and f"{self._sha.name}:{self._sha.hexdigest()}" != self._digest:
                raise DigestMismatchError(f"chunk at {c.offset} does not match its digest {self._digest}")
        return bytes(data)

    def skip(self, n: int) -> None:
        while n > 0:
            got = len(self.read(min(n, PIECE)))
            n -= got

    def close(self) -> None:
        self._reader.close()


def merge_ranges(spans: Iterable[tuple[int, int]], gap: int,
                 max_length: Optional[int] = None) -> list[tuple[int, int]]:
    """Sort ``(start, end)`` spans and merge those closer than ``gap``; returns ``(offset, length)``.

    With ``max_length``, a span is merged only while the result stays within that many
    bytes (a single longer span is kept whole).
    """
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start - merged[-1][1] <= gap and (max_length is None or end - merged[-1][0] <= max_length):
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e - s) for s, e in merged]


class LayerFile(io.RawIOBase):
    """Read-only, seekable view of one regular file in a layer.

    Each read fetches and decompresses only the chunks it touches; every
    chunk's digest is checked, and the whole-file digest is checked when the
    file is read through from start to end.
    """

    def __init__(self, layer: Layer, content: FileContent) -> None:
        super().__init__()
        self._layer = layer
        self._content = content
        self.name = content.entry.name
        self._size = content.entry.size
        self._pos = 0
        self._cache_index = -1
        self._cache: bytes = b""
        self._sha: Optional[Any] = hashlib.sha256()
        self._hashed = 0
        self._stream: Optional[_ChunkStream] = None
        self._stream_index = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def tell(self) -> int:
        return self._pos

    def _chunk_index(self, pos: int) -> int:
        chunks = self._content.chunks
        lo, hi = 0, len(chunks) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if chunks[mid].file_offset <= pos:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def _load(self, index: int) -> bytes:
        if index != self._cache_index:
            c = self._content.chunks[index]
            data = self._layer._decompress_chunks([c])[0]
            if not c.digest and len(self._content.chunks) == 1:
                actual = digest_of(data, self._content.entry.digest)
                if actual != self._content.entry.digest:
                    raise DigestMismatchError(
                        f"{self.name!r} has digest {actual}, TOC says {self._content.entry.digest}")
            self._cache_index, self._cache = index, data
        return self._cache

    def _stream_at(self, index: int, start: int) -> _ChunkStream:
        """A stream over chunk ``index`` positioned at ``start`` (restarted when seeking back)."""
        stream = self._stream
        if stream is None or self._stream_index != index or stream.pos > start:
            if stream is not None:
                stream.close()
            c = self._content.chunks[index]
            digest = c.digest or (self._content.entry.digest if len(self._content.chunks) == 1 else "")
            stream = self._stream = _ChunkStream(self._layer, c, digest)
            self._stream_index = index
        stream.skip(start - stream.pos)
        return stream

    def readinto(self, buf: Any) -> int:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        view = memoryview(buf).cast("B")
        if self._pos >= self._size or not len(view):
            return 0
        index = self._chunk_index(self._pos)
        chunk = self._content.chunks[index]
        start = self._pos - chunk.file_offset
        want = min(len(view), chunk.size - start)
        if chunk.zeros:
            n = min(want, PIECE)
            view[:n] = _ZERO_PIECE[:n]
        elif _cost(chunk) > FETCH_GROUP:
            data = self._stream_at(index, start).read(min(want, PIECE))
            n = len(data)
            view[:n] = data
        else:
            data = self._load(index)
            n = min(want, len(data) - start)
            view[:n] = data[start:start + n]
        if self._sha is not None and self._hashed == self._pos:
            self._sha.update(view[:n])
            self._hashed += n
            if self._hashed == self._size:
                actual = "sha256:" + self._sha.hexdigest()
                self._sha = None
                if actual != (self._content.entry.digest or fmt.EMPTY_SHA256):
                    raise DigestMismatchError(
                        f"{self.name!r} has digest {actual}, TOC says {self._content.entry.digest}")
        self._pos += n
        return n

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        super().close()

    def readall(self) -> bytes:
        out = bytearray()
        while True:
            chunk = self.read(1 << 20)
            if not chunk:
                return bytes(out)
            out += chunk


def open_layer(src: Any, annotations: Optional[Mapping[str, str]] = None, *,
               max_toc_size: int = fmt.MAX_TOC_SIZE, max_tarsplit_size: int = fmt.MAX_TARSPLIT_SIZE,
               threads: Optional[int] = None, lazy_tarsplit: bool = False) -> Layer:
    """Open a layer from a path, bytes, a seekable binary file, or a range source.

    ``annotations`` is the layer descriptor's annotation map from the OCI
    manifest; without it the footer is used and the layer is unauthenticated.

    The tar-split is read and checked against the TOC at once, as the
    reference does. With ``lazy_tarsplit=True`` that happens on first use
    (rebuild, verify, info, tarsplit_entries) instead, so a client that only
    reads a few files fetches just the TOC and those files' chunks.
    """
    from .writer import default_threads

    source, owned = as_range_source(src)
    try:
        return Layer(source, owned, annotations=annotations, max_toc_size=max_toc_size,
                     max_tarsplit_size=max_tarsplit_size,
                     threads=default_threads() if threads is None else max(1, int(threads)),
                     lazy_tarsplit=lazy_tarsplit)
    except BaseException:
        if owned:
            closer = getattr(source, "close", None)
            if closer is not None:
                closer()
        raise

