"""Partial pulls from a real registry: bytes moved for one file, dedup against a store, verification.

The registry is Debian's docker-registry behind a counting proxy
(tests/registry_fixture.py); images are pushed with the real skopeo. The byte
counts are what the registry sent over TCP: HTTP headers, manifests, configs
and multipart framing included.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oci_util import build_layout, chunked_layout, image_manifest, make_tar, random_bytes
from registry_fixture import Registry, running_registry

from zstd_chunked.cli import main
from zstd_chunked.errors import DigestMismatchError, NotFoundError
from zstd_chunked.pull import Store, cat_remote, pull


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from running_registry(tmp_path_factory)


SMALL = b"small file content\n" * 3


def _big_layer(variant: int = 0) -> dict[str, Any]:
    """~12 MiB of incompressible files, one small file, and a 3 MiB file with many chunks."""
    files: dict[str, Any] = {"usr": None, "usr/share": None, "etc": None}
    for i in range(40):
        content = random_bytes(256 * 1024, 100 + i)
        if variant and i in (7, 23):  # two whole files differ
            content = random_bytes(256 * 1024, 10_000 + i)
        files[f"usr/share/blob{i:02d}.bin"] = content
    big = bytearray(random_bytes(3 << 20, 5))
    if variant:
        big[1_500_000:1_500_100] = b"\xff" * 100  # a few bytes in the middle of a multi-chunk file
    files["usr/share/big.bin"] = bytes(big)
    files["etc/small.conf"] = SMALL
    files["etc/link"] = "small.conf"
    return files


@pytest.fixture(scope="module")
def images(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("images")
    out: dict[str, Any] = {}
    for name, variant in (("a", 0), ("b", 1)):
        files = _big_layer(variant)
        layout = chunked_layout(root / name, "v1", [files])
        out[name] = {"ref": registry.push_layout(layout, "v1", f"test/{name}"), "files": files,
                     "layer": image_manifest(layout, "v1")["layers"][0]}
    # two layers, the second deleting a file of the first (an OCI whiteout)
    layers = [{"etc": None, "etc/gone": b"bye\n", "etc/kept": b"kept\n"}, {"etc": None, "etc/.wh.gone": b""}]
    layout = chunked_layout(root / "wh", "v1", layers)
    out["wh"] = {"ref": registry.push_layout(layout, "v1", "test/wh")}
    # a plain gzip image: pulled whole and converted locally
    src = root / "gz"
    build_layout(src, "v1", [(make_tar({"hello.txt": b"hello\n"}), "gzip")])
    out["gz"] = {"ref": registry.push_layout(src, "v1", "test/gz")}
    return out


def _metadata_size(layer: dict[str, Any]) -> int:
    ann = layer["annotations"]
    toc = [int(x) for x in ann["io.github.containers.zstd-chunked.manifest-position"].split(":")]
    ts = [int(x) for x in ann["io.github.containers.zstd-chunked.tarsplit-position"].split(":")]
    return toc[1] + ts[1] + 16


def _tree(root: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = os.readlink(path)
            elif path.is_dir():
                out[rel] = None
            else:
                out[rel] = path.read_bytes()
    return out


def test_cat_one_small_file_moves_only_its_chunks(registry: Registry, images: dict[str, Any]) -> None:
    a = images["a"]
    out = io.BytesIO()
    with registry.measure() as moved:
        result = cat_remote(a["ref"], "etc/small.conf", out)
    assert out.getvalue() == SMALL
    size = a["layer"]["size"]
    meta = _metadata_size(a["layer"])
    print(f"\n[bytes moved] cat one {len(SMALL)}-byte file from a {size}-byte layer: {moved.bytes} bytes "
          f"({100 * moved.bytes / size:.3f}% of the blob; TOC + tar-split = {meta} bytes; "
          f"{result.requests} range requests)")
    assert result.requests == 2  # metadata, then the file's chunk
    assert moved.bytes < meta + 16 * 1024  # + manifest, config, HTTP headers, one tiny frame
    assert moved.bytes < size / 100


def test_pull_then_dedup_pull(registry: Registry, images: dict[str, Any], tmp_path: Path) -> None:
    a, b = images["a"], images["b"]
    store = tmp_path / "store"
    with registry.measure() as first:
        report_a = pull(a["ref"], tmp_path / "a", store=store, progress="never")
    assert _tree(tmp_path / "a") == {k: v for k, v in a["files"].items()}
    layer_a = report_a.layers[0]
    assert layer_a.partial and layer_a.files_from_store == 0 and layer_a.files_fetched == 42
    assert first.bytes >= a["layer"]["size"] * 0.95

    with registry.measure() as second:
        report_b = pull(b["ref"], tmp_path / "b", store=store, progress="never")
    assert _tree(tmp_path / "b") == {k: v for k, v in b["files"].items()}
    layer_b = report_b.layers[0]
    size_b = b["layer"]["size"]
    meta = _metadata_size(b["layer"])
    changed = 2 * 256 * 1024
    print(f"\n[bytes moved] dedup pull of a {size_b}-byte layer sharing 39 of 42 files with the store: "
          f"{second.bytes} bytes ({100 * second.bytes / size_b:.2f}% of the blob; 2 changed 256 KiB files = "
          f"{changed} bytes, {layer_b.chunks_fetched} chunks of big.bin etc. = {layer_b.chunk_bytes_fetched} "
          f"compressed bytes fetched, {layer_b.chunks_from_store} chunks reused from the store; "
          f"metadata {meta} bytes; {layer_b.requests} requests)")
    assert layer_b.files_from_store == 39  # 38 unchanged blobs + small.conf
    assert layer_b.files_fetched == 3
    assert layer_b.chunks_from_store > 20  # big.bin: all but the changed chunks come from the store
    assert layer_b.chunk_bytes_fetched < changed + 300 * 1024  # the 2 files + the changed chunk(s) of big.bin
    assert second.bytes < layer_b.chunk_bytes_fetched + meta + 32 * 1024
    assert second.bytes < size_b / 10
    assert layer_b.diff_id == json.loads(json.dumps(report_b.to_json_dict()))["layers"][0]["diffID"]

    # a third pull of the same image: nothing but metadata
    with registry.measure() as third:
        report = pull(b["ref"], tmp_path / "b2", store=store, progress="never", link=True)
    assert report.layers[0].files_fetched == 0
    assert third.bytes < meta + 16 * 1024
    assert _tree(tmp_path / "b2") == _tree(tmp_path / "b")


def test_pull_applies_whiteouts_and_cat_honours_them(images: dict[str, Any], tmp_path: Path) -> None:
    ref = images["wh"]["ref"]
    pull(ref, tmp_path / "root", progress="never")
    assert sorted(os.listdir(tmp_path / "root" / "etc")) == ["kept"]
    assert not list(tmp_path.glob(".zstd-chunked-store-*"))  # the temporary store is gone
    out = io.BytesIO()
    cat_remote(ref, "/etc/kept", out)
    assert out.getvalue() == b"kept\n"
    with pytest.raises(NotFoundError):
        cat_remote(ref, "etc/gone", io.BytesIO())
    cat_remote(ref, "etc/gone", out, layer="0")  # still readable in its own layer


def test_pull_non_chunked_layer_is_converted(images: dict[str, Any], tmp_path: Path) -> None:
    report = pull(images["gz"]["ref"], tmp_path / "root", store=tmp_path / "store", progress="never")
    assert not report.layers[0].partial
    assert (tmp_path / "root" / "hello.txt").read_bytes() == b"hello\n"
    assert Store(tmp_path / "store").has("sha256:" + hashlib.sha256(b"hello\n").hexdigest())


def test_corrupt_store_is_detected(images: dict[str, Any], tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    digest = "sha256:" + hashlib.sha256(SMALL).hexdigest()
    path = store.path(digest)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not the content\n")
    with pytest.raises(DigestMismatchError):
        pull(images["a"]["ref"], tmp_path / "root", store=store.root, progress="never")
    assert not (tmp_path / "root" / "etc" / "small.conf").exists()  # verified before extraction


def test_link_mode_shares_inodes(images: dict[str, Any], tmp_path: Path) -> None:
    store = tmp_path / "store"
    pull(images["wh"]["ref"], tmp_path / "one", store=store, link=True, progress="never")
    kept = tmp_path / "one" / "etc" / "kept"
    st = kept.stat()
    assert st.st_nlink == 2 and stat.S_IMODE(st.st_mode) == 0o644
    assert os.path.samestat(st, Store(store).path("sha256:" + hashlib.sha256(b"kept\n").hexdigest()).stat())


def test_cli_pull_and_cat_remote(images: dict[str, Any], tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
                                 ) -> None:
    ref = images["wh"]["ref"]
    assert main(["pull", ref, str(tmp_path / "root"), "--store", str(tmp_path / "s"), "--json", "-q"]) == 0
    report = json.loads(capsysbinary.readouterr().out)
    assert len(report["layers"]) == 2 and report["layers"][1]["partial"]
    assert main(["cat-remote", "docker://" + ref, "etc/kept", "--stats"]) == 0
    captured = capsysbinary.readouterr()
    assert captured.out == b"kept\n" and b"received" in captured.err
    assert main(["cat-remote", ref, "etc/nothing"]) == 7
    assert main(["pull", ref.rsplit(":", 1)[0] + ":missing", str(tmp_path / "x"), "-q"]) == 7


def test_huge_chunks_are_streamed(images: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zstd_chunked.pull as pull_module

    monkeypatch.setattr(pull_module, "DECOMPRESS_GROUP", 16 * 1024)  # every chunk above 16 KiB streams
    monkeypatch.setattr(pull_module, "_READ", 64 * 1024)
    report = pull(images["a"]["ref"], tmp_path / "root", store=tmp_path / "store", progress="never")
    assert report.layers[0].chunks_fetched > 40
    assert _tree(tmp_path / "root") == images["a"]["files"]
