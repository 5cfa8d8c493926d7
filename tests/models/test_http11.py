"""tunegate's HTTP/1.1 client against raw loopback servers that frame answers every way
HTTP/1.1 allows, break connections, drip bytes and say things that are not HTTP."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from tunegate.models.base import TransportError
from tunegate.models.http11 import MAX_HEAD, HTTPFailure, Pool
from tunegate.models.transport import Transport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes], Awaitable[bool]]


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    """One request (head + Content-Length body), or None at the end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    length = 0
    for line in head.decode("latin-1").split("\r\n"):
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    return head + await reader.readexactly(length)


@asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, int, list[bytes], list[int]]]:
    """A TCP server on loopback; ``handler`` answers each request and says whether the
    connection stays open. Yields host, port, the requests seen and connection ids."""
    seen: list[bytes] = []
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(id(writer))
        try:
            while (request := await read_request(reader)) is not None:
                seen.append(request)
                if not await handler(reader, writer, request):
                    break
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield "127.0.0.1", port, seen, connections
    finally:
        server.close()


def ok(body: bytes, extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def request_bytes(path: str = "/x", body: bytes = b"{}") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def test_content_length_answers_reuse_one_connection() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(ok(req.split(b"\r\n\r\n", 1)[1]))
        return True

    async with raw_server(handler) as (host, port, seen, connections):
        pool = Pool(4)
        answers = [
            await pool.request(("http", host, port), request_bytes(body=b'{"i": %d}' % i))
            for i in range(5)
        ]
        pool.close()
    assert [json.loads(a.body)["i"] for a in answers] == list(range(5))
    assert answers[0].status == 200
    assert answers[0].headers["content-type"] == "application/json"
    assert len(seen) == 5
    assert len(connections) == 1


async def test_chunked_with_extensions_and_trailers_split_across_writes() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b"5;ext=1\r\nhel", b"lo\r\n", b"6\r\n world\r\n0\r\nX-T", b"rail: 1\r\n\r\n"):
            w.write(piece)
            await w.drain()
            await asyncio.sleep(0.01)
        return True

    async with raw_server(handler) as (host, port, _seen, connections):
        pool = Pool(2)
        first = await pool.request(("http", host, port), request_bytes())
        second = await pool.request(("http", host, port), request_bytes())
        pool.close()
    assert first.body == second.body == b"hello world"
    assert first.status == 200
    assert len(connections) == 1  # the trailer was consumed; the connection was reused


async def test_answer_framed_by_the_end_of_the_connection_and_http10() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
        return False

    async with raw_server(handler) as (host, port, _seen, connections):
        pool = Pool(2)
        first = await pool.request(("http", host, port), request_bytes())
        second = await pool.request(("http", host, port), request_bytes())
        pool.close()
    assert first.body == second.body == b"until the end"
    assert len(connections) == 2  # not reused


async def test_connection_close_is_honoured_and_gzip_and_deflate_are_decoded() -> None:
    payloads = [
        (gzip.compress(b'{"a": 1}'), "Content-Encoding: gzip\r\nConnection: close\r\n"),
        (zlib.compress(b'{"a": 2}'), "Content-Encoding: deflate\r\n"),
    ]

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        body, extra = payloads[len(seen) - 1]
        w.write(ok(body, extra))
        return "close" not in extra

    async with raw_server(handler) as (host, port, seen, connections):
        pool = Pool(2)
        answers = [await pool.request(("http", host, port), request_bytes()) for _ in payloads]
        pool.close()
    assert [json.loads(a.body) for a in answers] == [{"a": 1}, {"a": 2}]
    assert len(connections) == 2


