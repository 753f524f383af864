"""SHA-256 of a byte stream on a helper thread (hashlib releases the GIL while it hashes)."""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any


class BackgroundSha256:
    """sha256 of a byte stream, computed on a helper thread.

    Only hand it buffers that are not modified afterwards. Always call
    :meth:`hexdigest` or :meth:`close` so the thread ends.
    """

    def __init__(self, name: str = "zstd-chunked-sha256") -> None:
        self._sha = hashlib.sha256()
        # bounded: if hashing falls behind, the producer waits instead of piling up buffers
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=4)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            self._sha.update(data)

    def update(self, data: Any) -> None:
        self._queue.put(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._sha.hexdigest()
