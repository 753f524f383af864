"""convert-image: OCI image layouts in, zstd:chunked layouts out, checked with the real skopeo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from oci_util import build_layout, image_manifest, make_tar, random_bytes, read_json_blob, sha256
from registry_fixture import REQUIRE_ENV, SKOPEO, skopeo

import zstd_chunked
from zstd_chunked import format as fmt
from zstd_chunked.cli import main
from zstd_chunked.errors import DigestMismatchError, NotFoundError
from zstd_chunked.oci import OCI_INDEX, OCI_LAYER_ZSTD, OCI_MANIFEST, Layout, convert_image

needs_skopeo = pytest.mark.skipif(SKOPEO is None and os.environ.get(REQUIRE_ENV) != "1",
                                  reason="skopeo is not installed (.ci/run installs it)")

KEYS = (fmt.MANIFEST_CHECKSUM_KEY, fmt.MANIFEST_POSITION_KEY, fmt.TARSPLIT_POSITION_KEY)


def _layers() -> list[tuple[bytes, str]]:
    base = make_tar({"etc": None, "etc/os-release": b"ID=test\n", "bin": None,
                     "bin/tool": random_bytes(200_000, 1), "bin/link": "tool"})
    app = make_tar({"app": None, "app/data.bin": random_bytes(150_000, 2) + bytes(8192), "app/empty": b""})
    extra = make_tar({"etc": None, "etc/extra.conf": b"x = 1\n" * 500})
    return [(base, "gzip"), (app, "none"), (extra, "zstd")]


def _check_converted(layout: Path, manifest: dict, diff_ids: list[str]) -> None:
    assert manifest["mediaType"] == OCI_MANIFEST
    assert len(manifest["layers"]) == len(diff_ids)
    for desc, diff_id in zip(manifest["layers"], diff_ids):
        assert desc["mediaType"] == OCI_LAYER_ZSTD
        assert all(k in desc["annotations"] for k in KEYS)
        blob = layout / "blobs" / desc["digest"].replace(":", "/")
        assert blob.stat().st_size == desc["size"]
        assert sha256(blob.read_bytes()) == desc["digest"]
        with zstd_chunked.open(blob, annotations=desc["annotations"]) as layer:
            assert layer.authenticated
            report = layer.verify(diff_id)
            assert report["diffIDMatches"]


@needs_skopeo
def test_convert_image_with_skopeo(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    top = build_layout(src, "v1", _layers())
    skopeo("copy", f"oci:{src}:v1", f"oci:{tmp_path / 'other'}:v1")  # skopeo accepts the hand-made source

    result = convert_image(src, dst, threads=2, progress="never")
    assert result.layers_converted == 3 and result.manifests_converted == 1
    old = read_json_blob(src, top["digest"])
    new = image_manifest(dst, "v1")
    assert new["config"] == old["config"]  # config, hence DiffIDs, unchanged
    config = read_json_blob(dst, new["config"]["digest"])
    _check_converted(dst, new, config["rootfs"]["diff_ids"])

    skopeo("copy", f"oci:{dst}:v1", f"oci:{tmp_path / 'third'}:v1")
    inspect = json.loads(skopeo("inspect", f"oci:{dst}:v1").stdout)
    assert inspect["Layers"] == [d["digest"] for d in new["layers"]]
    copied = json.loads(skopeo("inspect", "--raw", f"oci:{tmp_path / 'third'}:v1").stdout)
    assert copied["layers"] == new["layers"]  # skopeo kept blobs and annotations as they are


def test_multi_platform_index(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    build_layout(src, "multi", _layers(), platforms=["amd64", "arm64"])
    result = convert_image(src, dst, threads=2, progress="never")
    # both platforms share the same layer blobs: converted once, reused once
    assert result.layers_converted == 3
    assert result.manifests_converted == 2
    assert result.indexes_rewritten == 1
    top = Layout(dst).find("multi")
    assert top["mediaType"] == OCI_INDEX
    index = read_json_blob(dst, top["digest"])
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]
    for m in index["manifests"]:
        manifest = read_json_blob(dst, m["digest"])
        config = read_json_blob(dst, manifest["config"]["digest"])
        assert config["architecture"] == m["platform"]["architecture"]
        _check_converted(dst, manifest, config["rootfs"]["diff_ids"])
    if SKOPEO is not None:
        skopeo("copy", "--all", f"oci:{dst}:multi", f"oci:{tmp_path / 'copy'}:multi")
        skopeo("inspect", "--override-arch", "arm64", f"oci:{dst}:multi")


def test_docker_manifest_becomes_oci(tmp_path: Path) -> None:
    from oci_util import _init, write_image

    src = tmp_path / "src"
    _init(src)
    desc = write_image(src, _layers()[:1], docker=True)
    desc["annotations"] = {"org.opencontainers.image.ref.name": "d"}
    (src / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    convert_image(src, tmp_path / "dst", progress="never")
    manifest = image_manifest(tmp_path / "dst", "d")
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert manifest["layers"][0]["mediaType"] == OCI_LAYER_ZSTD


def test_in_place_and_idempotent(tmp_path: Path) -> None:
    layout = tmp_path / "img"
    build_layout(layout, "v1", _layers())
    first = convert_image(layout, layout, progress="never")
    assert first.layers_converted == 3
    index_after_first = (layout / "index.json").read_bytes()
    second = convert_image(layout, layout, progress="never")
    assert second.layers_converted == 0 and second.layers_reused == 3
    assert second.manifests_converted == 0
    assert (layout / "index.json").read_bytes() == index_after_first


def test_existing_destination_keeps_other_tags(tmp_path: Path) -> None:
    a, b, dst = tmp_path / "a", tmp_path / "b", tmp_path / "dst"
    build_layout(a, "one", _layers()[:1])
    build_layout(b, "two", _layers()[1:])
    convert_image(a, dst, progress="never")
    convert_image(b, dst, progress="never")
    convert_image(a, dst, progress="never")  # same tag again: replaced, not duplicated
    names = [d["annotations"]["org.opencontainers.image.ref.name"] for d in Layout(dst).index()["manifests"]]
    assert sorted(names) == ["one", "two"]


def test_diff_id_mismatch_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    top = build_layout(src, "v1", _layers()[:1])
    manifest = read_json_blob(src, top["digest"])
    config_path = src / "blobs" / manifest["config"]["digest"].replace(":", "/")
    config = json.loads(config_path.read_bytes())
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    data = json.dumps(config).encode()
    (src / "blobs" / sha256(data).replace(":", "/")).write_bytes(data)
    manifest["config"].update(digest=sha256(data), size=len(data))
    mdata = json.dumps(manifest).encode()
    (src / "blobs" / sha256(mdata).replace(":", "/")).write_bytes(mdata)
    top.update(digest=sha256(mdata), size=len(mdata))
    (src / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [top]}))
    with pytest.raises(DigestMismatchError, match="DiffID"):
        convert_image(src, tmp_path / "dst", progress="never")
    assert Layout(tmp_path / "dst").index()["manifests"] == []  # nothing published


def test_corrupt_source_blob_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    top = build_layout(src, "v1", [(make_tar({"f": b"content" * 100}), "none")])
    layer = read_json_blob(src, top["digest"])["layers"][0]
    path = src / "blobs" / layer["digest"].replace(":", "/")
    data = bytearray(path.read_bytes())
    data[600] ^= 1  # inside the file's content: still a valid tar
    path.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError):
        convert_image(src, tmp_path / "dst", progress="never")
    assert not list((tmp_path / "dst" / "blobs" / "sha256").glob(".tmp-*"))


def test_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not an OCI image layout"):
        convert_image(tmp_path, tmp_path / "dst", progress="never")


def test_cli_convert_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    build_layout(src, "v1", _layers()[:2])
    assert main(["convert-image", str(src), str(tmp_path / "dst"), "--level", "5", "--json", "-q"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["layersConverted"] == 2
    assert main(["convert-image", str(tmp_path / "nothing"), str(tmp_path / "dst2"), "-q"]) == 7


def test_help_and_python_m(tmp_path: Path) -> None:
    for command in ("convert-image", "pull", "cat-remote"):
        proc = subprocess.run([sys.executable, "-m", "zstd_chunked", command, "--help"], capture_output=True,
                              text=True, check=True)
        assert "usage: zstd-chunked " + command in proc.stdout
        assert len(proc.stdout.splitlines()) > 8
    proc = subprocess.run([sys.executable, "-m", "zstd_chunked", "--help"], capture_output=True, text=True, check=True)
    for command in ("convert-image", "pull", "cat-remote"):
        assert command in proc.stdout


def test_progress_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from zstd_chunked import progress

    assert not progress.enabled("never") and progress.enabled("always")
    assert not progress.enabled("auto", stream=open(os.devnull, "w"))  # noqa: SIM115 - not a terminal
    src = tmp_path / "src"
    build_layout(src, "v1", _layers()[:1])
    convert_image(src, tmp_path / "quiet", progress="never")
    assert capsys.readouterr().err == ""
    convert_image(src, tmp_path / "loud", progress="always")
    err = capsys.readouterr().err
    try:
        import tqdm  # noqa: F401
    except ImportError:
        assert err == ""  # no tqdm: silent
    else:
        assert "convert-image" in err
