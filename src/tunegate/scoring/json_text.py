"""Reading JSON out of a model's answer: the whole answer or its first Markdown code
fence, with ``NaN``/``Infinity`` refused (see :func:`parse_json`)."""

from __future__ import annotations

import json
import re
from typing import Any

from tunegate.scoring.base import NO_ANSWER

_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_JSON_START = re.compile(r"[\[{]")
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")
_DETAIL_CHARS = 200
_UNSET = object()


def _clip(text: str, limit: int = _DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError as exc:  # NaN / Infinity
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


def parse_json(text: str | None) -> tuple[Any, str | None]:
    """Parse a model's JSON answer: ``(value, None)`` on success, ``(None, error)`` if not.

    Accepted: the whole answer (surrounding whitespace and a byte-order mark are
    ignored), or else the content of the first Markdown code fence that parses
    (```` ```json ```` or a bare ```` ``` ````; an unclosed fence runs to the end).
    ``NaN`` and ``Infinity`` are rejected (they are not JSON). A successful parse of
    ``null`` returns ``(None, None)``: test the error, not the value.
    """
    if text is None:
        return None, NO_ANSWER
    stripped = text.strip().lstrip("\ufeff").strip()
    if not stripped:
        return None, "empty output (expected JSON)"
    value, error = _loads(stripped)
    if error is None:
        return value, None
    for fence in _FENCE.finditer(stripped):
        fenced_value, fenced_error = _loads(fence.group(1).strip())
        if fenced_error is None:
            return fenced_value, None
    return None, error
