"""The finished results of a run: typed data that reports render, JSON serialises and
:func:`read_result` reads back (``RunResult.model_validate``) from a stored result.

The JSON form (``to_dict``, the JSON report, the result a run stores) is a contract
(docs/json-report.md): its keys and their order follow the field order below. Numbers a
run could not define are NaN in memory and ``null`` in JSON; reading back turns a
``null`` number into NaN again and an interval with a ``null`` end into None.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
)

from tunegate.errors import DataError

#: A number kept as the run gave it: an int stays an int (``support``: 12, not 12.0).
Real = int | float
Interval = tuple[Real, Real]
Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "MISSING"]
Verdict = Literal["SHIP", "ITERATE", "INCONCLUSIVE"]
EXIT_CODES: dict[str, int] = {"SHIP": 0, "ITERATE": 1, "INCONCLUSIVE": 3}


def _nan_for_null(value: Any) -> Any:
    return math.nan if value is None else value


def _interval_or_none(value: Any) -> Any:
    """A stored interval with a missing (``null``) end reads back as no interval."""
    if isinstance(value, list | tuple) and any(v is None for v in value):
        return None
    return value


def _nan_interval(value: Any) -> Any:
    """A required interval: ``null`` ends (NaN when stored) read back as NaN."""
    if value is None:
        return (math.nan, math.nan)
    if isinstance(value, list | tuple):
        return tuple(_nan_for_null(v) for v in value)
    return value


#: A number that is always there but may be undefined (NaN; ``null`` in JSON).
Number = Annotated[Real, BeforeValidator(_nan_for_null)]
#: An interval that may be absent (None), e.g. for a metric without a bootstrap.
OptionalInterval = Annotated[Interval | None, BeforeValidator(_interval_or_none)]
#: An interval that is always there (its ends may be NaN).
RequiredInterval = Annotated[Interval, BeforeValidator(_nan_interval)]


class _Result(BaseModel):
    """Base of the result types: extra keys of a stored result (``direction``,
    ``conclusion``, ``exit_code``, keys of newer versions) are ignored on reading."""

    model_config = ConfigDict(extra="ignore", arbitrary_types_allowed=False)


class CriterionResult(_Result):
    """One criterion, judged, with its evidence."""

    criterion: dict[str, Any]
    description: str
    status: Status
    judge: str
    estimate: Real | None = None
    ci: OptionalInterval = None
    threshold: Real | None = None
    reason: str = ""
    n: int | None = None
    mde: Real | None = None
    required_n: int | None = None


class GateResult(_Result):
    """The verdict and every criterion's result."""

    verdict: Verdict
    reason: str
    candidate: str
    confidence: Real
    default: bool
    criteria: list[CriterionResult] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exit_code(self) -> int:
        """0 SHIP, 1 ITERATE, 3 INCONCLUSIVE."""
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (with ``exit_code``)."""
        return self.model_dump()


class Estimate(_Result):
    """A metric's point estimate with its bootstrap interval (None when undefined)."""

    value: Real | None
    ci: OptionalInterval = None

    def __init__(self, value: Real | None, ci: Interval | None = None, **data: Any) -> None:
        super().__init__(value=value, ci=ci, **data)


