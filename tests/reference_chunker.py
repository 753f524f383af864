"""A slow, obviously-correct port of the reference chunking rules, for cross-checks.

Written from FORMAT.md section 1.3 (byte by byte, like the Go code): a hole is a
maximal run of >= 1024 zero bytes and forms one "zeros" chunk; every other byte
is rolled into a bup-style rolling sum and a chunk ends after a byte when the
low 16 bits of s2 are all ones.
"""

from __future__ import annotations

WINDOW = 64
CHAR_OFFSET = 31
HOLE = 1024
MASK = (1 << 16) - 1


def reference_chunks(data: bytes) -> list[tuple[int, int, bool]]:
    """Chunks of a payload as (file offset, size, is_zeros)."""
    s1 = WINDOW * CHAR_OFFSET
    s2 = WINDOW * (WINDOW - 1) * CHAR_OFFSET
    window = [0] * WINDOW
    pos = 0
    chunks: list[tuple[int, int, bool]] = []
    start = 0

    def roll(c: int) -> None:
        nonlocal s1, s2, pos
        d = window[pos]
        s1 = (s1 + c - d) & 0xFFFFFFFF
        s2 = (s2 + s1 - WINDOW * (d + CHAR_OFFSET)) & 0xFFFFFFFF
        window[pos] = c
        pos = (pos + 1) % WINDOW

    i = 0
    n = len(data)
    while i < n:
        if data[i] == 0:
            j = i
            while j < n and data[j] == 0:
                j += 1
            if j - i >= HOLE:
                if i > start:
                    chunks.append((start, i - start, False))
                for _ in range(j - i):
                    roll(0)
                chunks.append((i, j - i, True))
                start = i = j
                continue
        roll(data[i])
        i += 1
        if s2 & MASK == MASK:
            chunks.append((start, i - start, False))
            start = i
    if n > start:
        chunks.append((start, n - start, False))
    return chunks
