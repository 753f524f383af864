"""Benchmark corpora: layer tars built deterministically into a cache directory.

Every corpus is an uncompressed tar. Synthetic data comes from seeded
``random.Random`` generators, so a given scale always gives the same bytes; the
``realistic`` corpus (and the ``256m``/``1g`` pair built from it) tars real
directory trees of this machine in sorted order with fixed owners and mtimes,
so it is the same on every build on one machine.

Sizes are multiplied by ``ZCK_BENCH_SCALE`` (default 1.0; 0.1 gives a quick
run). The cache lives in ``bench/.corpora/`` (``ZCK_BENCH_CORPORA`` overrides),
one sub-directory per scale; a tar is rebuilt only when its recipe changed.

    python bench/corpora.py [--scale S] [NAME ...]     # build (default: all)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import stat
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MiB = 1 << 20
KiB = 1 << 10

#: Bump when a builder changes, so cached tars are rebuilt.
RECIPE_VERSION = 1
#: Fixed metadata for every entry: the tars must not depend on when they were built.
MTIME = 1_700_000_000
HERE = Path(__file__).resolve().parent


def scale() -> float:
    value = float(os.environ.get("ZCK_BENCH_SCALE", "1") or "1")
    if value <= 0:
        raise ValueError("ZCK_BENCH_SCALE must be positive")
    return value


def cache_root() -> Path:
    return Path(os.environ.get("ZCK_BENCH_CORPORA") or HERE / ".corpora")


def scaled(nbytes: float, s: float) -> int:
    return max(int(nbytes * s), 64 * KiB)


# --------------------------------------------------------------------------
# Tar writing


class _TarOut:
    """A PAX tar with normalized metadata (owner root:root, fixed mtime)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_suffix(".tar.part")
        self._tar = tarfile.open(self.tmp, "w", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed in finish/abort
        self.payload = 0
        self.entries = 0
        self._dirs: set[str] = set()

    @staticmethod
    def _norm(ti: tarfile.TarInfo) -> tarfile.TarInfo:
        ti.mtime = MTIME
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        return ti

    def add_dirs_for(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self._dirs:
                self._dirs.add(d)
                ti = tarfile.TarInfo(d)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                self._tar.addfile(self._norm(ti))
                self.entries += 1

    def add_bytes(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self.add_dirs_for(name)
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = mode
        self._tar.addfile(self._norm(ti), io.BytesIO(data))
        self.payload += len(data)
        self.entries += 1

    def add_path(self, real: str, name: str) -> None:
        """A real file, directory or symlink (hard links to earlier members stay links)."""
        self.add_dirs_for(name)
        ti = self._tar.gettarinfo(real, arcname=name)
        if ti.isdir():
            if name in self._dirs:
                return
            self._dirs.add(name)
        ti = self._norm(ti)
        if ti.isreg():
            with open(real, "rb") as f:
                self._tar.addfile(ti, f)
            self.payload += ti.size
        else:
            self._tar.addfile(ti)
        self.entries += 1

    def finish(self) -> None:
        self._tar.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        self._tar.close()
        self.tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------
# Synthetic content


class _Text:
    """Text-like bytes (words with a Zipf-ish distribution, numbers, line structure)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        letters = "etaoinshrdlcumwfgypbvkjxqz"
        weights = [12, 9, 8, 8, 7, 7, 6, 6, 4, 4, 3, 3, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1]
        vocab = set()
        while len(vocab) < 6000:
            vocab.add("".join(rng.choices(letters, weights, k=rng.randint(2, 11))))
        self.vocab = sorted(vocab)
        rng.shuffle(self.vocab)
        total = 0.0
        self.cum = []
        for rank in range(len(self.vocab)):
            total += 1.0 / (rank + 1)
            self.cum.append(total)
        self.sep = [" "] * 9 + [", ", ". ", "\n", "_", "/", "=", ": "]

    def make(self, n: int) -> bytes:
        rng = self.rng
        out = []
        size = 0
        while size < n:
            words = rng.choices(self.vocab, cum_weights=self.cum, k=4096)
            seps = rng.choices(self.sep, k=4096)
            for i in range(0, 4096, 64):
                words[i] = str(rng.getrandbits(rng.choice((8, 16, 32))))
            piece = "".join(w + s for w, s in zip(words, seps)).encode()
            out.append(piece)
            size += len(piece)
        return b"".join(out)[:n]

    def log(self, n: int) -> bytes:
        """Log-file-like lines: timestamps, hosts, levels, then text."""
        rng = self.rng
        out = []
        size = 0
        t = MTIME
        levels = [b"INFO", b"INFO", b"INFO", b"DEBUG", b"WARN", b"ERROR"]
        while size < n:
            lines = []
            for line in self.make(min(4 * MiB, n)).split(b"\n"):
                t += rng.getrandbits(2)
                lines.append(
                    b"%d host-%02d svc[%d] %s %s\n"
                    % (t, rng.getrandbits(4), rng.getrandbits(15), rng.choice(levels), line)
                )
            piece = b"".join(lines)
            out.append(piece)
            size += len(piece)
        return b"".join(out)[:n]


def _random_bytes(rng: random.Random, n: int) -> bytes:
    return rng.randbytes(n)


# --------------------------------------------------------------------------
# Builders: each writes into a _TarOut and stays deterministic for a given scale


def _small_files(out: _TarOut, s: float) -> None:
    rng = random.Random(0x5111)
    text = _Text(rng)
    count = max(int(20_000 * s), 200)
    sizes = [rng.randint(0, 4 * KiB) for _ in range(count)]
    data = memoryview(text.make(sum(sizes)))  # fresh text for every file: no cross-file repeats
    pos = 0
    for i, size in enumerate(sizes):
        d = f"srv/app/mod{i % 97:02d}/pkg{(i // 97) % 23:02d}"
        out.add_bytes(f"{d}/f{i:06d}.txt", bytes(data[pos : pos + size]))
        pos += size


def _large_files(out: _TarOut, s: float) -> None:
    rng = random.Random(0x1A5E)
    text = _Text(rng)
    # 1) log-like text
    out.add_bytes("data/app.log", text.log(scaled(100 * MiB, s)))
    # 2) mixed: text and random blocks interleaved
    n = scaled(80 * MiB, s)
    parts, size = [], 0
    while size < n:
        block = rng.randint(128 * KiB, 1 * MiB)
        parts.append(text.make(block) if rng.random() < 0.6 else _random_bytes(rng, block))
        size += block
    out.add_bytes("data/mixed.bin", b"".join(parts)[:n])
    # 3) incompressible
    out.add_bytes("data/blob.bin", _random_bytes(rng, scaled(60 * MiB, s)))


def _sparse(out: _TarOut, s: float) -> None:
    rng = random.Random(0x5BA5)
    text = _Text(rng)
    for i in range(8):
        n = scaled(24 * MiB, s)
        parts, size = [], 0
        while size < n:
            data = rng.randint(4 * KiB, 512 * KiB)
            parts.append(text.make(data) if i % 2 else _random_bytes(rng, data))
            zeros = rng.randint(256 * KiB, 8 * MiB)
            parts.append(bytes(zeros))
            size += data + zeros
        out.add_bytes(f"var/lib/disk{i}.img", b"".join(parts)[:n])
    out.add_bytes("var/lib/empty.img", bytes(scaled(8 * MiB, s)))


def _incompressible(out: _TarOut, s: float) -> None:
    rng = random.Random(0x12C0)
    total = scaled(128 * MiB, s)
    i = 0
    while total > 0:
        n = min(total, rng.randint(1 * MiB, 16 * MiB))
        out.add_bytes(f"opt/blobs/r{i:03d}.bin", _random_bytes(rng, n))
        total -= n
        i += 1


# -- real trees -----------------------------------------------------------------

#: Real trees the realistic corpus samples from, then more trees if these are too small.
REAL_ROOTS = ["/usr/bin", "/usr/lib/python3*", "/usr/lib/x86_64-linux-gnu", "/usr/share"]
FILL_ROOTS = ["/usr/lib", "/usr/include", "/usr/libexec", "/usr/sbin", "/usr/local", "/opt"]


def _walk_sorted(root: str) -> Iterator[str]:
    """Directories, regular files and symlinks under ``root``, depth first, sorted by name."""
    try:
        st = os.lstat(root)
    except OSError:
        return
    yield root
    if not stat.S_ISDIR(st.st_mode):
        return
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return
    for name in names:
        path = os.path.join(root, name)
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if stat.S_ISDIR(mode):
            yield from _walk_sorted(path)
        elif stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            if stat.S_ISREG(mode) and not os.access(path, os.R_OK):
                continue
            yield path


def collect_real(target: int) -> list[tuple[str, int]]:
    """(path, payload size) of real files and symlinks adding up to at least ``target`` bytes.

    All the trees are walked in sorted order and every entry is kept or skipped by
    a hash of its path, with the keep rate set so the sample is about ``target``:
    any scale gets the same mix of trees, file types and sizes as the whole.
    """
    import glob
    import zlib

    candidates: list[tuple[str, int]] = []
    available = 0
    roots = [r for pattern in REAL_ROOTS for r in sorted(glob.glob(pattern))]
    walked: list[str] = []
    for batch in (roots, FILL_ROOTS):
        for root in batch:
            for path in _walk_sorted(root):
                if any(path == w or path.startswith(w + "/") for w in walked):
                    continue  # a fill root (/usr/lib) contains trees walked already
                st = os.lstat(path)
                if stat.S_ISDIR(st.st_mode):
                    continue  # parent directories are added for the chosen entries
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                candidates.append((path, size))
                available += size
            walked.append(root.rstrip("/"))
        if available >= target * 1.2:
            break
    if available < target:
        raise RuntimeError(f"only {available} bytes of real files found for a {target}-byte corpus")
    keep = min(1.0, target * 1.05 / available)
    chosen: list[tuple[str, int]] = []
    rest: list[tuple[str, int]] = []
    total = 0
    for path, size in candidates:
        if zlib.crc32(path.encode("utf-8", "surrogateescape")) < keep * 0xFFFFFFFF:
            chosen.append((path, size))
            total += size
        else:
            rest.append((path, size))
    for item in rest:  # top up, in tree order, if the sample came out short
        if total >= target:
            break
        chosen.append(item)
        total += item[1]
    order = {p: i for i, (p, _) in enumerate(candidates)}
    chosen.sort(key=lambda item: order[item[0]])
    return chosen


def _real(out: _TarOut, target: int, copies_to: int = 0) -> None:
    files = collect_real(target)
    if not copies_to:
        for path, _ in files:
            out.add_path(path, path.lstrip("/"))
        return
    for copy in range(1000):
        before = out.payload
        for path, size in files:
            if out.payload + size <= copies_to:
                out.add_path(path, f"copy{copy:02d}/{path.lstrip('/')}")
        if out.payload == before or out.payload >= copies_to:
            return
    raise RuntimeError("could not reach the requested size")


def _realistic(out: _TarOut, s: float) -> None:
    _real(out, scaled(224 * MiB, s))


def _layer_256m(out: _TarOut, s: float) -> None:
    _real(out, scaled(224 * MiB, s), copies_to=scaled(256 * MiB, s))


def _layer_1g(out: _TarOut, s: float) -> None:
    _real(out, scaled(224 * MiB, s), copies_to=scaled(1024 * MiB, s))


def _empty_files(count: int) -> Callable[[_TarOut, float], None]:
    """``count`` empty files (scaled): the writer's memory against the number of entries."""

    def build(out: _TarOut, s: float) -> None:
        for i in range(max(int(count * s), 1000)):
            out.add_bytes(f"d{i // 1000:04d}/empty-{i:07d}", b"")

    return build


@dataclass(frozen=True)
class Spec:
    name: str
    build: Callable[[_TarOut, float], None]
    doc: str


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec(
            "realistic", _realistic, "real trees (/usr/bin, /usr/lib/python3*, /usr/lib/x86_64-linux-gnu, /usr/share)"
        ),
        Spec("small_files", _small_files, "20k text-like files of 0-4 KiB"),
        Spec("large_files", _large_files, "3 large files: 100 MiB log text, 80 MiB text/random mix, 60 MiB random"),
        Spec("sparse", _sparse, "disk-image-like files: short data runs between 0.25-8 MiB zero runs"),
        Spec("incompressible", _incompressible, "random bytes in 1-16 MiB files"),
        Spec("256m", _layer_256m, "256 MiB of the realistic trees (repeated under copyNN/ as needed)"),
        Spec("1g", _layer_1g, "1 GiB of the realistic trees, repeated under copyNN/"),
        Spec("entries100k", _empty_files(100_000), "100k empty files in 100 directories"),
        Spec("entries400k", _empty_files(400_000), "400k empty files in 400 directories"),
    ]
}


@dataclass(frozen=True)
class Corpus:
    name: str
    path: Path
    size: int  # tar bytes
    payload: int  # file content bytes
    entries: int
    doc: str


def _recipe(name: str, s: float) -> dict[str, object]:
    return {"name": name, "scale": s, "version": RECIPE_VERSION}


def build(name: str, s: float | None = None, *, quiet: bool = False) -> Corpus:
    """The corpus ``name`` at scale ``s``: from the cache, or built now."""
    s = scale() if s is None else s
    spec = SPECS[name]
    d = cache_root() / f"scale-{s:g}"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.tar"
    meta_path = d / f"{name}.json"
    recipe = _recipe(name, s)
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("recipe") == recipe and meta.get("size") == path.stat().st_size:
            return Corpus(name, path, meta["size"], meta["payload"], meta["entries"], spec.doc)
    t0 = time.monotonic()
    out = _TarOut(path)
    try:
        spec.build(out, s)
        out.finish()
    except BaseException:
        out.abort()
        raise
    size = path.stat().st_size
    meta = {
        "recipe": recipe,
        "size": size,
        "payload": out.payload,
        "entries": out.entries,
        "build_seconds": round(time.monotonic() - t0, 2),
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    if not quiet:
        print(
            f"built {path} ({size / MiB:.1f} MiB, {out.entries} entries) in {meta['build_seconds']} s", file=sys.stderr
        )
    return Corpus(name, path, size, out.payload, out.entries, spec.doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"corpora to build (default: all of {', '.join(SPECS)})")
    ap.add_argument("--scale", type=float, default=None, help="size factor (default: $ZCK_BENCH_SCALE or 1)")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in SPECS]
    if unknown:
        ap.error(f"unknown corpus {unknown[0]!r}; choose from {', '.join(SPECS)}")
    for name in args.names or list(SPECS):
        c = build(name, args.scale)
        print(f"{c.name:15s} {c.size / MiB:9.1f} MiB {c.entries:7d} entries  {c.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
