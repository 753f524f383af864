"""Partial pulls from a registry: a local store of files by digest, ``pull`` and remote ``cat``.

A pull of one zstd:chunked layer goes like containers/storage's partial pull:

1. The layer descriptor's annotations locate the TOC and tar-split; both are
   fetched in one range request and authenticated (TOC digest from the
   manifest, tar-split digest from the TOC).
2. Every regular file whose digest is already in the :class:`Store` costs
   nothing. For the others, each chunk is taken from a stored file that has a
   chunk with the same digest (re-hashed before use), made of zeros for a hole,
   or fetched: all missing chunk ranges are announced to the range source,
   which fetches them many per request. Every chunk and file digest is checked
   and new files are added to the store.
3. The exact layer tar is rebuilt from the tar-split and the stored files
   (every CRC-64 checked) and its sha256 must equal the DiffID from the image
   config. Only then is the layer extracted into the destination (whiteouts
   applied, so layers stack), copying files from the store or, with
   ``link=True``, hard-linking them.

Layers that are not zstd:chunked, or have no tar-split, are fetched whole,
converted locally, and then go through steps 2-3 like the others.

The store is a directory of files named by their sha256 digest in
containers/storage's flat layout (``<2 hex digits>/<62 hex digits>``) plus
``chunks.idx``, one line ``<chunk digest> <file digest> <offset> <size>`` per
chunk of each stored multi-chunk file.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union, cast

import zstandard

from . import format as fmt
from ._native import decompress_batch
from .annotations import has_zstd_chunked_annotations, parse_annotations
from .errors import DigestMismatchError, FormatError, NotFoundError
from .extract import WHITEOUT_OPAQUE, WHITEOUT_PREFIX, ExtractReport, _Extractor, clean_relative
from .oci import decompressed_tar
from .progress import AUTO, NullBar, bar
from .reader import FileContent, Layer, RangeStream, open_layer
from .registry import Image, Reference, RegistryBlobSource, RegistryClient, parse_reference, resolve_image
from .toc import Chunk, TocEntry

if TYPE_CHECKING:
    from .writer import LayerInfo

#: Consecutive fetched chunks are decompressed together up to this many bytes.
DECOMPRESS_GROUP = 8 << 20
_READ = 1 << 20


# --------------------------------------------------------------------------------
# The store


def _digest_parts(digest: str) -> tuple[str, str]:
    algorithm, _, hexpart = digest.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512") or not hexpart or len(hexpart) < 3 \
            or any(c not in "0123456789abcdef" for c in hexpart):
        raise FormatError(f"invalid digest {digest!r}")
    return algorithm, hexpart


class Store:
    """Files named by content digest, filled by pulls and used to avoid fetching them again."""

    INDEX = "chunks.idx"

    def __init__(self, root: Union[str, os.PathLike[str]]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._chunks: Optional[dict[str, tuple[str, int, int]]] = None

    def path(self, digest: str) -> Path:
        algorithm, hexpart = _digest_parts(digest)
        base = self.root if algorithm == "sha256" else self.root / algorithm
        return base / hexpart[:2] / hexpart[2:]

    def has(self, digest: str) -> bool:
        try:
            return self.path(digest).is_file()
        except FormatError:
            return False

    def temp(self) -> tuple[int, Path]:
        """A new temporary file inside the store (same file system, so it can be renamed in)."""
        folder = self.root / "tmp"
        folder.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="pull-", dir=folder)
        return fd, Path(name)

    def add(self, tmp: Path, digest: str, chunks: Sequence[Chunk] = ()) -> Path:
        """Move the verified file ``tmp`` in as ``digest`` and index its chunks."""
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
        records = [c for c in chunks if c.digest and not c.zeros]
        if len(records) > 1:
            lines = "".join(f"{c.digest} {digest} {c.file_offset} {c.size}\n" for c in records)
            fd = os.open(self.root / self.INDEX, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, lines.encode())
            finally:
                os.close(fd)
            if self._chunks is not None:
                for c in records:
                    self._chunks.setdefault(c.digest, (digest, c.file_offset, c.size))
        return target

    def chunk_index(self) -> dict[str, tuple[str, int, int]]:
        """chunk digest -> (file digest, offset, size), from ``chunks.idx`` (loaded once)."""
        if self._chunks is None:
            found: dict[str, tuple[str, int, int]] = {}
            try:
                with open(self.root / self.INDEX, encoding="ascii", errors="replace") as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) == 4 and parts[2].isdigit() and parts[3].isdigit():
                            found.setdefault(parts[0], (parts[1], int(parts[2]), int(parts[3])))
            except FileNotFoundError:
                pass
            self._chunks = found
        return self._chunks

    def read_chunk(self, chunk: Chunk) -> Optional[bytes]:
        """The bytes of ``chunk`` from a stored file that has it, re-hashed; None when there is none."""
        where = self.chunk_index().get(chunk.digest)
        if where is None or where[2] != chunk.size:
            return None
        file_digest, offset, size = where
        try:
            with open(self.path(file_digest), "rb") as f:
                data = os.pread(f.fileno(), size, offset)
        except (OSError, FormatError):
            return None
        algorithm = chunk.digest.split(":", 1)[0]
        if len(data) != size or f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}" != chunk.digest:
            return None
        return data


# --------------------------------------------------------------------------------
# Reports


@dataclass
class LayerPullReport:
    """What pulling one layer cost and did."""

    digest: str
    size: int
    diff_id: str = ""
    partial: bool = True
    files: int = 0
    files_from_store: int = 0
    files_fetched: int = 0
    chunks_fetched: int = 0
    chunks_from_store: int = 0
    chunk_bytes_fetched: int = 0
    bytes_received: int = 0
    requests: int = 0
    extract: Optional[ExtractReport] = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest, "size": self.size, "diffID": self.diff_id, "partial": self.partial,
            "files": self.files, "filesFromStore": self.files_from_store, "filesFetched": self.files_fetched,
            "chunksFetched": self.chunks_fetched, "chunksFromStore": self.chunks_from_store,
            "chunkBytesFetched": self.chunk_bytes_fetched, "bytesReceived": self.bytes_received,
            "requests": self.requests,
        }


@dataclass
class PullReport:
    """What :func:`pull` did, layer by layer."""

    reference: str
    manifest_digest: str
    layers: list[LayerPullReport] = field(default_factory=list)

    @property
    def bytes_received(self) -> int:
        return sum(x.bytes_received for x in self.layers)

    def to_json_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "manifestDigest": self.manifest_digest,
                "bytesReceived": self.bytes_received, "layers": [x.to_json_dict() for x in self.layers]}


# --------------------------------------------------------------------------------
# Filling the store from a layer


def _verify_chunk(chunk: Chunk, data: Any, name: str) -> None:
    if chunk.digest:
        algorithm = chunk.digest.split(":", 1)[0]
        actual = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if actual != chunk.digest:
            raise DigestMismatchError(f"{name!r}: chunk at {chunk.offset} has digest {actual}, TOC says {chunk.digest}")


class _Filler:
    """Puts every regular file of a layer into the store, fetching only what it lacks."""

    def __init__(self, layer: Layer, store: Store, report: LayerPullReport, progress: NullBar) -> None:
        self.layer = layer
        self.store = store
        self.report = report
        self.progress = progress

    def run(self) -> None:
        todo: dict[str, FileContent] = {}
        for entry in self.layer.entries():
            if entry.type != fmt.TYPE_REG or entry.size == 0:
                continue
            self.report.files += 1
            if self.store.has(entry.digest):
                self.report.files_from_store += 1
            elif entry.digest not in todo:
                todo[entry.digest] = self.layer.content_of(entry)
        if not todo:
            return
        index = self.store.chunk_index() if any(len(c.chunks) > 1 for c in todo.values()) else {}
        plans: list[tuple[FileContent, list[str]]] = []
        wanted: list[tuple[int, int]] = []
        for content in sorted(todo.values(), key=lambda c: c.chunks[0].offset):
            kinds = []
            for c in content.chunks:
                if c.zeros:
                    kinds.append("zeros")
                elif c.digest and c.digest in index:
                    kinds.append("store")
                else:
                    kinds.append("fetch")
                    wanted.append((c.offset, c.end - c.offset))
            plans.append((content, kinds))
        source = self.layer.source
        if wanted and hasattr(source, "plan"):
            source.plan(wanted)
        self.progress.set_total(sum(n for _, n in wanted))
        for content, kinds in plans:
            self._file(content, kinds)
            self.report.files_fetched += 1

    def _fetch(self, chunks: list[Chunk], name: str) -> list[bytearray]:
        jobs = [(self.layer.read_range(c.offset, c.end - c.offset), c.size) for c in chunks]
        try:
            outs = decompress_batch(jobs, self.layer.threads if len(jobs) > 1 else 0)
        except FormatError as exc:
            raise FormatError(f"{name!r}: chunk data at {chunks[0].offset}: {exc}") from None
        for c, out in zip(chunks, outs):
            _verify_chunk(c, out, name)
            self.report.chunks_fetched += 1
            self.report.chunk_bytes_fetched += c.end - c.offset
            self.progress.update(c.end - c.offset)
        return outs

    def _stream(self, chunk: Chunk, fd: int, sha: Any, name: str) -> None:
        """Fetch, decompress, hash and write one chunk piece by piece."""
        chunk_sha = hashlib.new(chunk.digest.split(":", 1)[0]) if chunk.digest else None
        stream: Any = RangeStream(self.layer, chunk.offset, chunk.end)
        reader: Any = zstandard.ZstdDecompressor(max_window_size=1 << 27).stream_reader(
            stream, read_size=_READ, read_across_frames=True)
        done = 0
        try:
            while done < chunk.size:
                try:
                    piece = reader.read(min(_READ, chunk.size - done))
                except zstandard.ZstdError as exc:
                    raise FormatError(f"{name!r}: chunk data at {chunk.offset}: {exc}") from None
                if not piece:
                    raise FormatError(f"{name!r}: chunk at {chunk.offset} ends after {done} of {chunk.size} bytes")
                sha.update(piece)
                if chunk_sha is not None:
                    chunk_sha.update(piece)
                os.pwrite(fd, piece, chunk.file_offset + done)
                done += len(piece)
        finally:
            reader.close()
        if chunk_sha is not None and f"{chunk_sha.name}:{chunk_sha.hexdigest()}" != chunk.digest:
            raise DigestMismatchError(f"{name!r}: chunk at {chunk.offset} does not match {chunk.digest}")
        self.report.chunks_fetched += 1
        self.report.chunk_bytes_fetched += chunk.end - chunk.offset
        self.progress.update(chunk.end - chunk.offset)

    def _file(self, content: FileContent, kinds: list[str]) -> None:
        entry = content.entry
        name = entry.name
        algorithm = entry.digest.split(":", 1)[0]
        sha = hashlib.new(algorithm)
        fd, tmp = self.store.temp()
        try:
            pending: list[Chunk] = []
            pending_size = 0

            def flush() -> None:
                nonlocal pending, pending_size
                if pending:
                    for c, data in zip(pending, self._fetch(pending, name)):
                        sha.update(data)
                        os.pwrite(fd, data, c.file_offset)
                    pending, pending_size = [], 0

            for c, kind in zip(content.chunks, kinds):
                data: Optional[bytes] = None
                if kind == "store":
                    data = self.store.read_chunk(c)
                    if data is None:
                        kind = "fetch"  # the stored copy went away or changed: fetch it after all
                if kind == "fetch":
                    if c.size > DECOMPRESS_GROUP:  # a huge chunk: stream it through bounded memory
                        flush()
                        self._stream(c, fd, sha, name)
                        continue
                    if pending and pending_size + c.size > DECOMPRESS_GROUP:
                        flush()
                    pending.append(c)
                    pending_size += c.size
                    continue
                flush()
                if kind == "zeros":
                    _hash_zeros(sha, c.size)  # a hole: nothing written, ftruncate below makes it
                else:
                    assert data is not None
                    self.report.chunks_from_store += 1
                    sha.update(data)
                    os.pwrite(fd, data, c.file_offset)
            flush()
            os.ftruncate(fd, entry.size)
            os.close(fd)
            fd = -1
            actual = f"{algorithm}:{sha.hexdigest()}"
            if actual != entry.digest:
                raise DigestMismatchError(f"{name!r} has digest {actual}, TOC says {entry.digest}")
            self.store.add(tmp, entry.digest, content.chunks)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            _unlink(tmp)
            raise


def _hash_zeros(sha: Any, size: int) -> None:
    block = bytes(min(size, _READ))
    while size > 0:
        n = min(size, len(block))
        sha.update(block[:n])
        size -= n


def _unlink(path: Any) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class StoredLayer:
    """A layer whose file contents are read from a store (digest-checked) instead of the blob.

    Everything else (entries, TOC, tar-split) comes from the wrapped layer; it
    can be passed to ``rebuild``/``verify``-style code and to ``extract``.
    """

    def __init__(self, layer: Layer, store: Store) -> None:
        self._layer = layer
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._layer, name)

    def iter_file(self, path_or_content: Union[str, FileContent]) -> Iterator[bytes]:
        content = self._layer.file(path_or_content) if isinstance(path_or_content, str) else path_or_content
        entry = content.entry
        if entry.size == 0:
            return
        algorithm = entry.digest.split(":", 1)[0]
        sha = hashlib.new(algorithm)
        total = 0
        path = self._store.path(entry.digest)
        with open(path, "rb") as f:
            while True:
                piece = f.read(_READ)
                if not piece:
                    break
                sha.update(piece)
                total += len(piece)
                yield piece
        actual = f"{algorithm}:{sha.hexdigest()}"
        if total != entry.size or actual != entry.digest:
            raise DigestMismatchError(f"stored file {path} for {entry.name!r} has digest {actual}, "
                                      f"the TOC says {entry.digest}")

    def read(self, path: str) -> bytes:
        return b"".join(self.iter_file(path))


# --------------------------------------------------------------------------------
# Extraction with hard links into the store


class _LinkingExtractor(_Extractor):
    """Hard-links regular files from the store when that cannot change what another tree sees.

    A store file is linked when it already has exactly the entry's mode (and
    owner, when owners are applied) and modification time, or when nothing but
    the store holds it yet (one link): then it takes the entry's attributes.
    Otherwise, or when the entry has xattrs, the file is copied.
    """

    def __init__(self, store: Store, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store = store

    def _regular(self, entry: TocEntry, base: str, pfd: int) -> None:
        if entry.size == 0 or entry.xattrs or not self._linkable(entry):
            super()._regular(entry, base, pfd)
            return
        src = self.store.path(entry.digest)
        try:
            os.link(src, base, dst_dir_fd=pfd)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EMLINK, errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            super()._regular(entry, base, pfd)
            return
        fd = os.open(base, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=pfd)
        try:
            self._attributes(entry, fd=fd)
        finally:
            os.close(fd)
        self.report.files += 1

    def _linkable(self, entry: TocEntry) -> bool:
        try:
            st = os.stat(self.store.path(entry.digest), follow_symlinks=False)
        except (OSError, FormatError):
            return False
        if not stat.S_ISREG(st.st_mode):
            return False
        if st.st_nlink == 1:
            return True  # only the store has it: it can take this entry's attributes
        if stat.S_IMODE(st.st_mode) != entry.mode & 0o7777:
            return False
        if self.owners and (st.st_uid, st.st_gid) != (entry.uid, entry.gid):
            return False
        mtime = entry.mtime()
        return mtime is not None and st.st_mtime_ns == mtime[0] * 1_000_000_000 + mtime[1]


def extract_from_store(layer: Layer, store: Store, dest: Any, *, link: bool = False, whiteouts: str = "apply",
                       owners: Optional[bool] = None, allow_devices: bool = False,
                       xattrs: bool = True) -> ExtractReport:
    """Extract ``layer`` into ``dest`` with file contents from ``store`` (copied, or hard-linked)."""
    from .extract import extract

    view = cast(Layer, StoredLayer(layer, store))
    if not link:
        return extract(view, dest, allow_devices=allow_devices, whiteouts=whiteouts, owners=owners, xattrs=xattrs)
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)
    if owners is None:
        owners = hasattr(os, "geteuid") and os.geteuid() == 0
    extractor = _LinkingExtractor(store, view, root, allow_devices=allow_devices, whiteouts=whiteouts,
                                  owners=owners, xattrs=xattrs, times=True)
    try:
        return extractor.run()
    finally:
        extractor.tree.close()


# --------------------------------------------------------------------------------
# Pulling


def fill_store(layer: Layer, store: Store, *, report: Optional[LayerPullReport] = None,
               progress: Optional[NullBar] = None) -> LayerPullReport:
    """Make every regular file of ``layer`` present in ``store``, fetching only missing chunks."""
    if report is None:
        report = LayerPullReport(digest="", size=layer.size)
    _Filler(layer, store, report, progress or NullBar()).run()
    return report


def verify_from_store(layer: Layer, store: Store, diff_id: Optional[str]) -> str:
    """Rebuild the layer tar from its tar-split and the stored files; return (and check) its DiffID."""
    from .rebuild import write_tar

    actual = write_tar(cast(Layer, StoredLayer(layer, store)), lambda _piece: None, batched=False)
    if diff_id is not None and actual != diff_id:
        raise DigestMismatchError(f"layer rebuilds to DiffID {actual}, the image config says {diff_id}")
    return actual


def metadata_range(annotations: Any) -> tuple[int, int]:
    """``(offset, length)`` covering the TOC and tar-split frames (headers included) of a layer."""
    parsed = parse_annotations(annotations)
    start = parsed.toc.offset - fmt.SKIPPABLE_HEADER_SIZE
    end = parsed.toc.end
    if parsed.tarsplit is not None:
        start = min(start, parsed.tarsplit.offset - fmt.SKIPPABLE_HEADER_SIZE)
        end = max(end, parsed.tarsplit.end)
    return max(0, start), end - max(0, start)


def open_remote_layer(client: RegistryClient, repository: str, descriptor: dict[str, Any], *,
                      gap: int = fmt.RANGE_MERGE_GAP, max_ranges: int = fmt.MAX_RANGES_PER_REQUEST,
                      threads: Optional[int] = None) -> Layer:
    """Open a zstd:chunked layer of a registry image by its manifest descriptor (metadata in one request)."""
    annotations = descriptor.get("annotations") or {}
    if not has_zstd_chunked_annotations(annotations):
        raise FormatError(f"layer {descriptor.get('digest')} is not zstd:chunked (no TOC annotations)")
    from .writer import default_threads

    source = client.blob_source(repository, descriptor["digest"], int(descriptor["size"]), gap=gap,
                                max_ranges=max_ranges)
    try:
        source.plan([metadata_range(annotations)])
        # owned: closing the layer closes the source (and its temporary file, if it fell back to one)
        return Layer(source, True, annotations=annotations, max_toc_size=fmt.MAX_TOC_SIZE,
                     max_tarsplit_size=fmt.MAX_TARSPLIT_SIZE,
                     threads=default_threads() if threads is None else max(1, int(threads)))
    except BaseException:
        source.close()
        raise


def _full_layer(client: RegistryClient, repository: str, descriptor: dict[str, Any], workdir: Path,
                diff_id: Optional[str], threads: Optional[int], report: LayerPullReport) -> Layer:
    """Fetch a layer whole, convert it to zstd:chunked locally, and open the result."""
    from .writer import convert

    out = workdir / f"converted-{descriptor['digest'].split(':')[1]}"
    with RegistryBlobSource(client, repository, descriptor["digest"], int(descriptor["size"])) as source:
        blob = source.download()
        report.requests += source.requests
        report.bytes_received += source.bytes_received
        info: LayerInfo = convert(decompressed_tar(blob), out, threads=threads)
    if diff_id is not None and info.diff_id != diff_id:
        raise DigestMismatchError(f"layer {descriptor['digest']} has DiffID {info.diff_id}, the config says {diff_id}")
    return open_layer(out, info.annotations, threads=threads)


def pull_layer(client: RegistryClient, repository: str, descriptor: dict[str, Any], dest: Any, store: Store, *,
               diff_id: Optional[str] = None, link: bool = False, owners: Optional[bool] = None,
               allow_devices: bool = False, gap: int = fmt.RANGE_MERGE_GAP,
               max_ranges: int = fmt.MAX_RANGES_PER_REQUEST, threads: Optional[int] = None,
               progress: str = AUTO, extract: bool = True) -> LayerPullReport:
    """Pull one layer into ``dest`` through ``store``; see the module documentation for the steps."""
    report = LayerPullReport(digest=descriptor["digest"], size=int(descriptor["size"]))
    layer: Optional[Layer] = None
    workdir: Optional[Path] = None
    try:
        if has_zstd_chunked_annotations(descriptor.get("annotations") or {}):
            layer = open_remote_layer(client, repository, descriptor, gap=gap, max_ranges=max_ranges,
                                      threads=threads)
            if not layer.has_tarsplit:  # cannot be verified file by file: like c/storage, pull it whole
                _account(layer, report)
                layer.close()
                layer = None
        if layer is None:
            report.partial = False
            (store.root / "tmp").mkdir(exist_ok=True)
            workdir = Path(tempfile.mkdtemp(prefix="convert-", dir=store.root / "tmp"))
            layer = _full_layer(client, repository, descriptor, workdir, diff_id, threads, report)
        label = f"pull {descriptor['digest'][7:19]}"
        with bar(0, label, mode=progress) as progress_bar:
            fill_store(layer, store, report=report, progress=progress_bar)
        _account(layer, report)
        report.diff_id = verify_from_store(layer, store, diff_id)
        if extract:
            report.extract = extract_from_store(layer, store, dest, link=link, owners=owners,
                                                allow_devices=allow_devices)
    finally:
        if layer is not None:
            layer.close()
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    return report


def _account(layer: Layer, report: LayerPullReport) -> None:
    source = layer.source
    if isinstance(source, RegistryBlobSource):
        report.requests += source.requests
        report.bytes_received += source.bytes_received
        source.requests = source.bytes_received = 0


def _client_for(ref: Reference, client: Optional[RegistryClient], options: dict[str, Any]) -> RegistryClient:
    if client is not None:
        return client
    return RegistryClient(ref.registry, **options)


def pull(ref: Union[str, Reference], dest: Union[str, os.PathLike[str]], *,
         store: Optional[Union[str, os.PathLike[str]]] = None, platform: Optional[str] = None,
         client: Optional[RegistryClient] = None, plain_http: Optional[bool] = None, tls_verify: bool = True,
         credentials: Optional[tuple[str, str]] = None, link: bool = False, owners: Optional[bool] = None,
         allow_devices: bool = False, gap: int = fmt.RANGE_MERGE_GAP, max_ranges: int = fmt.MAX_RANGES_PER_REQUEST,
         threads: Optional[int] = None, progress: str = AUTO) -> PullReport:
    """Pull image ``ref`` from its registry into directory ``dest``, layer by layer.

    ``store`` is a directory of files by digest shared between pulls: files
    found there are not fetched, and new ones are added. Without one, a
    temporary store next to ``dest`` is used and removed afterwards (its files
    are hard-linked, not copied). ``platform`` (``os/arch[/variant]``) picks
    an image from a multi-platform index; the default is this machine's.
    Everything fetched is verified, every layer's DiffID included, before it
    is extracted.
    """
    reference = parse_reference(ref) if isinstance(ref, str) else ref
    own_client = client is None
    client = _client_for(reference, client, {"plain_http": plain_http, "tls_verify": tls_verify,
                                             "credentials": credentials})
    dest_path = Path(dest)
    dest_path.mkdir(parents=True, exist_ok=True)
    temp_store: Optional[Path] = None
    if store is None:
        temp_store = Path(tempfile.mkdtemp(prefix=".zstd-chunked-store-", dir=dest_path.resolve().parent))
        the_store = Store(temp_store)
        link = True
    else:
        the_store = Store(store)
    try:
        image = resolve_image(client, reference, platform)
        report = PullReport(reference=str(reference), manifest_digest=image.manifest_digest)
        for desc, diff_id in zip(image.layers, image.diff_ids):
            report.layers.append(pull_layer(client, reference.repository, desc, dest_path, the_store,
                                            diff_id=diff_id, link=link, owners=owners,
                                            allow_devices=allow_devices, gap=gap, max_ranges=max_ranges,
                                            threads=threads, progress=progress))
        return report
    finally:
        if temp_store is not None:
            shutil.rmtree(temp_store, ignore_errors=True)
        if own_client:
            client.close()


# --------------------------------------------------------------------------------
# Reading one file


def _hidden_by(layer: Layer, rel: str) -> bool:
    """Whether ``layer`` hides ``rel`` of lower layers (a whiteout of it or of a parent, or an opaque parent)."""
    parts = rel.split("/")
    names = {clean_relative(e.name) for e in layer.entries()}
    for i in range(len(parts)):
        parent = "/".join(parts[:i])
        prefix = parent + "/" if parent else ""
        if prefix + WHITEOUT_PREFIX + parts[i] in names:
            return True
        if i > 0 and prefix + WHITEOUT_OPAQUE in names:
            return True
    return False


@dataclass
class RemoteRead:
    """Where a remote file was found and what reading it cost."""

    layer_digest: str
    path: str
    size: int
    requests: int
    bytes_received: int
    layer_size: int


def cat_remote(ref: Union[str, Reference], path: str, out: Any, *, layer: Optional[str] = None,
               platform: Optional[str] = None, client: Optional[RegistryClient] = None,
               plain_http: Optional[bool] = None, tls_verify: bool = True,
               credentials: Optional[tuple[str, str]] = None, threads: Optional[int] = None) -> RemoteRead:
    """Write one regular file of a remote image to ``out`` (a binary file), fetching only its chunks.

    Without ``layer`` the layers are searched from the top, honouring
    whiteouts; ``layer`` may be a layer digest or an index (0 = bottom,
    negative from the top).
    """
    reference = parse_reference(ref) if isinstance(ref, str) else ref
    own_client = client is None
    client = _client_for(reference, client, {"plain_http": plain_http, "tls_verify": tls_verify,
                                             "credentials": credentials})
    try:
        image = resolve_image(client, reference, platform)
        candidates = _pick_layers(image, layer)
        rel = clean_relative(path)
        for desc in candidates:
            remote = open_remote_layer(client, reference.repository, desc, threads=threads)
            with remote:
                try:
                    content = remote.file(path)
                except NotFoundError:
                    if layer is not None or _hidden_by(remote, rel) or _has_entry(remote, rel):
                        raise
                    continue
                source = remote.source
                if isinstance(source, RegistryBlobSource):
                    source.plan(remote.ranges([content.entry.name]))
                for piece in remote.iter_file(content):
                    out.write(piece)
                flush = getattr(out, "flush", None)
                if flush is not None:
                    flush()
                requests = getattr(source, "requests", 0)
                received = getattr(source, "bytes_received", 0)
                return RemoteRead(desc["digest"], content.entry.name, content.entry.size, requests, received,
                                  int(desc["size"]))
        raise NotFoundError(f"{path!r} is not in {reference}")
    finally:
        if own_client:
            client.close()


def _has_entry(layer: Layer, rel: str) -> bool:
    try:
        layer.entry(rel)
    except NotFoundError:
        return False
    return True


def _pick_layers(image: Image, layer: Optional[str]) -> list[dict[str, Any]]:
    if layer is None:
        return list(reversed(image.layers))
    if layer.startswith("sha"):
        found = [d for d in image.layers if d.get("digest") == layer]
        if not found:
            raise NotFoundError(f"{image.reference} has no layer {layer}")
        return found[:1]
    try:
        index = int(layer)
        return [image.layers[index]]
    except (ValueError, IndexError):
        raise NotFoundError(f"{image.reference} has no layer {layer!r} ({len(image.layers)} layers)") from None


__all__ = [
    "LayerPullReport",
    "PullReport",
    "RemoteRead",
    "Store",
    "StoredLayer",
    "cat_remote",
    "extract_from_store",
    "fill_store",
    "open_remote_layer",
    "pull",
    "pull_layer",
    "verify_from_store",
]
