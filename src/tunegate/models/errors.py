"""Transport errors from HTTP statuses and from the openai SDK's exceptions.

One place decides what a status means (retryable, fatal, its kind) and how long
``Retry-After`` / ``retry-after-ms`` ask to wait, for every HTTP backend and
transport. Messages are redacted: no secret reaches a stored error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tunegate.models.base import TransportError, parse_retry_after
from tunegate.secrets import clip, redact

if TYPE_CHECKING:
    import openai

#: Characters of a server's error text kept in a message (after redaction).
MAX_DETAIL = 300

#: Client statuses worth another attempt (besides every 5xx).
RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: ``Retry-After`` (seconds or HTTP date), else
    ``retry-after-ms``; None when it sent neither (or garbage)."""
    seconds = parse_retry_after(headers.get("retry-after"))
    if seconds is not None:
        return seconds
    ms = headers.get("retry-after-ms")
    if ms is None:
        return None
    try:
        value = float(ms) / 1000.0
    except ValueError:
        return None
    return max(0.0, value) if value == value else None  # NaN is no delay


def http_status_error(
    status: int, detail: str, headers: Mapping[str, str] | None = None
) -> TransportError:
    """The :class:`TransportError` for an HTTP error ``status``.

    401/403 are fatal auth errors and 404 a fatal client error (no other request to
    the model can succeed); 408/409/425/429 and 5xx are retryable, honouring the
    server's ``Retry-After``; any other 4xx fails this case only.
    """
    message = f"HTTP {status}: {clip(detail, MAX_DETAIL)}".rstrip(": ")  # redacted, then cut
    if status in (401, 403):
        return TransportError(message, retryable=False, status=status, kind="auth", fatal=True)
    if status == 404:
        return TransportError(message, retryable=False, status=status, kind="client", fatal=True)
    retryable = status in RETRYABLE_STATUS or status >= 500
    kind = "rate_limit" if status == 429 else "server" if status >= 500 else "client"
    return TransportError(
        message,
        retryable=retryable,
        retry_after=retry_after(headers or {}),
        status=status,
        kind=kind,
    )


def timeout_error(base_url: str, timeout: float | None) -> TransportError:
    """A request to ``base_url`` got no answer within ``timeout`` seconds."""
    after = f" after {timeout:g} s" if timeout else ""
    return TransportError(f"{base_url}: timed out{after}", retryable=True, kind="timeout")


def connection_error(base_url: str, cause: object) -> TransportError:
    """``base_url`` could not be reached (refused, reset, DNS)."""
    return TransportError(
        redact(f"cannot connect to {base_url}: {cause}"), retryable=True, kind="connection"
    )


def malformed_error(detail: str) -> TransportError:
    """The server answered, but not with what the protocol promises."""
    return TransportError(redact(f"malformed response: {detail}"), retryable=True, kind="malformed")


def sdk_error(exc: Exception, base_url: str, timeout: float | None) -> TransportError:
    """The :class:`TransportError` for what the openai SDK raised (secrets redacted)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return timeout_error(base_url, timeout)
    if isinstance(exc, openai.APIConnectionError):
        return connection_error(base_url, exc.__cause__ or exc)
    if isinstance(exc, openai.APIStatusError):
        return status_error(exc)
    if isinstance(exc, json.JSONDecodeError):  # the SDK lets a non-JSON body through
        return malformed_error(f"not JSON ({exc})")
    return malformed_error(str(exc))


def status_error(exc: openai.APIStatusError) -> TransportError:
    """The :class:`TransportError` for an SDK status exception (its message as detail)."""
    detail = exc.message if isinstance(exc.message, str) else str(exc)
    return http_status_error(exc.status_code, detail, exc.response.headers)
