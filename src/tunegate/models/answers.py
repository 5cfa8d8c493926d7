"""Reading an answer out of a JSON reply (HTTP services, Python functions)."""

from __future__ import annotations

import json
from typing import Any

from tunegate.models.base import Completion, TransportError


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
