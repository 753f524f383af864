"""OCI image layouts: read them, and convert every layer of an image to zstd:chunked.

An OCI image layout (image-spec ``image-layout.md``) is a directory with an
``oci-layout`` marker, an ``index.json`` and content-addressed ``blobs/<alg>/<hex>``.
skopeo, podman, buildah and oras all write them.

:func:`convert_image` walks ``index.json`` down through nested indexes
(multi-platform images) to every image manifest and rewrites each tar layer
(uncompressed, gzip or zstd) as a zstd:chunked blob:

* the layer descriptor gets media type ``application/vnd.oci.image.layer.v1.tar+zstd``
  and the three ``io.github.containers.zstd-chunked.*`` annotations (other
  annotations are kept);
* the config blob, and so the DiffIDs, are unchanged; every converted layer's
  DiffID is checked against the config;
* manifests and indexes whose content changed are written as new blobs and
  their parents updated, up to ``index.json``; Docker schema 2 manifests and
  manifest lists become their OCI equivalents (Docker media types cannot
  describe zstd layers);
* everything else (configs, layers that already are zstd:chunked, non-image
  artifacts, non-distributable layers) is reused as is: hard-linked or copied
  when the destination is another layout;
* a layer shared by several manifests or platforms is converted once.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Optional, Union

from . import format as fmt
from .errors import DigestMismatchError, FormatError, LimitExceededError, NotFoundError, ZstdChunkedError
from .progress import AUTO, CountingReader, NullBar, bar
from .writer import LayerInfo, convert

# --- media types -------------------------------------------------------------
OCI_LAYOUT_FILE = "oci-layout"
OCI_LAYOUT_VERSION = "1.0.0"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = fmt.LAYER_MEDIA_TYPE
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
#: Layer media types converted to zstd:chunked. Non-distributable and foreign
#: layers are deliberately absent: they are kept as they are.
CONVERTIBLE_LAYER_TYPES = frozenset({OCI_LAYER_TAR, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, DOCKER_LAYER_GZIP,
                                     DOCKER_LAYER_TAR})
MANIFEST_ACCEPT = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)

#: Manifests, indexes and configs larger than this are refused (they are read into memory).
MAX_JSON_BLOB = 16 << 20
#: Maximum nesting of indexes.
MAX_INDEX_DEPTH = 8

_DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})\Z")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = (fmt.ZSTD_FRAME_MAGIC).to_bytes(4, "little")

PathLike = Union[str, "os.PathLike[str]"]


def check_digest(digest: Any) -> str:
    """``digest`` if it is a sha256 or sha512 go-digest string; FormatError otherwise."""
    if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
        raise FormatError(f"invalid digest {digest!r}")
    return digest


def digest_bytes(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def dumps(obj: Any) -> bytes:
    """JSON as registries and skopeo write it: compact, key order kept, non-ASCII escaped."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def _descriptor(obj: Any, where: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise FormatError(f"{where}: descriptor is not an object")
    check_digest(obj.get("digest"))
    size = obj.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise FormatError(f"{where}: descriptor has an invalid size {size!r}")
    if not isinstance(obj.get("mediaType", ""), str):
        raise FormatError(f"{where}: descriptor has an invalid mediaType")
    return obj


def media_type_of(obj: dict[str, Any], desc: Optional[dict[str, Any]] = None) -> str:
    """The media type a manifest or index declares, else its descriptor's, else a guess by shape."""
    media = obj.get("mediaType") or (desc or {}).get("mediaType")
    if isinstance(media, str) and media:
        return media
    if "manifests" in obj:
        return OCI_INDEX
    if "layers" in obj:
        return OCI_MANIFEST
    return ""


