"""The command line (zstd_chunked.cli): every layer command on a real tar, and the exit codes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import tarfile
from pathlib import Path

import pytest

import zstd_chunked
from zstd_chunked.cli import (
    EXIT_FORMAT,
    EXIT_IO,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNSUPPORTED,
    EXIT_VERIFY_FAILED,
    main,
)

Capture = pytest.CaptureFixture[bytes]


def _tar(members: list[tuple[str, bytes | None]], *, link: bool = True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("d/link")
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, "a.txt", 1_700_000_000
            tf.addfile(info)
    return buf.getvalue()


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A tar with a directory, a small file, a multi-chunk file and a symlink, converted by the CLI."""
    work = tmp_path_factory.mktemp("cli")
    big = random.Random(5).randbytes(600 << 10)
    tar = _tar([("d/", None), ("d/a.txt", b"hello\n"), ("d/big.bin", big)])
    (work / "in.tar").write_bytes(tar)
    return {"work": work, "tar": tar, "big": big, "diff_id": "sha256:" + hashlib.sha256(tar).hexdigest()}


def _run(capsysbinary: Capture, *argv: str) -> tuple[int, bytes, bytes]:
    code = main(list(argv))
    out, err = capsysbinary.readouterr()
    return code, out, err


def _converted(layer: dict[str, object], capsysbinary: Capture) -> tuple[Path, Path, dict[str, object]]:
    work = layer["work"]
    assert isinstance(work, Path)
    blob, ann = work / "layer.zst", work / "ann.json"
    code, out, _ = _run(capsysbinary, "convert", str(work / "in.tar"), "-o", str(blob), "--level", "3",
                        "--annotations-out", str(ann), "-q")
    assert code == EXIT_OK
    return blob, ann, json.loads(out)


def test_convert_then_read_back_with_every_command(layer: dict[str, object], capsysbinary: Capture,
                                                   tmp_path: Path) -> None:
    blob, ann, made = _converted(layer, capsysbinary)
    assert made["diffID"] == layer["diff_id"]
    assert made["size"] == blob.stat().st_size
    assert made["digest"] == "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
    assert json.loads(ann.read_text()) == made["annotations"]
    common = ["--annotations", str(ann)]

    code, out, _ = _run(capsysbinary, "info", str(blob), *common, "--json")
    info = json.loads(out)
    assert code == EXIT_OK and info["authenticated"] is True and info["regularFiles"] == 2
    assert info["tarSize"] == len(layer["tar"])  # type: ignore[arg-type]

    code, out, _ = _run(capsysbinary, "ls", str(blob), *common)
    assert code == EXIT_OK and out.split() == [b"d/", b"d/a.txt", b"d/big.bin", b"d/link"]
    code, out, _ = _run(capsysbinary, "ls", str(blob), *common, "-l")
    assert b"lrw" in out and b"d/link -> a.txt" in out and b"-rw-r--r--" in out

    code, out, _ = _run(capsysbinary, "cat", str(blob), *common, "d/big.bin")
    assert code == EXIT_OK and out == layer["big"]

    code, out, _ = _run(capsysbinary, "toc", str(blob), *common)
    toc = json.loads(out)
    assert code == EXIT_OK and [e["name"] for e in toc["entries"] if e["type"] != "chunk"][:2] == ["d/", "d/a.txt"]
    assert any(e["type"] == "chunk" for e in toc["entries"])  # the big file has several chunks

    rebuilt = tmp_path / "out.tar"
    code, _, _ = _run(capsysbinary, "rebuild", str(blob), *common, "-o", str(rebuilt), "-q",
                      "--diff-id", str(layer["diff_id"]))
    assert code == EXIT_OK and rebuilt.read_bytes() == layer["tar"]

    code, out, _ = _run(capsysbinary, "verify", str(blob), *common, "--diff-id", str(layer["diff_id"]), "--json")
    assert code == EXIT_OK and json.loads(out)["diffID"] == layer["diff_id"]

    dest = tmp_path / "x"
    code, _, err = _run(capsysbinary, "extract", str(blob), *common, str(dest))
    assert code == EXIT_OK and b"extracted 2 files" in err
    assert (dest / "d" / "a.txt").read_bytes() == b"hello\n"
    assert os.readlink(dest / "d" / "link") == "a.txt"


def test_convert_from_standard_input(layer: dict[str, object], capsysbinary: Capture, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tar = layer["tar"]
    assert isinstance(tar, bytes)
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(tar)))
    code, out, _ = _run(capsysbinary, "convert", "-", "-o", str(tmp_path / "l.zst"), "-q")
    assert code == EXIT_OK and json.loads(out)["diffID"] == layer["diff_id"]


def test_mismatched_diff_id_fails_and_leaves_no_output(layer: dict[str, object], capsysbinary: Capture,
                                                       tmp_path: Path) -> None:
    blob, ann, _ = _converted(layer, capsysbinary)
    wrong = "sha256:" + "0" * 64
    code, _, err = _run(capsysbinary, "verify", str(blob), "--annotations", str(ann), "--diff-id", wrong)
    assert code == EXIT_VERIFY_FAILED and b"error:" in err
    out = tmp_path / "out.tar"
    code, _, _ = _run(capsysbinary, "rebuild", str(blob), "--annotations", str(ann), "-o", str(out), "-q",
                      "--diff-id", wrong)
    assert code == EXIT_VERIFY_FAILED and not out.exists()


def test_error_exit_codes(layer: dict[str, object], capsysbinary: Capture, tmp_path: Path) -> None:
    blob, ann, _ = _converted(layer, capsysbinary)
    code, _, err = _run(capsysbinary, "cat", str(blob), "--annotations", str(ann), "d/missing")
    assert code == EXIT_NOT_FOUND and b"d/missing" in err

    junk = tmp_path / "junk.zst"
    junk.write_bytes(random.Random(1).randbytes(4096))
    assert _run(capsysbinary, "info", str(junk))[0] == EXIT_FORMAT

    bad_ann = tmp_path / "ann.json"
    bad_ann.write_text("{not json")
    assert _run(capsysbinary, "info", str(blob), "--annotations", str(bad_ann))[0] == EXIT_FORMAT

    dup = tmp_path / "dup.tar"
    dup.write_bytes(_tar([("a", b"1"), ("./a", b"2")], link=False))
    out = tmp_path / "dup.zst"
    code, _, err = _run(capsysbinary, "convert", str(dup), "-o", str(out), "-q")
    assert code == EXIT_UNSUPPORTED and b"duplicate path" in err and not out.exists()

    assert _run(capsysbinary, "convert", str(tmp_path / "absent.tar"), "-o", str(out), "-q")[0] == EXIT_IO


def test_usage_errors_and_version(capsysbinary: Capture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["convert", "x.tar", "-o", "y", "--level", "99"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsysbinary.readouterr().out == f"zstd-chunked {zstd_chunked.__version__}\n".encode()
