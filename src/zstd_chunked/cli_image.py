"""Subcommands for OCI image layouts and registries: convert-image, pull, cat-remote.

``cat BLOB PATH`` reads a local blob; reading from a registry is the separate
``cat-remote REF PATH`` so that a path is never mistaken for a reference.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import format as fmt
from . import progress as progress_mod
from .cli import parse_level as _level
from .cli import parse_positive as _positive


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be zero or more")
    return value


def _creds(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError("expected USER:PASSWORD")
    return user, password


def _bool(text: str) -> bool:
    low = text.lower()
    if low in ("true", "1", "yes"):
        return True
    if low in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError("expected true or false")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2) + "\n")


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _registry_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("registry access")
    g.add_argument("--platform", metavar="OS/ARCH[/VARIANT]",
                   help="image to use from a multi-platform index (default: this machine's, linux/<arch>)")
    g.add_argument("--plain-http", action="store_true", default=None,
                   help="use HTTP instead of HTTPS (the default for localhost and 127.x registries)")
    g.add_argument("--tls-verify", type=_bool, default=True, metavar="BOOL",
                   help="verify the registry's TLS certificate (default true)")
    g.add_argument("--creds", type=_creds, metavar="USER:PASSWORD",
                   help="credentials; default: the entry for the registry in $REGISTRY_AUTH_FILE, "
                        "containers auth.json or ~/.docker/config.json, else anonymous")


def _client_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"plain_http": args.plain_http, "tls_verify": args.tls_verify, "credentials": args.creds}


# -- commands ------------------------------------------------------------------


def cmd_convert_image(args: argparse.Namespace) -> int:
    from .oci import convert_image

    mode = progress_mod.mode_of(args)
    result = convert_image(args.src, args.dst, level=args.level, threads=args.threads, progress=mode)
    if args.json:
        _print_json(result.to_json_dict())
    elif mode != progress_mod.NEVER:
        sys.stderr.write(
            f"converted {result.layers_converted} layers ({_human(result.bytes_in)} -> {_human(result.bytes_out)}) "
            f"in {result.manifests_converted} manifests; reused {result.layers_reused} layers; "
            f"rewrote {result.indexes_rewritten} indexes\n")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from .pull import pull

    mode = progress_mod.mode_of(args)
    report = pull(args.ref, args.dest, store=args.store, platform=args.platform, link=args.link,
                  owners=args.owners, allow_devices=args.allow_devices, gap=args.gap, max_ranges=args.max_ranges,
                  threads=args.threads, progress=mode, **_client_options(args))
    if args.json:
        _print_json(report.to_json_dict())
    elif mode != progress_mod.NEVER:
        for layer in report.layers:
            how = "partial" if layer.partial else "whole blob (not zstd:chunked), converted locally"
            sys.stderr.write(
                f"{layer.digest[:19]}: {how}; {layer.files} files, {layer.files_from_store} from the store, "
                f"{layer.files_fetched} fetched ({layer.chunks_fetched} chunks fetched, "
                f"{layer.chunks_from_store} from the store); received {_human(layer.bytes_received)} "
                f"of {_human(layer.size)} in {layer.requests} requests; DiffID verified\n")
    return 0


def cmd_cat_remote(args: argparse.Namespace) -> int:
    from .pull import cat_remote

    result = cat_remote(args.ref, args.path, sys.stdout.buffer, layer=args.layer, platform=args.platform,
                        threads=args.threads, **_client_options(args))
    if args.stats:
        sys.stderr.write(f"{result.path}: {result.size} bytes from layer {result.layer_digest[:19]} "
                         f"({result.layer_size} bytes); received {result.bytes_received} bytes "
                         f"in {result.requests} requests (layer metadata included)\n")
    return 0


# -- parser --------------------------------------------------------------------


def register_image_commands(sub: Any) -> None:
    """Add convert-image, pull and cat-remote to the CLI's subparsers."""
    p = sub.add_parser(
        "convert-image", help="convert every layer of an OCI image layout to zstd:chunked",
        description="Convert every layer of the OCI image layout SRC (as written by skopeo, podman, buildah or "
                    "oras; gzip, zstd or uncompressed layers; multi-platform indexes too) to zstd:chunked, "
                    "writing the layout DST. Layers get media type " + fmt.LAYER_MEDIA_TYPE + " and the "
                    "zstd:chunked annotations; configs and DiffIDs are unchanged (each layer's DiffID is checked); "
                    "manifests and indexes that change are rewritten; other blobs are reused. DST may be SRC "
                    "(in place) or an existing layout (entries with the same tag are replaced).",
        epilog="example: skopeo copy docker://docker.io/library/alpine oci:alpine:latest && "
               "zstd-chunked convert-image alpine alpine-zc && "
               "skopeo copy oci:alpine-zc:latest docker://registry.example/alpine:zstd-chunked")
    p.add_argument("src", metavar="SRC_LAYOUT", help="source OCI image layout directory")
    p.add_argument("dst", metavar="DST_LAYOUT", help="destination layout directory (created if missing)")
    p.add_argument("--level", type=_level, default=fmt.DEFAULT_LEVEL,
                   help=f"zstd level {fmt.MIN_LEVEL}-{fmt.MAX_LEVEL} (default {fmt.DEFAULT_LEVEL})")
    p.add_argument("--threads", type=_positive, default=None, help="compression threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print what was converted as JSON")
    progress_mod.add_arguments(p)
    p.set_defaults(func=cmd_convert_image)

    p = sub.add_parser(
        "pull", help="pull an image from a registry file by file, fetching only missing chunks",
        description="Pull image REF from its registry into directory DEST, layer after layer (whiteouts "
                    "applied). For zstd:chunked layers only the metadata and the chunks of files not already in "
                    "the store are fetched, many ranges per request; other layers are fetched whole and "
                    "converted locally. Every chunk, file and layer DiffID is verified before extraction.",
        epilog="REF is [docker://][HOST[:PORT]/]NAME[:TAG][@DIGEST]; HTTP is used for localhost/127.x. "
               "example: zstd-chunked pull --store ~/.cache/zc-store registry.example/app:1.2 ./rootfs")
    p.add_argument("ref", metavar="REF", help="image reference")
    p.add_argument("dest", metavar="DEST", help="destination directory (created if missing)")
    p.add_argument("--store", metavar="DIR",
                   help="directory of files named by digest, shared between pulls: files found there are not "
                        "fetched, new ones are added (default: a temporary store, removed afterwards)")
    p.add_argument("--link", action="store_true",
                   help="hard-link files from the store instead of copying them (the tree then shares inodes "
                        "with the store: do not modify its files in place)")
    p.add_argument("--owners", action=argparse.BooleanOptionalAction, default=None,
                   help="apply uid/gid (default: only as root)")
    p.add_argument("--allow-devices", action="store_true", help="create device nodes and FIFOs")
    p.add_argument("--gap", type=_non_negative, default=fmt.RANGE_MERGE_GAP, metavar="BYTES",
                   help=f"merge ranges at most this far apart (default {fmt.RANGE_MERGE_GAP})")
    p.add_argument("--max-ranges", type=_positive, default=fmt.MAX_RANGES_PER_REQUEST, metavar="N",
                   help=f"at most N ranges per HTTP request (default {fmt.MAX_RANGES_PER_REQUEST})")
    p.add_argument("--threads", type=_positive, default=None, help="decompression threads (default: all cores)")
    p.add_argument("--json", action="store_true", help="print a per-layer report as JSON")
    _registry_options(p)
    progress_mod.add_arguments(p)
    p.set_defaults(func=cmd_pull)

    p = sub.add_parser(
        "cat-remote", help="write one file of a registry image to standard output (only its chunks are fetched)",
        description="Write regular file PATH of image REF to standard output. Only the layer metadata and "
                    "the file's chunks are fetched. Layers are searched from the top (whiteouts honoured) "
                    "unless --layer names one. For a local blob use `cat BLOB PATH`.")
    p.add_argument("ref", metavar="REF", help="image reference, [docker://][HOST[:PORT]/]NAME[:TAG][@DIGEST]")
    p.add_argument("path", metavar="PATH", help="path of a regular file in the image")
    p.add_argument("--layer", metavar="DIGEST|INDEX",
                   help="read from this layer only (digest, or index: 0 = bottom, -1 = top)")
    p.add_argument("--threads", type=_positive, default=None, help="decompression threads (default: all cores)")
    p.add_argument("--stats", action="store_true", help="print requests and bytes received on standard error")
    _registry_options(p)
    p.set_defaults(func=cmd_cat_remote)


__all__ = ["register_image_commands"]
