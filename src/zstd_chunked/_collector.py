"""Python's cyclic garbage collector, paused around the package's bulk operations.

Opening a layer, converting, rebuilding and verifying create a few objects
per entry (or per chunk), and none of them forms a reference cycle: after a
verify or a rebuild with the collector off, ``gc.collect()`` finds 0 cyclic
objects, after a convert 65 to 130 (its threads and executors) whatever the
size of the tar.  A collection,
though, walks every object alive: the layer's entries, and everything the
program has imported.  With the collector on, collections took 0.22 s of a
1.1 s verify of a 20,000-file layer and 0.13 s of a 1.4 s convert of it,
holding the GIL each time.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic collector off inside the block, back on after it.

    Nested blocks and a collector the program switched off itself are left
    alone.  Reference counting still frees every object as usual; only
    cycles made meanwhile (by this or any other thread) wait, and no longer
    than one operation: when operations overlap in several threads, the
    collector comes back on as soon as the one that paused it ends, and the
    first allocation then runs a collection (the count is long past its
    threshold).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
