"""Secrets come from environment variables and never leave memory.

Backends resolve ``${VAR}`` references and ``api_key_env`` here; every resolved
value is remembered so that :func:`redact` can scrub it from any error message
before it reaches the store, a log or a report, in every form tunegate sends it:
as is, percent-encoded (``%2B`` and ``+`` for a space), and inside the Basic
``Authorization`` header a URL's ``user:password`` becomes (the base64 of
``user:password``, and of the password alone at each of base64's three alignments).

:func:`redact` also scrubs secrets it has never been told about, by their shape:

- a URL's userinfo: ``https://user:KEY@host/v1`` → ``https://***@host/v1``;
- query-string values of secret-like keys (``api-key``, ``api_key``, ``key``,
  ``token``, ``access_token``, ``password``, ``secret``, ``sig``, ...):
  ``?api-key=KEY&x=1`` → ``?api-key=***&x=1``;
- header values of secret-like headers however they are printed
  (``Authorization: Bearer KEY``, ``'api-key': 'KEY'``, ``x-api-key=KEY``), but not
  the words of a config key, a path or a ``module:function`` reference
  (``models.x.headers.Authorization: environment variable V is not set``,
  ``/etc/passwd:main``, ``token:score`` stay as they are);
- ``Bearer``/``Basic`` credentials anywhere (``Bearer abc``; a Basic credential looks
  like base64, so ``basic authentication`` is left alone), and key-like tokens
  (``sk-...``, ``hf_...``, also glued to a word: ``xsk-AB12...``).

Text that is cut for a message is redacted *before* it is cut (:func:`clip`): a secret
across the cut would no longer be recognised, and a cut never ends with four or
more characters of a remembered secret.

Every exception text that can echo a URL or a header (httpx, aiohttp, the
openai SDK, ``urllib``) goes through :func:`redact` before it is stored, shown
or raised again; :func:`safe_error` is the one-call form for exceptions.
"""

from __future__ import annotations

import os
import re
from base64 import b64encode
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

from tunegate.errors import BackendError

MIN_SECRET = 4
"""Values shorter than this are not remembered (they would scrub ordinary words)."""
MIN_FRAGMENT = 4
"""A cut never ends with this many or more characters of a remembered secret."""
_MIN_B64_CORE = 6
_CLIP_MARGIN = 4096  # characters redacted beyond a cut, at least

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Key-like tokens that servers sometimes echo back in error messages (checked by _key_like).
_KEY_LIKE = re.compile(r"(sk|pk|rk|hf|key)([-_])([A-Za-z0-9_\-*]{5,})")
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
# Header-ish "name: value" / "name=value" / "'name': 'value'" pairs. The name starts a
# word that is not part of a dotted config key, a path or a hyphenated word; a colon
# is a header's only when a space or a quote follows it (``module:function``,
# ``path:line`` and ``host:port`` are not headers).
_NAME = rf"(?:[a-z0-9]+-)*(?:{_SECRET_NAMES}|x-[a-z0-9-]*(?:key|token|secret))"
_HEADER = re.compile(
    rf"(?i)((?<![\w.\-/\\])[\"']?{_NAME}(?:[\"']\s*[:=]\s*[\"']?|\s*=\s*[\"']?|\s*:\s*[\"']|\s*:\s+))"
    r"((?:bearer|basic|token)\s+)?(?!\*\*\*)([^\s\"',;}&]+)"
)
# Words that follow "Bearer" in prose and in WWW-Authenticate, not credentials.
_BEARER_WORDS = (
    r"token|tokens|auth\w*|scheme|header|credentials?|realm|error|required|missing|is|was"
    r"|or|and|not|expected|must|in|the|a|an"
)
_BEARER = re.compile(rf"(?i)\b(bearer)\s+(?!(?:{_BEARER_WORDS})\b)([A-Za-z0-9._~+/=\-]+)")
# A Basic credential is base64: not a lower-case word ("basic authentication").
_BASIC = re.compile(r"\b([Bb]asic|BASIC)\s+(?=[a-z]*[A-Z0-9+/=])([A-Za-z0-9+/]{4,}={0,2})(?![\w])")


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
    if len(value) < MIN_SECRET:
        return
    _known.update(form for form in (value, quote(value, safe=""), quote(value), quote_plus(value)))


