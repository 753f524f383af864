"""The registry client and HTTP range source: references, auth, multi-range reads and their fallbacks.

Fallbacks and token authentication are exercised against a small scripted
server on 127.0.0.1; multi-range reads, manifests and indexes against the real
docker-registry (tests/registry_fixture.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

import pytest
from oci_util import chunked_layout, image_manifest, random_bytes
from registry_fixture import Registry, running_registry, skopeo

from zstd_chunked.errors import DigestMismatchError, NotFoundError
from zstd_chunked.registry import (
    MULTIPART,
    SINGLE,
    WHOLE,
    AuthenticationError,
    Reference,
    RegistryBlobSource,
    RegistryClient,
    parse_challenge,
    parse_multipart_byteranges,
    parse_reference,
    resolve_image,
)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    yield from running_registry(tmp_path_factory)


# --------------------------------------------------------------------------------
# References and parsing


@pytest.mark.parametrize("text, expected", [
    ("alpine", Reference("docker.io", "library/alpine", "latest")),
    ("docker://alpine:3.20", Reference("docker.io", "library/alpine", "3.20")),
    ("user/app", Reference("docker.io", "user/app", "latest")),
    ("localhost/app", Reference("localhost", "app", "latest")),
    ("127.0.0.1:5000/a/b/c:tag", Reference("127.0.0.1:5000", "a/b/c", "tag")),
    ("quay.io/org/app@sha256:" + "a" * 64, Reference("quay.io", "org/app", None, "sha256:" + "a" * 64)),
    ("reg.example:443/app:v1@sha256:" + "b" * 64, Reference("reg.example:443", "app", "v1", "sha256:" + "b" * 64)),
])
def test_parse_reference(text: str, expected: Reference) -> None:
    assert parse_reference(text) == expected


@pytest.mark.parametrize("text", ["", "app/UPPER", "app:bad tag", "app@sha256:xyz", "a//b", "app:"])
def test_parse_reference_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_reference(text)


def test_parse_challenge() -> None:
    scheme, params = parse_challenge(
        'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example/token", "service": "registry.example",
                      "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_multipart_parser_uses_lengths_not_boundaries() -> None:
    boundary = "XYZ"
    data1 = b"--XYZ\r\nnot a boundary\r\n"
    data2 = b"\r\n--XYZ--\r\n"
    body = (b"--XYZ\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 10-%d/100\r\n\r\n"
            % (10 + len(data1) - 1) + data1 + b"\r\n--XYZ\r\nContent-Range: bytes 50-%d/100\r\n\r\n"
            % (50 + len(data2) - 1) + data2 + b"\r\n--XYZ--\r\n")
    assert parse_multipart_byteranges(body, boundary, 100) == [(10, data1), (50, data2)]


# --------------------------------------------------------------------------------
# A scripted server


class Script:
    """How the fake registry behaves, and what it saw."""

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        self.ranges = "multi"  # multi | single (416 for several) | ignore (200) | none (501 for any range)
        self.auth = "none"  # none | bearer | basic
        self.token = "t0ken"
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.token_requests: list[str] = []
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    script: Script
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: Optional[dict[str, str]] = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        s = self.script
        if self.path.startswith("/token"):
            with s.lock:
                s.token_requests.append(self.path)
            if s.auth == "bearer" and self.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                self._send(401)
                return
            self._send(200, json.dumps({"token": s.token}).encode(), {"Content-Type": "application/json"})
            return
        with s.lock:
            s.requests.append((self.path, dict(self.headers.items())))
        auth = self.headers.get("Authorization", "")
        if s.auth == "bearer" and auth != f"Bearer {s.token}":
            host = self.headers["Host"]
            self._send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                "WWW-Authenticate": f'Bearer realm="http://{host}/token",service="fake",scope="repository:r:pull"'})
            return
        if s.auth == "basic" and auth != "Basic " + base64.b64encode(b"u:p").decode():
            self._send(401, b"", {"WWW-Authenticate": 'Basic realm="fake"'})
            return
        if self.path != f"/v2/r/blobs/{s.digest}":
            self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')
            return
        header = self.headers.get("Range")
        if not header or s.ranges == "ignore":
            self._send(200, s.blob)
            return
        spans = [(int(a), int(b)) for a, b in re.findall(r"(\d+)-(\d+)", header)]
        if s.ranges == "none" or (s.ranges == "single" and len(spans) > 1):
            self._send(416 if s.ranges == "single" else 501)
            return
        size = len(s.blob)
        if len(spans) == 1:
            a, b = spans[0]
            self._send(206, s.blob[a:b + 1], {"Content-Range": f"bytes {a}-{b}/{size}"})
            return
        body = b""
        for a, b in spans:
            body += (b"--BOUND\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Range: bytes %d-%d/%d\r\n\r\n" % (a, b, size)) + s.blob[a:b + 1] + b"\r\n"
        body += b"--BOUND--\r\n"
        self._send(206, body, {"Content-Type": "multipart/byteranges; boundary=BOUND"})


@pytest.fixture
def fake() -> Iterator[tuple[Script, str]]:
    script = Script(random_bytes(200_000, 7))
    handler = type("H", (Handler,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield script, f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _ranges(n: int, size: int, seed: int = 1) -> list[tuple[int, int]]:
    rnd = random.Random(seed)
    starts = sorted(rnd.sample(range(0, size - 100, 5000), n))
    return [(s, rnd.randint(1, 90)) for s in starts]


def _source(script: Script, host: str, **kw: Any) -> RegistryBlobSource:
    return RegistryClient(host, credentials=kw.pop("credentials", ("u", "p"))).blob_source(
        "r", script.digest, len(script.blob), **kw)


def test_multirange_one_request(fake: tuple[Script, str]) -> None:
    script, host = fake
    wanted = _ranges(30, len(script.blob))
    src = _source(script, host)
    assert src.read_ranges(wanted) == [script.blob[o:o + n] for o, n in wanted]
    assert src.requests == 1 and src.mode == MULTIPART


def test_ranges_are_capped_per_request(fake: tuple[Script, str]) -> None:
    script, host = fake
    wanted = _ranges(30, len(script.blob))
    src = _source(script, host, max_ranges=4)
    assert src.read_ranges(wanted) == [script.blob[o:o + n] for o, n in wanted]
    assert src.requests == 8  # ceil(30 / 4)
    assert all(len(re.findall(r"\d+-\d+", h["Range"])) <= 4 for _, h in script.requests)


def test_gap_coalesces(fake: tuple[Script, str]) -> None:
    script, host = fake
    wanted = [(1000, 10), (1020, 10), (1500, 10), (9000, 10)]
    src = _source(script, host, gap=600)
    src.read_ranges(wanted)
    assert script.requests[-1][1]["Range"] == "bytes=1000-1509,9000-9009"


@pytest.mark.parametrize("behaviour, mode, requests", [("single", SINGLE, 1 + 5), ("ignore", WHOLE, 1),
                                                       ("none", WHOLE, 3)])
def test_fallbacks(fake: tuple[Script, str], behaviour: str, mode: str, requests: int) -> None:
    script, host = fake
    script.ranges = behaviour
    wanted = _ranges(5, len(script.blob))
    src = _source(script, host)
    assert src.read_ranges(wanted) == [script.blob[o:o + n] for o, n in wanted]
    assert src.mode == mode
    assert src.requests == requests
    # later reads: no more whole-blob downloads
    before = src.requests
    assert src.read_range(100, 50) == script.blob[100:150]
    assert src.requests == before + (1 if mode == SINGLE else 0)
    src.close()


def test_whole_blob_fallback_checks_digest(fake: tuple[Script, str]) -> None:
    script, host = fake
    script.ranges = "ignore"
    src = RegistryClient(host).blob_source("r", "sha256:" + "0" * 64, len(script.blob))
    with pytest.raises(NotFoundError):  # the fake only knows the real digest
        src.read_range(0, 10)
    src = _source(script, host)
    script.blob = script.blob[:-1] + b"\x00"  # the server now serves different bytes
    with pytest.raises(DigestMismatchError):
        src.read_range(0, 10)


def test_plan_reads_ahead(fake: tuple[Script, str]) -> None:
    script, host = fake
    wanted = _ranges(40, len(script.blob))
    src = _source(script, host, gap=0)
    src.plan(wanted)
    for o, n in wanted:
        assert src.read_range(o, n) == script.blob[o:o + n]
    assert src.requests == 1
    assert src.read_range(wanted[0][0], 5) == script.blob[wanted[0][0]:wanted[0][0] + 5]  # still in the window


def test_bearer_token_auth(fake: tuple[Script, str]) -> None:
    script, host = fake
    script.auth = "bearer"
    src = _source(script, host)
    assert src.read_range(10, 20) == script.blob[10:30]
    assert src.read_range(5000, 20) == script.blob[5000:5020]
    assert len(script.token_requests) == 1  # the token is reused
    assert "service=fake" in script.token_requests[0] and "scope=repository%3Ar%3Apull" in script.token_requests[0]
    statuses = [h.get("Authorization", "") for _, h in script.requests]
    assert statuses[0] == "" and statuses[1:] == ["Bearer t0ken"] * (len(statuses) - 1)


def test_bearer_token_refused(fake: tuple[Script, str]) -> None:
    script, host = fake
    script.auth = "bearer"
    with pytest.raises(AuthenticationError):
        _source(script, host, credentials=("u", "wrong")).read_range(0, 1)


def test_basic_auth(fake: tuple[Script, str]) -> None:
    script, host = fake
    script.auth = "basic"
    assert _source(script, host).read_range(0, 4) == script.blob[:4]
    with pytest.raises(AuthenticationError):
        RegistryClient(host, credentials=None).blob_source("r", script.digest, len(script.blob)).read_range(0, 4)


def test_credentials_from_auth_file(fake: tuple[Script, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script, host = fake
    script.auth = "basic"
    auth = tmp_path / "auth.json"
    auth.write_text(json.dumps({"auths": {host: {"auth": base64.b64encode(b"u:p").decode()}}}))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    src = RegistryClient(host).blob_source("r", script.digest, len(script.blob))
    assert src.read_range(0, 4) == script.blob[:4]


# --------------------------------------------------------------------------------
# The real registry


@pytest.fixture(scope="module")
def pushed(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("layouts")
    files = {f"data/{i:03d}.bin": random_bytes(30_000 + i, i) for i in range(60)}
    layout = chunked_layout(root / "img", "v1", [files])
    ref = registry.push_layout(layout, "v1", "test/ranges")
    multi = chunked_layout(root / "multi", "m", [{"f": b"multi"}], platforms=["amd64", "arm64"])
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{multi}:m", f"docker://{registry.host}/test/multi:m")
    return {"layout": layout, "ref": ref, "files": files}


def test_registry_keeps_blob_and_annotations(registry: Registry, pushed: dict[str, Any]) -> None:
    ref = parse_reference(pushed["ref"])
    with RegistryClient(ref.registry) as client:
        image = resolve_image(client, ref)
    assert image.layers == image_manifest(pushed["layout"], "v1")["layers"]


def test_registry_multirange(registry: Registry, pushed: dict[str, Any]) -> None:
    ref = parse_reference(pushed["ref"])
    desc = image_manifest(pushed["layout"], "v1")["layers"][0]
    blob = (pushed["layout"] / "blobs" / desc["digest"].replace(":", "/")).read_bytes()
    wanted = _ranges(200, len(blob), seed=3)
    with RegistryClient(ref.registry) as client:
        src = client.blob_source(ref.repository, desc["digest"], desc["size"], max_ranges=64)
        with registry.measure() as moved:
            got = src.read_ranges(wanted)
    assert got == [blob[o:o + n] for o, n in wanted]
    assert src.mode == MULTIPART and src.requests == 4  # ceil(200 / 64)
    payload = sum(n for _, n in wanted)
    assert moved.bytes < payload + 200 * 150 + 4 * 1000  # part headers and response headers only


def test_registry_multiplatform(registry: Registry, pushed: dict[str, Any]) -> None:
    ref = parse_reference(f"{registry.host}/test/multi:m")
    with RegistryClient(ref.registry) as client:
        arm = resolve_image(client, ref, "linux/arm64")
        amd = resolve_image(client, ref, "linux/amd64")
        assert arm.config["architecture"] == "arm64" and amd.config["architecture"] == "amd64"
        with pytest.raises(NotFoundError, match="linux/riscv64"):
            resolve_image(client, ref, "linux/riscv64")
        with pytest.raises(NotFoundError, match="MANIFEST_UNKNOWN|NAME_UNKNOWN"):
            resolve_image(client, parse_reference(f"{registry.host}/test/multi:nope"))
