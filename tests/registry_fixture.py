"""A real registry for tests: Debian's ``docker-registry`` behind a byte-counting proxy.

The fixture starts ``/usr/bin/docker-registry`` (distribution 2.x) on a free
loopback port with a temporary storage directory and no authentication, and
puts a small TCP proxy in front of it. Clients talk to the proxy, which counts
every byte the registry sends back: that is the "bytes moved" the partial-pull
tests assert on. Both are stopped when the fixture ends.

Usage in a test module::

    @pytest.fixture(scope="module")
    def registry(tmp_path_factory):
        yield from running_registry(tmp_path_factory)

    def test_x(registry):
        with registry.measure() as moved:
            ...
        assert moved.bytes < ...

The tests skip, with the reason, when ``docker-registry`` or ``skopeo`` is not
installed; ``.ci/run`` installs both (scripts/ci-system-packages.txt).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import pytest

REGISTRY_BIN = os.environ.get("ZSTD_CHUNKED_TEST_REGISTRY", "/usr/bin/docker-registry")
SKOPEO = shutil.which("skopeo")


def _which_registry() -> Optional[str]:
    if os.path.isfile(REGISTRY_BIN) and os.access(REGISTRY_BIN, os.X_OK):
        return REGISTRY_BIN
    return shutil.which("docker-registry")


#: Set to 1 (as CI should) to fail instead of skipping when skopeo or docker-registry is missing.
REQUIRE_ENV = "ZSTD_CHUNKED_REQUIRE_REGISTRY"


def _missing(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_ENV}=1")
    pytest.skip(reason)


def require_skopeo() -> str:
    if SKOPEO is None:
        _missing("skopeo is not installed (apt-get install skopeo; .ci/run installs it)")
    assert SKOPEO is not None
    return SKOPEO


def require_registry() -> str:
    found = _which_registry()
    if found is None:
        _missing("docker-registry is not installed (apt-get install docker-registry; .ci/run installs it)")
    assert found is not None
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def skopeo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run skopeo with an accept-everything policy; raise with its stderr on failure."""
    exe = require_skopeo()
    cmd = [exe, "--insecure-policy", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TMPDIR": os.environ.get("TMPDIR", "/tmp")})
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down = 0  # registry -> client
        self.up = 0  # client -> registry
        self.connections = 0

    def add(self, down: int = 0, up: int = 0) -> None:
        with self.lock:
            self.down += down
            self.up += up


class CountingProxy:
    """Forwards TCP connections from a loopback port to ``target``, counting bytes each way."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.counter = _Counter()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self._closed = False
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="counting-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
                self.counter.connections += 1
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, downstream: bool) -> None:
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if downstream:
                    self.counter.add(down=len(data))
                else:
                    self.counter.add(up=len(data))
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (dst, src):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            for s in self._conns:
                try:
                    s.close()
                except OSError:
                    pass
            self._conns.clear()


class Measurement:
    """Bytes the registry sent (and received) between the start and end of a ``measure()`` block."""

    def __init__(self) -> None:
        self.bytes = 0
        self.bytes_up = 0


class Registry:
    """A running docker-registry with a counting proxy in front; ``host`` is the proxy's host:port."""

    def __init__(self, workdir: Path) -> None:
        exe = require_registry()
        self.workdir = workdir
        self.storage = workdir / "storage"
        self.storage.mkdir(parents=True)
        self.port = free_port()
        config = {
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}", "secret": "zstd-chunked-tests"},
        }
        self.config = workdir / "config.yml"
        self.config.write_text(json.dumps(config))  # JSON is YAML
        self.log = workdir / "registry.log"
        self._logfile = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([exe, "serve", str(self.config)], stdout=self._logfile,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.proxy: Optional[CountingProxy] = None
        try:
            self._wait_ready(f"http://127.0.0.1:{self.port}/v2/")
            self.proxy = CountingProxy(self.port)
        except BaseException:
            self.stop()
            raise
        self.host = f"127.0.0.1:{self.proxy.port}"

    def _wait_ready(self, url: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited with {self.proc.returncode}:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = exc
            time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not become ready at {url}: {last}\n{self.log.read_text()}")

    @property
    def bytes_sent(self) -> int:
        assert self.proxy is not None
        with self.proxy.counter.lock:
            return self.proxy.counter.down

    @contextmanager
    def measure(self) -> Iterator[Measurement]:
        """Count the bytes the registry sends while the block runs."""
        assert self.proxy is not None
        m = Measurement()
        with self.proxy.counter.lock:
            down0, up0 = self.proxy.counter.down, self.proxy.counter.up
        try:
            yield m
        finally:
            time.sleep(0.05)  # let the pump threads forward the last bytes
            with self.proxy.counter.lock:
                m.bytes = self.proxy.counter.down - down0
                m.bytes_up = self.proxy.counter.up - up0

    def push_layout(self, layout: Path, tag: str, name: str) -> str:
        """``skopeo copy oci:LAYOUT:TAG docker://HOST/NAME:TAG``; returns the pushed reference."""
        ref = f"{self.host}/{name}:{tag}"
        skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:{tag}", f"docker://{ref}")
        return ref

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logfile.close()


def running_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Body of a ``registry`` fixture: start one, yield it, stop it (skips when a program is missing)."""
    require_registry()
    require_skopeo()
    reg = Registry(tmp_path_factory.mktemp("registry"))
    try:
        yield reg
    finally:
        reg.stop()
