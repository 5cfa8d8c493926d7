"""A custom HTTP model service, e.g. ``POST /classify {"text": ...} -> {"label": ...}``."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tunegate.config import HTTPModel
from tunegate.data import Case
from tunegate.models.base import Completion, TransportError, parse_retry_after
from tunegate.models.prompting import render_template
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


def extract(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``result.label``, ``choices.0.text``); KeyError if absent."""
    value = document
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif (
            isinstance(value, list)
            and part.lstrip("-").isdigit()
            and -len(value) <= int(part) < len(value)
        ):
            value = value[int(part)]
        else:
            raise KeyError(part)
    return value


def completion_from_value(value: Any) -> Completion:
    """A string answer stays text; structured answers are kept as output and as JSON text."""
    if isinstance(value, str):
        return Completion(text=value)
    if isinstance(value, dict | list):
        return Completion(text=json.dumps(value, ensure_ascii=False), output=value)
    if value is None:
        return Completion(text=None)
    return Completion(text=str(value), output=value)


def answer_at(document: Any, path: str, *, retryable: bool) -> Completion:
    """The answer at ``path`` in a JSON reply; a malformed-response error when it is absent."""
    try:
        value = extract(document, path)
    except KeyError:
        raise TransportError(
            f"malformed response: no {path!r} in {describe(document)}",
            retryable=retryable,
            kind="malformed",
        ) from None
    return completion_from_value(value)


def describe(document: Any) -> str:
    """A short description of a JSON document's shape for error messages."""
    if isinstance(document, dict):
        return "an object with keys " + ", ".join(repr(k) for k in list(document)[:8])
    return f"a JSON {type(document).__name__}"


def status_error(status: int, detail: str, retry_after_header: str | None) -> TransportError:
    """The :class:`TransportError` for an HTTP error status."""
    message = redact(f"HTTP {status}: {detail[:300]}".rstrip(": "))
    if status in (401, 403):
        return TransportError(message, retryable=False, status=status, kind="auth", fatal=True)
    if status == 404:
        return TransportError(message, retryable=False, status=status, kind="client", fatal=True)
    retryable = status in {408, 409, 425, 429} or status >= 500
    kind = "rate_limit" if status == 429 else "server" if status >= 500 else "client"
    return TransportError(
        message,
        retryable=retryable,
        retry_after=parse_retry_after(retry_after_header),
        status=status,
        kind=kind,
    )


class HTTPBackend:
    """Sends each case as a templated JSON body and reads the answer at a dotted path."""

    def __init__(self, name: str, config: HTTPModel) -> None:
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
            raise status_error(
                response.status_code, response.text, response.headers.get("retry-after")
            )
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
