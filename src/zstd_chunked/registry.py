"""Registry access (OCI distribution API) and an HTTP range source for registry blobs.

Only the standard library is used (``http.client``, ``ssl``, ``json``).

* :func:`parse_reference` reads image references the way docker and podman
  write them: ``[registry[:port]/]repository[:tag][@digest]``, with ``docker.io``
  and ``library/`` implied for short names and an optional ``docker://`` prefix.
* :class:`RegistryClient` talks to one registry: persistent connections,
  redirects (blob storage often redirects to a CDN; credentials are not sent
  to another host), and authentication as registries do it: anonymous first,
  then on ``401`` the ``WWW-Authenticate`` challenge is answered: ``Bearer``
  gets a token from the realm (``?service=&scope=``, with basic credentials when
  known), ``Basic`` gets the credentials.
* :class:`RegistryBlobSource` is a range source (``size`` + ``read_range``) over
  ``/v2/<name>/blobs/<digest>``. It asks for many ranges in one request
  (``Range: bytes=a-b,c-d,...``, answered as ``multipart/byteranges``), at most
  ``max_ranges`` per request, merging ranges closer than ``gap`` bytes. When the
  registry cannot do that it falls back: ``416``/``501`` to one range per
  request, then to reading the whole blob once (into a temporary file, digest
  checked); a ``200`` answer to a range request means "no ranges here", so the
  whole blob is kept from that answer. ``plan()`` announces the ranges a reader
  will need, so each miss fetches the next ones ahead in a single request.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import http.client
import json
import os
import platform as _platform
import re
import socket
import ssl
import tempfile
import threading
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Optional

from . import format as fmt
from .errors import DigestMismatchError, FormatError, LimitExceededError, NotFoundError, ZstdChunkedError
from .oci import (
    CONFIG_TYPES,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_ACCEPT,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    check_digest,
    digest_bytes,
)

DEFAULT_REGISTRY = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
USER_AGENT = "zstd-chunked (python)"
#: Manifests and configs larger than this are refused.
MAX_MANIFEST_SIZE = 4 << 20
MAX_CONFIG_SIZE = 16 << 20
#: Bytes fetched ahead of a read when a plan is known.
DEFAULT_READAHEAD = 16 << 20
#: Keep the Range header below common proxy limits (nginx: 8 KiB per header line).
MAX_RANGE_HEADER = 7000
MAX_REDIRECTS = 5

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPO_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*\Z")
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
_CONTENT_RANGE_RE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_CHALLENGE_PARAM_RE = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class RegistryError(ZstdChunkedError):
    """The registry refused a request or answered something unusable."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationError(RegistryError):
    """The registry wants credentials we do not have, or refused the ones we sent."""


# --------------------------------------------------------------------------------
# References


@dataclass(frozen=True)
class Reference:
    """An image reference: registry host, repository, and a tag and/or digest."""

    registry: str
    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    @property
    def api_host(self) -> str:
        """Host[:port] of the registry API (Docker Hub's API is not at docker.io)."""
        return DOCKER_HUB_API if self.registry == DEFAULT_REGISTRY else self.registry

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest if known, else the tag."""
        return self.digest or self.tag or "latest"

    def with_digest(self, digest: str) -> Reference:
        return Reference(self.registry, self.repository, self.tag, digest)

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}"
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_reference(text: str) -> Reference:
    """Parse ``[docker://][host[:port]/]name[:tag][@digest]``; ``latest`` when neither tag nor digest."""
    if not isinstance(text, str) or not text:
        raise ValueError("empty image reference")
    rest = text[len("docker://"):] if text.startswith("docker://") else text
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        try:
            check_digest(digest)
        except FormatError:
            raise ValueError(f"{text!r}: invalid digest {digest!r}") from None
    registry = DEFAULT_REGISTRY
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        registry, rest = first, remainder
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1:]
        if not _TAG_RE.match(tag):
            raise ValueError(f"{text!r}: invalid tag {tag!r}")
    if registry == DEFAULT_REGISTRY and "/" not in rest:
        rest = "library/" + rest
    if not _REPO_RE.match(rest) or len(rest) > 255:
        raise ValueError(f"{text!r}: invalid repository name {rest!r}")
    if not registry or any(c in registry for c in "/@ "):
        raise ValueError(f"{text!r}: invalid registry {registry!r}")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry, rest, tag, digest)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]")
    return name == "localhost" or name.startswith("127.") or name == "::1"