class ModelResult(_Result):
    """Everything measured for one model."""

    name: str
    n: int
    errors: int
    unparseable: int
    cached: int
    metrics: dict[str, Estimate]
    per_class: dict[str, dict[str, Number]]
    confusion: list[list[int]]
    latency_ms: dict[str, Real | None]
    tokens: dict[str, int | None]
    error_kinds: dict[str, int]
    first_errors: list[str]
    categories: dict[str, dict[str, Any]] = Field(default_factory=dict)
    run: dict[str, Any] = Field(default_factory=dict)
    cost: dict[str, Any] | None = None
    tokens_per_1k: dict[str, Real | None] = Field(default_factory=dict)  # per 1,000 answers
    # Where the answers came from: {reused, fresh, from_runs: [{run_id, started_at, ...}]}
    cache: dict[str, Any] | None = None
    # Classification: how answers became labels (issue 20): {rule, exact, matched,
    # unparseable, why: {reason: n}}; failed requests are not counted here.
    parsing: dict[str, Any] | None = None
    # repeats: k > 1 (issue 24): {k, n_cases, complete_cases, missing_cases,
    # missing_answers, metrics: {mean|pass_at_k|pass_all_k|flakiness: {value, ci}},
    # passed: {case id: answers passing, None if one is missing}, flaky_cases, resampled}
    repeats: dict[str, Any] | None = None
    # batch: true (issue 24): {batches: [ids], resumed: [ids], requests, failed, price}
    batch: dict[str, Any] | None = None
    # Per metric, the cases its scorer could not score (it raised or returned something
    # unusable): left out of the metric and its pairings; only metrics with some.
    scorer_errors: dict[str, int] = Field(default_factory=dict)


class Comparison(_Result):
    """The candidate against one baseline on one metric, on the same cases."""

    candidate: str
    baseline: str
    metric: str
    candidate_value: Number
    baseline_value: Number
    delta: Number
    ci: RequiredInterval
    p_value: Number
    test: str
    wins: int
    ties: int
    losses: int
    n: int  # the cases the comparison rests on: both models answered (and have a value)
    # Added in issue 20 (older results read back with the defaults):
    n_excluded: int = 0  # cases left out of the pairing
    excluded: dict[str, int] = Field(default_factory=dict)  # why: "baseline error": 13, ...
    per_case: str = ""  # what wins/ties/losses compare case by case ("accuracy", the metric)
    p_value_of: str = ""  # the per-case pass/fail that p_value (McNemar) tests

    @computed_field  # type: ignore[prop-decorator]
    @property
    def direction(self) -> str:
        """``better`` / ``worse`` when the interval excludes zero, else ``none``."""
        if self.ci[0] > 0:
            return "better"
        if self.ci[1] < 0:
            return "worse"
        return "none"


class CategoryComparison(_Result):
    """The candidate against one baseline within one category (per-case pass, paired)."""

    candidate: str
    baseline: str
    category: str
    metric: str
    candidate_value: Number
    baseline_value: Number
    delta: Number
    ci: RequiredInterval
    n: int  # the cases of the category both models answered
    flagged: bool = False
    n_excluded: int = 0  # cases of the category left out of the pairing (issue 20)
    excluded: dict[str, int] = Field(default_factory=dict)


class CaseRow(_Result):
    """One model's outcome on one case."""

    case_id: str
    model: str
    prediction: str | None
    reference: str
    correct: bool
    latency_ms: Real | None
    error: str | None
    answer: str | None
    category: str | None
    cached: bool
    score: Real | None = None
    detail: str | None = None
    scores: dict[str, Number] = Field(default_factory=dict)
    failed: list[str] = Field(default_factory=list)  # the scorers this case failed
    # The threshold each failed scorer's main metric was held to ({"rougeL": 0.5}; its
    # value is in ``scores``): "rougeL 0.37 < 0.5" in the reports. Empty when passing.
    thresholds: dict[str, Real] = Field(default_factory=dict)
    # The metrics whose scorer could not score this case (missing evidence, not failed).
    scorer_errors: list[str] = Field(default_factory=list)