def b64_cores(secret: bytes) -> list[str]:
    """The base64 characters that depend on ``secret`` alone, at each of the three
    alignments it can have inside a longer base64 text (``user:password``)."""
    cores = []
    for shift in range(3):
        encoded = b64encode(b"\0" * shift + secret).decode("ascii")
        start = -(-8 * shift // 6)  # the first character holding no padding bits
        end = 8 * (shift + len(secret)) // 6  # the last one holding only secret bits
        cores.append(encoded[start:end])
    return cores


def remember_basic(user: str, password: str) -> None:
    """Register the ``Authorization: Basic`` credential of ``user:password``: its base64
    (with and without padding) and the base64 of the password alone, at any alignment."""
    token = b64encode(f"{user}:{password}".encode()).decode("ascii")
    for form in (token, token.rstrip("=")):
        if len(form) >= MIN_SECRET:
            _known.add(form)
    secret = password or user  # a bare token as user name is common too
    for core in b64_cores(secret.encode()):
        if len(core) >= _MIN_B64_CORE:
            _known.add(core)


def remember_url(url: str) -> None:
    """Register the secrets a URL carries: its userinfo (also as the Basic credential
    sent for it) and secret-like query values (as written and decoded)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return
    for value in (parts.username, parts.password):
        if value:
            remember(unquote(value))
            remember(value)
    if parts.username is not None or parts.password is not None:
        remember_basic(unquote(parts.username or ""), unquote(parts.password or ""))
    names = re.compile(rf"(?i)^(?:{_SECRET_NAMES}|code)$")
    for pair in re.split(r"[&;]", parts.query):
        name, sep, value = pair.partition("=")
        if sep and value and names.match(unquote_plus(name)):
            remember(value)
            remember(unquote_plus(value))
            remember(unquote(value))


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


def _key_like(match: re.Match[str]) -> str:
    """``sk-***`` for a key-like token, the match unchanged for an ordinary word."""
    start, body = match.start(), match.group(3)
    before = match.string[start - 1] if start else ""
    has_digit = any(c.isdigit() for c in body)
    has_upper = any(c.isupper() for c in body)
    if before.isalnum():  # glued to a word ("xsk-..."): only a token that looks random
        is_key = has_digit and has_upper and match.group(1) != "key"
    else:
        is_key = has_digit or has_upper or "*" in body or len(body) >= 24
    return f"{match.group(1)}{match.group(2)}***" if is_key else match.group(0)


def redact(text: str) -> str:
    """``text`` with every known secret, URL credential, secret-like query value, secret
    header value and key-like token replaced by ``***``."""
    if not text:
        return text
    text = redact_urls(text)
    text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2) or ''}***", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} ***", text)
    text = _BASIC.sub(lambda m: f"{m.group(1)} ***", text)
    return _KEY_LIKE.sub(_key_like, text)


def mask_edge(text: str) -> str:
    """``text`` without a fragment (:data:`MIN_FRAGMENT` characters or more) of a
    remembered secret at its end, where a cut may have left one."""
    longest = 0
    for value in _known:
        for size in range(min(len(value) - 1, len(text)), MIN_FRAGMENT - 1, -1):
            if size > longest and text.endswith(value[:size]):
                longest = size
                break
    return text[:-longest] + "***" if longest else text


def clip(text: str, limit: int) -> str:
    """``text`` redacted, then cut to ``limit`` characters: never a secret, nor the start
    of a remembered one at the cut (which redacting after cutting would let through).

    Only a window of ``text`` is redacted (a huge error body costs no more than a short
    one), widened until the redacted window reaches well past ``limit``: whatever the
    window's edge cuts lies far beyond the characters kept."""
    size = limit + _CLIP_MARGIN
    while True:
        redacted = redact(text[:size])
        if size >= len(text) or len(redacted) >= limit + _CLIP_MARGIN:
            return mask_edge(redacted[:limit])
        size *= 4


def safe_error(exc: BaseException) -> str:
    """``"ExceptionType: message"`` of ``exc`` with every secret scrubbed (see :func:`redact`).

    httpx, aiohttp and the openai SDK put the request URL (userinfo and query string
    included) or headers into some messages; this is the text to store or show."""
    message = str(exc)
    return redact(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)
