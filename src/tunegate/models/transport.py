"""The lean HTTP path: one connection pool per model (:mod:`tunegate.models.http11`), spread
over its replicas.

A model may be served by several replicas (``base_url: [http://a/v1, http://b/v1]``).
Each request goes to the healthy replica with the fewest requests in flight; a
replica that fails to connect or times out ``MAX_FAILURES`` times in a row is taken
out of rotation for a backoff (0.5 s, doubling up to 30 s) and then probed with the
next request: an answer puts it back. A replica that is out is still tried when no
other one is in rotation, so a model never waits on bookkeeping alone.

Errors keep the openai SDK's semantics (see :mod:`tunegate.models.errors`): status
codes map to the same :class:`TransportError` kinds, ``Retry-After`` and
``retry-after-ms`` are honoured, and connection resets, timeouts and bodies that
are not JSON are retryable.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from tunegate.errors import ConfigError
from tunegate.models.base import TransportError
from tunegate.models.errors import connection_error, http_status_error, malformed_error
from tunegate.models.http11 import HTTPFailure, Pool
from tunegate.secrets import clip, redact, remember_url

#: Connection failures or timeouts in a row that take a replica out of rotation.
MAX_FAILURES = 3
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
USER_AGENT = "tunegate"

Failure = Callable[[str, BaseException | None], TransportError]


@dataclass
class Replica:
    """One server of a model and what it has done so far."""

    url: str
    target: str = ""  # ``url`` without userinfo (sent as Basic auth instead, as httpx does)
    basic_auth: str | None = None
    in_flight: int = 0
    requests: int = 0
    errors: int = 0
    latency_ms: float = 0.0  # sum over answered requests
    failures: int = 0  # connection failures or timeouts in a row
    backoff: float = 0.0
    out_until: float = 0.0
    taken_out: int = 0
    latencies: list[float] = field(default_factory=list, repr=False)
    key: tuple[str, str, int] = ("http", "", 80)  # scheme, host, port: the pool's key
    path: str = ""  # the URL's path, to which each request's path is appended
    query: str = ""
    header_block: bytes = field(default=b"", repr=False)

    def prepare(self, headers: dict[str, str]) -> None:
        """Work out where requests go and the header lines every request carries."""
        parts = urlsplit(self.target)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{redact(self.url)}: not an http:// or https:// URL")
        port = parts.port or (443 if scheme == "https" else 80)
        self.key = (scheme, parts.hostname, port)
        self.path, self.query = parts.path, parts.query
        merged = {name.lower(): (name, value) for name, value in headers.items()}
        if self.basic_auth is not None:
            merged["authorization"] = ("Authorization", self.basic_auth)
        merged["host"] = ("Host", parts.netloc.rpartition("@")[2])
        lines = []
        for name, value in merged.values():
            if any(c in f"{name}{value}" for c in "\r\n\0"):
                raise ConfigError(f"{redact(self.url)}: header {name!r} holds a line break")
            lines.append(f"{name}: {value}\r\n")
        self.header_block = "".join(lines).encode("latin-1", "replace")

    def head(self, method: str, path: str, params: dict[str, Any] | None) -> bytes:
        """The request line and fixed headers for ``method`` on ``path`` (+ ``params``)."""
        target = (self.path + path) or "/"
        query = "&".join(q for q in (self.query, urlencode(params) if params else "") if q)
        if query:
            target += "?" + query
        return f"{method} {target} HTTP/1.1\r\n".encode() + self.header_block

    def stats(self) -> dict[str, Any]:
        """JSON-ready: requests, errors, mean, p50 and p95 latency (ms), times taken out."""
        answered = sorted(self.latencies)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "latency_ms_mean": self.latency_ms / len(answered) if answered else None,
            "latency_ms_p50": latency_percentile(answered, 50),
            "latency_ms_p95": latency_percentile(answered, 95),
            "taken_out": self.taken_out,
        }


@dataclass
class Reply:
    """An HTTP answer with a status below 400."""

    status: int
    body: bytes
    replica: str

    def json(self) -> Any:
        """The body as JSON; a malformed-response error when it is not."""
        try:
            return json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = clip(self.body[:65536].decode("utf-8", "replace"), 80)
            raise malformed_error(f"not JSON ({snippet!r})") from None


def _replica(url: str) -> Replica:
    """A replica of ``url``; userinfo in it becomes a Basic ``Authorization`` header (as
    httpx, under the openai SDK, sends it: it wins over a bearer key)."""
    from base64 import b64encode

    remember_url(url)  # the secrets it carries, also as the Basic credential below
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return Replica(url, target=url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    token = b64encode(f"{user}:{password}".encode()).decode("ascii")
    return Replica(url, target=target, basic_auth=f"Basic {token}")


def _timeout_failure(timeout: float | None) -> Failure:
    def failure(url: str, exc: BaseException | None) -> TransportError:
        after = f" after {timeout:g} s" if timeout else ""
        return TransportError(f"{url}: timed out{after}", retryable=True, kind="timeout")

    return failure


def _connect_failure(url: str, exc: BaseException | None) -> TransportError:
    detail = f"{type(exc).__name__}: {exc}".rstrip(": ") if exc is not None else "no answer"
    return connection_error(url, detail)


class Transport:
    """POST/GET JSON to a model's replicas over one keep-alive connection pool."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        connections: int = 100,
        on_timeout: Failure | None = None,
        on_connect: Failure = _connect_failure,
        status_detail: Callable[[int, bytes], str] | None = None,
    ) -> None:
        if not urls:
            raise ValueError("a transport needs at least one URL")
        self.replicas = [_replica(u.rstrip("/")) for u in urls]
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.connections = max(1, connections)
        self.on_timeout = on_timeout or _timeout_failure(timeout)
        self.on_connect = on_connect
        self.status_detail = status_detail or sdk_status_detail
        self._pool: Pool | None = None

    async def start(self) -> None:
        """Open the connection pool (shared by the replicas)."""
        self._pool = Pool(self.connections, connect_timeout=self.timeout, read_timeout=self.timeout)
        fixed = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity", **self.headers}
        for replica in self.replicas:
            replica.prepare(fixed)

    def pick(self) -> Replica:
        """The replica in rotation with the fewest in flight (else the one back soonest)."""
        now = time.monotonic()
        best: Replica | None = None
        for replica in self.replicas:
            if replica.out_until <= now and (best is None or replica.in_flight < best.in_flight):
                best = replica
        if best is None:
            best = min(self.replicas, key=lambda r: (r.out_until, r.in_flight))
        return best

    def _failed(self, replica: Replica) -> None:
        replica.errors += 1
        replica.failures += 1
        if replica.failures >= MAX_FAILURES:
            replica.backoff = min(MAX_BACKOFF, replica.backoff * 2 or FIRST_BACKOFF)
            replica.out_until = time.monotonic() + replica.backoff
            replica.taken_out += 1
            replica.failures = 0

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        content: tuple[str, bytes] | None = None,
    ) -> Reply:
        """Send one request to a replica; raise :class:`TransportError` unless it answered
        with a status below 300. ``content``: a body of another type, ``(content type,
        bytes)`` (a multipart upload)."""
        if self._pool is None:
            raise RuntimeError("start() was not called")
        replica = self.pick()
        query = None if params is None else {k: str(v) for k, v in params.items()}
        payload = replica.head(method, path, query)
        if content is not None:
            kind, raw = content
            payload += b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (kind.encode(), len(raw))
            payload += raw
        elif json_body is not None and params is None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
            payload += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            payload += body
        else:
            payload += b"\r\n" if method == "GET" else b"Content-Length: 0\r\n\r\n"
        replica.in_flight += 1
        replica.requests += 1
        started = time.perf_counter()
        try:
            answer = await self._pool.request(replica.key, payload)
        except HTTPFailure as exc:
            self._failed(replica)
            if exc.kind == "timeout":
                raise self.on_timeout(replica.url, exc) from None
            raise self.on_connect(replica.url, exc) from None
        finally:
            replica.in_flight -= 1
        replica.failures = 0
        replica.backoff = 0.0
        replica.out_until = 0.0
        status = answer.status
        if status >= 300:
            replica.errors += 1
            detail = self.status_detail(status, answer.body)
            if status < 400:
                detail = f"redirected to {answer.headers.get('location', '?')}, not followed"
            raise http_status_error(status, detail, answer.headers)
        elapsed = (time.perf_counter() - started) * 1000.0
        replica.latency_ms += elapsed
        replica.latencies.append(elapsed)
        return Reply(status, answer.body, replica.url)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per replica (by redacted URL): requests, errors, latency, times taken out."""
        return {redact(r.url): r.stats() for r in self.replicas}

    async def aclose(self) -> None:
        """Close the pool and its connections."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def raw_status_detail(status: int, body: bytes) -> str:
    """The error body as text (what a custom HTTP service said)."""
    return body.decode("utf-8", "replace")


def sdk_status_detail(status: int, body: bytes) -> str:
    """What the openai SDK says about an error status: ``Error code: N``, plus `` - <message>``
    when the body is JSON with a non-empty ``error.message`` (or top-level ``message``)."""
    detail = f"Error code: {status}"
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return detail
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return f"{detail} - {message}" if isinstance(message, str) and message else detail


def latency_percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile of ``ordered`` (sorted ascending), None when it is empty.

    ``numpy.percentile``'s default (linear) method in plain Python, to the last bit: for
    ``h = (n - 1) * (q / 100)``, ``i = floor(h)`` and ``t = h - i``, it is
    ``x[i] + (x[i+1] - x[i]) * t``, or ``x[i+1] - (x[i+1] - x[i]) * (1 - t)`` when
    ``t >= 0.5`` (numpy's ``_lerp``). Called once per replica at the end of a run; no
    numpy on the request path.
    """
    if not ordered:
        return None
    last = len(ordered) - 1
    h = last * (q / 100)
    i = math.floor(h)
    t = h - i
    low, high = ordered[i], ordered[min(i + 1, last)]
    step = high - low
    return high - step * (1 - t) if t >= 0.5 else low + step * t
