"""Slow, byte-by-byte Python model of the reference chunker (tests only).

It follows the structure of containers/storage ``pkg/chunked/compressor``
(``holesFinder``, ``rollingChecksumReader``, the chunk loop of
``writeZstdChunkedStream``) state for state, so that the C chunker, which is
organised quite differently for speed, can be checked against it.
"""

from __future__ import annotations

from typing import Optional

WINDOW = 64
CHAR_OFFSET = 31
SPLIT_BITS = 16
HOLE_THRESHOLD = 1024
READ_BUFFER = 4096  # the Go writer's read buffer; has no effect on the result


class RollSum:
    def __init__(self) -> None:
        self.s1 = WINDOW * CHAR_OFFSET
        self.s2 = WINDOW * (WINDOW - 1) * CHAR_OFFSET
        self.window = bytearray(WINDOW)
        self.wofs = 0

    def roll(self, ch: int) -> None:
        drop = self.window[self.wofs]
        self.s1 = (self.s1 + ch - drop) & 0xFFFFFFFF
        self.s2 = (self.s2 + self.s1 - WINDOW * (drop + CHAR_OFFSET)) & 0xFFFFFFFF
        self.window[self.wofs] = ch
        self.wofs = (self.wofs + 1) & (WINDOW - 1)

    def on_split(self) -> bool:
        mask = (1 << SPLIT_BITS) - 1
        return (self.s2 & mask) == mask


class HolesFinder:
    """Yields (hole_len, byte): hole_len > 0 for a hole, else one data byte."""

    READ, ACCUMULATE, FOUND, EOF = range(4)

    def __init__(self, data: bytes, threshold: int = HOLE_THRESHOLD) -> None:
        self.data = data
        self.pos = 0
        self.zeros = 0
        self.threshold = threshold
        self.state = self.READ

    def _next(self) -> Optional[int]:
        if self.pos >= len(self.data):
            return None
        b = self.data[self.pos]
        self.pos += 1
        return b

    def read_byte(self) -> Optional[tuple[int, int]]:
        """None at EOF."""
        while True:
            if self.state == self.READ:
                if self.zeros > 0:
                    self.zeros -= 1
                    return 0, 0
                b = self._next()
                if b is None:
                    return None
                if b != 0:
                    return 0, b
                self.zeros = 1
                self.state = self.FOUND if self.zeros == self.threshold else self.ACCUMULATE
            elif self.state == self.ACCUMULATE:
                b = self._next()
                if b is None:
                    self.state = self.EOF
                    continue
                if b == 0:
                    self.zeros += 1
                    if self.zeros == self.threshold:
                        self.state = self.FOUND
                else:
                    self.pos -= 1  # unread
                    self.state = self.READ
            elif self.state == self.FOUND:
                b = self._next()
                if b is None or b != 0:
                    if b is None:
                        self.state = self.EOF
                    else:
                        self.pos -= 1
                        self.state = self.READ
                    hole, self.zeros = self.zeros, 0
                    return hole, 0
                self.zeros += 1
            else:  # EOF: flush pending zeros as data
                if self.zeros > 0:
                    self.zeros -= 1
                    return 0, 0
                return None


class RollingReader:
    def __init__(self, data: bytes) -> None:
        self.hf = HolesFinder(data)
        self.rs = RollSum()
        self.closed = False
        self.pending_hole = 0
        self.written = 0
        self.last_zeros = False

    def read(self, size: int) -> tuple[bool, int, bool]:
        """(must_split, bytes produced, eof)."""
        self.last_zeros = False
        if self.pending_hole > 0:
            n = min(self.pending_hole, size)
            self.pending_hole -= n
            self.written += n
            self.last_zeros = True
            return self.pending_hole == 0, n, False
        if self.closed:
            return False, 0, True
        for i in range(size):
            r = self.hf.read_byte()
            if r is None:
                self.closed = True
                return (False, 0, True) if i == 0 else (False, i, False)
            hole, b = r
            if hole > 0:
                for _ in range(hole):
                    self.rs.roll(0)
                self.pending_hole = hole
                return True, i, False
            self.written += 1
            self.rs.roll(b)
            if self.rs.on_split():
                return True, i + 1, False
        return False, size, False


def reference_chunks(data: bytes, read_size: int = READ_BUFFER) -> list[tuple[int, int, bool]]:
    """Chunks of one file payload as (offset, size, is_zeros)."""
    rc = RollingReader(data)
    chunks: list[tuple[int, int, bool]] = []
    started = False
    last = 0
    while True:
        must_split, n, eof = rc.read(read_size)
        if n > 0:
            started = True
        if (must_split or eof) and started:
            size = rc.written - last
            if size > 0:
                chunks.append((last, size, rc.last_zeros))
            last = rc.written
        if eof:
            return chunks


def cuts_to_chunks(cuts: list[tuple[int, bool]]) -> list[tuple[int, int, bool]]:
    out = []
    start = 0
    for end, zeros in cuts:
        out.append((start, end - start, zeros))
        start = end
    return out


def split_window(zeros: int, seed: int) -> bytes:
    """64 - zeros non-zero bytes after which ``zeros`` zero bytes end in a split.

    Uses the closed form of the rolling sum: after a 64-byte window W (oldest
    first) the low 16 bits of s2 are (sum((64 - k) * W[k]) + 124992) mod 65536.
    """
    import random

    assert 1 <= zeros <= 62
    rng = random.Random(seed)
    n = WINDOW - zeros
    target = (0xFFFF - WINDOW * (WINDOW - 1) * CHAR_OFFSET) % 65536
    a, b = WINDOW - (n - 2), WINDOW - (n - 1)  # weights of the last two non-zero bytes
    while True:
        w = [rng.randrange(1, 256) for _ in range(n - 2)]
        need = (target - sum((WINDOW - k) * v for k, v in enumerate(w))) % 65536
        for x in range(1, 256):
            rest = need - a * x
            if rest > 0 and rest % b == 0 and rest // b <= 255:
                return bytes(w + [x, rest // b])
