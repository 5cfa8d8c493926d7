"""What every config model shares: strict frozen models, URL checks, env names, hints."""

from __future__ import annotations

import difflib
import re
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ConfigWarning(UserWarning):
    """A config that works but should be changed (a deprecated key spelling)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError("not a URL (expected http:// or https://)")
    return value.rstrip("/")


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(options)})"


def suggest(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)``, or `` (known: a, b)`` when nothing is close."""
    return _suggest(word, options)
