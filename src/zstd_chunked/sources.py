"""Range sources: where a reader gets blob bytes from.

Anything with an integer ``size`` and ``read_range(offset, length) -> bytes``
is a range source (a registry client, a cache, a test double). This module
adapts paths, byte buffers and seekable files to that protocol, and counts
what was read.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Any, Optional, Protocol, Union, runtime_checkable

from .errors import FormatError, ZstdChunkedError


@runtime_checkable
class RangeSource(Protocol):
    """A blob that can be read by byte range."""

    @property
    def size(self) -> int: ...

    def read_range(self, offset: int, length: int) -> bytes: ...


class BytesSource:
    """A blob held in memory (bytes, bytearray, memoryview, mmap)."""

    def __init__(self, data: Union[bytes, bytearray, memoryview, Any]) -> None:
        self._view = memoryview(data).cast("B")
        self.size = len(self._view)

    def read_range(self, offset: int, length: int) -> bytes:
        _check_range(offset, length, self.size)
        return bytes(self._view[offset:offset + length])

    def close(self) -> None:
        self._view.release()


class FileSource:
    """A blob in a file: a path, or an open seekable binary file. Uses ``pread`` when it can."""

    def __init__(self, file: Union[str, os.PathLike[str], Any]) -> None:
        self._owned = False
        self._lock = threading.Lock()
        if isinstance(file, (str, os.PathLike)):
            self._file: Any = open(os.fspath(file), "rb", buffering=0)  # noqa: SIM115 - closed in close()
            self._owned = True
        else:
            self._file = file
        self._fd: Optional[int] = None
        try:
            self._fd = self._file.fileno()
            self.size = os.fstat(self._fd).st_size
        except (AttributeError, OSError, io.UnsupportedOperation):
            self._fd = None
            if not (hasattr(self._file, "seek") and hasattr(self._file, "read")):
                raise TypeError("a file source needs a seekable binary file") from None
            self.size = self._file.seek(0, io.SEEK_END)
        if not hasattr(os, "pread"):
            self._fd = None

    def read_range(self, offset: int, length: int) -> bytes:
        _check_range(offset, length, self.size)
        if self._fd is not None:
            parts = []
            got = 0
            while got < length:
                data = os.pread(self._fd, length - got, offset + got)
                if not data:
                    raise FormatError(f"blob ended at {offset + got}, before {offset + length}")
                parts.append(data)
                got += len(data)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        with self._lock:
            self._file.seek(offset)
            data = self._file.read(length)
        if len(data) != length:
            raise FormatError(f"blob ended at {offset + len(data)}, before {offset + length}")
        return bytes(data)

    def close(self) -> None:
        if self._owned:
            self._file.close()
            self._owned = False


class CountingSource:
    """Wraps a range source and records every range read (for tests and statistics)."""

    def __init__(self, inner: RangeSource) -> None:
        self.inner = inner
        self.size = inner.size
        self.requests: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    @property
    def bytes_read(self) -> int:
        return sum(length for _, length in self.requests)

    def read_range(self, offset: int, length: int) -> bytes:
        with self._lock:
            self.requests.append((offset, length))
        return self.inner.read_range(offset, length)


def _check_range(offset: int, length: int, size: int) -> None:
    if offset < 0 or length < 0 or offset + length > size:
        raise FormatError(f"range {offset}+{length} is outside the blob of {size} bytes")


def as_range_source(src: Any) -> tuple[RangeSource, bool]:
    """Adapt ``src`` to a range source; returns it and whether we own (must close) it."""
    if isinstance(src, (str, os.PathLike)):
        return FileSource(src), True
    if isinstance(src, (bytes, bytearray, memoryview)):
        return BytesSource(src), True
    if hasattr(src, "read_range") and hasattr(src, "size"):
        size = src.size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ZstdChunkedError("range source has an invalid size")
        return src, False
    if hasattr(src, "seek") and hasattr(src, "read"):
        return FileSource(src), True
    raise TypeError(f"cannot read a layer from {type(src).__name__}")