# --------------------------------------------------------------------------------
# Credentials


def _auth_files() -> list[str]:
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(os.environ["REGISTRY_AUTH_FILE"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "containers", "auth.json"))
    home = os.path.expanduser("~")
    files.append(os.path.join(home, ".config", "containers", "auth.json"))
    docker_config = os.environ.get("DOCKER_CONFIG") or os.path.join(home, ".docker")
    files.append(os.path.join(docker_config, "config.json"))
    return files


def find_credentials(registry: str) -> Optional[tuple[str, str]]:
    """Username and password for ``registry`` from the containers/docker auth files, if any.

    Looks in ``$REGISTRY_AUTH_FILE``, ``$XDG_RUNTIME_DIR/containers/auth.json``,
    ``~/.config/containers/auth.json`` and ``~/.docker/config.json`` (plain
    ``auth`` entries only; credential helpers are not run).
    """
    keys = {registry, f"https://{registry}", f"http://{registry}"}
    if registry == DEFAULT_REGISTRY:
        keys |= {"index.docker.io", "https://index.docker.io/v1/", DOCKER_HUB_API}
    for path in _auth_files():
        try:
            with open(path, encoding="utf-8") as f:
                auths = json.load(f).get("auths") or {}
        except (OSError, ValueError, AttributeError):
            continue
        for key, entry in auths.items():
            if key.rstrip("/") in keys or key in keys:
                encoded = (entry or {}).get("auth")
                if not encoded:
                    continue
                try:
                    user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
                return user, password
    return None


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``WWW-Authenticate: Bearer realm="...",service="..."`` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {}
    for m in _CHALLENGE_PARAM_RE.finditer(rest):
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
    return scheme.lower(), params


# --------------------------------------------------------------------------------
# HTTP


