"""Fuzz target: TOC decoding (``zstd_chunked.toc.parse_toc`` and ``merge_files``).

Input: TOC JSON bytes. Checked: only FormatError / LimitExceededError on
refusal (no RecursionError, UnicodeError, OverflowError...); the C TOC scanner
decodes whatever it takes exactly as the general decoder; on success the
merged chunk lists cover every regular file exactly, lie inside the payload
and do not overlap, and re-serializing the entries (``toc_json``) and
parsing them again gives the same entries.
"""

from __future__ import annotations

import sys

from _harness import fuzz, instrument_if_main

instrument_if_main(__name__)

from zstd_chunked import format as fmt  # noqa: E402
from zstd_chunked.errors import FormatError, LimitExceededError  # noqa: E402
from zstd_chunked.toc import _parse_general, _parse_scanned, merge_files, parse_toc, toc_json  # noqa: E402

DATA_END = 1 << 40


def _general(data: bytes) -> object:
    """What the general decoder makes of ``data``: a Toc, or the type of its error."""
    try:
        return _parse_general(data.decode("utf-8"), 100_000)
    except (FormatError, LimitExceededError) as exc:
        return type(exc)


def check(data: bytes) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass  # parse_toc refuses it before any decoder runs
    else:
        # the C scanner (csrc/zck_toc_scan.c), where it takes a document, decodes it as the general decoder
        scanned = _parse_scanned(data, 100_000)
        if scanned is not None:
            assert scanned == _general(data), "the C TOC scanner and the general decoder disagree"
    try:
        toc = parse_toc(data, max_entries=100_000)
        files = merge_files(toc, DATA_END)
    except (FormatError, LimitExceededError):
        return
    last_end = 0
    for name, rec in files.items():
        assert rec.entry.type == fmt.TYPE_REG and rec.entry.name == name
        pos = 0
        for c in rec.chunks:
            assert c.file_offset == pos and c.size > 0, (name, c)
            assert 0 < c.offset < c.end <= DATA_END, (name, c)
            assert c.offset >= last_end, (name, c, last_end)
            last_end = c.end
            pos += c.size
        assert pos == rec.entry.size, (name, pos, rec.entry.size)
    text = toc_json(toc.entries, toc.tarsplit_digest)
    again = parse_toc(text)
    assert again.entries == toc.entries, (toc.entries, again.entries)
    assert again.tarsplit_digest == toc.tarsplit_digest


if __name__ == "__main__":
    fuzz(check)
    sys.exit(0)
