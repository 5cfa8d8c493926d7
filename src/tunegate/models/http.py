"""A custom HTTP model service, e.g. ``POST /classify {"text": ...} -> {"label": ...}``."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tunegate.config import HTTPModel
from tunegate.data import Case
from tunegate.models.answers import answer_at
from tunegate.models.base import BackendDefaults, Completion, TransportError
from tunegate.models.errors import http_status_error
from tunegate.models.prompting import render_template
from tunegate.models.registry import BuildContext
from tunegate.secrets import redact, resolve_refs


def render_body(body: Any, case: Case) -> Any:
    """``body`` with every string rendered as a template for ``case``."""
    if isinstance(body, str):
        return render_template(body, case)
    if isinstance(body, dict):
        return {k: render_body(v, case) for k, v in body.items()}
    if isinstance(body, list):
        return [render_body(v, case) for v in body]
    return body


class HTTPBackend(BackendDefaults):
    """Sends each case as a templated JSON body and reads the answer at a dotted path."""

    def __init__(self, name: str, config: HTTPModel) -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.concurrency = config.concurrency
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        headers = {
            h: resolve_refs(v, f"models.{self.name}.headers.{h}")
            for h, v in self.config.headers.items()
        }
        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self._client = httpx.AsyncClient(
            headers=headers, timeout=self.config.timeout, limits=limits
        )

    def identity(self) -> dict[str, Any]:
        return {"type": "http", "url": self.config.url, "response": self.config.response}

    def render(self, case: Case) -> dict[str, Any]:
        return {
            "method": self.config.method,
            "url": self.config.url,
            "body": render_body(self.config.body, case),
        }

    async def send(self, request: dict[str, Any]) -> Completion:
        if self._client is None:
            raise RuntimeError("start() was not called")
        body = request["body"]
        kwargs: dict[str, Any] = (
            {"params": body}
            if request["method"] == "GET" and isinstance(body, dict)
            else {"json": body}
        )
        try:
            response = await self._client.request(request["method"], request["url"], **kwargs)
        except httpx.TimeoutException:
            raise TransportError(
                f"timed out after {self.config.timeout:g} s", retryable=True, kind="timeout"
            ) from None
        except httpx.TransportError as exc:
            raise TransportError(
                redact(
                    f"cannot connect to {request['url']}: {type(exc).__name__}: {exc}".rstrip(": ")
                ),
                retryable=True,
                kind="connection",
            ) from None
        if response.status_code >= 400:
            raise http_status_error(response.status_code, response.text, response.headers)
        try:
            document = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = redact(response.text[:80])
            raise TransportError(
                f"malformed response: not JSON ({snippet!r})", retryable=True, kind="malformed"
            ) from None
        return answer_at(document, self.config.response, retryable=True)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def build(name: str, spec: HTTPModel, context: BuildContext) -> HTTPBackend:
    """The backend of a custom HTTP model (the suite does not change its request)."""
    return HTTPBackend(name, spec)