class _Response:
    """A response whose body is read by the caller; ``close()`` keeps the connection when it can."""

    def __init__(self, client: RegistryClient, key: tuple[str, str], conn: http.client.HTTPConnection,
                 resp: http.client.HTTPResponse, url: str) -> None:
        self._client = client
        self._key = key
        self._conn: Optional[http.client.HTTPConnection] = conn
        self.raw = resp
        self.status = resp.status
        self.headers = resp.headers
        self.url = url

    def header(self, name: str) -> str:
        return self.headers.get(name, "") or ""

    def read(self, limit: int, what: str) -> bytes:
        """The whole body; LimitExceededError if it is longer than ``limit``."""
        length = self.header("Content-Length")
        if length.isdigit() and int(length) > limit:
            self.abandon()
            raise LimitExceededError(f"{what}: {length} bytes is more than the limit of {limit}")
        data = self.raw.read(limit + 1)
        if len(data) > limit:
            self.abandon()
            raise LimitExceededError(f"{what}: more than the limit of {limit} bytes")
        self.close()
        return data

    def abandon(self) -> None:
        """Drop the connection (the body was not read to its end)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.raw.close()

    def close(self) -> None:
        if self._conn is None:
            return
        try:
            rest = self.raw.read(1 << 16)  # small leftovers: drain and keep the connection
            if rest and self.raw.read(1):
                self.abandon()
                return
        except (OSError, http.client.HTTPException):
            self.abandon()
            return
        self._client._release(self._key, self._conn)
        self._conn = None


def _registry_error(resp: _Response, what: str) -> RegistryError:
    try:
        body = resp.read(1 << 16, what)
    except LimitExceededError:
        body = b""
    detail = ""
    try:
        errors = json.loads(body).get("errors") or []
        detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError, TypeError):
        detail = body[:200].decode("utf-8", "replace").strip()
    message = f"{what}: HTTP {resp.status} {resp.raw.reason}" + (f" ({detail})" if detail else "")
    if resp.status == 404:
        return _NotFound(message, resp.status)
    if resp.status in (401, 403):
        return AuthenticationError(message, resp.status)
    return RegistryError(message, resp.status)


class _NotFound(RegistryError, NotFoundError):
    pass


class RegistryClient:
    """A client for one registry (``host[:port]``).

    ``plain_http`` None means HTTP for loopback hosts and HTTPS otherwise.
    ``credentials`` is ``(user, password)``; None looks in the usual auth files.
    """

    def __init__(self, registry: str, *, plain_http: Optional[bool] = None, tls_verify: bool = True,
                 credentials: Optional[tuple[str, str]] = None, timeout: float = 60.0,
                 user_agent: str = USER_AGENT) -> None:
        self.registry = registry
        self.api_host = DOCKER_HUB_API if registry == DEFAULT_REGISTRY else registry
        if plain_http is None:
            plain_http = is_loopback(self.api_host)
        self.scheme = "http" if plain_http else "https"
        self.tls_verify = tls_verify
        self.credentials = credentials if credentials is not None else find_credentials(registry)
        self.timeout = timeout
        self.user_agent = user_agent
        self._pool: dict[tuple[str, str], list[http.client.HTTPConnection]] = {}
        self._tokens: dict[str, str] = {}
        self._basic = False
        self._lock = threading.Lock()
        self.requests = 0

    # -- connections -----------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self, key: tuple[str, str]) -> http.client.HTTPConnection:
        scheme, netloc = key
        with self._lock:
            free = self._pool.get(key)
            if free:
                return free.pop()
        if scheme == "https":
            return http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._ssl_context())
        return http.client.HTTPConnection(netloc, timeout=self.timeout)

    def _release(self, key: tuple[str, str], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._pool.setdefault(key, []).append(conn)

    def close(self) -> None:
        with self._lock:
            for conns in self._pool.values():
                for c in conns:
                    c.close()
            self._pool.clear()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, path: str) -> str:
        return f"{self.scheme}://{self.api_host}{path}"

    def _send(self, method: str, url: str, headers: Mapping[str, str]) -> _Response:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise RegistryError(f"unsupported URL scheme in {url!r}")
        key = (parts.scheme, parts.netloc)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        hdrs = {"User-Agent": self.user_agent, **headers}
        for attempt in range(2):
            conn = self._connect(key)
            try:
                conn.request(method, target, headers=hdrs)
                resp = conn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                    BrokenPipeError) as exc:
                conn.close()
                if attempt == 0:
                    continue  # a kept-alive connection the server had closed: once more on a new one
                raise RegistryError(f"{method} {url}: {exc}") from None
            except (OSError, http.client.HTTPException, socket.timeout) as exc:
                conn.close()
                raise RegistryError(f"{method} {url}: {exc}") from None
            self.requests += 1
            return _Response(self, key, conn, resp, url)
        raise AssertionError("unreachable")

    def request(self, method: str, path_or_url: str, *, headers: Optional[Mapping[str, str]] = None,
                scope: str = "") -> _Response:
        """Send a request with authentication and redirects; the caller reads and closes the response."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        for attempt in range(2):
            resp = self._follow(method, url, dict(headers or {}), scope)
            if resp.status != 401 or attempt == 1:
                return resp
            challenge = resp.header("WWW-Authenticate")
            resp.close()
            self._answer(challenge, scope)
        raise AssertionError("unreachable")

    def _follow(self, method: str, url: str, headers: dict[str, str], scope: str) -> _Response:
        origin = urllib.parse.urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            hdrs = dict(headers)
            if urllib.parse.urlsplit(url).netloc == origin:
                auth = self._authorization(scope)
                if auth:
                    hdrs["Authorization"] = auth
            resp = self._send(method, url, hdrs)
            if resp.status in (301, 302, 303, 307, 308) and resp.header("Location"):
                location = urllib.parse.urljoin(url, resp.header("Location"))
                resp.close()
                url = location
                continue
            return resp
        raise RegistryError(f"{method} {url}: more than {MAX_REDIRECTS} redirects")

    # -- authentication ------------------------------------------------------------------

    def _authorization(self, scope: str) -> str:
        token = self._tokens.get(scope)
        if token:
            return f"Bearer {token}"
        if self._basic and self.credentials:
            return "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        return ""

    def _answer(self, challenge: str, scope: str) -> None:
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if not self.credentials or self._basic:
                raise AuthenticationError(f"{self.registry}: authentication required (basic)", 401)
            self._basic = True
            return
        if scheme != "bearer" or not params.get("realm"):
            raise AuthenticationError(f"{self.registry}: unsupported authentication challenge {challenge!r}", 401)
        query = {"service": params["service"]} if params.get("service") else {}
        wanted = params.get("scope") or scope
        if wanted:
            query["scope"] = wanted
        realm = params["realm"]
        token_url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query) if query else realm
        headers = {"Accept": "application/json"}
        if self.credentials:
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
        resp = self._send("GET", token_url, headers)
        if resp.status != 200:
            err = _registry_error(resp, f"token from {realm}")
            raise AuthenticationError(str(err), err.status)
        try:
            body = json.loads(resp.read(1 << 20, "token response"))
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthenticationError(f"{realm}: the token response has no token", 401)
        self._tokens[scope] = token

    # -- API ---------------------------------------------------------------------------

    @staticmethod
    def pull_scope(repository: str) -> str:
        return f"repository:{repository}:pull"

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """``(bytes, media type, digest)`` of a manifest or index; checked when ``reference`` is a digest."""
        resp = self.request("GET", f"/v2/{repository}/manifests/{reference}",
                            headers={"Accept": ", ".join(MANIFEST_ACCEPT)}, scope=self.pull_scope(repository))
        if resp.status != 200:
            raise _registry_error(resp, f"manifest {repository}:{reference}")
        media = resp.header("Content-Type").split(";")[0].strip()
        data = resp.read(MAX_MANIFEST_SIZE, f"manifest {repository}:{reference}")
        if reference.startswith("sha"):
            algorithm = reference.split(":", 1)[0]
            if digest_bytes(data, algorithm) != reference:
                raise DigestMismatchError(f"manifest {repository}@{reference} does not match its digest")
            digest = reference
        else:
            digest = digest_bytes(data)
        try:
            obj = json.loads(data)
            declared = obj.get("mediaType") if isinstance(obj, dict) else None
        except ValueError:
            raise FormatError(f"manifest {repository}:{reference} is not JSON") from None
        if isinstance(declared, str) and declared:
            media = declared
        return data, media, digest

    def get_blob(self, repository: str, digest: str, *, limit: int = MAX_CONFIG_SIZE) -> bytes:
        """A small blob (a config), read whole and checked against its digest."""
        check_digest(digest)
        resp = self.request("GET", f"/v2/{repository}/blobs/{digest}", scope=self.pull_scope(repository))
        if resp.status != 200:
            raise _registry_error(resp, f"blob {repository}@{digest}")
        data = resp.read(limit, f"blob {digest}")
        if digest_bytes(data, digest.split(":", 1)[0]) != digest:
            raise DigestMismatchError(f"blob {repository}@{digest} does not match its digest")
        return data

    def blob_source(self, repository: str, digest: str, size: int, **options: Any) -> RegistryBlobSource:
        return RegistryBlobSource(self, repository, digest, size, **options)


