"""Limits on parsed values (a JSON record, a YAML config): how deep they nest, whether their
text is valid Unicode, whether their numbers are finite; and parsing JSON text into a
:class:`JsonProblem` instead of ``ValueError`` / ``RecursionError``.

Why: a value that parses can still break the run later. A string holding a lone UTF-16
surrogate (``"\\ud800"`` in JSON) cannot be encoded as UTF-8, so sending it to a model or
storing it fails; a value nested hundreds of levels deep exhausts Python's recursion limit
in whatever walks it next (the JSON encoder, a template, pydantic). Both are refused when
the file is read, naming the file, the line and the key.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

#: How deep lists and mappings may nest in a data record or a config file.
MAX_DEPTH = 100
#: The longest integer (in digits) that is read; Python's own limit on converting text to
#: an integer (CPython's default; ``sys.get_int_max_str_digits``).
MAX_DIGITS = 4300

_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text a surrogate can only come from an escape: \uD800-\uDFFF.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]|[0-9]+', re.DOTALL)


class JsonProblem(ValueError):
    """Text that is not JSON tunegate reads; ``line`` is where (1-based), when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _key(path: str, part: object) -> str:
    """``path.part`` (a mapping's key); a list's items are ``path[i]``."""
    # A key holding a surrogate is shown escaped: the message must be printable.
    name = str(part).encode("utf-8", "backslashreplace").decode("utf-8")
    return f"{path}.{name}" if path else name


def _surrogate_text(text: str) -> str:
    found = _SURROGATE.search(text)
    code = ord(found.group()) if found else 0
    return f"holds an unpaired surrogate (\\u{code:04x}): not valid Unicode text"


def value_problem(value: Any, *, finite: bool = False) -> tuple[str, str] | None:
    """The first problem inside ``value``: ``(key, message)``, the key written like
    ``messages[0].content`` (empty for the value itself); None when there is none.

    Checks strings (and keys) holding a lone surrogate, nesting deeper than
    :data:`MAX_DEPTH` (the key is then the outermost one, not a hundred levels of it) and,
    with ``finite``, NaN and infinite floats. Iterative: any depth is walked without
    recursion.
    """
    stack: list[tuple[Any, str, str, int]] = [(value, "", "", 0)]
    while stack:
        item, path, top, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return path, _surrogate_text(item)
        elif isinstance(item, float):
            if finite and not math.isfinite(item):
                shown = "nan" if math.isnan(item) else ("inf" if item > 0 else "-inf")
                return path, f"is not a finite number ({shown})"
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return top, f"is nested more than {MAX_DEPTH} levels deep"
            if isinstance(item, list):
                for i, sub in enumerate(item):
                    where = f"{path}[{i}]"
                    stack.append((sub, where, top or where, depth + 1))
                continue
            for key, sub in item.items():
                where = _key(path, key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    return where, "is a key that " + _surrogate_text(key)
                stack.append((sub, where, top or where, depth + 1))
    return None


def may_have_problem(text: str) -> bool:
    """False when JSON ``text`` surely parses into a value without a :func:`value_problem`
    (no surrogate escape, fewer brackets than :data:`MAX_DEPTH`): a cheap test that spares
    walking every record."""
    return bool(text.count("[") + text.count("{") > MAX_DEPTH or _SURROGATE_ESCAPE.search(text))


def _line_of(text: str, *, depth_over: int = 0, digits_over: int = 0) -> int | None:
    """The line of JSON ``text`` where it first nests deeper than ``depth_over`` or holds a
    number longer than ``digits_over`` digits (strings skipped), or None."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark[0] in "[{":
            depth += 1
            if depth_over and depth > depth_over:
                return text.count("\n", 0, token.start()) + 1
        elif mark[0] in "]}":
            depth -= 1
        elif digits_over and mark[0] != '"' and len(mark) > digits_over:
            return text.count("\n", 0, token.start()) + 1
    return None


def parse_json(text: str) -> Any:
    """``json.loads(text)``, with every failure a :class:`JsonProblem` (invalid JSON, an
    integer longer than :data:`MAX_DIGITS` digits, nesting too deep for the parser)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"invalid JSON ({exc.msg} at column {exc.colno})", exc.lineno) from None
    except RecursionError:
        line = _line_of(text, depth_over=MAX_DEPTH)
        raise JsonProblem(f"nested more than {MAX_DEPTH} levels deep", line) from None
    except ValueError:  # int("9" * 5000): Python's limit on converting text to an integer
        digits = sys.get_int_max_str_digits() or MAX_DIGITS
        line = _line_of(text, digits_over=digits)
        raise JsonProblem(f"a number longer than {digits:,} digits", line) from None
