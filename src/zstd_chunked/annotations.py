"""Layer annotations: the reader's trust anchor, and what the writer publishes.

The OCI manifest's layer descriptor carries three annotations::

    io.github.containers.zstd-chunked.manifest-checksum  = sha256:<hex of the compressed TOC>
    io.github.containers.zstd-chunked.manifest-position  = <offset>:<length>:<uncompressed length>:1
    io.github.containers.zstd-chunked.tarsplit-position  = <offset>:<length>:<uncompressed length>

Offsets point at frame data (8 bytes after each skippable frame header). The
checksum authenticates the TOC, and the TOC's ``tarSplitDigest`` authenticates
the tar-split. Layers written before November 2022 use the key prefix
``io.containers.zstd-chunked.`` and have no tar-split.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from . import format as fmt
from .errors import AnnotationError

_POSITION4_RE = re.compile(r"^([0-9]{1,20}):([0-9]{1,20}):([0-9]{1,20}):([0-9]{1,20})\Z")  # ASCII digits only, as Go
_POSITION3_RE = re.compile(r"^([0-9]{1,20}):([0-9]{1,20}):([0-9]{1,20})\Z")
_DIGEST_RE = re.compile(r"^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})\Z")
_U64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Position:
    """Where a metadata frame's data lies in the blob."""

    offset: int
    length: int
    uncompressed: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class LayerAnnotations:
    """The zstd:chunked annotations of one layer, parsed and checked for syntax."""

    toc_digest: str
    toc: Position
    tarsplit: Position | None
    old_keys: bool = False

    def to_dict(self) -> dict[str, str]:
        return format_annotations(self.toc_digest, self.toc, self.tarsplit)


def _u64(text: str, key: str) -> int:
    value = int(text)
    if value > _U64_MAX:
        raise AnnotationError(f"annotation {key}: value {text} does not fit in 64 bits")
    return value


def parse_digest(value: str, what: str) -> str:
    if not isinstance(value, str) or not _DIGEST_RE.match(value):
        raise AnnotationError(f"{what}: invalid digest {value!r} (expected algorithm:hex)")
    return value


def has_zstd_chunked_annotations(annotations: Mapping[str, str]) -> bool:
    """True when the mapping names a zstd:chunked TOC (current or old keys)."""
    return fmt.MANIFEST_CHECKSUM_KEY in annotations or fmt.MANIFEST_CHECKSUM_KEY_OLD in annotations


def parse_annotations(annotations: Mapping[str, str]) -> LayerAnnotations:
    """Parse and syntax-check the zstd:chunked annotations of a layer.

    Accepts the current keys and, failing those, the pre-2022 ``io.containers.``
    keys. Raises :class:`AnnotationError` when they are missing, malformed, or
    when an eStargz TOC digest is present as well (the reference refuses both).
    """
    if not isinstance(annotations, Mapping):
        raise AnnotationError("annotations must be a mapping of strings to strings")
    old = False
    if fmt.MANIFEST_CHECKSUM_KEY in annotations or fmt.MANIFEST_POSITION_KEY in annotations:
        checksum_key, position_key = fmt.MANIFEST_CHECKSUM_KEY, fmt.MANIFEST_POSITION_KEY
    elif fmt.MANIFEST_CHECKSUM_KEY_OLD in annotations or fmt.MANIFEST_POSITION_KEY_OLD in annotations:
        checksum_key, position_key = fmt.MANIFEST_CHECKSUM_KEY_OLD, fmt.MANIFEST_POSITION_KEY_OLD
        old = True
    else:
        raise AnnotationError("no zstd:chunked annotations (manifest-checksum and manifest-position)")
    if fmt.ESTARGZ_TOC_DIGEST_KEY in annotations:
        raise AnnotationError("both zstd:chunked and eStargz TOC annotations are present")
    checksum = annotations.get(checksum_key)
    position = annotations.get(position_key)
    if not checksum:
        raise AnnotationError(f"annotation {checksum_key} is missing or empty")
    if not position:
        raise AnnotationError(f"annotation {position_key} is missing or empty")
    toc_digest = parse_digest(checksum, f"annotation {checksum_key}")
    m = _POSITION4_RE.match(str(position))
    if not m:
        raise AnnotationError(f"annotation {position_key}: {position!r} is not offset:length:uncompressed:type")
    offset, length, uncompressed, manifest_type = (_u64(g, position_key) for g in m.groups())
    if manifest_type != fmt.MANIFEST_TYPE_CRFS:
        raise AnnotationError(f"annotation {position_key}: invalid manifest type {manifest_type}")
    toc = Position(offset, length, uncompressed)
    tarsplit = None
    if not old and fmt.TARSPLIT_POSITION_KEY in annotations:
        raw = annotations[fmt.TARSPLIT_POSITION_KEY]
        m3 = _POSITION3_RE.match(str(raw))
        if not m3:
            raise AnnotationError(
                f"annotation {fmt.TARSPLIT_POSITION_KEY}: {raw!r} is not offset:length:uncompressed")
        ts = Position(*(_u64(g, fmt.TARSPLIT_POSITION_KEY) for g in m3.groups()))
        if ts.offset != 0:  # offset 0 means "no tar-split" upstream
            tarsplit = ts
    return LayerAnnotations(toc_digest=toc_digest, toc=toc, tarsplit=tarsplit, old_keys=old)


def format_annotations(toc_digest: str, toc: Position, tarsplit: Position | None) -> dict[str, str]:
    """The annotations exactly as the reference writer formats them."""
    out = {
        fmt.MANIFEST_CHECKSUM_KEY: toc_digest,
        fmt.MANIFEST_POSITION_KEY: f"{toc.offset}:{toc.length}:{toc.uncompressed}:{fmt.MANIFEST_TYPE_CRFS}",
    }
    if tarsplit is not None:
        out[fmt.TARSPLIT_POSITION_KEY] = f"{tarsplit.offset}:{tarsplit.length}:{tarsplit.uncompressed}"
    return out