# --------------------------------------------------------------------------------
# Images


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(x for x in (self.os, self.architecture, self.variant) if x)


_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def parse_platform(text: Optional[str]) -> Platform:
    """``os/arch[/variant]``; None gives this machine's (linux/<arch>)."""
    if not text:
        machine = _platform.machine().lower()
        return Platform("linux", _ARCH.get(machine, machine), "v7" if machine == "armv7l" else "")
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"platform {text!r} is not os/arch[/variant]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


@dataclass
class Image:
    """A resolved single-platform image: its manifest, config and layer descriptors."""

    reference: Reference
    manifest: dict[str, Any]
    manifest_digest: str
    media_type: str
    config: dict[str, Any]
    layers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def diff_ids(self) -> list[Optional[str]]:
        rootfs = self.config.get("rootfs") if isinstance(self.config.get("rootfs"), dict) else {}
        ids = rootfs.get("diff_ids") if rootfs else None
        if isinstance(ids, list) and len(ids) == len(self.layers):
            return [str(x) for x in ids]
        return [None] * len(self.layers)


def _choose(index: dict[str, Any], want: Platform, where: str) -> dict[str, Any]:
    candidates = []
    for d in index.get("manifests") or []:
        if not isinstance(d, dict) or d.get("mediaType") not in MANIFEST_TYPES | INDEX_TYPES | {None, ""}:
            continue
        p = d.get("platform") or {}
        if p.get("os") == want.os and p.get("architecture") == want.architecture:
            if want.variant and p.get("variant", "") != want.variant:
                continue
            candidates.append(d)
    if not candidates:
        offered = sorted({"/".join(x for x in ((d.get("platform") or {}).get("os", "?"),
                                              (d.get("platform") or {}).get("architecture", "?"),
                                              (d.get("platform") or {}).get("variant", "")) if x)
                          for d in index.get("manifests") or [] if isinstance(d, dict)})
        raise NotFoundError(f"{where}: no image for platform {want} (has: {', '.join(offered) or 'none'})")
    return dict(candidates[0])


