"""Bytes the writer keeps until the end of a conversion, out of memory once there are many."""

from __future__ import annotations

import os
import tempfile
from typing import IO, Callable, Optional, Union

#: A spool keeps this many bytes in memory, then moves them to a temporary file.
SPOOL_BYTES = 1 << 16
#: The file is read back in pieces of this size.
SPOOL_PIECE = 1 << 20


class Spool:
    """An append-only store: in memory up to :data:`SPOOL_BYTES`, then in an anonymous
    temporary file (no name, gone with the process whatever happens), so the writer's
    memory does not grow with the number of entries.  Where no temporary file can be
    made (a read-only file system), the bytes stay in memory.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self) -> None:
        self._memory = bytearray()
        self._file: Optional[IO[bytes]] = None
        self._memory_only = False
        self._moved = False  # the file position left the end (read_at)
        #: Bytes written so far.
        self.size = 0

    def write(self, data: Union[bytes, bytearray, memoryview]) -> None:
        """Append ``data`` (copied: the caller may reuse its buffer)."""
        self.size += len(data)
        if self._file is not None:
            if self._moved:
                self._file.seek(0, os.SEEK_END)
                self._moved = False
            self._file.write(data)
            return
        self._memory += data
        if len(self._memory) > SPOOL_BYTES and not self._memory_only:
            try:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            except OSError:
                self._memory_only = True  # no usable temporary directory: memory it is
                return
            self._file.write(self._memory)
            self._memory = bytearray()

    def read_at(self, offset: int, n: int) -> bytes:
        """``n`` bytes from ``offset`` (fewer only past the end)."""
        if self._file is None:
            return bytes(self._memory[offset:offset + n])
        self._moved = True
        self._file.seek(offset)
        return self._file.read(n)

    def copy_to(self, write: Callable[[Union[bytes, bytearray]], None]) -> None:
        """Pass everything written, in order, to ``write`` in pieces."""
        if self._file is None:
            if self._memory:
                write(self._memory)
            return
        self._moved = True
        self._file.seek(0)
        while True:
            piece = self._file.read(SPOOL_PIECE)
            if not piece:
                return
            write(piece)

    def close(self) -> None:
        self._memory = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
