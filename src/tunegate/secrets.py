"""Secrets come from environment variables and never leave memory.

Backends resolve ``${VAR}`` references and ``api_key_env`` here; every resolved
value is remembered so that :func:`redact` can scrub it from any error message
before it reaches the store, a log or a report.
"""

from __future__ import annotations

import os
import re

from tunegate.errors import BackendError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# Key-like tokens that servers sometimes echo back in error messages.
_KEY_LIKE = re.compile(r"\b(sk|pk|rk|hf|key)[-_][A-Za-z0-9_\-*]{8,}")
_known: set[str] = set()


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
    """Register a secret value so that :func:`redact` scrubs it."""
    if len(value) >= 4:
        _known.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and key-like token replaced by ``***``."""
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return _KEY_LIKE.sub(lambda m: f"{m.group(1)}-***", text)
