"""Scoring the tutorial's dict cases for two models on the same prompts (paired).

A case is a dict with ``"prompt"`` and ``"scorer"`` (``scorer(output) -> number``,
a bool counts as 1/0), an optional ``"category"``, and an optional ``"expected"``
(or ``"expected_output"``): then a scorer of two parameters is called
``scorer(output, expected)``. An :class:`~tunegate.api.suite.EvalCase` works too
(its scorer's value, 0 to 1).

A case where either model's call failed is left out of the paired comparison (a
transport error is not a prediction) and counted as excluded. A scorer that raises
on an answer, or returns NaN, scores it 0 (a malformed answer fails) and is
counted in ``scorer_errors``.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunegate.api._run import Answer

_EXPECTED_KEYS = ("expected", "expected_output")


@dataclass(frozen=True)
class ScoredCase:
    """A case ready to score: prompt, category, and a function of the output."""

    prompt: str
    category: str | None
    score: Callable[[str], float]


@dataclass
class PairedScores:
    """Both models' scores on the cases both answered, in case order."""

    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    categories: list[str | None] = field(default_factory=list)
    excluded: int = 0
    scorer_errors_a: int = 0
    scorer_errors_b: int = 0
    first_error: str | None = None


def _arity(fn: Callable[..., Any]) -> int:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 1
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return 2 if len(positional) >= 2 else 1


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"{where}: the scorer returned {type(value).__name__}; expected a number")


def _dict_case(case: Mapping[str, Any], where: str) -> ScoredCase:
    for key in ("prompt", "scorer"):
        if key not in case:
            keys = ", ".join(map(repr, case)) or "none"
            raise ValueError(f"{where} has no {key!r} key (keys: {keys})")
    prompt, scorer = case["prompt"], case["scorer"]
    if not isinstance(prompt, str):
        raise TypeError(f"{where}['prompt'] is a {type(prompt).__name__}, not a string")
    if not callable(scorer):
        raise TypeError(f"{where}['scorer'] must be a function of the output")
    category = case.get("category")
    expected_key = next((k for k in _EXPECTED_KEYS if k in case), None)
    two = expected_key is not None and _arity(scorer) == 2
    expected = case[expected_key] if expected_key is not None else None

    def score(output: str) -> float:
        value = scorer(output, expected) if two else scorer(output)
        return _number(value, where)

    return ScoredCase(prompt, None if category is None else str(category), score)


def _eval_case(case: Any, position: int) -> ScoredCase:
    from tunegate.api.suite import _score_case

    case_id = case.id if case.id is not None else str(position)

    def score(output: str) -> float:
        return float(_score_case(case, case_id, output, 0.5).value)

    return ScoredCase(case.input_prompt, case.category, score)


def scored_cases(cases: Iterable[Any], where: str) -> list[ScoredCase]:
    """Validate ``cases`` (dicts or EvalCase objects) and make them scoreable."""
    from tunegate.api.suite import EvalCase

    result = []
    for i, case in enumerate(cases):
        if isinstance(case, EvalCase):
            result.append(_eval_case(case, i))
        elif isinstance(case, Mapping):
            result.append(_dict_case(case, f"{where}[{i}]"))
        else:
            raise TypeError(
                f"{where}[{i}] is a {type(case).__name__}; expected a dict with 'prompt' and "
                "'scorer' (or an EvalCase)"
            )
    return result


def _safe(case: ScoredCase, output: str) -> tuple[float, str | None]:
    try:
        value = case.score(output)
    except TypeError as exc:
        if "the scorer returned" in str(exc):
            raise
        return 0.0, f"{type(exc).__name__}: {exc}"
    except Exception as exc:
        return 0.0, f"{type(exc).__name__}: {exc}"
    if math.isnan(value):
        return 0.0, "the scorer returned NaN"
    return value, None


def paired_scores(
    cases: Sequence[ScoredCase], answers_a: Sequence[Answer], answers_b: Sequence[Answer]
) -> PairedScores:
    """Score both models' answers; leave out cases either model did not answer."""
    paired = PairedScores()
    for case, a, b in zip(cases, answers_a, answers_b, strict=True):
        if a.text is None or b.text is None:
            paired.excluded += 1
            paired.first_error = paired.first_error or a.error or b.error or "no answer"
            continue
        score_a, error_a = _safe(case, a.text)
        score_b, error_b = _safe(case, b.text)
        paired.scorer_errors_a += error_a is not None
        paired.scorer_errors_b += error_b is not None
        paired.a.append(score_a)
        paired.b.append(score_b)
        paired.categories.append(case.category)
    return paired
