"""A categorised eval suite: :class:`EvalCase` and :func:`run_eval_suite`.

Thin wrappers over the scorers the ``tunegate`` command uses, so the numbers are
the same ones the CLI reports::

    from tunegate import EvalCase, run_eval_suite

    results = run_eval_suite(my_model, [EvalCase("2 + 2 =", "4", category="math")])
    results["math"]["rate"]        # the tutorial's shape
    print(results)                 # a table with Wilson intervals

:func:`run_eval_suite` calls the model on every case (concurrently, through the
runner), scores the answers and returns a :class:`SuiteReport`: a mapping from
category to :class:`PassStats` (``"pass"``, ``"fail"``, ``"rate"``, ``"ci"``,
``"n"``), with ``overall``, ``cases`` and ``failures`` as attributes.

A failing model call or scorer never aborts the suite: the case is recorded as
failed, with the reason in its ``detail``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunegate.api._named import SCORERS, check_named, named_score
from tunegate.api._run import CallOptions, ModelLike, call_models, check_model
from tunegate.data import Case
from tunegate.scoring.base import DEFAULT_THRESHOLD, NO_ANSWER, Score, safe_score
from tunegate.scoring.custom import run_custom
from tunegate.stats import wilson_interval

__all__ = [
    "SCORERS",
    "CaseResult",
    "EvalCase",
    "PassStats",
    "SuiteReport",
    "run_eval_suite",
]

#: A scorer given as a function: see :class:`EvalCase`.
ScorerFn = Callable[..., Any]

#: A model under test: prompt in, answer out (a coroutine function works too), or a
#: model name for an OpenAI-compatible endpoint.
ModelFn = ModelLike

_DETAIL_CHARS = 70


def _known_scorers() -> str:
    return ", ".join(repr(name) for name in SCORERS)


@dataclass(frozen=True)
class EvalCase:
    """One test case: a prompt, what a good answer looks like, and how to check it.

    ``expected_output`` is one string or several acceptable ones (a case passes if
    the answer is right for any of them). ``scorer`` is one of the names in
    :data:`SCORERS` or a function, called one of two ways:

    * as the tutorial does, ``scorer(prediction, expected_output)`` with two
      strings (a function of one parameter gets only the prediction), e.g.
      ``lambda pred, exp: json.loads(pred)["name"] == json.loads(exp)["name"]``;
      with several expected outputs it is called once per expected output and the
      best score counts;
    * when its parameters are named ``case`` and/or ``output`` (or it takes
      ``**kwargs``), as the CLI's custom scorers are
      (:func:`tunegate.scoring.custom.run_custom`): ``case`` is a
      :class:`tunegate.data.Case` (``case.text`` is the prompt, ``case.reference``
      the first expected output, ``case.metadata["expected_outputs"]`` all of
      them), ``output`` the answer.

    It returns a bool, a number in ``[0, 1]`` (passes at ``>= threshold``) or
    ``(score, explanation)``. An exception (a malformed answer that ``json.loads``
    rejects, say) fails the case and keeps the reason in its ``detail``.

    ``id`` defaults to the case's position in the suite. An unknown scorer name or
    an invalid regular expression raises :class:`ValueError` here, before any model
    is called.
    """

    input_prompt: str
    expected_output: str | Sequence[str]
    category: str = "simple"
    scorer: str | ScorerFn = "exact_match_squad"
    id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.input_prompt, str):
            raise TypeError(
                f"input_prompt must be a string, not {type(self.input_prompt).__name__}"
            )
        if not isinstance(self.category, str):
            raise TypeError(f"category must be a string, not {type(self.category).__name__}")
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
            for item in self.expected_output:
                if not isinstance(item, str):
                    raise TypeError(
                        "expected_output must be a string or a list of strings, "
                        f"got an item of type {type(item).__name__}"
                    )
        if isinstance(self.scorer, str):
            check_named(self.scorer, list(self.expected_outputs))  # an invalid pattern

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


_STATS_KEYS = ("pass", "fail", "rate", "ci", "n")


@dataclass(frozen=True)
class PassStats(Mapping[str, Any]):
    """Pass counts of a group of cases, with the Wilson interval of the pass rate.

    ``pass_rate = passed / n``; ``ci`` is the Wilson score interval at the suite's
    confidence (:func:`tunegate.stats.wilson_interval`).

    Also a read-only mapping in the tutorial's shape: ``stats["pass"]``,
    ``stats["fail"]``, ``stats["rate"]``, plus ``stats["ci"]`` and ``stats["n"]``.
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

    def __getitem__(self, key: str) -> Any:
        values = {
            "pass": self.passed,
            "fail": self.failed,
            "rate": self.pass_rate,
            "ci": self.ci,
            "n": self.n,
        }
        if key not in values:
            raise KeyError(f"{key!r}: the keys are {', '.join(map(repr, _STATS_KEYS))}")
        return values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_STATS_KEYS)

    def __len__(self) -> int:
        return len(_STATS_KEYS)

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
class SuiteReport(Mapping[str, PassStats]):
    """The result of :func:`run_eval_suite`.

    ``categories`` maps each category, in order of first appearance, to its
    :class:`PassStats`; ``overall`` is the same over all cases; ``cases`` holds one
    :class:`CaseResult` per case, in input order. ``str(report)`` is a table.

    The report is itself a read-only mapping of ``categories``, so the tutorial's
    ``results["simple"]["rate"]`` and ``for category, stats in results.items()``
    work. An unknown category raises :class:`KeyError` naming the known ones.
    """

    categories: dict[str, PassStats]
    overall: PassStats
    cases: list[CaseResult]
    confidence: float
    threshold: float = DEFAULT_THRESHOLD

    def __getitem__(self, category: str) -> PassStats:
        try:
            return self.categories[category]
        except KeyError:
            known = ", ".join(map(repr, self.categories))
            raise KeyError(
                f"no case has category {category!r}; the categories are {known}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

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


def _takes_case_or_output(fn: ScorerFn) -> bool:
    """Whether ``fn`` declares ``case``/``output``/``raw`` or ``**kwargs`` (the CLI convention)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD or p.name in ("case", "output", "raw")
        for p in parameters
    )


def _positional_count(fn: ScorerFn) -> int:
    """1 when ``fn`` takes a single positional argument, else 2."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return 2
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return 2
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    return 1 if len(positional) == 1 else 2


def _tutorial_scorer(fn: ScorerFn, expected: str) -> Callable[[str | None], Any]:
    """``fn`` as a custom scorer of ``output`` that calls ``fn(output, expected)``."""
    two = _positional_count(fn) == 2

    def score(output: str | None) -> Any:
        return fn(output, expected) if two else fn(output)

    score.__qualname__ = str(getattr(fn, "__qualname__", None) or repr(fn))
    return score


def _score_case(case: EvalCase, case_id: str, output: str, threshold: float) -> Score:
    expected = case.expected_outputs
    if isinstance(case.scorer, str):
        return safe_score(named_score, case.scorer, output, expected, threshold)
    record = Case(
        id=case_id,
        text=case.input_prompt,
        reference=expected[0] if expected else "",
        category=case.category,
        metadata={"expected_outputs": expected},
    )
    if _takes_case_or_output(case.scorer):
        return run_custom(case.scorer, record, output, threshold=threshold)
    verdicts = [
        run_custom(_tutorial_scorer(case.scorer, value), record, output, threshold=threshold)
        for value in expected or [""]
    ]
    best = max(verdicts, key=lambda v: (v.passed, v.value))
    if best.passed or best.detail is not None:
        return best
    # Say what was compared, so a failure can be read without re-running the scorer.
    shown = _clip(repr(output))
    return Score(
        best.value,
        False,
        f"{case.scorer_name} gave {best.value:g} for output {shown}",
        dict(best.parts),
    )


def run_eval_suite(
    model_fn: ModelFn,
    cases: Iterable[EvalCase],
    *,
    confidence: float = 0.95,
    threshold: float = DEFAULT_THRESHOLD,
    concurrency: int = 8,
    options: CallOptions | None = None,
) -> SuiteReport:
    """Run ``model_fn`` on every case, score the answers, and count passes.

    ``model_fn(prompt) -> str`` may be a plain or ``async def`` function, or a
    model name called on an OpenAI-compatible endpoint (``options`` sets the
    endpoint; see :class:`tunegate.api.CallOptions`). Cases run concurrently,
    at most ``concurrency`` at a time (sync functions on as many threads), so a
    function that is not thread-safe should be run with ``concurrency=1``.
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
    check_model(model_fn, "model_fn")
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
    if options is None:
        options = CallOptions(concurrency=concurrency)

    answers = call_models({"model": model_fn}, [c.input_prompt for c in case_list], options)
    results: list[CaseResult] = []
    for position, (case, answer) in enumerate(zip(case_list, answers["model"], strict=True)):
        case_id = case.id if case.id is not None else str(position)
        if answer.error is not None:
            score = Score.failure(answer.error)
        elif answer.text is None:
            score = Score.failure(NO_ANSWER)
        else:
            score = _score_case(case, case_id, answer.text, threshold)
        results.append(
            CaseResult(case_id, case.category, answer.text, score.value, score.passed, score.detail)
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
