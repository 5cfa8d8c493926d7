"""A custom HTTP model service, e.g. ``POST /classify {"text": ...} -> {"label": ...}``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tunegate.config import HTTPModel
from tunegate.data import Case
from tunegate.models.answers import answer_at
from tunegate.models.base import BackendDefaults, Completion, TransportError
from tunegate.models.errors import http_status_error
from tunegate.models.prompting import render_template
from tunegate.models.registry import BuildContext
from tunegate.models.transport import Transport, raw_status_detail
from tunegate.secrets import clip, redact, remember_url, resolve_refs

if TYPE_CHECKING:
    import httpx


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
    """Sends each case as a templated JSON body and reads the answer at a dotted path.

    Requests go through the lean :class:`Transport` (spread over the replicas
    when ``url`` is a list), or through httpx with ``transport: sdk`` (first URL).
    """

    def __init__(self, name: str, config: HTTPModel) -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.urls = [config.url] if isinstance(config.url, str) else list(config.url)
        self.concurrency = config.effective_concurrency()
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self._client: httpx.AsyncClient | None = None
        self._transport: Transport | None = None

    async def start(self) -> None:
        for url in self.urls:  # its userinfo and query secrets, in every form they are sent
            remember_url(url)
        headers = {
            h: resolve_refs(v, f"models.{self.name}.headers.{h}")
            for h, v in self.config.headers.items()
        }
        if self.config.transport != "sdk":
            self._transport = Transport(
                self.urls,
                headers=headers,
                timeout=self.config.timeout,
                connections=self.concurrency,
                on_timeout=self._timed_out,
                status_detail=raw_status_detail,
            )
            await self._transport.start()
            return
        import httpx

        limits = httpx.Limits(
            max_connections=self.concurrency, max_keepalive_connections=self.concurrency
        )
        self._client = httpx.AsyncClient(
            headers=headers, timeout=self.config.timeout, limits=limits
        )

    def _timed_out(self, url: str, exc: BaseException | None) -> TransportError:
        return TransportError(
            f"timed out after {self.config.timeout:g} s", retryable=True, kind="timeout"
        )

    def identity(self) -> dict[str, Any]:
        url = self.urls[0] if len(self.urls) == 1 else sorted(self.urls)
        return {"type": "http", "url": url, "response": self.config.response}

    def render(self, case: Case) -> dict[str, Any]:
        return {
            "method": self.config.method,
            "url": self.identity()["url"],
            "body": render_body(self.config.body, case),
        }

    def replica_stats(self) -> dict[str, dict[str, Any]]:
        return self._transport.stats() if self._transport is not None else {}

    async def send(self, request: dict[str, Any]) -> Completion:
        body = request["body"]
        get = request["method"] == "GET" and isinstance(body, dict)
        if self._transport is not None:
            reply = await self._transport.request(
                request["method"], "", json_body=None if get else body, params=body if get else None
            )
            return answer_at(reply.json(), self.config.response, retryable=True)
        return await self._send_httpx(request["method"], self.urls[0], body, get)

    async def _send_httpx(self, method: str, url: str, body: Any, get: bool) -> Completion:
        import httpx

        if self._client is None:
            raise RuntimeError("start() was not called")
        kwargs: dict[str, Any] = {"params": body} if get else {"json": body}
        try:
            response = await self._client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise self._timed_out(url, None) from None
        except httpx.TransportError as exc:
            raise TransportError(
                redact(f"cannot connect to {url}: {type(exc).__name__}: {exc}".rstrip(": ")),
                retryable=True,
                kind="connection",
            ) from None
        if response.status_code >= 400:
            raise http_status_error(response.status_code, response.text, response.headers)
        try:
            document = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            snippet = clip(response.text, 80)
            raise TransportError(
                f"malformed response: not JSON ({snippet!r})", retryable=True, kind="malformed"
            ) from None
        return answer_at(document, self.config.response, retryable=True)

    async def aclose(self) -> None:
        if self._transport is not None:  # kept: its per-replica stats outlive the session
            await self._transport.aclose()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def build(name: str, spec: HTTPModel, context: BuildContext) -> HTTPBackend:
    """The backend of a custom HTTP model (the suite does not change its request)."""
    return HTTPBackend(name, spec)
