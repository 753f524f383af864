"""Output destinations that never leave a partial file behind."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Optional


def write_all(stream: Any, data: Any) -> None:
    """Write every byte of ``data`` to ``stream``, retrying short writes."""
    view = memoryview(data)
    while view:
        n = stream.write(view)
        if n is None:  # a buffered stream that reports nothing wrote everything
            n = len(view)
        if n <= 0:
            raise OSError("output stream accepted no bytes")
        view = view[n:]


class Output:
    """Write to a path (via a temporary file renamed on :meth:`commit`), ``"-"`` (stdout), or a binary file.

    Used as a context manager: leaving the block without :meth:`commit`
    (an exception) removes the temporary file.
    """

    def __init__(self, dst: Any, *, mode: int = 0o666) -> None:
        self._tmp: Optional[Path] = None
        self._final: Optional[Path] = None
        self._owned: Optional[IO[bytes]] = None
        self._mode = mode
        if isinstance(dst, (str, os.PathLike)):
            if os.fspath(dst) == "-":
                self.stream: Any = sys.stdout.buffer
                return
            final = Path(dst)
            fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial",
                                       dir=str(final.parent) if str(final.parent) else ".")
            self._tmp, self._final = Path(tmp), final
            self._owned = os.fdopen(fd, "wb", buffering=1 << 20)
            self.stream = self._owned
        elif hasattr(dst, "write"):
            self.stream = dst
        else:
            raise TypeError(f"destination must be a path, '-', or a binary file object, not {type(dst).__name__}")

    def write(self, data: Any) -> None:
        write_all(self.stream, data)

    def commit(self) -> None:
        if self._owned is not None:
            self._owned.flush()
            os.fchmod(self._owned.fileno(), self._mode & ~_umask())
            self._owned.close()
            self._owned = None
        else:
            flush = getattr(self.stream, "flush", None)
            if flush is not None:
                flush()
        if self._tmp is not None and self._final is not None:
            os.replace(self._tmp, self._final)
            self._tmp = None

    def abort(self) -> None:
        if self._owned is not None:
            try:
                self._owned.close()
            except OSError:
                pass
            self._owned = None
        if self._tmp is not None:
            try:
                self._tmp.unlink()
            except FileNotFoundError:
                pass
            self._tmp = None

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()  # no-op after commit


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
