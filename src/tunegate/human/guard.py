"""What the annotation app applies to every request and response, before any routing.

* A request body is read here, in chunks, up to :data:`MAX_BODY` bytes: a larger one is
  refused with 413 as soon as it is declared (``Content-Length``) or, when the length is
  absent, chunked or false, as soon as that many bytes have arrived; the rest is never
  read into memory and the connection is closed.
* Every response carries the app's security headers: pages, JSON answers, 403, 404, 413,
  FastAPI's 422 and a 500 alike.
* An unexpected exception answers 500 and logs one line, without the request's path (it
  holds the annotator's token) and without a traceback (``DEBUG`` adds it).

Plain ASGI (no framework), so that nothing reaches the app unchecked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

#: The largest request body the app reads (a vote or a comment is well under 1 KiB;
#: a comment is kept to 10,000 characters).
MAX_BODY = 64 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("tunegate.human.app")


class Guard:
    """ASGI middleware: body limit, security headers, no traceback to the client."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str], max_body: int = MAX_BODY) -> None:
        self.app = app
        self.max_body = max_body
        self.headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_guarded(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                have = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await self._refuse(send_guarded, 413 if declared.isdigit() else 400)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._refuse(send_guarded, 413)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body: list[bytes] | None = [b"".join(chunks)]

        async def replay() -> Message:
            nonlocal body
            if body is not None:
                message, body = {"type": "http.request", "body": body[0]}, None
                return message
            return await receive()

        try:
            await self.app(scope, replay, send_guarded)
        except Exception as exc:
            _log.error(
                "annotation app: %s %s answered 500: %s",
                scope.get("method", "?"),
                _route(str(scope.get("path", ""))),
                type(exc).__name__,
            )
            _log.debug("annotation app: the exception", exc_info=True)
            if not started:
                await self._refuse(send_guarded, 500)

    async def _refuse(self, send: Send, status: int) -> None:
        text = {
            400: "Bad Request: an invalid Content-Length",
            413: f"Payload Too Large: a request body may hold {self.max_body // 1024} KiB",
            500: "Internal Server Error",
        }[status].encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(text)).encode()),
                    (b"connection", b"close"),  # the rest of the body is never read
                ],
            }
        )
        await send({"type": "http.response.body", "body": text})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1").strip())
    return None


def _route(path: str) -> str:
    """``/a/<token>/vote`` as ``/a/***/vote``: the token never reaches the log."""
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "a":
        parts[2] = "***"
    return "/".join(parts)
