"""Test helpers: deterministic layer tars and hand-built OCI image layouts."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from pathlib import Path
from typing import Any, Optional, Union

import zstandard

Files = dict[str, Union[bytes, str, None]]  # name -> content, "->target" symlink as str, None = directory


def make_tar(files: Files, *, mtime: int = 1_700_000_000) -> bytes:
    """A GNU-format tar of ``files`` (bytes = regular file, str = symlink target, None = directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            if content is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type = tarfile.SYMTYPE
                info.linkname = content
                info.mode = 0o777
                tar.addfile(info)
            else:
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def compress(tar: bytes, compression: str) -> tuple[bytes, str]:
    """The layer blob and its media type for ``none``, ``gzip`` or ``zstd``."""
    if compression == "none":
        return tar, "application/vnd.oci.image.layer.v1.tar"
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if compression == "docker-gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0), "application/vnd.docker.image.rootfs.diff.tar.gzip"
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(tar), "application/vnd.oci.image.layer.v1.tar+zstd"
    raise ValueError(compression)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(root: Path, data: bytes) -> dict[str, Any]:
    digest = sha256(data)
    path = root / "blobs" / "sha256" / digest.split(":")[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _init(root: Path) -> None:
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')


def write_image(root: Path, layers: list[tuple[bytes, str]], *, architecture: str = "amd64",
                docker: bool = False) -> dict[str, Any]:
    """Write config, layer blobs and manifest into layout ``root``; returns the manifest descriptor."""
    _init(root)
    tars = [tar for tar, _ in layers]
    config = {
        "architecture": architecture,
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(t) for t in tars]},
        "history": [{"created_by": "zstd-chunked tests"} for _ in tars],
    }
    config_desc = _put(root, json.dumps(config).encode())
    layer_descs = []
    for tar, compression in layers:
        if docker and compression == "gzip":
            compression = "docker-gzip"
        blob, media = compress(tar, compression)
        layer_descs.append({"mediaType": media, **_put(root, blob)})
    if docker:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config_desc},
                    "layers": layer_descs}
        media = manifest["mediaType"]
    else:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
                    "layers": layer_descs}
        media = manifest["mediaType"]
    return {"mediaType": media, **_put(root, json.dumps(manifest).encode())}


def build_layout(root: Path, tag: str, layers: list[tuple[bytes, str]], *,
                 platforms: Optional[list[str]] = None) -> dict[str, Any]:
    """A complete layout with one image tagged ``tag``; with ``platforms``, a multi-platform index."""
    _init(root)
    if platforms:
        children = []
        for arch in platforms:
            desc = write_image(root, layers, architecture=arch)
            children.append({**desc, "platform": {"architecture": arch, "os": "linux"}})
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": children}
        top = {"mediaType": index["mediaType"], **_put(root, json.dumps(index).encode())}
    else:
        top = write_image(root, layers)
    top["annotations"] = {"org.opencontainers.image.ref.name": tag}
    outer = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [top]}
    (root / "index.json").write_text(json.dumps(outer))
    return top


def read_json_blob(root: Path, digest: str) -> Any:
    return json.loads((root / "blobs" / digest.replace(":", os.sep)).read_bytes())


def chunked_layout(root: Path, tag: str, layers: list[Files], *, platforms: Optional[list[str]] = None) -> Path:
    """A layout at ``root`` whose image ``tag`` has zstd:chunked layers made from ``layers``."""
    from zstd_chunked.oci import convert_image

    src = root.with_name(root.name + "-src")
    build_layout(src, tag, [(make_tar(files), "none") for files in layers], platforms=platforms)
    convert_image(src, root, threads=2, progress="never")
    return root


def image_manifest(root: Path, tag: str) -> dict[str, Any]:
    """The (single-platform) manifest tagged ``tag`` in layout ``root``."""
    index = json.loads((root / "index.json").read_text())
    for d in index["manifests"]:
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return dict(read_json_blob(root, d["digest"]))
    raise KeyError(tag)
