"""The protocol every model backend implements.

A backend turns a :class:`~tunegate.data.Case` into a JSON-serialisable request
(``render``), and sends a request (``send``). The runner owns scheduling,
concurrency, retries, timeouts and caching; a backend only speaks its protocol.
Requests never contain secrets: credentials are added inside ``send``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol, runtime_checkable

from tunegate.data import Case


@dataclass
class Completion:
    """What a model answered for one request."""

    text: str | None
    output: Any = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class TransportError(Exception):
    """A request failed before a usable answer arrived.

    ``retryable`` marks failures worth another attempt (429, 5xx, timeouts,
    connection errors, malformed bodies); ``retry_after`` is the server's
    ``Retry-After`` in seconds when it sent one; ``fatal`` means no other
    request to this model can succeed either (bad credentials, unknown model),
    so the runner stops sending. ``kind`` is one of ``rate_limit``, ``server``,
    ``timeout``, ``connection``, ``malformed``, ``client``, ``auth``, ``model``.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        kind: str = "client",
        retry_after: float | None = None,
        status: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.kind = kind
        self.retry_after = retry_after
        self.status = status
        self.fatal = fatal
        self.attempts = 1


class Backend(Protocol):
    """A model the runner can query.

    ``timeout`` is seconds per request (None for none); ``max_retries`` None means
    the runner's retry policy decides. ``version`` (the config's ``version:``) enters
    the cache identity. ``warnings`` are said about the model's config when it is
    built; ``tokenizer_name`` names the tokenizer of a local model (None otherwise).
    :class:`BackendDefaults` gives every optional member its default.
    """

    name: str
    concurrency: int
    timeout: float | None
    max_retries: int | None
    version: str | None
    warnings: list[str]

    @property
    def tokenizer_name(self) -> str | None:
        """The tokenizer a local model counts tokens with; None for remote models."""
        ...

    def replica_stats(self) -> dict[str, dict[str, Any]]:
        """Per replica (by URL): requests, errors, latency; empty without replicas."""
        ...

    async def start(self) -> None:
        """Open connections or load weights; called once per run before any request."""
        ...

    def identity(self) -> dict[str, Any]:
        """What makes two answers comparable: endpoint and model, never secrets."""
        ...

    def render(self, case: Case) -> dict[str, Any]:
        """The request for ``case``: JSON-serialisable, deterministic, no secrets."""
        ...

    async def send(self, request: dict[str, Any]) -> Completion:
        """Send one request; raise :class:`TransportError` on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def render_request(backend: Backend, case: Case) -> dict[str, Any]:
    """``backend.render(case)``; a template or case that cannot be rendered is a
    :class:`~tunegate.errors.ConfigError` naming the model and the case (never a
    traceback). Used by the runner and by ``tunegate validate``."""
    from tunegate.errors import ConfigError, TunegateError
    from tunegate.secrets import redact

    try:
        return backend.render(case)
    except TunegateError:
        raise
    except Exception as exc:
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        from tunegate.templates import PROMPT_NAMES

        names = ", ".join([*PROMPT_NAMES, *sorted(case.metadata)])
        raise ConfigError(
            f"models.{backend.name}: the request for case {case.id!r} cannot be rendered: "
            f"{redact(str(detail))} (a template can use: {names})"
        ) from None


_CANONICAL = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
).encode


def cache_key(identity: dict[str, Any], request: dict[str, Any]) -> str:
    """SHA-256 of the backend identity and the rendered request: of the canonical JSON
    (sorted keys, no spaces, UTF-8) of ``{"identity": identity, "request": request}``."""
    return cache_keyer(identity)(request)


def cache_keyer(identity: dict[str, Any]) -> Callable[[dict[str, Any]], str]:
    """:func:`cache_key` for one backend: the identity's JSON is encoded once, and each
    request's JSON is placed after it (sorted keys put ``identity`` before ``request``,
    so the text hashed is the same)."""
    head = '{"identity":' + _CANONICAL(identity) + ',"request":'

    def key(request: dict[str, Any]) -> str:
        return hashlib.sha256((head + _CANONICAL(request) + "}").encode("utf-8")).hexdigest()

    return key


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@runtime_checkable
class BatchBackend(Protocol):
    """A backend that also answers several requests in one call (local models).

    The runner groups up to ``batch_size`` requests and calls ``send_batch``; the
    result holds one :class:`Completion` or :class:`TransportError` per request.
    Only these two members are checked at run time (``isinstance``).
    """

    batch_size: int

    async def send_batch(self, requests: list[dict[str, Any]]) -> list[Completion | TransportError]:
        """Answer ``requests`` in order."""
        ...


@runtime_checkable
class BatchOrder(Protocol):
    """A :class:`BatchBackend` that says in which order its requests batch best.

    Local models pad every sequence of a batch to the longest: the runner asks once,
    before the first batch, and sends the requests in this order (shortest first, for
    a language model), so that each batch holds sequences of about the same length.
    Answers are kept per case: the order changes nothing else.
    """

    async def batch_order(self, requests: list[dict[str, Any]]) -> list[int]:
        """A permutation of ``range(len(requests))``."""
        ...


class BackendDefaults:
    """The optional members of :class:`Backend` with their defaults (a base class)."""

    timeout: float | None = None
    max_retries: int | None = None
    version: str | None = None
    tokenizer_name: str | None = None

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def replica_stats(self) -> dict[str, dict[str, Any]]:
        """No replicas to report on."""
        return {}
