"""Fuzz target: tar-split decoding (``iter_tarsplit``), header iteration
(``iterate_headers``) and the TOC/tar-split agreement check.

Input: tar-split JSON lines. Checked: only FormatError / LimitExceededError on
refusal; the C fast path for lines decodes exactly as the general decoder; the
size computed from the entries is the sum of segment lengths and file sizes;
the headers found in the segments can be turned into TOC entries, and a TOC
made of exactly those entries passes ``check_toc_matches_tarsplit`` (the check
must accept what the writer would produce from the same headers), also through
the C walk, which must not show a changed entry equal.
"""

from __future__ import annotations

import io
import sys
from dataclasses import replace

from _harness import fuzz, instrument_if_main

instrument_if_main(__name__)

from zstd_chunked import format as fmt  # noqa: E402
from zstd_chunked.errors import FormatError, LimitExceededError  # noqa: E402
from zstd_chunked.tarsplit import iter_tarsplit, tar_size_from_entries  # noqa: E402
from zstd_chunked.tarstream import iterate_headers  # noqa: E402
from zstd_chunked.toc import Toc, entry_from_header, parse_toc_scanned, toc_json  # noqa: E402
from zstd_chunked.tocmatch import _shown_in_step, check_toc_matches_tarsplit  # noqa: E402


def _decoded(data: bytes, fast: bool) -> object:
    """The entries, or the type of the error that refused them."""
    try:
        return list(iter_tarsplit(io.BytesIO(data), max_line=1 << 20, fast=fast))
    except (FormatError, LimitExceededError) as exc:
        return type(exc)


def check(data: bytes) -> None:
    entries = _decoded(data, fast=True)
    # the C fast path (csrc/zck_tarsplit_scan.c) must decode exactly as the strict general path
    assert entries == _decoded(data, fast=False), "the C tar-split scanner and the general decoder disagree"
    if not isinstance(entries, list):
        return
    size = tar_size_from_entries(entries)
    expected = sum(len(e.payload or b"") if e.type == fmt.TARSPLIT_SEGMENT_TYPE else e.size for e in entries)
    assert size == expected
    segments = [e.payload or b"" for e in entries if e.type == fmt.TARSPLIT_SEGMENT_TYPE]
    try:
        headers = list(iterate_headers(segments))
        toc_entries = [entry_from_header(h) for h in headers]
    except (FormatError, LimitExceededError):
        return
    names = [e.name for e in toc_entries]
    if len(set(names)) != len(names):
        return  # the check refuses duplicate TOC names, as it should
    try:
        count = check_toc_matches_tarsplit(Toc(1, toc_entries), segments)
    except FormatError as exc:
        raise AssertionError(f"TOC built from the tar-split's own headers does not match it: {exc}") from None
    # the same TOC as a writer writes it, decoded by the C scanner, and checked with the C walk
    # (csrc/zck_tocmatch.c): the same count, and never "shown" when the full check would refuse
    try:
        toc, scan = parse_toc_scanned(toc_json(toc_entries, ""))
    except FormatError:
        return  # an entry the TOC rules refuse (e.g. a negative size from a base-256 field)
    if scan is not None:
        assert check_toc_matches_tarsplit(toc, segments, scan) == count
        if toc_entries:  # one entry's mode changed: the C walk must not show that equal
            changed = toc_json([replace(toc_entries[0], mode=toc_entries[0].mode ^ 1), *toc_entries[1:]], "")
            toc, scan = parse_toc_scanned(changed)
            assert scan is None or _shown_in_step(toc, segments, scan) is None


if __name__ == "__main__":
    fuzz(check)
    sys.exit(0)