def resolve_image(client: RegistryClient, ref: Reference, platform: Optional[str] = None) -> Image:
    """Fetch the manifest of ``ref`` (choosing ``platform`` in an index) and its config."""
    want = parse_platform(platform)
    data, media, digest = client.get_manifest(ref.repository, ref.reference)
    for _ in range(4):
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise FormatError(f"{ref}: manifest is not a JSON object")
        if media in INDEX_TYPES or (not media and "manifests" in obj):
            child = _choose(obj, want, str(ref))
            data, media, digest = client.get_manifest(ref.repository, check_digest(child.get("digest")))
            continue
        if media not in MANIFEST_TYPES and not (not media and "layers" in obj):
            raise FormatError(f"{ref}: unsupported manifest media type {media!r}")
        config_desc = obj.get("config") or {}
        layers = obj.get("layers")
        if not isinstance(layers, list) or not isinstance(config_desc, dict):
            raise FormatError(f"{ref}: manifest without config or layers")
        config: dict[str, Any] = {}
        if config_desc.get("mediaType") in CONFIG_TYPES:
            config = json.loads(client.get_blob(ref.repository, check_digest(config_desc.get("digest"))))
        return Image(ref.with_digest(digest), obj, digest, media or OCI_MANIFEST, config, list(layers))
    raise FormatError(f"{ref}: indexes nested too deeply")


# --------------------------------------------------------------------------------
# The range source


MULTIPART, SINGLE, WHOLE = "multipart", "single", "whole"


def parse_content_range(value: str, size: int) -> tuple[int, int]:
    """``bytes a-b/total`` -> (a, b + 1), checked against the blob size."""
    m = _CONTENT_RANGE_RE.match(value.strip())
    if not m:
        raise RegistryError(f"invalid Content-Range {value!r}")
    start, last = int(m.group(1)), int(m.group(2))
    if m.group(3) != "*" and int(m.group(3)) != size:
        raise FormatError(f"the registry says the blob has {m.group(3)} bytes, its descriptor says {size}")
    if last < start or last >= size:
        raise RegistryError(f"Content-Range {value!r} is outside the blob")
    return start, last + 1


