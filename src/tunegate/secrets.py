"""Secrets come from environment variables and never leave memory.

Backends resolve ``${VAR}`` references and ``api_key_env`` here; every resolved
value is remembered so that :func:`redact` can scrub it from any error message
before it reaches the store, a log or a report.

:func:`redact` also scrubs secrets it has never been told about, by their shape:

- a URL's userinfo: ``https://user:KEY@host/v1`` → ``https://***@host/v1``;
- query-string values of secret-like keys (``api-key``, ``api_key``, ``key``,
  ``token``, ``access_token``, ``password``, ``secret``, ``sig``, ...):
  ``?api-key=KEY&x=1`` → ``?api-key=***&x=1``;
- header values of secret-like headers however they are printed
  (``Authorization: Bearer KEY``, ``'api-key': 'KEY'``, ``x-api-key=KEY``);
- ``Bearer``/``Basic`` credentials anywhere, and key-like tokens (``sk-...``).

Every exception text that can echo a URL or a header (httpx, aiohttp, the
openai SDK, ``urllib``) goes through :func:`redact` before it is stored, shown
or raised again; :func:`safe_error` is the one-call form for exceptions.
"""

from __future__ import annotations

import os
import re
from typing import Any

from tunegate.errors import BackendError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Key-like tokens that servers sometimes echo back in error messages.
_KEY_LIKE = re.compile(r"\b(sk|pk|rk|hf|key)[-_][A-Za-z0-9_\-*]{8,}")
_known: set[str] = set()

_SECRET_NAMES = (
    r"api[-_]?key|apikey|x-api-key|key|token|access[-_]?token|refresh[-_]?token|id[-_]?token"
    r"|auth|authorization|password|passwd|pwd|secret|client[-_]?secret|sig|signature"
    r"|x-amz-signature|x-amz-security-token|session[-_]?token"
)
# scheme://userinfo@ — the whole userinfo goes (a bare token as user name is common too).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/?#@'\"<>]+)@")
# ?key=value / &key=value (also percent-encoded &amp; in HTML and ; separators).
# (``code`` only in a query string: an OAuth code there, a status code in a message.)
_QUERY = re.compile(rf"(?i)([?&;](?:amp;)?(?:{_SECRET_NAMES}|code)=)([^&#;\s'\"<>]+)")
# Header-ish "name: value" / "name=value" / "'name': 'value'" pairs.
_HEADER = re.compile(
    rf"(?i)([\"']?\b(?:{_SECRET_NAMES}|x-[a-z0-9-]*(?:key|token|secret))[\"']?\s*[:=]\s*[\"']?)"
    r"((?:bearer|basic|token)\s+)?(?!\*\*\*)([^\s\"',;}&]+)"
)
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/=\-]{6,})")


def read_env(var: str, key: str) -> str:
    """The value of environment variable ``var``; ``key`` names the config key for errors."""
    value = os.environ.get(var)
    if not value:
        raise BackendError(f"{key}: environment variable {var} is not set")
    remember(value)
    return value


def resolve_refs(template: str, key: str) -> str:
    """Replace every ``${VAR}`` in ``template`` by the variable's value."""
    return _ENV_REF.sub(lambda m: read_env(m.group(1), key), template)


def remember(value: str) -> None:
    """Register a secret value so that :func:`redact` scrubs it (also percent-encoded)."""
    if len(value) >= 4:
        _known.add(value)
        from urllib.parse import quote

        encoded = quote(value, safe="")
        if encoded != value:
            _known.add(encoded)


def remember_url(url: str) -> None:
    """Register the secrets a URL carries: its userinfo and secret-like query values."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return
    for value in (parts.username, parts.password):
        if value:
            remember(unquote(value))
            remember(value)
    names = re.compile(rf"(?i)^(?:{_SECRET_NAMES}|code)$")
    for name, value in parse_qsl(parts.query, keep_blank_values=False):
        if names.match(name):
            remember(value)


def remember_urls_in(value: Any) -> None:
    """Register the secrets of every URL found in a nested config structure."""
    if isinstance(value, str):
        if "://" in value:
            remember_url(value)
    elif isinstance(value, dict):
        for item in value.values():
            remember_urls_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            remember_urls_in(item)


def redact_known(text: str) -> str:
    """``text`` with only the remembered secret values replaced (cheap; safe on model
    inputs and answers, whose ``key: value`` pairs are not secrets)."""
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


def redact_urls(text: str) -> str:
    """``text`` with remembered secrets, URL userinfo and secret-like query values scrubbed."""
    return _QUERY.sub(r"\1***", _USERINFO.sub(r"\1***@", redact_known(text)))


def redact(text: str) -> str:
    """``text`` with every known secret, URL credential, secret-like query value, secret
    header value and key-like token replaced by ``***``."""
    if not text:
        return text
    text = redact_urls(text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}***", text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)} ***", text)
    return _KEY_LIKE.sub(lambda m: f"{m.group(1)}-***", text)


def safe_error(exc: BaseException) -> str:
    """``"ExceptionType: message"`` of ``exc`` with every secret scrubbed (see :func:`redact`).

    httpx, aiohttp and the openai SDK put the request URL (userinfo and query string
    included) or headers into some messages; this is the text to store or show."""
    message = str(exc)
    return redact(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
