"""A small HTTP/1.1 client on asyncio protocols: pooled keep-alive connections, one
request at a time per connection, whole bodies in memory.

It is what :class:`tunegate.models.transport.Transport` sends through. A general
client (aiohttp, httpx) spends most of a loopback request's CPU on features an
evaluation never uses (cookies, tracing, redirects, multidicts, per-request timer
objects); this one writes a prebuilt header block and the body in one
``transport.write`` and parses the answer from the bytes the event loop hands over,
so a request costs a fraction of the CPU (``benchmarks/throughput.py``).

What it speaks: ``http`` and ``https`` (TLS with the system's certificates), answers
framed by ``Content-Length``, ``Transfer-Encoding: chunked`` or the end of the
connection, interim ``1xx`` answers skipped, ``gzip``/``deflate`` bodies decoded,
``Connection: close`` and HTTP/1.0 honoured. Timeouts: connecting, and no byte
arriving for ``read_timeout`` seconds while an answer is awaited. A request is never
sent twice (the caller retries, and counts it). Failures are :class:`HTTPFailure`.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tunegate.secrets import clip

if TYPE_CHECKING:
    import ssl

#: Refuse answers larger than this (bytes of body), and header blocks over MAX_HEAD.
MAX_BODY = 256 * 1024 * 1024
MAX_HEAD = 64 * 1024


class HTTPFailure(Exception):
    """A request that got no complete answer. ``kind``: ``"connect"`` (could not connect),
    ``"timeout"`` (connecting or waiting for bytes took too long), ``"closed"`` (the
    connection ended or broke before the answer was complete), ``"protocol"`` (what
    came back is not HTTP/1.x)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(slots=True)
class Answer:
    """A complete HTTP answer: status, headers (names lower-cased; a repeated header
    keeps its last value) and the decoded body."""

    status: int
    headers: dict[str, str]
    body: bytes


Key = tuple[str, str, int]  # scheme, host, port


