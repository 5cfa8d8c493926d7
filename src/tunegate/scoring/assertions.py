"""Quick checks on a response, in the spirit of promptfoo's assertions.

Every check returns a :class:`~tunegate.scoring.base.Score` with value 1 (passed)
or 0 (failed) and, on failure, a ``detail`` that says what was found.

Negation: every check takes ``negate=True`` to invert its verdict (promptfoo's
``not-contains``, ``not-regex``, ... are ``contains(..., negate=True)`` and so on).
A response with no text (``None``: the request failed) fails every check, negated
or not: an answer that does not exist neither contains nor lacks anything.
Likewise a missing latency fails :func:`max_latency_ms` either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from tunegate.scoring.base import NO_ANSWER, Score

__all__ = [
    "contains",
    "contains_all",
    "contains_any",
    "equals",
    "max_latency_ms",
    "regex",
    "starts_with",
]

_SHOWN = 60


def _show(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def _verdict(holds: bool, negate: bool, when_false: str, when_true: str) -> Score:
    """Score a check whose condition ``holds``; the detail explains a failure.

    ``when_false`` explains why the plain check failed, ``when_true`` why the
    negated check failed.
    """
    passed = holds != negate
    if passed:
        return Score.from_bool(True)
    return Score.from_bool(False, f"{when_true} (negated check)" if negate else when_false)


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def contains(
    text: str | None, value: str, *, case_sensitive: bool = False, negate: bool = False
) -> Score:
    """Passes if ``value`` occurs in ``text`` (case-insensitive unless ``case_sensitive``)."""
    if text is None:
        return Score.failure(NO_ANSWER)
    holds = _fold(value, case_sensitive) in _fold(text, case_sensitive)
    return _verdict(
        holds,
        negate,
        f"{_show(value)} not found in the output",
        f"the output contains {_show(value)}",
    )


def contains_any(
    text: str | None, values: Sequence[str], *, case_sensitive: bool = False, negate: bool = False
) -> Score:
    """Passes if at least one of ``values`` occurs in ``text``."""
    if text is None:
        return Score.failure(NO_ANSWER)
    haystack = _fold(text, case_sensitive)
    found = [value for value in values if _fold(value, case_sensitive) in haystack]
    return _verdict(
        bool(found),
        negate,
        f"none of {list(values)!r} found in the output",
        f"the output contains {_show(found[0]) if found else ''}",
    )


def contains_all(
    text: str | None, values: Sequence[str], *, case_sensitive: bool = False, negate: bool = False
) -> Score:
    """Passes if every one of ``values`` occurs in ``text`` (negated: not all of them)."""
    if text is None:
        return Score.failure(NO_ANSWER)
    haystack = _fold(text, case_sensitive)
    missing = [value for value in values if _fold(value, case_sensitive) not in haystack]
    return _verdict(
        not missing,
        negate,
        f"missing from the output: {missing!r}",
        f"the output contains all of {list(values)!r}",
    )


def starts_with(
    text: str | None, value: str, *, case_sensitive: bool = True, negate: bool = False
) -> Score:
    """Passes if ``text``, with leading whitespace removed, starts with ``value``."""
    if text is None:
        return Score.failure(NO_ANSWER)
    holds = _fold(text.lstrip(), case_sensitive).startswith(_fold(value, case_sensitive))
    return _verdict(
        holds,
        negate,
        f"the output does not start with {_show(value)}",
        f"the output starts with {_show(value)}",
    )


@lru_cache(maxsize=256)
def _compile(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None


def regex(
    text: str | None, pattern: str, *, case_sensitive: bool = True, negate: bool = False
) -> Score:
    """Passes if ``re.search(pattern, text)`` finds a match (ignoring case unless
    ``case_sensitive``).

    An invalid pattern is a configuration error: :class:`ValueError` naming it.
    """
    compiled = _compile(pattern, case_sensitive)
    if text is None:
        return Score.failure(NO_ANSWER)
    match = compiled.search(text)
    return _verdict(
        match is not None,
        negate,
        f"no match for /{pattern}/ in the output",
        f"/{pattern}/ matches {_show(match.group(0)) if match else ''}",
    )


def equals(
    text: str | None,
    value: str,
    *,
    case_sensitive: bool = True,
    strip: bool = False,
    negate: bool = False,
) -> Score:
    """Passes if ``text == value`` (exactly, unless ``strip`` or not ``case_sensitive``).

    ``strip`` removes surrounding whitespace from both sides before comparing.
    """
    if text is None:
        return Score.failure(NO_ANSWER)
    left, right = (text.strip(), value.strip()) if strip else (text, value)
    holds = _fold(left, case_sensitive) == _fold(right, case_sensitive)
    return _verdict(
        holds,
        negate,
        f"the output {_show(text)} is not {_show(value)}",
        f"the output equals {_show(value)}",
    )


def max_latency_ms(latency_ms: float | None, limit: float, *, negate: bool = False) -> Score:
    """Passes if the response took at most ``limit`` milliseconds (negated: more)."""
    if latency_ms is None:
        return Score.failure("no latency recorded")
    return _verdict(
        latency_ms <= limit,
        negate,
        f"latency {latency_ms:g} ms > limit {limit:g} ms",
        f"latency {latency_ms:g} ms <= {limit:g} ms",
    )