def parse_multipart_byteranges(body: bytes, boundary: str, size: int) -> list[tuple[int, bytes]]:
    """The parts of a ``multipart/byteranges`` body as ``(start, data)``.

    Each part's length comes from its Content-Range, so a boundary string that
    happens to occur inside the data does no harm.
    """
    delimiter = b"--" + boundary.encode("latin-1")
    parts: list[tuple[int, bytes]] = []
    pos = body.find(delimiter)
    while pos >= 0:
        pos += len(delimiter)
        if body.startswith(b"--", pos):
            return parts
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        pos = eol + 2
        headers: dict[str, str] = {}
        while True:
            eol = body.find(b"\r\n", pos)
            if eol < 0:
                raise RegistryError("truncated multipart/byteranges part headers")
            line = body[pos:eol]
            pos = eol + 2
            if not line:
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-range" not in headers:
            raise RegistryError("multipart/byteranges part without Content-Range")
        start, end = parse_content_range(headers["content-range"], size)
        data = body[pos:pos + end - start]
        if len(data) != end - start:
            raise RegistryError("truncated multipart/byteranges part")
        parts.append((start, data))
        pos = body.find(delimiter, pos + len(data))
    raise RegistryError("multipart/byteranges body without its closing boundary")


def _boundary(content_type: str) -> Optional[str]:
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "multipart/byteranges":
        return None
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "boundary":
            return value.strip().strip('"')
    raise RegistryError("multipart/byteranges answer without a boundary")