class _Connection(asyncio.Protocol):
    """One keep-alive connection; parses the answer to the request in flight."""

    def __init__(self, pool: Pool, key: Key) -> None:
        self.pool = pool
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.waiter: asyncio.Future[Answer] | None = None
        self.buffer = bytearray()
        self.last_data = 0.0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.framing = ""  # "length", "chunked" or "eof" once the head is read
        self.remaining = 0
        self.body = bytearray()
        self.keep_alive = True
        self.timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ asyncio

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.waiter is None:  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self.last_data = self.pool.loop.time()
        self.buffer += data
        try:
            self._parse()
        except HTTPFailure as exc:
            self._fail(exc)

    def eof_received(self) -> bool:
        if self.waiter is not None and self.framing == "eof":
            self._finish(keep_alive=False)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool._lost(self)
        if self.waiter is not None:
            if self.framing == "eof":
                self._finish(keep_alive=False)
                return
            detail = f"{type(exc).__name__}: {exc}" if exc else "ConnectionError: the server"
            detail += "" if exc else " closed the connection before answering"
            self._fail(HTTPFailure("closed", detail))

    # ------------------------------------------------------------------ requests

    def send(self, payload: bytes, read_timeout: float | None) -> asyncio.Future[Answer]:
        """Write one request; the future completes with its answer (or fails)."""
        assert self.transport is not None
        loop = self.pool.loop
        self.waiter = waiter = loop.create_future()
        self.buffer.clear()
        self.status, self.framing, self.headers = 0, "", {}
        self.body = bytearray()
        if read_timeout is not None:
            self.last_data = loop.time()
            self.timer = loop.call_at(self.last_data + read_timeout, self._check, read_timeout)
        self.transport.write(payload)
        return waiter

    def _check(self, read_timeout: float) -> None:
        """The read timer: fail when no byte came for ``read_timeout`` s, else wait on."""
        if self.waiter is None:
            return
        due = self.last_data + read_timeout
        if self.pool.loop.time() >= due:
            self._fail(HTTPFailure("timeout", f"no answer within {read_timeout:g} s"))
        else:
            self.timer = self.pool.loop.call_at(due, self._check, read_timeout)

    def _settle(self) -> asyncio.Future[Answer] | None:
        waiter, self.waiter = self.waiter, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        return waiter

    def _fail(self, exc: HTTPFailure) -> None:
        waiter = self._settle()
        self.close()
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _finish(self, *, keep_alive: bool) -> None:
        waiter = self._settle()
        body = bytes(self.body)
        encoding = self.headers.get("content-encoding", "").strip().lower()
        try:
            if encoding in ("gzip", "x-gzip"):
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
            elif encoding == "deflate":
                body = zlib.decompress(body)
        except zlib.error as exc:
            self.close()
            if waiter is not None and not waiter.done():
                waiter.set_exception(HTTPFailure("protocol", f"bad {encoding} body: {exc}"))
            return
        answer = Answer(self.status, self.headers, body)
        self.body = bytearray()
        if keep_alive and self.keep_alive and not self.buffer:
            self.pool._release(self)
        else:
            self.close()
        if waiter is not None and not waiter.done():
            waiter.set_result(answer)

    def transport_closing(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self.pool._lost(self)

    # ------------------------------------------------------------------ parsing

    def _parse(self) -> None:
        while self.waiter is not None:
            if not self.framing:
                if not self._parse_head():
                    return
                continue
            if self.framing == "length":
                take = min(self.remaining, len(self.buffer))
                self.body += self.buffer[:take]
                del self.buffer[:take]
                self.remaining -= take
                if self.remaining == 0:
                    self._finish(keep_alive=True)
                return
            if self.framing == "chunked":
                if not self._parse_chunk():
                    return
                continue
            self.body += self.buffer  # "eof": everything until the connection ends
            self.buffer.clear()
            self._check_size(0)
            return

    def _parse_head(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD:
                raise HTTPFailure("protocol", f"answer head over {MAX_HEAD} bytes")
            return False
        lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise HTTPFailure("protocol", f"not an HTTP/1.x answer: {clip(lines[0], 80)!r}")
        status = int(code)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise HTTPFailure("protocol", f"bad header line {clip(line, 80)!r}")
            headers[name.strip().lower()] = value.strip()
        if 100 <= status < 200:  # interim answer: the real one follows
            return True
        self.status, self.headers = status, headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = (
            "close" not in connection if version != "HTTP/1.0" else "keep-alive" in connection
        )
        if status in (204, 304):
            self.framing, self.remaining = "length", 0
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self.framing, self.remaining = "chunked", -1
        elif "content-length" in headers:
            try:
                self.remaining = int(headers["content-length"])
            except ValueError:
                raise HTTPFailure("protocol", "bad Content-Length") from None
            if self.remaining < 0:
                raise HTTPFailure("protocol", "bad Content-Length")
            self._check_size(self.remaining)
            self.framing = "length"
        else:
            self.framing, self.keep_alive = "eof", False
        if self.framing == "length" and self.remaining == 0:
            self._finish(keep_alive=True)
        return True

    def _parse_chunk(self) -> bool:
        """Consume one chunk (or the trailer) from the buffer; False when more is needed."""
        if self.remaining >= 0:  # inside a chunk's data (+ CRLF)
            if len(self.buffer) < self.remaining + 2:
                return False
            self.body += self.buffer[: self.remaining]
            del self.buffer[: self.remaining + 2]
            self.remaining = -1
            return True
        end = self.buffer.find(b"\r\n")
        if end < 0:
            return False
        line = bytes(self.buffer[:end])
        if self.remaining == -2:  # trailer lines until an empty one
            del self.buffer[: end + 2]
            if not line:
                self._finish(keep_alive=True)
            return True
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HTTPFailure(
                "protocol", f"bad chunk size {clip(line.decode('latin-1'), 40)!r}"
            ) from None
        del self.buffer[: end + 2]
        self._check_size(size)
        self.remaining = size if size > 0 else -2
        return True

    def _check_size(self, more: int) -> None:
        if len(self.body) + more > MAX_BODY:
            raise HTTPFailure("protocol", f"answer body over {MAX_BODY // 2**20} MiB")


class Pool:
    """Keep-alive connections to any number of servers, at most ``limit`` open at once."""

    def __init__(
        self,
        limit: int,
        *,
        connect_timeout: float | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        self.limit = max(1, limit)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: dict[Key, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._tls: ssl.SSLContext | None = None

    async def request(self, key: Key, payload: bytes) -> Answer:
        """Send ``payload`` (a whole HTTP/1.1 request) to ``key``'s server; its answer.

        Never sent twice: a connection that breaks before the answer is a ``closed``
        failure even when it was a reused keep-alive one (the server may have read the
        request; the caller decides whether to retry, and counts the attempt). An idle
        connection the server has closed is not reused."""
        connection = await self._acquire(key)
        try:
            return await connection.send(payload, self.read_timeout)
        except asyncio.CancelledError:  # half an exchange: the connection cannot be reused
            connection.close()
            raise

    async def _acquire(self, key: Key) -> _Connection:
        while True:
            idle = self._idle.get(key)
            while idle:
                connection = idle.pop()
                if not connection.closed and not connection.transport_closing():
                    return connection
            if len(self._open) >= self.limit and not self._drop_idle():
                waiter = self.loop.create_future()
                self._waiters.append(waiter)
                await waiter
                continue
            return await self._connect(key)

    def _drop_idle(self) -> bool:
        """Close one idle connection (to any server) to make room; False if none."""
        for idle in self._idle.values():
            while idle:
                connection = idle.pop()
                if not connection.closed:
                    connection.close()
                    return True
        return False

    async def _connect(self, key: Key) -> _Connection:
        scheme, host, port = key
        connection = _Connection(self, key)
        self._open.add(connection)
        tls = self._context() if scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                await self.loop.create_connection(
                    lambda: connection, host, port, ssl=tls, server_hostname=host if tls else None
                )
        except TimeoutError:
            connection.close()
            raise HTTPFailure(
                "timeout", f"could not connect within {self.connect_timeout:g} s"
            ) from None
        except OSError as exc:
            connection.close()
            raise HTTPFailure("connect", f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            connection.close()
            raise
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            import ssl

            self._tls = ssl.create_default_context()
        return self._tls

    def _release(self, connection: _Connection) -> None:
        self._idle.setdefault(connection.key, []).append(connection)
        self._wake()

    def _lost(self, connection: _Connection) -> None:
        if connection in self._open:
            self._open.discard(connection)
            self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Close every connection."""
        for connection in list(self._open):
            connection.close()
        self._idle.clear()
