"""Request handling shared by the loopback apps: auth, faults, latency, OpenAI-shaped errors."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from tunegate.testing.faults import (
    GARBAGE_BODY,
    MALFORMED_BODY,
    NON_JSON_BODY,
    FaultPlan,
    RequestLog,
)
from tunegate.testing.live import (
    _drop_connection,
    _sleep,
)

# ---------------------------------------------------------------------------
# Shared request handling
# ---------------------------------------------------------------------------


def _error(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    """An error in OpenAI's JSON shape."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


class _BadRequest(Exception):
    pass


class _Handler:
    """Logging, authentication, latency and faults around an endpoint's answer."""

    def __init__(
        self,
        *,
        log: RequestLog,
        plan: FaultPlan,
        latency_ms: float,
        authorized: Callable[[Request], bool],
    ) -> None:
        self.log = log
        self.plan = plan
        self.latency_s = max(0.0, latency_ms) / 1000.0
        self.authorized = authorized
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._total = 0

    def _decide(self, text: str) -> str:
        with self._lock:
            self._seen[text] += 1
            self._total += 1
            seen, total = self._seen[text], self._total
        action = self.plan.action(text, seen)
        nth = self.plan.every_nth_500
        if action == "ok" and nth is not None and total % nth == 0:
            action = "500"
        return action

    async def __call__(
        self,
        request: Request,
        text_of: Callable[[Any], str] | None,
        respond: Callable[[Any], Response],
    ) -> Response:
        """Handle ``request``; ``text_of`` extracts the fault key (None: no faults)."""
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "json": None,
            "text": None,
            "action": None,
            "time": time.monotonic(),
            "finished": None,
        }
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client went away (killed) before sending its body
            return Response(status_code=499)
        self.log.request_started()
        try:
            return await self._answer(request, raw, text_of, respond, entry)
        finally:
            entry["finished"] = time.monotonic()
            self.log.request_finished()

    async def _answer(
        self,
        request: Request,
        raw: bytes,
        text_of: Callable[[Any], str] | None,
        respond: Callable[[Any], Response],
        entry: dict[str, Any],
    ) -> Response:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body, bad_json = None, True
        else:
            bad_json = False
        entry["json"] = body

        if not self.authorized(request):
            entry["action"] = "401"
            self.log.append(entry)
            return _error(
                401, "Incorrect or missing API key.", "invalid_request_error", "invalid_api_key"
            )
        try:
            if bad_json:
                raise _BadRequest("the request body is not valid JSON")
            text = text_of(body) if text_of is not None else None
        except _BadRequest as exc:
            entry["action"] = "400"
            self.log.append(entry)
            return _error(400, str(exc), "invalid_request_error")

        action = "ok" if text is None else self._decide(text)
        entry["text"], entry["action"] = text, action
        self.log.append(entry)

        if self.latency_s:
            await _sleep(self.latency_s, request)
        if action == "429":
            response = _error(
                429, "Rate limit reached (injected).", "requests", "rate_limit_exceeded"
            )
            response.headers["Retry-After"] = f"{self.plan.retry_after:g}"
            return response
        if action == "500":
            return _error(500, "The server had an error (injected).", "server_error")
        if action == "503":
            return _error(503, "The server is overloaded (injected).", "server_error")
        if action == "malformed":
            return Response(MALFORMED_BODY, status_code=200, media_type="application/json")
        if action == "garbage":
            return JSONResponse(GARBAGE_BODY)
        if action in ("disconnect", "reset"):
            await _drop_connection(request, reset=action == "reset")
            return Response(status_code=500)  # discarded: the connection is gone
        if action == "nonjson":
            return Response(NON_JSON_BODY, status_code=200, media_type="text/html")
        if action == "timeout":
            await _sleep(self.plan.hang_seconds, request)
        if action in ("wrongtype", "empty", "big"):
            return _altered(respond(body), action, self.plan.big_bytes)
        return respond(body)


def _altered(response: Response, action: str, big_bytes: int) -> Response:
    """The normal answer sent as text/plain, emptied of its choices, or padded."""
    if action == "wrongtype":
        return Response(bytes(response.body), status_code=200, media_type="text/plain")
    data = json.loads(bytes(response.body))
    if action == "empty":
        data = {**data, "choices": []} if "choices" in data else {}
        return JSONResponse(data)
    pad = " " * big_bytes
    for choice in data.get("choices", []):
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] += pad
        if isinstance(choice.get("text"), str):
            choice["text"] += pad
    if isinstance(data.get("label"), str):
        data["label"] += pad
    return JSONResponse(data)


def _bearer_check(key: str | None) -> Callable[[Request], bool]:
    def authorized(request: Request) -> bool:
        return key is None or request.headers.get("authorization") == f"Bearer {key}"

    return authorized


def _header_check(required: tuple[str, str] | None) -> Callable[[Request], bool]:
    def authorized(request: Request) -> bool:
        return required is None or request.headers.get(required[0]) == required[1]

    return authorized


def _new_app(title: str, log: RequestLog) -> FastAPI:
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.log = log
    return app
