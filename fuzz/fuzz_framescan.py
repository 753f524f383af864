"""Fuzz target: the frame scanner (``zstd_chunked._native.FrameScanner``, C ``zck_framescan``).

Input: a blob. It is scanned in one piece and again in pieces of 1 to 23
bytes (sizes derived from the input); both must agree (same frames, or both
FormatError). Accepted blobs must be covered exactly by contiguous, non-empty
frames; skippable frames carry no content size.
"""

from __future__ import annotations

import hashlib
import sys

from _harness import fuzz, instrument_if_main

instrument_if_main(__name__)

from zstd_chunked._native import FrameScanner, scan_frames  # noqa: E402
from zstd_chunked.errors import FormatError, ZstdChunkedError  # noqa: E402


def _pieces(data: bytes) -> list[bytes]:
    seed = hashlib.sha256(data).digest()
    out, pos, i = [], 0, 0
    while pos < len(data):
        step = 1 + seed[i % len(seed)] % 23
        out.append(data[pos:pos + step])
        pos += step
        i += 1
    return out


def _scan_pieces(data: bytes) -> tuple[list, bool]:
    frames = []
    with FrameScanner() as scanner:
        try:
            for piece in _pieces(data):
                frames += scanner.feed(piece)
            scanner.finish()
        except FormatError:
            return frames, False
    return frames, True


def check(data: bytes) -> None:
    try:
        whole = scan_frames(data)
        ok = True
    except FormatError:
        whole, ok = None, False
    except ZstdChunkedError as exc:  # a limit, never expected from plain scanning
        raise AssertionError(f"unexpected {type(exc).__name__}: {exc}") from None
    frames, ok2 = _scan_pieces(data)
    assert ok == ok2, (ok, ok2)
    if not ok:
        return
    assert frames == whole, (frames, whole)
    pos = 0
    for f in frames:
        assert f.offset == pos and f.size > 0, (f, pos)
        assert not (f.skippable and f.content_size is not None), f
        pos = f.end
    assert pos == len(data)


if __name__ == "__main__":
    fuzz(check)
    sys.exit(0)
