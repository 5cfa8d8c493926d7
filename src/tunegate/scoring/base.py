"""The per-case score every scorer returns, and the convention scorers follow.

Convention: a scorer never raises because of what a model answered. Malformed
output (no text, invalid JSON, a tool call with unparseable arguments, ...) gives a
*failed* :class:`Score` (``passed=False``) whose ``detail`` says why. Scorers raise
only for configuration mistakes (a broken JSON schema, an invalid regular
expression), which are the user's to fix before any model is called.
:func:`safe_score` enforces the convention around code that might still raise.

A scorer that could not score a case (it raised, or returned something that is not a
score) gives :meth:`Score.error` (``scorer_error=True``): missing evidence, not a wrong
answer. The evaluation leaves such a case out of that metric and counts it
(``scorer_errors``), and the gate holds a criterion on it undecided over the error limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_THRESHOLD", "NO_ANSWER", "Score", "above", "below", "safe_score"]

#: ``passed`` threshold of the continuous text metrics (ROUGE, BLEU, chrF) and of
#: custom scorers that return a bare number: ``passed = value >= threshold``.
DEFAULT_THRESHOLD = 0.5

#: ``detail`` of a failed score for a case the model gave no text for.
NO_ANSWER = "no answer (the request failed or returned no text)"


@dataclass(frozen=True)
class Score:
    """The score of one response.

    ``value`` lies in ``[0, 1]`` unless the metric says otherwise (1 = best);
    ``passed`` is the pass/fail verdict used for counts and McNemar's test;
    ``detail`` explains a failure (or carries a scorer's explanation);
    ``parts`` holds named sub-scores (e.g. ROUGE precision and recall);
    ``threshold`` the bound a continuous score was held to (``passed = value >=
    threshold``), None for a pass/fail score: reports show ``rougeL 0.37 < 0.5``.
    """

    value: float
    passed: bool
    detail: str | None = None
    parts: dict[str, float] = field(default_factory=dict)
    threshold: float | None = field(default=None, compare=False)  # not part of equality
    #: True: the scorer could not score the case (it raised or returned something
    #: unusable); not a wrong answer but missing evidence (see the module docstring).
    scorer_error: bool = False

    @classmethod
    def failure(cls, detail: str, parts: dict[str, float] | None = None) -> Score:
        """A failed score: ``value = 0``, ``passed = False``, with the reason."""
        return cls(0.0, False, detail, dict(parts or {}))

    @classmethod
    def error(cls, detail: str) -> Score:
        """The scorer could not score this case (``detail`` says why): ``value = 0``,
        ``passed = False`` and ``scorer_error = True``, so it is counted apart and left
        out of the metric, never read as a wrong answer."""
        return cls(0.0, False, detail, {}, None, True)

    @classmethod
    def from_bool(cls, ok: bool, detail: str | None = None) -> Score:
        """``value = 1.0`` if ``ok`` else ``0.0``; ``passed = ok``."""
        return cls(1.0 if ok else 0.0, ok, detail)

    @classmethod
    def from_value(
        cls,
        value: float,
        threshold: float = DEFAULT_THRESHOLD,
        parts: dict[str, float] | None = None,
        detail: str | None = None,
    ) -> Score:
        """A continuous score: ``passed = value >= threshold`` (NaN never passes)."""
        number = float(value)
        passed = not math.isnan(number) and number >= threshold
        return cls(number, passed, detail, dict(parts or {}), float(threshold))

    def shortfall(self, metric: str) -> str | None:
        """Why a continuous score failed, in numbers: ``rougeL 0.37 < 0.5`` (None for a
        pass/fail score or one that passed)."""
        if self.passed or self.threshold is None:
            return None
        return f"{metric} {below(self.value, self.threshold)}"


def above(value: float, bound: float) -> str:
    """``0.63 > 0.5``: the mirror of :func:`below` for an upper bound."""
    if math.isnan(value):
        return f"no value (needs <= {bound:g})"
    text = f"{value:.2f}"
    for digits in range(3, 8):
        if float(text) > bound:
            break
        text = f"{value:.{digits}f}"
    return f"{text} > {bound:g}"


def below(value: float, threshold: float) -> str:
    """``0.37 < 0.5``: the value with two decimals, or as many more as it takes to read
    below the threshold (``0.4999 < 0.5``, never ``0.50 < 0.5``); ``no value`` for NaN."""
    if math.isnan(value):
        return f"no value (needs >= {threshold:g})"
    text = f"{value:.2f}"
    for digits in range(3, 8):
        if float(text) < threshold:
            break
        text = f"{value:.{digits}f}"
    return f"{text} < {threshold:g}"


def safe_score(fn: Callable[..., Score], *args: Any, **kwargs: Any) -> Score:
    """Call ``fn(*args, **kwargs)``; an exception becomes a failed :class:`Score`.

    The failed score's ``detail`` names the exception: ``"scorer error: KeyError: 'x'"``.
    A return value that is not a :class:`Score` also fails (``detail`` names its type).
    """
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:
        return Score.failure(f"scorer error: {_describe(exc)}")
    if not isinstance(result, Score):
        return Score.failure(f"scorer error: returned {type(result).__name__}, not a Score")
    return result


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