async def test_an_idle_connection_the_server_closed_is_not_reused() -> None:
    """The server closes each connection after answering but says keep-alive: once the
    close has arrived, the next request opens a new connection."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(ok(b"{}"))
        await w.drain()
        return False

    async with raw_server(handler) as (host, port, seen, connections):
        pool = Pool(2)
        for _ in range(3):
            answer = await pool.request(("http", host, port), request_bytes())
            assert answer.status == 200
            await asyncio.sleep(0.05)  # let the close arrive
        pool.close()
    assert len(seen) == 3
    assert len(connections) == 3


@pytest.mark.parametrize("reused", [False, True])
async def test_a_request_the_server_dropped_is_a_failure_and_never_sent_again(
    reused: bool,
) -> None:
    """The server reads the request and closes without answering, on a new or on a
    kept-alive connection: a ``closed`` failure, and the server saw the request once
    (the caller retries and counts the attempt; the client never resends)."""

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        if b"drop" in req:
            return False
        w.write(ok(b"{}"))
        return True

    async with raw_server(handler) as (host, port, seen, connections):
        pool = Pool(2)
        if reused:
            assert (await pool.request(("http", host, port), request_bytes())).status == 200
        with pytest.raises(HTTPFailure) as failure:
            await pool.request(("http", host, port), request_bytes(body=b'"drop"'))
        pool.close()
    assert failure.value.kind == "closed"
    assert [b"drop" in request for request in seen] == [*([False] if reused else []), True]
    assert len(connections) == 1


async def test_half_an_answer_then_close_is_a_failure() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial":')
        return False

    async with raw_server(handler) as (host, port, _seen, _connections):
        pool = Pool(2)
        with pytest.raises(HTTPFailure) as failure:
            await pool.request(("http", host, port), request_bytes())
        pool.close()
    assert failure.value.kind == "closed"


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nX: " + b"y" * (MAX_HEAD + 10),
    ],
)
async def test_what_is_not_http_is_a_protocol_failure(answer: bytes) -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(answer)
        await w.drain()
        await asyncio.sleep(1.0)
        return False

    async with raw_server(handler) as (host, port, _seen, _connections):
        pool = Pool(2, read_timeout=5.0)
        with pytest.raises(HTTPFailure) as failure:
            await pool.request(("http", host, port), request_bytes())
        pool.close()
    assert failure.value.kind == "protocol"


async def test_read_timeout_counts_silence_not_total_time() -> None:
    """Bytes every 0.1 s keep a 0.3 s read timeout from firing; 0.5 s of silence fires it."""
    body = b'{"slow": true}'

    async def drip(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for byte in body:
            await asyncio.sleep(0.1)
            w.write(bytes([byte]))
        return True

    async def silent(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        await asyncio.sleep(0.5)
        return False

    async with raw_server(drip) as (host, port, _, _c):
        pool = Pool(2, read_timeout=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await pool.request(("http", host, port), request_bytes())
        assert answer.body == body
        assert loop.time() - started > 1.0  # longer in all than the timeout
        pool.close()
    async with raw_server(silent) as (host, port, _, _c):
        pool = Pool(2, read_timeout=0.3)
        with pytest.raises(HTTPFailure) as failure:
            await pool.request(("http", host, port), request_bytes())
        pool.close()
    assert failure.value.kind == "timeout"


async def test_refused_connection_is_a_connect_failure() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    pool = Pool(1, connect_timeout=2.0)
    with pytest.raises(HTTPFailure) as failure:
        await pool.request(("http", "127.0.0.1", port), request_bytes())
    assert failure.value.kind == "connect"
    assert "Refused" in str(failure.value) or "refused" in str(failure.value)


async def test_the_pool_never_opens_more_than_its_limit() -> None:
    open_now = 0
    most = 0

    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        await asyncio.sleep(0.02)
        w.write(ok(b"{}"))
        return True

    async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            while (request := await read_request(reader)) is not None:
                await handler(reader, writer, request)
        finally:
            open_now -= 1
            writer.close()

    server = await asyncio.start_server(counting, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pool = Pool(3)
    answers = await asyncio.gather(
        *(pool.request(("http", "127.0.0.1", port), request_bytes()) for _ in range(20))
    )
    pool.close()
    server.close()
    assert [a.status for a in answers] == [200] * 20
    assert most == 3


async def test_a_cancelled_request_does_not_leave_its_connection_in_the_pool() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        if len(seen) == 1:
            await asyncio.sleep(0.5)
        w.write(ok(b'{"n": %d}' % len(seen)))
        return True

    async with raw_server(handler) as (host, port, seen, connections):
        pool = Pool(1)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await pool.request(("http", host, port), request_bytes())
        answer = await pool.request(("http", host, port), request_bytes())
        pool.close()
    assert json.loads(answer.body) == {"n": 2}  # not the late answer to the first request
    assert len(connections) == 2


async def test_transport_headers_query_auth_and_redirects() -> None:
    async def handler(r: asyncio.StreamReader, w: asyncio.StreamWriter, req: bytes) -> bool:
        if b"/moved" in req.split(b"\r\n", 1)[0]:
            w.write(
                b"HTTP/1.1 301 Moved\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n"
            )
        else:
            w.write(ok(b'{"ok": true}'))
        return True

    async with raw_server(handler) as (host, port, seen, _connections):
        transport = Transport(
            [f"http://user:pa%20ss@{host}:{port}/base?v=1"],
            headers={"Authorization": "Bearer k", "X-Extra": "1"},
            timeout=2.0,
        )
        await transport.start()
        reply = await transport.request("GET", "/q", params={"text": "a b&c"})
        with pytest.raises(TransportError) as redirect:
            await transport.request("POST", "/moved", json_body={"x": "é"})
        await transport.aclose()
    assert reply.json() == {"ok": True}
    get, post = seen[0].decode(), seen[1].decode("utf-8")
    assert get.startswith("GET /base/q?v=1&text=a+b%26c HTTP/1.1\r\n")
    assert f"Host: {host}:{port}\r\n" in get
    assert "Authorization: Basic dXNlcjpwYSBzcw==\r\n" in get  # userinfo wins, as in httpx
    assert "Bearer" not in get
    assert "X-Extra: 1\r\n" in get
    assert post.endswith('{"x":"é"}')
    assert "Content-Type: application/json\r\n" in post
    assert (redirect.value.status, redirect.value.retryable) == (301, False)
    assert "redirected to http://elsewhere/" in redirect.value.message
