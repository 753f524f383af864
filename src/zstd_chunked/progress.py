"""Progress bars for the command line: tqdm when it is installed, silence otherwise.

Bars are shown only when asked for (``--progress``) or when standard error is a
terminal and ``--quiet`` was not given. ``tqdm`` is an optional dependency
(``pip install zstd-chunked[progress]``); without it every bar is a no-op, so
library code can always call :func:`bar` unconditionally.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Optional

#: ``--progress`` / ``--quiet`` resolve to one of these.
AUTO, ALWAYS, NEVER = "auto", "always", "never"


class NullBar:
    """A progress bar that shows nothing."""

    def update(self, n: int = 1) -> None:
        pass

    def set_description(self, text: str) -> None:
        pass

    def set_total(self, total: Optional[int]) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _TqdmBar(NullBar):
    def __init__(self, bar: Any) -> None:
        self._bar = bar

    def update(self, n: int = 1) -> None:
        if n:
            self._bar.update(n)

    def set_description(self, text: str) -> None:
        self._bar.set_description(text, refresh=False)

    def set_total(self, total: Optional[int]) -> None:
        self._bar.total = total
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


def enabled(mode: str = AUTO, stream: Any = None) -> bool:
    """Whether bars should be drawn: ``always``, ``never``, or ``auto`` (the stream is a terminal)."""
    if mode == ALWAYS:
        return True
    if mode == NEVER:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def bar(total: Optional[int], desc: str, *, mode: str = AUTO, unit: str = "B") -> NullBar:
    """A progress bar over ``total`` units (bytes by default) on standard error, or a no-op one."""
    if not enabled(mode):
        return NullBar()
    try:
        from tqdm import tqdm  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return NullBar()
    scale = unit == "B"
    return _TqdmBar(tqdm(total=total, desc=desc, unit=unit, unit_scale=scale, unit_divisor=1024 if scale else 1000,
                         file=sys.stderr, leave=False, dynamic_ncols=True, disable=False))


class CountingReader:
    """Wraps a binary file object and reports the bytes read to a progress bar."""

    def __init__(self, raw: Any, progress: NullBar) -> None:
        self._raw = raw
        self._progress = progress
        self._readinto = getattr(raw, "readinto", None)

    def read(self, n: int = -1) -> bytes:
        data: bytes = self._raw.read(n)
        if data:
            self._progress.update(len(data))
        return data

    def readinto(self, buf: Any) -> int:
        if self._readinto is None:
            data = self.read(len(buf))
            buf[: len(data)] = data
            return len(data)
        n = int(self._readinto(buf) or 0)
        self._progress.update(n)
        return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the mutually exclusive ``--progress`` and ``-q/--quiet`` options to a subcommand."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--progress", dest="progress", action="store_const", const=ALWAYS, default=AUTO,
                       help="show progress bars even when standard error is not a terminal (needs tqdm)")
    group.add_argument("-q", "--quiet", dest="progress", action="store_const", const=NEVER,
                       help="no progress bars and no summary on standard error")


def mode_of(args: argparse.Namespace) -> str:
    """The progress mode chosen on the command line (``auto`` when the command has no such option)."""
    return str(getattr(args, "progress", AUTO) or AUTO)


__all__ = ["ALWAYS", "AUTO", "NEVER", "CountingReader", "NullBar", "add_arguments", "bar", "enabled", "mode_of"]
