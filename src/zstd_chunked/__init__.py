"""zstd:chunked container layers: write them, read them, verify them.

Bit-compatible with the reference implementation in containers/storage
(podman, buildah, skopeo, CRI-O).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import (
    AnnotationError,
    DigestMismatchError,
    FormatError,
    LimitExceededError,
    MissingTarSplitError,
    NativeError,
    NotFoundError,
    TarError,
    UnsafePathError,
    UnsupportedTarError,
    UsageError,
    ZstdChunkedError,
)
from .extract import ExtractReport
from .reader import Layer, LayerFile  # noqa: A004 - the package's entry point
from .reader import open_layer as open
from .sources import BytesSource, CountingSource, FileSource, RangeSource
from .writer import LayerInfo, Writer, convert

try:
    __version__ = version("zstd-chunked")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0+unknown"

__all__ = [
    "AnnotationError",
    "BytesSource",
    "CountingSource",
    "ExtractReport",
    "FileSource",
    "Layer",
    "LayerFile",
    "RangeSource",
    "open",
    "DigestMismatchError",
    "FormatError",
    "LayerInfo",
    "LimitExceededError",
    "MissingTarSplitError",
    "NativeError",
    "NotFoundError",
    "TarError",
    "UnsafePathError",
    "UnsupportedTarError",
    "UsageError",
    "Writer",
    "ZstdChunkedError",
    "__version__",
    "convert",
]