def decompressed_tar(stream: Any) -> Any:
    """A reader of the tar inside a layer blob (a binary file): gzip and zstd are recognized by magic, else tar.

    The media type is not trusted for this: registries and tools mislabel layers.
    """
    buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream, 1 << 20)
    head = buffered.peek(4)[:4]
    if head[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")
    if head == _ZSTD_MAGIC or (len(head) == 4 and int.from_bytes(head, "little") & fmt.SKIPPABLE_MAGIC_MASK
                                == fmt.SKIPPABLE_MAGIC):
        import zstandard

        dctx = zstandard.ZstdDecompressor(max_window_size=1 << 30)
        return dctx.stream_reader(buffered, read_across_frames=True, closefd=False)
    return buffered


class _HashingFile(io.RawIOBase):
    """Reads a file, hashing everything read, so a blob's digest is checked while it is consumed."""

    def __init__(self, raw: Any, algorithm: str) -> None:
        super().__init__()
        self._raw = raw
        self._h = hashlib.new(algorithm)
        self._algorithm = algorithm
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        n = int(self._raw.readinto(buf) or 0)
        self._h.update(memoryview(buf)[:n])
        self.count += n
        return n

    def digest(self) -> str:
        return f"{self._algorithm}:{self._h.hexdigest()}"


class Layout:
    """An OCI image layout directory."""

    def __init__(self, root: PathLike, *, create: bool = False) -> None:
        self.root = Path(root)
        marker = self.root / OCI_LAYOUT_FILE
        if create and not marker.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
            self._write_atomic(marker, dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
            if not (self.root / "index.json").exists():
                self.write_index({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
        if not marker.is_file():
            raise NotFoundError(f"{self.root}: not an OCI image layout (no {OCI_LAYOUT_FILE} file)")
        try:
            version = json.loads(marker.read_bytes()).get("imageLayoutVersion")
        except (ValueError, AttributeError):
            raise FormatError(f"{marker}: not a JSON object") from None
        if not isinstance(version, str) or not version.startswith("1."):
            raise FormatError(f"{marker}: unsupported imageLayoutVersion {version!r}")

    # -- blobs ---------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexpart = check_digest(digest).partition(":")
        return self.root / "blobs" / algorithm / hexpart

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def open_blob(self, digest: str) -> IO[bytes]:
        path = self.blob_path(digest)
        try:
            return open(path, "rb")  # noqa: SIM115 - the caller closes it
        except FileNotFoundError:
            raise NotFoundError(f"{self.root}: blob {digest} is missing") from None

    def read_blob(self, digest: str, *, max_size: int = MAX_JSON_BLOB) -> bytes:
        """A small blob, read whole and checked against its digest."""
        with self.open_blob(digest) as f:
            data = f.read(max_size + 1)
        if len(data) > max_size:
            raise LimitExceededError(f"blob {digest} is larger than {max_size} bytes")
        actual = digest_bytes(data, digest.split(":", 1)[0])
        if actual != digest:
            raise DigestMismatchError(f"{self.root}: blob {digest} has digest {actual}")
        return data

    def read_json(self, desc: dict[str, Any]) -> dict[str, Any]:
        data = self.read_blob(desc["digest"])
        if len(data) != desc["size"]:
            raise FormatError(f"blob {desc['digest']} is {len(data)} bytes, its descriptor says {desc['size']}")
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise FormatError(f"blob {desc['digest']}: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise FormatError(f"blob {desc['digest']}: not a JSON object")
        return obj

    def put_bytes(self, data: bytes) -> str:
        digest = digest_bytes(data)
        path = self.blob_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomic(path, data)
        return digest

    def put_blob_from(self, other: Layout, digest: str) -> None:
        """Make ``other``'s blob present here: a hard link when possible, else a copy."""
        target = self.blob_path(digest)
        if target.exists():
            return
        source = other.blob_path(digest)
        if not source.is_file():
            raise NotFoundError(f"{other.root}: blob {digest} is missing")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
            return
        except FileExistsError:
            return
        except OSError:
            pass
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise

    def temp_blob_path(self) -> Path:
        """A fresh name in ``blobs/sha256`` for a blob whose digest is not known yet."""
        folder = self.root / "blobs" / "sha256"
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".blob", dir=folder)
        os.close(fd)
        return Path(tmp)

    # -- index ---------------------------------------------------------------------

    def index(self) -> dict[str, Any]:
        path = self.root / "index.json"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"{self.root}: no index.json") from None
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise FormatError(f"{path}: not JSON: {exc}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("manifests"), list):
            raise FormatError(f"{path}: not an image index (no manifests list)")
        for i, d in enumerate(obj["manifests"]):
            _descriptor(d, f"{path} manifests[{i}]")
        return obj

    def write_index(self, index: dict[str, Any]) -> None:
        self._write_atomic(self.root / "index.json", dumps(index))

    def find(self, tag: Optional[str] = None) -> dict[str, Any]:
        """The index.json descriptor named ``tag`` (ref.name annotation), or the only one when no tag."""
        manifests = self.index()["manifests"]
        if tag is None:
            if len(manifests) != 1:
                raise NotFoundError(f"{self.root}: {len(manifests)} images in index.json; name one with a tag")
            return dict(manifests[0])
        for d in manifests:
            if (d.get("annotations") or {}).get(REF_NAME_ANNOTATION) == tag:
                return dict(d)
        raise NotFoundError(f"{self.root}: no image tagged {tag!r}")

    @staticmethod
    def _write_atomic(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            _unlink(tmp)
            raise


def _unlink(path: Any) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def is_zstd_chunked(desc: dict[str, Any]) -> bool:
    """True when a layer descriptor already describes a zstd:chunked blob."""
    annotations = desc.get("annotations") or {}
    return desc.get("mediaType") == OCI_LAYER_ZSTD and fmt.MANIFEST_CHECKSUM_KEY in annotations \
        and fmt.MANIFEST_POSITION_KEY in annotations


def layer_descriptor(info: LayerInfo, old: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The manifest entry of a converted layer: zstd media type, the new blob, the old and new annotations."""
    annotations = {k: v for k, v in ((old or {}).get("annotations") or {}).items()
                   if not (k.startswith(fmt.ANNOTATION_PREFIX) or k.startswith(fmt.ANNOTATION_PREFIX_OLD)
                           or k == fmt.ESTARGZ_TOC_DIGEST_KEY)}
    annotations.update(info.annotations)
    return {"mediaType": OCI_LAYER_ZSTD, "digest": info.digest, "size": info.size, "annotations": annotations}


@dataclass
class ImageConversion:
    """What :func:`convert_image` did."""

    index: dict[str, Any]
    manifests_converted: int = 0
    indexes_rewritten: int = 0
    layers_converted: int = 0
    layers_reused: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    #: source layer digest -> what its conversion produced
    layers: dict[str, LayerInfo] = field(default_factory=dict)
    #: old manifest/index digest -> new one
    replaced: dict[str, str] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "manifestsConverted": self.manifests_converted,
            "indexesRewritten": self.indexes_rewritten,
            "layersConverted": self.layers_converted,
            "layersReused": self.layers_reused,
            "bytesIn": self.bytes_in,
            "bytesOut": self.bytes_out,
            "layers": {src: {"digest": i.digest, "size": i.size, "diffID": i.diff_id, "tocDigest": i.toc_digest}
                       for src, i in self.layers.items()},
            "replaced": dict(self.replaced),
        }


class _ImageConverter:
    def __init__(self, src: Layout, dst: Layout, *, level: int, threads: Optional[int], progress: NullBar) -> None:
        self.src = src
        self.dst = dst
        self.same = src.root.resolve() == dst.root.resolve()
        self.level = level
        self.threads = threads
        self.progress = progress
        self.result = ImageConversion(index={})
        self._done: dict[str, dict[str, Any]] = {}  # src digest -> new descriptor (manifests, indexes, layers)

    # -- walking ---------------------------------------------------------------------

    def planned_layers(self, descriptors: list[dict[str, Any]]) -> dict[str, int]:
        """Source layers that will be converted (digest -> size), for the progress total."""
        found: dict[str, int] = {}

        def walk(desc: dict[str, Any], depth: int) -> None:
            if depth > MAX_INDEX_DEPTH or not self.src.has_blob(desc["digest"]):
                return
            media = desc.get("mediaType", "")
            if media and media not in INDEX_TYPES and media not in MANIFEST_TYPES:
                return
            obj = self.src.read_json(desc)
            media = media_type_of(obj, desc)
            if media in INDEX_TYPES:
                for child in obj.get("manifests") or []:
                    walk(_descriptor(child, desc["digest"]), depth + 1)
            elif media in MANIFEST_TYPES:
                for layer in obj.get("layers") or []:
                    layer = _descriptor(layer, desc["digest"])
                    if layer.get("mediaType") in CONVERTIBLE_LAYER_TYPES and not is_zstd_chunked(layer):
                        found[layer["digest"]] = layer["size"]

        for d in descriptors:
            walk(d, 0)
        return found

    def descriptor(self, desc: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        """The destination's descriptor for the manifest or index ``desc`` (converted when needed)."""
        digest = desc["digest"]
        if digest in self._done:
            new = self._done[digest]
        else:
            new = self._convert_node(desc, depth)
            self._done[digest] = new
            if new["digest"] != digest:
                self.result.replaced[digest] = new["digest"]
        out = dict(desc)  # keep platform, annotations, artifactType...
        out.update({"mediaType": new["mediaType"], "digest": new["digest"], "size": new["size"]})
        if not out["mediaType"]:
            del out["mediaType"]
        return out

    def _convert_node(self, desc: dict[str, Any], depth: int) -> dict[str, Any]:
        if depth > MAX_INDEX_DEPTH:
            raise LimitExceededError(f"indexes nested deeper than {MAX_INDEX_DEPTH}")
        media = desc.get("mediaType", "")
        if media and media not in INDEX_TYPES and media not in MANIFEST_TYPES:
            self._keep(desc["digest"])  # an artifact blob referenced from the index: reuse
            return desc
        obj = self.src.read_json(desc)
        media = media_type_of(obj, desc)
        if media in INDEX_TYPES:
            return self._convert_index(desc, obj, depth)
        if media in MANIFEST_TYPES:
            return self._convert_manifest(desc, obj, media)
        self._keep(desc["digest"])
        return desc

    def _convert_index(self, desc: dict[str, Any], obj: dict[str, Any], depth: int) -> dict[str, Any]:
        children = obj.get("manifests")
        if not isinstance(children, list):
            raise FormatError(f"index {desc['digest']}: no manifests list")
        new_children = [self.descriptor(_descriptor(c, desc["digest"]), depth + 1) for c in children]
        if new_children == children:
            self._keep(desc["digest"])
            return desc
        new = dict(obj)
        new["manifests"] = new_children
        new["mediaType"] = OCI_INDEX
        self.result.indexes_rewritten += 1
        return self._put_json(new, OCI_INDEX)

    def _convert_manifest(self, desc: dict[str, Any], obj: dict[str, Any], media: str) -> dict[str, Any]:
        layers = obj.get("layers")
        config = obj.get("config")
        if not isinstance(layers, list) or not isinstance(config, dict):
            raise FormatError(f"manifest {desc['digest']}: missing config or layers")
        config = _descriptor(config, desc["digest"])
        diff_ids: Optional[list[str]] = None
        if config.get("mediaType") in CONFIG_TYPES:
            cfg = self.src.read_json(config)
            rootfs = cfg.get("rootfs")
            ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
            if isinstance(ids, list) and len(ids) == len(layers):
                diff_ids = [str(x) for x in ids]
        new_layers = []
        for i, layer in enumerate(layers):
            layer = _descriptor(layer, desc["digest"])
            new_layers.append(self._layer(layer, diff_ids[i] if diff_ids else None))
        self._keep(config["digest"])
        if new_layers == layers:
            self._keep(desc["digest"])
            return desc
        new = dict(obj)
        if media == DOCKER_MANIFEST:  # Docker schema 2 has no zstd layer type: become OCI
            new["mediaType"] = OCI_MANIFEST
            if config.get("mediaType") == DOCKER_CONFIG:
                new["config"] = dict(config, mediaType=OCI_CONFIG)
        elif "mediaType" in obj:
            new["mediaType"] = OCI_MANIFEST
        new["layers"] = new_layers
        self.result.manifests_converted += 1
        return self._put_json(new, OCI_MANIFEST)

    def _put_json(self, obj: dict[str, Any], media: str) -> dict[str, Any]:
        data = dumps(obj)
        digest = self.dst.put_bytes(data)
        return {"mediaType": media, "digest": digest, "size": len(data)}

    def _keep(self, digest: str) -> None:
        if not self.same:
            self.dst.put_blob_from(self.src, digest)

    # -- layers ---------------------------------------------------------------------

    def _layer(self, layer: dict[str, Any], diff_id: Optional[str]) -> dict[str, Any]:
        digest = layer["digest"]
        if layer.get("mediaType") not in CONVERTIBLE_LAYER_TYPES or is_zstd_chunked(layer):
            if self.src.has_blob(digest):
                self._keep(digest)
                self.result.layers_reused += 1
            return layer
        if digest in self.result.layers:
            info = self.result.layers[digest]
            self.result.layers_reused += 1
        else:
            info = self._convert_layer(layer)
            self.result.layers[digest] = info
            self.result.layers_converted += 1
            self.result.bytes_in += layer["size"]
            self.result.bytes_out += info.size
        if diff_id is not None and diff_id != info.diff_id:
            raise DigestMismatchError(
                f"layer {digest} decompresses to DiffID {info.diff_id}, but the image config says {diff_id}")
        return layer_descriptor(info, layer)

    def _convert_layer(self, layer: dict[str, Any]) -> LayerInfo:
        digest = layer["digest"]
        tmp = self.dst.temp_blob_path()
        try:
            with self.src.open_blob(digest) as raw:
                hashing = _HashingFile(CountingReader(raw, self.progress), digest.split(":", 1)[0])
                buffered = io.BufferedReader(hashing, 1 << 20)
                try:
                    tar = decompressed_tar(buffered)
                    info = convert(tar, tmp, level=self.level, threads=self.threads)
                except (OSError, EOFError, ValueError) as exc:
                    if isinstance(exc, ZstdChunkedError):
                        raise
                    raise FormatError(f"layer {digest}: cannot decompress: {exc}") from None
                while buffered.read(1 << 20):  # the rest of the compressed stream, for the digest
                    pass
            if hashing.digest() != digest:
                raise DigestMismatchError(f"{self.src.root}: layer blob {digest} has digest {hashing.digest()}")
            if hashing.count != layer["size"]:
                raise FormatError(f"layer blob {digest} is {hashing.count} bytes, its descriptor says {layer['size']}")
            final = self.dst.blob_path(info.digest)
            if final.exists():
                _unlink(tmp)
            else:
                os.chmod(tmp, 0o644)
                os.replace(tmp, final)
        except BaseException:
            _unlink(tmp)
            raise
        return info


def _ref_name(desc: dict[str, Any]) -> Optional[str]:
    name = (desc.get("annotations") or {}).get(REF_NAME_ANNOTATION)
    return name if isinstance(name, str) else None


def convert_image(src: PathLike, dst: PathLike, *, level: int = fmt.DEFAULT_LEVEL, threads: Optional[int] = None,
                  progress: str = AUTO, on_layer: Optional[Callable[[str, LayerInfo], None]] = None) -> ImageConversion:
    """Convert every layer of the OCI image layout ``src`` to zstd:chunked, writing layout ``dst``.

    ``dst`` may be ``src`` itself (in place: new blobs are added and
    ``index.json`` is replaced atomically; old blobs stay), a new directory, or
    another layout, whose index entries with the same
    ``org.opencontainers.image.ref.name`` are replaced and others kept.
    ``progress`` is ``"auto"``, ``"always"`` or ``"never"`` (a bar on stderr
    over the source bytes read). Returns what was converted and reused.
    """
    src_layout = Layout(src)
    dst_layout = Layout(dst, create=True)
    index = src_layout.index()
    with bar(None, "convert-image", mode=progress) as progress_bar:
        conv = _ImageConverter(src_layout, dst_layout, level=level, threads=threads, progress=progress_bar)
        if type(progress_bar) is not NullBar:  # a real bar: find its total first
            progress_bar.set_total(sum(conv.planned_layers(index["manifests"]).values()))
        new_manifests = [conv.descriptor(d) for d in index["manifests"]]
        if on_layer is not None:
            for digest, info in conv.result.layers.items():
                on_layer(digest, info)
    new_index = dict(index)
    new_index["manifests"] = new_manifests
    new_index.setdefault("schemaVersion", 2)
    if new_index.get("mediaType") == DOCKER_LIST or "mediaType" in new_index:
        new_index["mediaType"] = OCI_INDEX
    if not conv.same:
        existing = dst_layout.index()["manifests"]
        names = {_ref_name(d) for d in new_manifests}
        digests = {d["digest"] for d in new_manifests}
        kept = [d for d in existing
                if not (_ref_name(d) in names and _ref_name(d) is not None)
                and not (_ref_name(d) is None and d["digest"] in digests)]
        new_index["manifests"] = kept + new_manifests
    dst_layout.write_index(new_index)
    conv.result.index = new_index
    return conv.result


__all__ = [
    "CONVERTIBLE_LAYER_TYPES",
    "ImageConversion",
    "Layout",
    "convert_image",
    "decompressed_tar",
    "is_zstd_chunked",
    "layer_descriptor",
]