def merge_spans(spans: Iterable[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Sort ``(start, end)`` spans and merge those at most ``gap`` bytes apart."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


class RegistryBlobSource:
    """A registry blob as a range source (``size``, ``read_range``), with batched multi-range reads.

    Counters: ``requests`` (HTTP requests for this blob), ``bytes_received``
    (response body bytes, multipart framing included), ``mode`` (``multipart``,
    ``single`` or ``whole``: how the registry is being read).
    """

    def __init__(self, client: RegistryClient, repository: str, digest: str, size: int, *,
                 gap: int = fmt.RANGE_MERGE_GAP, max_ranges: int = fmt.MAX_RANGES_PER_REQUEST,
                 readahead: int = DEFAULT_READAHEAD) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"invalid blob size {size!r}")
        if max_ranges < 1:
            raise ValueError("max_ranges must be at least 1")
        self.client = client
        self.repository = repository
        self.digest = check_digest(digest)
        self.size = size
        self.gap = gap
        self.max_ranges = max_ranges
        self.readahead = readahead
        self.mode = MULTIPART
        self.requests = 0
        self.bytes_received = 0
        self._path = f"/v2/{repository}/blobs/{digest}"
        self._scope = client.pull_scope(repository)
        self._plan: list[tuple[int, int]] = []
        self._plan_ends: list[int] = []
        self._window: list[tuple[int, bytes]] = []
        self._whole: Optional[IO[bytes]] = None
        self._lock = threading.RLock()

    # -- planning and reading ------------------------------------------------------------

    def plan(self, ranges: Iterable[tuple[int, int]]) -> None:
        """Announce ``(offset, length)`` ranges that will be read, so misses fetch them ahead in bulk."""
        with self._lock:
            spans = [(s, e) for s, e in self._plan] + [(o, o + n) for o, n in ranges if n > 0]
            self._plan = merge_spans(spans, self.gap)
            self._plan_ends = [e for _, e in self._plan]

    def clear_plan(self) -> None:
        with self._lock:
            self._plan, self._plan_ends, self._window = [], [], []

    def read_range(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise FormatError(f"range {offset}+{length} is outside the blob of {self.size} bytes")
        if length == 0:
            return b""
        with self._lock:
            hit = _slice(self._window, offset, offset + length)
            if hit is not None:
                return hit
            if self._whole is not None:
                return self._pread(offset, length)
            self._window = self._fetch(self._ahead(offset, offset + length))
            hit = _slice(self._window, offset, offset + length)
        if hit is None:
            raise RegistryError(f"the registry did not return bytes {offset}+{length} of {self.digest}")
        return hit

    def read_ranges(self, ranges: Iterable[tuple[int, int]]) -> list[bytes]:
        """Many ``(offset, length)`` ranges at once, in as few requests as the registry allows."""
        wanted = list(ranges)
        for o, n in wanted:
            if o < 0 or n < 0 or o + n > self.size:
                raise FormatError(f"range {o}+{n} is outside the blob of {self.size} bytes")
        with self._lock:
            parts = self._fetch(merge_spans(((o, o + n) for o, n in wanted), self.gap))
        out = []
        for o, n in wanted:
            hit = b"" if n == 0 else _slice(parts, o, o + n)
            if hit is None:
                raise RegistryError(f"the registry did not return bytes {o}+{n} of {self.digest}")
            out.append(hit)
        return out

    def _ahead(self, start: int, end: int) -> list[tuple[int, int]]:
        """The spans to fetch for a miss at [start, end), taking them off the plan.

        The miss itself, extended over the planned spans it touches (up to the
        read-ahead budget), then the next planned spans while the budget and
        the per-request range cap allow.
        """
        plan = self._plan
        i = bisect.bisect_right(self._plan_ends, start)  # first planned span ending after start
        stop = end
        j = i
        while j < len(plan) and plan[j][0] <= stop:
            stop = max(stop, plan[j][1])
            j += 1
        stop = max(end, min(stop, start + self.readahead))
        spans = [(start, stop)]
        total = stop - start
        rest: list[tuple[int, int]] = []
        if j > i and plan[j - 1][1] > stop:
            rest = [(stop, plan[j - 1][1])]  # the budget cut a planned span: keep its tail planned
        k = j
        while not rest and k < len(plan) and len(spans) < self.max_ranges:
            s, e = plan[k]
            if total + (e - s) > self.readahead:
                break
            spans.append((s, e))
            total += e - s
            k += 1
        plan[i:k] = rest
        self._plan_ends = [e for _, e in plan]
        return merge_spans(spans, self.gap)

    # -- fetching ------------------------------------------------------------------------

    def _fetch(self, spans: list[tuple[int, int]]) -> list[tuple[int, bytes]]:
        parts: list[tuple[int, bytes]] = []
        queue = list(spans)
        single: set[tuple[int, int]] = set()
        while queue:
            if self._whole is not None:
                parts += [(s, self._pread(s, e - s)) for s, e in queue]
                break
            if self.mode == MULTIPART and queue[0] not in single:
                batch = _take(queue, self.max_ranges, single)
            else:
                batch = queue[:1]
            got = self._request(batch)
            if got is None:
                continue  # fell back (fewer ranges per request, or the whole blob): same spans again
            del queue[:len(batch)]
            parts += got
            missed = [sp for sp in batch if _slice(got, sp[0], sp[1]) is None]
            if missed:  # the registry answered fewer ranges than asked: ask for those alone
                if len(batch) == 1:
                    raise RegistryError(f"the registry did not return bytes {batch[0][0]}-{batch[0][1] - 1} "
                                        f"of {self.digest}")
                single.update(missed)
                queue[:0] = missed
        parts.sort(key=lambda p: p[0])
        return parts

    def _request(self, batch: list[tuple[int, int]]) -> Optional[list[tuple[int, bytes]]]:
        header = "bytes=" + ",".join(f"{s}-{e - 1}" for s, e in batch)
        resp = self.client.request("GET", self._path, headers={"Range": header}, scope=self._scope)
        self.requests += 1
        if resp.status == 206:
            expected = sum(e - s for s, e in batch)
            body = resp.read(expected + 512 * len(batch) + 65536, f"ranges of {self.digest}")
            self.bytes_received += len(body)
            boundary = _boundary(resp.header("Content-Type"))
            if boundary is not None:
                return parse_multipart_byteranges(body, boundary, self.size)
            start, end = parse_content_range(resp.header("Content-Range"), self.size)
            if len(body) != end - start:
                raise RegistryError(f"range answer of {len(body)} bytes for {start}-{end - 1}")
            return [(start, body)]
        if resp.status == 200:  # ranges ignored: this is the whole blob
            self._load_whole(resp)
            return None
        if resp.status in (416, 501):
            resp.close()
            if len(batch) > 1:
                self.mode = SINGLE
            else:
                self._load_whole(self.client.request("GET", self._path, scope=self._scope))
                self.requests += 1
            return None
        raise _registry_error(resp, f"blob {self.repository}@{self.digest}")

    def _load_whole(self, resp: _Response) -> None:
        """Keep the whole blob from a 200 answer in a temporary file, checking size and digest."""
        if resp.status != 200:
            raise _registry_error(resp, f"blob {self.repository}@{self.digest}")
        self.mode = WHOLE
        algorithm = self.digest.split(":", 1)[0]
        h = hashlib.new(algorithm)
        tmp = tempfile.TemporaryFile()  # noqa: SIM115 - kept until close()
        count = 0
        try:
            while True:
                data = resp.raw.read(1 << 20)
                if not data:
                    break
                count += len(data)
                if count > self.size:
                    resp.abandon()
                    raise FormatError(f"blob {self.digest} is longer than its descriptor's {self.size} bytes")
                h.update(data)
                tmp.write(data)
            resp.close()
        except BaseException:
            tmp.close()
            raise
        self.bytes_received += count
        actual = f"{algorithm}:{h.hexdigest()}"
        if count != self.size or actual != self.digest:
            tmp.close()
            raise DigestMismatchError(f"blob {self.digest}: received {count} bytes with digest {actual}")
        self._whole = tmp

    def download(self) -> IO[bytes]:
        """The whole blob in a temporary file (fetched once, size and digest checked), at offset 0."""
        with self._lock:
            if self._whole is None:
                self.requests += 1
                self._load_whole(self.client.request("GET", self._path, scope=self._scope))
            assert self._whole is not None
            self._whole.seek(0)
            return self._whole

    def _pread(self, offset: int, length: int) -> bytes:
        assert self._whole is not None
        data = os.pread(self._whole.fileno(), length, offset)
        if len(data) != length:
            raise FormatError(f"short read at {offset} of the downloaded blob")
        return data

    def close(self) -> None:
        with self._lock:
            if self._whole is not None:
                self._whole.close()
                self._whole = None
            self._window = []

    def __enter__(self) -> RegistryBlobSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _take(queue: list[tuple[int, int]], limit: int, single: set[tuple[int, int]]) -> list[tuple[int, int]]:
    """The next spans for one request: at most ``limit``, and a Range header that stays short."""
    batch: list[tuple[int, int]] = []
    length = len("bytes=")
    for span in queue:
        if span in single or len(batch) >= limit:
            break
        item = len(f"{span[0]}-{span[1] - 1},")
        if batch and length + item > MAX_RANGE_HEADER:
            break
        batch.append(span)
        length += item
    return batch


def _slice(parts: list[tuple[int, bytes]], start: int, end: int) -> Optional[bytes]:
    """Bytes [start, end) if one part holds them all."""
    for s, data in parts:
        if s <= start and end <= s + len(data):
            return data[start - s:end - s]
    return None


__all__ = [
    "AuthenticationError",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "Image",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Platform",
    "Reference",
    "RegistryBlobSource",
    "RegistryClient",
    "RegistryError",
    "find_credentials",
    "merge_spans",
    "parse_challenge",
    "parse_multipart_byteranges",
    "parse_platform",
    "parse_reference",
    "resolve_image",
]
