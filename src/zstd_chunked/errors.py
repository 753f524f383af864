"""The package's exception tree.

Every error the package raises on purpose derives from :class:`ZstdChunkedError`.
Errors about malformed input (a blob, a TOC, a tar-split, annotations or an input
tar) also derive from :class:`ValueError`, so generic callers can catch them as
bad values.
"""

from __future__ import annotations


class ZstdChunkedError(Exception):
    """Base class of every exception raised by zstd_chunked."""


class FormatError(ZstdChunkedError, ValueError):
    """Input bytes do not follow the zstd:chunked format (blob, footer, frames, TOC, tar-split)."""


class AnnotationError(FormatError):
    """Layer annotations are missing, malformed or contradictory."""


class TarError(FormatError):
    """The input tar stream is malformed or truncated."""


class UnsupportedTarError(TarError):
    """The input tar is well formed but cannot be represented faithfully as zstd:chunked.

    The reference writer also refuses these (duplicate paths, PAX global headers,
    sparse files, unknown entry types) or would silently produce a broken layer
    (names that are not UTF-8).
    """


class DigestMismatchError(ZstdChunkedError):
    """A digest or checksum computed over data differs from the one recorded for it."""


class LimitExceededError(ZstdChunkedError):
    """A size, count or nesting limit configured for reading was exceeded."""


class UnsafePathError(ZstdChunkedError):
    """An entry would be written outside the extraction directory, or through a link."""


class MissingTarSplitError(ZstdChunkedError):
    """The operation needs tar-split data, and the layer has none (older formats)."""


class NotFoundError(ZstdChunkedError, KeyError):
    """A path is not in the layer, or is not a regular file."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep plain messages
        return str(self.args[0]) if self.args else ""


class NativeError(ZstdChunkedError):
    """The native core reported an error (allocation failure, zstd error, bad argument)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class UsageError(ZstdChunkedError, RuntimeError):
    """An object was used in a way it does not allow (after close, or from two threads)."""


__all__ = [
    "AnnotationError",
    "DigestMismatchError",
    "FormatError",
    "LimitExceededError",
    "MissingTarSplitError",
    "NativeError",
    "NotFoundError",
    "TarError",
    "UnsafePathError",
    "UnsupportedTarError",
    "UsageError",
    "ZstdChunkedError",
]
