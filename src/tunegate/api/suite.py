"""A small Python API: score answers and run a suite of cases without a YAML file.

Thin wrappers over the scorers the ``tunegate`` command uses, so the numbers are
the same ones the CLI reports::

    from tunegate import EvalCase, run_eval_suite

    report = run_eval_suite(my_model, [EvalCase("2 + 2 =", "4", category="math")])
    print(report)

* :func:`exact_match_score`, :func:`rouge_l_score` and :func:`calculate_perplexity`
  are corpus/text metrics on plain strings and numbers.
* :class:`EvalCase` is one prompt with its expected output, category and scorer;
  :func:`run_eval_suite` calls a model function on every case, scores the answers
  and returns a :class:`SuiteReport` with pass rates and Wilson intervals per
  category and overall.

A failing model call or scorer never aborts the suite: the case is recorded as
failed, with the reason in its ``detail``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import math
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tunegate.data import Case
from tunegate.scoring.assertions import contains_any, equals, regex
from tunegate.scoring.base import DEFAULT_THRESHOLD, NO_ANSWER, Score, safe_score
from tunegate.scoring.custom import run_custom
from tunegate.scoring.structured import json_valid
from tunegate.scoring.text import (
    calculate_perplexity,
    exact_match,
    exact_match_score,
    rouge,
    rouge_l_score,
    sentence_bleu,
    sentence_chrf,
)
from tunegate.stats import wilson_interval

__all__ = [
    "SCORERS",
    "CaseResult",
    "EvalCase",
    "PassStats",
    "SuiteReport",
    "calculate_perplexity",
    "exact_match_score",
    "rouge_l_score",
    "run_eval_suite",
]

#: The scorer names :class:`EvalCase` accepts, with what each checks.
#: ``threshold`` is :func:`run_eval_suite`'s (0.5 by default).
SCORERS: dict[str, str] = {
    "exact_match": "equals an expected output after SQuAD normalisation "
    "(case, punctuation, articles a/an/the, whitespace)",
    "exact": "equals an expected output exactly (case and whitespace count)",
    "contains": "contains an expected output (case-insensitive)",
    "regex": "re.search finds a match for an expected output (a pattern)",
    "rouge_l": "ROUGE-L F-measure against the expected output(s) >= threshold",
    "bleu": "sentence BLEU / 100 (sacrebleu) >= threshold",
    "chrf": "sentence chrF / 100 (sacrebleu) >= threshold",
    "json": "the output is valid JSON (the expected output is not used)",
}

#: A scorer given as a function: see :class:`EvalCase`.
ScorerFn = Callable[..., Any]

#: A model under test: prompt in, answer out (a coroutine function works too).
ModelFn = Callable[[str], str | Awaitable[str | None] | None]

_DETAIL_CHARS = 70


def _known_scorers() -> str:
    return ", ".join(repr(name) for name in SCORERS)


@dataclass(frozen=True)
class EvalCase:
    """One test case: a prompt, what a good answer looks like, and how to check it.

    ``expected_output`` is one string or several acceptable ones (a case passes if
    the answer is right for any of them). ``scorer`` is one of the names in
    :data:`SCORERS` or a function. A function is called as the CLI's custom
    scorers are (:func:`tunegate.scoring.custom.run_custom`): with ``case`` (a
    :class:`tunegate.data.Case`: ``case.text`` is the prompt, ``case.reference``
    the first expected output, ``case.metadata["expected_outputs"]`` all of them)
    and ``output`` (the answer), e.g. ``def check(case, output)`` or
    ``def check(output)``; it returns a bool, a number in ``[0, 1]`` (passes at
    ``>= threshold``) or ``(score, explanation)``.

    ``id`` defaults to the case's position in the suite. An unknown scorer name or
    an invalid regular expression raises :class:`ValueError` here, before any model
    is called.
    """

    input_prompt: str
    expected_output: str | Sequence[str]
    category: str = "simple"
    scorer: str | ScorerFn = "exact_match"
    id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.scorer, str):
            if self.scorer not in SCORERS:
                raise ValueError(
                    f"unknown scorer {self.scorer!r}; known scorers: {_known_scorers()}, "
                    "or pass a function"
                )
        elif not callable(self.scorer):
            raise TypeError(
                f"scorer must be a name ({_known_scorers()}) or a function, "
                f"not {type(self.scorer).__name__}"
            )
        if not isinstance(self.expected_output, str):
            # Keep a private copy, so a generator is not consumed twice and later
            # changes to the caller's list do not change the case.
            object.__setattr__(self, "expected_output", tuple(self.expected_output))
        if self.scorer == "regex":
            for pattern in self.expected_outputs:
                regex("", pattern)  # raises ValueError naming an invalid pattern

    @property
    def expected_outputs(self) -> list[str]:
        """The acceptable outputs as a list (one item when a single string was given)."""
        if isinstance(self.expected_output, str):
            return [self.expected_output]
        return list(self.expected_output)

    @property
    def scorer_name(self) -> str:
        """The scorer's name, or the function's qualified name."""
        if isinstance(self.scorer, str):
            return self.scorer
        return str(getattr(self.scorer, "__qualname__", None) or repr(self.scorer))


@dataclass(frozen=True)
class CaseResult:
    """What happened to one case: the answer, its score and the verdict.

    ``output`` is ``None`` when the model raised or returned no text; ``detail``
    then says why, as it explains any other failure (or carries a custom scorer's
    explanation).
    """

    id: str
    category: str
    output: str | None
    score: float
    passed: bool
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (a NaN score becomes ``None``)."""
        return {
            "id": self.id,
            "category": self.category,
            "output": self.output,
            "score": _finite_or_none(self.score),
            "passed": self.passed,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PassStats:
    """Pass counts of a group of cases, with the Wilson interval of the pass rate.

    ``pass_rate = passed / n``; ``ci`` is the Wilson score interval at the suite's
    confidence (:func:`tunegate.stats.wilson_interval`).
    """

    n: int
    passed: int
    failed: int
    pass_rate: float
    ci: tuple[float, float]

    @classmethod
    def from_results(cls, results: Sequence[CaseResult], confidence: float) -> PassStats:
        n = len(results)
        passed = sum(result.passed for result in results)
        return cls(n, passed, n - passed, passed / n, wilson_interval(passed, n, confidence))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``ci`` is a two-item list."""
        return {
            "n": self.n,
            "passed": self.passed,
            "failed": self.failed,
            "pass_rate": self.pass_rate,
            "ci": [self.ci[0], self.ci[1]],
        }


@dataclass(frozen=True)
class SuiteReport:
    """The result of :func:`run_eval_suite`.

    ``categories`` maps each category, in order of first appearance, to its
    :class:`PassStats`; ``overall`` is the same over all cases; ``cases`` holds one
    :class:`CaseResult` per case, in input order. ``str(report)`` is a table.
    """

    categories: dict[str, PassStats]
    overall: PassStats
    cases: list[CaseResult]
    confidence: float
    threshold: float = DEFAULT_THRESHOLD

    @property
    def failures(self) -> list[CaseResult]:
        """The cases that did not pass, in input order."""
        return [result for result in self.cases if not result.passed]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``confidence``, ``threshold``, ``overall``,
        ``categories`` and ``cases``."""
        return {
            "confidence": self.confidence,
            "threshold": self.threshold,
            "overall": self.overall.to_dict(),
            "categories": {name: stats.to_dict() for name, stats in self.categories.items()},
            "cases": [result.to_dict() for result in self.cases],
        }

    def __str__(self) -> str:
        rows = [*self.categories.items(), ("overall", self.overall)]
        width = max(len("category"), *(len(name) for name, _ in rows))
        header = (
            f"{'category':<{width}}  {'n':>5}  {'passed':>6}  {'failed':>6}  "
            f"{'pass rate':>9}  {self.confidence * 100:g}% CI"
        )
        body = [
            f"{name:<{width}}  {stats.n:>5}  {stats.passed:>6}  {stats.failed:>6}  "
            f"{stats.pass_rate:>9.1%}  [{stats.ci[0]:.1%}, {stats.ci[1]:.1%}]"
            for name, stats in rows
        ]
        rule = "-" * max(len(line) for line in [header, *body])
        lines = [header, rule, *body[:-1], rule, body[-1]]
        if self.failures:
            lines.append("")
            lines.append(f"failed cases ({len(self.failures)}):")
            for result in self.failures:
                reason = _clip(result.detail or "did not pass")
                lines.append(
                    f"  {result.id} [{result.category}] score {result.score:.3g}: {reason}"
                )
        return "\n".join(lines)


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "..."


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _resolve(awaitable: Awaitable[Any]) -> Any:
    """Run an awaitable to completion with ``asyncio.run``.

    Inside a running event loop (a Jupyter notebook, an async test) ``asyncio.run``
    cannot be called, so the awaitable then runs in a new loop on a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(awaitable))
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tunegate-api") as pool:
        return pool.submit(asyncio.run, _await(awaitable)).result()


def _call_model(model_fn: ModelFn, prompt: str) -> tuple[str | None, str | None]:
    """``(answer, None)``, or ``(None, reason)`` when the model raised or returned no text."""
    try:
        answer: Any = model_fn(prompt)
        if inspect.isawaitable(answer):
            answer = _resolve(answer)
    except Exception as exc:
        return None, f"model error: {_describe(exc)}"
    if answer is None:
        return None, NO_ANSWER
    if not isinstance(answer, str):
        return None, f"model error: returned {type(answer).__name__}, not str"
    return answer, None


def _first_pass(verdicts: list[Score]) -> Score:
    """The first passing verdict; else the only one, or a failure summing them up."""
    for verdict in verdicts:
        if verdict.passed:
            return verdict
    if len(verdicts) == 1:
        return verdicts[0]
    if not verdicts:
        return Score.failure("no expected output to compare with")
    return Score.failure(
        f"none of the {len(verdicts)} expected outputs matched (first: {verdicts[0].detail})"
    )


def _named_score(name: str, output: str, expected: list[str], threshold: float) -> Score:
    if name == "exact_match":
        return exact_match(output, expected, remove_punctuation=True, remove_articles=True)
    if name == "exact":
        return _first_pass([equals(output, value) for value in expected])
    if name == "contains":
        return contains_any(output, expected)
    if name == "regex":
        return _first_pass([regex(output, pattern) for pattern in expected])
    if name == "rouge_l":
        return rouge(output, expected, ("rougeL",), threshold=threshold)["rougeL"]
    if name == "bleu":
        return sentence_bleu(output, expected, threshold=threshold)
    if name == "chrf":
        return sentence_chrf(output, expected, threshold=threshold)
    if name == "json":
        return json_valid(output)
    raise ValueError(f"unknown scorer {name!r}; known scorers: {_known_scorers()}")


def _score_case(case: EvalCase, case_id: str, output: str | None, threshold: float) -> Score:
    expected = case.expected_outputs
    if isinstance(case.scorer, str):
        if output is None:
            return Score.failure(NO_ANSWER)
        return safe_score(_named_score, case.scorer, output, expected, threshold)
    record = Case(
        id=case_id,
        text=case.input_prompt,
        reference=expected[0] if expected else "",
        category=case.category,
        metadata={"expected_outputs": expected},
    )
    return run_custom(case.scorer, record, output, threshold=threshold)


def run_eval_suite(
    model_fn: ModelFn,
    cases: Iterable[EvalCase],
    *,
    confidence: float = 0.95,
    threshold: float = DEFAULT_THRESHOLD,
) -> SuiteReport:
    """Run ``model_fn`` on every case, score the answers, and count passes.

    ``model_fn(prompt) -> str`` is called once per case, in order. If it returns an
    awaitable (an ``async def`` function), that is run with :func:`asyncio.run`.
    ``threshold`` is the pass mark of the continuous scorers (``rouge_l``,
    ``bleu``, ``chrf``) and of custom scorers that return a bare number.

    Per category and overall: ``pass_rate = passed / n`` and its Wilson score
    interval at ``confidence``: with ``p = passed / n`` and ``z`` the
    ``1 - (1 - confidence) / 2`` normal quantile,
    ``(p + z^2/(2n) -/+ z * sqrt(p(1 - p)/n + z^2/(4n^2))) / (1 + z^2/n)``.

    An exception from ``model_fn`` or from a scorer does not stop the suite: the
    case is recorded as failed (score 0) with the reason in ``detail``. So is a
    ``None`` or non-string answer.

    Raises :class:`ValueError` for no cases or a ``confidence`` outside ``(0, 1)``,
    and :class:`TypeError` for an item of ``cases`` that is not an :class:`EvalCase`.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if math.isnan(threshold):
        raise ValueError("threshold must be a number, got NaN")
    case_list = list(cases)
    if not case_list:
        raise ValueError("no cases to evaluate: pass at least one EvalCase")
    for position, case in enumerate(case_list):
        if not isinstance(case, EvalCase):
            raise TypeError(f"cases[{position}] is a {type(case).__name__}, not an EvalCase")

    results: list[CaseResult] = []
    for position, case in enumerate(case_list):
        case_id = case.id if case.id is not None else str(position)
        output, error = _call_model(model_fn, case.input_prompt)
        if error is not None:
            score = Score.failure(error)
        else:
            score = _score_case(case, case_id, output, threshold)
        results.append(
            CaseResult(case_id, case.category, output, score.value, score.passed, score.detail)
        )

    by_category: dict[str, list[CaseResult]] = {}
    for result in results:
        by_category.setdefault(result.category, []).append(result)
    return SuiteReport(
        categories={
            name: PassStats.from_results(group, confidence) for name, group in by_category.items()
        },
        overall=PassStats.from_results(results, confidence),
        cases=results,
        confidence=confidence,
        threshold=threshold,
    )
