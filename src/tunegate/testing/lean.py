"""A lean OpenAI-compatible chat endpoint: a bare ASGI app (no FastAPI) for throughput
benchmarks, where the server must not be what limits the clients measured.

The FastAPI app (:func:`tunegate.testing.apps.openai_app`) spends about 0.35 ms of CPU
per request in its middleware stack; on two cores shared with the client, that caps
every client below the concurrency / latency limit at high concurrency. This app
answers ``POST /v1/chat/completions`` with the same toy model and the same JSON
(:func:`~tunegate.testing.apps.chat_completion_body`) after ``latency_ms``, and 404
to anything else. No faults, no request log: the FastAPI app is the one for tests of
behaviour.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from tunegate.testing.apps import chat_completion_body
from tunegate.testing.toy_model import Answer, sentiment_answer

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CHAT_PATH = "/v1/chat/completions"


def lean_openai_app(
    answer: Answer = sentiment_answer, latency_ms: float = 0.0, *, model: str = "toy"
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app (see the module docstring)."""
    ids = itertools.count(1)
    delay = latency_ms / 1000.0

    async def reply(send: Send, status: int, document: Any) -> None:
        payload = json.dumps(document).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(payload)),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["method"] != "POST" or scope["path"] != CHAT_PATH:
            await reply(send, 404, {"error": {"message": f"no route {scope['path']}"}})
            return
        try:
            body = json.loads(b"".join(chunks))
            document = chat_completion_body(body, answer, f"chatcmpl-{next(ids):06d}", model)
        except (ValueError, KeyError, TypeError) as exc:
            await reply(send, 400, {"error": {"message": f"bad request: {exc}"}})
            return
        if delay:
            await asyncio.sleep(delay)
        await reply(send, 200, document)

    return app