class SuiteResult(_Result):
    """One suite (a dataset with its task) run on several models."""

    name: str
    task: str
    labels: list[str]
    primary_metric: str
    n_cases: int
    models: dict[str, ModelResult]
    comparisons: list[Comparison]
    cases: list[CaseRow]
    metrics: list[str] = Field(default_factory=list)
    category_comparisons: list[CategoryComparison] = Field(default_factory=list)
    regression: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)
    inputs: dict[str, str] = Field(default_factory=dict)  # case id -> input text
    pass_rule: str = ""  # generation / tool_call: when a case passes, in words
    judges: dict[str, Any] | None = None  # what the suite's judges said (docs/judges.md)

    @property
    def categories(self) -> list[str]:
        """Every category any model has cases in, sorted."""
        return sorted({c for m in self.models.values() for c in m.categories})

    @property
    def category_baselines(self) -> list[str]:
        """The baselines the candidate is compared with per category, in order."""
        return list(dict.fromkeys(c.baseline for c in self.category_comparisons))

    def category_comparison(self, baseline: str | None, category: str) -> CategoryComparison | None:
        """The candidate against ``baseline`` within ``category``, if computed."""
        return next(
            (
                c
                for c in self.category_comparisons
                if c.baseline == baseline and c.category == category
            ),
            None,
        )


class RunResult(_Result):
    """A whole evaluation: one result per suite (the first is the main suite), the gate."""

    run_id: str
    name: str
    confidence: Real
    n_resamples: int
    seed: int
    candidate: str
    baselines: list[str]
    suites: list[SuiteResult]
    notes: list[str] = Field(default_factory=list)
    model_meta: dict[str, dict[str, Any]] = Field(default_factory=dict)
    leakage: dict[str, Any] | None = None
    gate: GateResult | None = None
    facts: dict[str, Any] = Field(default_factory=dict)  # version, config hash, times, models
    human: dict[str, Any] | None = None  # the run's human study: preference, agreement, judges
    # A sequential run (issue 24): {cases_used, cases_total, looks, looks_planned,
    # stopped_because, method, decision, look_every, boundary, confidence_at_stop}
    sequential: dict[str, Any] | None = None
    # The JSON document the run stored (``tunegate.results.document.to_json`` of this
    # result when it finished): the CLI writes its reports from it instead of building it
    # again. Not a field: it is not part of the result's own JSON.
    _stored_json: dict[str, Any] | None = PrivateAttr(default=None)

    def remember_json(self, data: dict[str, Any]) -> None:
        """Keep ``data``, this result's JSON document as stored (see :meth:`stored_json`)."""
        self._stored_json = data

    def stored_json(self) -> dict[str, Any] | None:
        """The JSON document stored when the run finished, if this result was just run."""
        return self._stored_json

    @property
    def main(self) -> SuiteResult:
        """The main suite (the config's top-level dataset, or its first suite)."""
        return self.suites[0]

    def suite(self, name: str | None) -> SuiteResult | None:
        """The suite called ``name`` (the main suite for None)."""
        if name is None:
            return self.main
        return next((s for s in self.suites if s.name == name), None)

    # The main suite's parts, for callers that only have one suite.
    @property
    def task(self) -> str:
        return self.main.task

    @property
    def labels(self) -> list[str]:
        return self.main.labels

    @property
    def primary_metric(self) -> str:
        return self.main.primary_metric

    @property
    def n_cases(self) -> int:
        return self.main.n_cases

    @property
    def models(self) -> dict[str, ModelResult]:
        return self.main.models

    @property
    def comparisons(self) -> list[Comparison]:
        return self.main.comparisons

    @property
    def cases(self) -> list[CaseRow]:
        return self.main.cases

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (each comparison with its ``direction``, the gate with its
        ``exit_code``); NaN stays NaN (the JSON report writes it as null)."""
        return self.model_dump()


def read_result(data: Any, where: str = "stored result") -> RunResult:
    """A :class:`RunResult` back from its JSON form (``tunegate run --json``, the result a
    run stores): ``RunResult.model_validate`` with a :class:`DataError` naming the first
    bad key (e.g. ``stored result: suites[0].models.base.n: ...``) instead of a traceback."""
    if not isinstance(data, dict):
        raise DataError(f"{where} is not an object (it is a {type(data).__name__})")
    try:
        return RunResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise DataError(f"{where}: {_location(first['loc'])}: {first['msg']}") from None


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top)"
