"""The ``zstd-chunked`` command line.

Every command is a thin layer over the Python API. Errors print one line to
standard error (``zstd-chunked: error: ...``) and exit with a code that says
what kind of failure it was; ``--debug`` prints the traceback too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Optional

from . import format as fmt
from .errors import (
    AnnotationError,
    DigestMismatchError,
    FormatError,
    LimitExceededError,
    MissingTarSplitError,
    NotFoundError,
    UnsafePathError,
    UnsupportedTarError,
    ZstdChunkedError,
)

#: Exit codes (documented in the README).
EXIT_OK = 0
EXIT_VERIFY_FAILED = 1  # a digest, checksum or DiffID did not match
EXIT_USAGE = 2  # bad command line (argparse also uses 2)
EXIT_FORMAT = 3  # malformed blob, TOC, tar-split, annotations or input tar
EXIT_UNSUPPORTED = 4  # input tar the format cannot represent (duplicates, sparse, ...)
EXIT_LIMIT = 5  # a configured size limit was exceeded
EXIT_UNSAFE = 6  # extraction refused a path
EXIT_NOT_FOUND = 7  # no such file in the layer
EXIT_NO_TARSPLIT = 8  # the layer has no tar-split (rebuild impossible)
EXIT_OTHER = 9  # any other package error
EXIT_IO = 10  # operating-system error (file not found, disk full, ...)
EXIT_INTERRUPTED = 130

_EXIT_FOR: list[tuple[type[BaseException], int]] = [
    (DigestMismatchError, EXIT_VERIFY_FAILED),
    (UnsupportedTarError, EXIT_UNSUPPORTED),
    (AnnotationError, EXIT_FORMAT),
    (FormatError, EXIT_FORMAT),
    (LimitExceededError, EXIT_LIMIT),
    (UnsafePathError, EXIT_UNSAFE),
    (NotFoundError, EXIT_NOT_FOUND),
    (MissingTarSplitError, EXIT_NO_TARSPLIT),
    (ZstdChunkedError, EXIT_OTHER),
    (OSError, EXIT_IO),
]


def _load_annotations(path: Optional[str]) -> Optional[dict[str, str]]:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AnnotationError(f"{path}: not JSON: {exc}") from None
    if isinstance(data, dict) and "annotations" in data and isinstance(data["annotations"], dict):
        data = data["annotations"]  # a whole layer descriptor, or convert's JSON output
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise AnnotationError(f"{path}: expected a JSON object of string annotations")
    return data


def _open(args: argparse.Namespace) -> Any:
    from .reader import open_layer

    return open_layer(args.blob, _load_annotations(args.annotations), max_toc_size=args.max_toc_size,
                      max_tarsplit_size=args.max_tarsplit_size, threads=args.threads)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False) + "\n")


# -- commands ------------------------------------------------------------------


def cmd_convert(args: argparse.Namespace) -> int:
    import os

    from .progress import CountingReader, bar, mode_of
    from .writer import convert

    stdin = args.input == "-"
    total = None if stdin else os.path.getsize(args.input)
    with bar(total, "convert", mode=mode_of(args)) as progress:
        if stdin:
            source: Any = sys.stdin.buffer
            info = convert(CountingReader(source, progress), args.output, level=args.level, threads=args.threads)
        else:
            with open(args.input, "rb", buffering=0) as f:
                info = convert(CountingReader(f, progress), args.output, level=args.level, threads=args.threads)
    if args.annotations_out:
        from .outputs import Output

        with Output(args.annotations_out) as out:
            out.write((json.dumps(info.annotations, indent=2) + "\n").encode())
            out.commit()
    if args.output == "-":
        sys.stderr.write(json.dumps(info.to_json_dict()) + "\n")
    else:
        _print_json(info.to_json_dict())
    return EXIT_OK


def cmd_info(args: argparse.Namespace) -> int:
    with _open(args) as layer:
        info = layer.info()
    if args.json:
        _print_json(info)
        return EXIT_OK
    trust = "authenticated by annotations" if info["authenticated"] else "UNAUTHENTICATED (no annotations; footer)"
    lines = [
        f"blob size:        {info['size']}",
        f"metadata:         {trust}",
        f"TOC:              offset {info['tocOffset']}, {info['tocLength']} bytes "
        f"({info['tocUncompressed']} uncompressed), digest {info['tocDigest']}",
        "tar-split:        " + (f"offset {info['tarSplitOffset']}, {info['tarSplitLength']} bytes "
                                 f"({info['tarSplitUncompressed']} uncompressed)" if info["tarSplit"] else "none"),
        f"footer:           {info['footer'] or 'not read'}",
        f"entries:          {info['entries']} ({info['regularFiles']} regular files)",
        f"chunks:           {info['chunks']} ({info['zeroChunks']} zero runs)",
        f"content bytes:    {info['contentBytes']}",
        f"tar size:         {info['tarSize'] if info['tarSize'] is not None else 'unknown (no tar-split)'}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return EXIT_OK


def _mode_string(entry: Any) -> str:
    kinds = {fmt.TYPE_DIR: "d", fmt.TYPE_SYMLINK: "l", fmt.TYPE_CHAR: "c", fmt.TYPE_BLOCK: "b",
             fmt.TYPE_FIFO: "p", fmt.TYPE_HARDLINK: "h"}
    out = kinds.get(entry.type, "-")
    for shift in (6, 3, 0):
        bits = (entry.mode >> shift) & 7
        out += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return out


def cmd_ls(args: argparse.Namespace) -> int:
    with _open(args) as layer:
        for e in layer.entries():
            if not args.long:
                sys.stdout.write(e.name + "\n")
                continue
            target = f" -> {e.linkname}" if e.linkname else ""
            size = f"{e.devmajor},{e.devminor}" if e.type in (fmt.TYPE_CHAR, fmt.TYPE_BLOCK) else str(e.size)
            sys.stdout.write(f"{_mode_string(e)} {e.uid}/{e.gid} {size:>12} {e.modtime or '-'} {e.name}{target}\n")
    return EXIT_OK


def cmd_cat(args: argparse.Namespace) -> int:
    with _open(args) as layer:
        out = sys.stdout.buffer
        for piece in layer.iter_file(layer.file(args.path)):
            out.write(piece)
        out.flush()
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    with _open(args) as layer:
        report = layer.extract(args.dest, allow_devices=args.allow_devices, whiteouts=args.whiteouts,
                               owners=args.owners, xattrs=not args.no_xattrs)
    sys.stderr.write(
        f"extracted {report.files} files, {report.directories} directories, {report.symlinks} symlinks, "
        f"{report.hardlinks} hard links, {report.devices} devices; skipped {len(report.skipped)}\n")
    for warning in report.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    return EXIT_OK


def cmd_rebuild(args: argparse.Namespace) -> int:
    from .progress import NEVER, bar, mode_of

    with _open(args) as layer, bar(layer.tar_size, "rebuild", mode=mode_of(args)) as progress:
        diff_id = layer.rebuild_tar(args.output, args.diff_id, on_progress=progress.update)
    if mode_of(args) != NEVER:
        sys.stderr.write(f"DiffID {diff_id}\n")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    with _open(args) as layer:
        report = layer.verify(args.diff_id)
    if args.json:
        _print_json(report)
    else:
        trust = "" if report["authenticated"] else " (metadata NOT authenticated: no annotations given)"
        sys.stdout.write(f"OK: {report['zstdFrames']} zstd frames, {report['filesVerified']} files, "
                         f"DiffID {report['diffID']}{trust}\n")
    return EXIT_OK


def cmd_toc(args: argparse.Namespace) -> int:
    with _open(args) as layer:
        sys.stdout.buffer.write(layer.toc_raw)
        sys.stdout.buffer.write(b"\n")
    return EXIT_OK


# -- parser --------------------------------------------------------------------


def parse_level(text: str) -> int:
    value = int(text)
    if not fmt.MIN_LEVEL <= value <= fmt.MAX_LEVEL:
        raise argparse.ArgumentTypeError(f"level must be {fmt.MIN_LEVEL}..{fmt.MAX_LEVEL}")
    return value


def parse_positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _diff_id(text: str) -> str:
    if not (text.startswith("sha256:") and len(text) == 71):
        raise argparse.ArgumentTypeError("expected sha256:<64 hex digits>")
    return text


class _VersionAction(argparse.Action):
    """``--version``: the package version is looked up only when asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        from . import __version__

        sys.stdout.write(f"{parser.prog} {__version__}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    from .progress import add_arguments as add_progress_arguments

    parser = argparse.ArgumentParser(
        prog="zstd-chunked",
        description="Write, inspect, verify and read zstd:chunked container layers "
                    "(compatible with containers/storage: podman, buildah, skopeo, CRI-O).",
        epilog="Exit codes: 0 ok, 1 digest mismatch, 2 usage, 3 malformed input, 4 unsupported tar, "
               "5 limit exceeded, 6 unsafe path, 7 not found, 8 no tar-split, 9 other, 10 I/O error.")
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", help="print a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def reading(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("blob", help="the zstd:chunked blob (path)")
        p.add_argument("--annotations", metavar="FILE",
                       help="JSON file with the layer's annotations (as written by convert --annotations-out); "
                            "without it the footer is used and the metadata is not authenticated")
        p.add_argument("--threads", type=parse_positive, default=None,
                       help="decompression threads (default: all cores)")
        p.add_argument("--max-toc-size", type=parse_positive, default=fmt.MAX_TOC_SIZE, metavar="BYTES",
                       help=f"refuse larger TOCs (default {fmt.MAX_TOC_SIZE})")
        p.add_argument("--max-tarsplit-size", type=parse_positive, default=fmt.MAX_TARSPLIT_SIZE, metavar="BYTES",
                       help=f"refuse larger tar-split data (default {fmt.MAX_TARSPLIT_SIZE})")
        p.set_defaults(func=func)
        return p

    p = sub.add_parser("convert", help="convert a tar into a zstd:chunked blob",
                       description="Convert a layer tar (a path, or - for standard input) into a zstd:chunked "
                                   "blob, and print its annotations, DiffID, digest, size and TOC digest as JSON.")
    p.add_argument("input", help="input tar, or - for standard input")
    p.add_argument("-o", "--output", required=True, help="output blob path, or - for standard output")
    p.add_argument("--level", type=parse_level, default=fmt.DEFAULT_LEVEL, help="zstd level 1-19 (default 3)")
    p.add_argument("--threads", type=parse_positive, default=None, help="compression threads (default: all cores)")
    p.add_argument("--annotations-out", metavar="FILE", help="also write the annotations object to FILE")
    add_progress_arguments(p)
    p.set_defaults(func=cmd_convert)

    p = reading("info", "show the layer's structure and whether its metadata is authenticated", cmd_info)
    p.add_argument("--json", action="store_true", help="print JSON")
    p = reading("ls", "list the layer's entries", cmd_ls)
    p.add_argument("-l", "--long", action="store_true", help="show mode, owner, size, time and link target")
    p = reading("cat", "write one file's content to standard output (only its chunks are read)", cmd_cat)
    p.add_argument("path", help="path of a regular file in the layer")
    p = reading("extract", "extract the layer into a directory, safely", cmd_extract)
    p.add_argument("dest", help="destination directory (created if missing)")
    p.add_argument("--allow-devices", action="store_true", help="create device nodes and FIFOs")
    p.add_argument("--whiteouts", choices=("keep", "apply", "skip"), default="keep",
                   help="OCI whiteout files: keep as plain files (default), apply, or skip")
    p.add_argument("--owners", action=argparse.BooleanOptionalAction, default=None,
                   help="apply uid/gid (default: only as root)")
    p.add_argument("--no-xattrs", action="store_true", help="do not set extended attributes")
    p = reading("rebuild", "rebuild the exact original tar from the tar-split", cmd_rebuild)
    p.add_argument("-o", "--output", required=True, help="output tar path, or - for standard output")
    p.add_argument("--diff-id", type=_diff_id, help="expected DiffID (sha256:...); fail and remove output if different")
    add_progress_arguments(p)
    p = reading("verify", "check frames, digests, every file and the DiffID (exit 0 only if all pass)", cmd_verify)
    p.add_argument("--diff-id", type=_diff_id, help="expected DiffID (sha256:...)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    reading("toc", "print the TOC JSON exactly as stored", cmd_toc)

    from .cli_image import register_image_commands

    register_image_commands(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        sys.stderr.write("zstd-chunked: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK if args.command in ("cat", "cat-remote", "ls", "toc", "rebuild") else EXIT_IO
    except (ZstdChunkedError, OSError, ValueError) as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        code = next((c for t, c in _EXIT_FOR if isinstance(exc, t)), EXIT_OTHER)
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.strerror or message}: {exc.filename}"
        sys.stderr.write(f"zstd-chunked: error: {message}\n")
        return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
