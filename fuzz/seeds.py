"""Write the seed corpora of the fuzz targets (from the golden vectors and tests/blobcraft.py).

Usage: python fuzz/seeds.py OUT_DIR   -> OUT_DIR/<target>/seed-*

Seeds are small on purpose (libFuzzer derives its default -max_len from them):
blobs up to 16 KiB, TOC and tar-split documents up to 48 KiB.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from _harness import REPO, TESTS

if TESTS not in sys.path:  # _harness does this; repeated so that import sorting cannot break it
    sys.path.insert(0, TESTS)

import blobcraft  # noqa: E402
from fuzz_open import to_parts  # noqa: E402

VECTORS = Path(REPO) / "tests" / "vectors"
MAX_BLOB = 16 << 10
MAX_DOC = 48 << 10


def _hostile_layers() -> list[tuple[bytes, dict[str, str]]]:
    """A few layers that aim at extraction: escapes, links, whiteouts, devices."""
    tars = [
        [("symlink", "a", "/tmp"), ("file", "a/x", b"1"), ("file", "../../etc/y", b"2"), ("file", "/abs", b"3")],
        [("symlink", "l1", "l2"), ("symlink", "l2", "../.."), ("hardlink", "h", "../../etc/passwd")],
        [("dir", "d"), ("file", "d/f", b"x" * 100), ("file", "d/.wh.f", b""), ("file", "d/.wh..wh..opq", b""),
         ("fifo", "p"), ("char", "c", (1, 3))],
        [("file", "big", bytes(5000) + b"tail" * 300), ("hardlink", "hl", "big")],
    ]
    return [blobcraft.convert_tar(blobcraft.make_tar(t)) for t in tars]


def _blobs() -> list[tuple[bytes, dict[str, str] | None]]:
    out: list[tuple[bytes, dict[str, str] | None]] = []
    for path in sorted(VECTORS.glob("*.zst")) + sorted((VECTORS / "old-format").glob("*.zst")):
        import json

        ann = json.loads(path.with_name(path.name[:-4] + ".annotations.json").read_text())
        out.append((path.read_bytes(), ann))
    return out + _hostile_layers()


def seeds() -> dict[str, list[bytes]]:
    result: dict[str, list[bytes]] = {k: [] for k in ("footer", "framescan", "toc", "tarsplit", "open")}
    for blob, ann in _blobs():
        result["footer"].append(blob[-72:])
        result["footer"].append((len(blob) + 1000).to_bytes(8, "little") + blob[-200:])
        if len(blob) <= MAX_BLOB:
            result["framescan"].append(blob)
            result["open"].append(blob)
        else:
            result["framescan"].append(blob[:4096])
        if ann and "io.github.containers.zstd-chunked.manifest-checksum" in ann:
            parts = blobcraft.split_blob(blob, ann)
            if len(parts.toc) <= MAX_DOC:
                result["toc"].append(parts.toc)
            if parts.tarsplit is not None and len(parts.tarsplit) <= MAX_DOC:
                result["tarsplit"].append(parts.tarsplit)
            if len(blob) <= MAX_BLOB and parts.tarsplit is not None:
                result["open"].append(to_parts(parts.payload, parts.toc, parts.tarsplit))
    return result


def write(out_dir: str) -> None:
    for target, items in seeds().items():
        folder = Path(out_dir) / target
        folder.mkdir(parents=True, exist_ok=True)
        for data in items:
            (folder / ("seed-" + hashlib.sha1(data).hexdigest())).write_bytes(data)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: seeds.py OUT_DIR")
    write(sys.argv[1])
    for target in sorted(os.listdir(sys.argv[1])):
        print(f"{target}: {len(os.listdir(os.path.join(sys.argv[1], target)))} seeds")
