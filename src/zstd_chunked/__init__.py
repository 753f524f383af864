"""zstd:chunked container layers: write them, read them, verify them.

Bit-compatible with the reference implementation in containers/storage
(podman, buildah, skopeo, CRI-O).
"""

from __future__ import annotations

from typing import Any

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


def __getattr__(name: str) -> Any:
    """``__version__``, looked up on first use (importlib.metadata costs a third of the import)."""
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        value = version("zstd-chunked")
    except PackageNotFoundError:  # running from a source tree without metadata
        value = "0+unknown"
    globals()["__version__"] = value
    return value


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
