"""What every config model shares: strict frozen models, URL checks, env names, hints."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ConfigWarning(UserWarning):
    """A config that works but should be changed (a deprecated key spelling)."""


class _Strict(BaseModel):
    # allow_inf_nan=False: no float of the config may be NaN or infinite (a timeout of
    # .inf, a threshold of .nan); the loader also refuses them in free-form values.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, allow_inf_nan=False)


def _no_bool(value: Any) -> Any:
    """``true``/``false`` where a number is meant is a mistake, not 1 or 0."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "bool_not_number", "expected a number, not {value}", {"value": str(value).lower()}
        )
    return value


#: The largest integer the store (SQLite, signed 64 bits) holds.
INT64_MAX = 2**63 - 1

#: An integer of the config: a YAML ``true`` is refused, and it fits in 64 bits.
Int = Annotated[int, BeforeValidator(_no_bool), Field(ge=-INT64_MAX - 1, le=INT64_MAX)]
#: A float of the config: finite, and a YAML ``true`` is refused.
Float = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
#: A random seed: 0 to 2**63 - 1 (numpy refuses negative seeds; the store keeps 64 bits).
Seed = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=INT64_MAX)]


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
