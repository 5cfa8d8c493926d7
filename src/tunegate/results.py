"""The finished results of a run: plain data that reports render and JSON serialises."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Interval = tuple[float, float]
Status = Literal["PASS", "FAIL", "INCONCLUSIVE", "MISSING"]
Verdict = Literal["SHIP", "ITERATE", "INCONCLUSIVE"]
EXIT_CODES: dict[str, int] = {"SHIP": 0, "ITERATE": 1, "INCONCLUSIVE": 3}


@dataclass
class CriterionResult:
    """One criterion, judged, with its evidence."""

    criterion: dict[str, Any]
    description: str
    status: Status
    judge: str
    estimate: float | None = None
    ci: Interval | None = None
    threshold: float | None = None
    reason: str = ""
    n: int | None = None
    mde: float | None = None
    required_n: int | None = None


@dataclass
class GateResult:
    """The verdict and every criterion's result."""

    verdict: Verdict
    reason: str
    candidate: str
    confidence: float
    default: bool
    criteria: list[CriterionResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 SHIP, 1 ITERATE, 3 INCONCLUSIVE."""
        return EXIT_CODES[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = asdict(self)
        out["exit_code"] = self.exit_code
        return out


@dataclass
class Estimate:
    """A metric's point estimate with its bootstrap interval (None when undefined)."""

    value: float | None
    ci: Interval | None = None


@dataclass
class ModelResult:
    """Everything measured for one model."""

    name: str
    n: int
    errors: int
    unparseable: int
    cached: int
    metrics: dict[str, Estimate]
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    latency_ms: dict[str, float | None]
    tokens: dict[str, int | None]
    error_kinds: dict[str, int]
    first_errors: list[str]
    categories: dict[str, dict[str, Any]] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] | None = None
    tokens_per_1k: dict[str, float | None] = field(default_factory=dict)  # per 1,000 answers
    # Where the answers came from: {reused, fresh, from_runs: [{run_id, started_at, ...}]}
    cache: dict[str, Any] | None = None


@dataclass
class Comparison:
    """The candidate against one baseline on one metric, on the same cases."""

    candidate: str
    baseline: str
    metric: str
    candidate_value: float
    baseline_value: float
    delta: float
    ci: Interval
    p_value: float
    test: str
    wins: int
    ties: int
    losses: int
    n: int

    @property
    def direction(self) -> str:
        """``better`` / ``worse`` when the interval excludes zero, else ``none``."""
        if self.ci[0] > 0:
            return "better"
        if self.ci[1] < 0:
            return "worse"
        return "none"


@dataclass
class CategoryComparison:
    """The candidate against one baseline within one category (per-case pass, paired)."""

    candidate: str
    baseline: str
    category: str
    metric: str
    candidate_value: float
    baseline_value: float
    delta: float
    ci: Interval
    n: int
    flagged: bool = False


@dataclass
class CaseRow:
    """One model's outcome on one case."""

    case_id: str
    model: str
    prediction: str | None
    reference: str
    correct: bool
    latency_ms: float | None
    error: str | None
    answer: str | None
    category: str | None
    cached: bool
    score: float | None = None
    detail: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)  # the scorers this case failed


@dataclass
class SuiteResult:
    """One suite (a dataset with its task) run on several models."""

    name: str
    task: str
    labels: list[str]
    primary_metric: str
    n_cases: int
    models: dict[str, ModelResult]
    comparisons: list[Comparison]
    cases: list[CaseRow]
    metrics: list[str] = field(default_factory=list)
    category_comparisons: list[CategoryComparison] = field(default_factory=list)
    regression: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)  # case id -> input text
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


@dataclass
class RunResult:
    """A whole evaluation: one result per suite (the first is the main suite), the gate."""

    run_id: str
    name: str
    confidence: float
    n_resamples: int
    seed: int
    candidate: str
    baselines: list[str]
    suites: list[SuiteResult]
    notes: list[str] = field(default_factory=list)
    model_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    leakage: dict[str, Any] | None = None
    gate: GateResult | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # version, config hash, times, models
    human: dict[str, Any] | None = None  # the run's human study: preference, agreement, judges

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
        """JSON-ready dictionary."""
        out = asdict(self)
        for suite, raw_suite in zip(self.suites, out["suites"], strict=True):
            for comp, raw in zip(suite.comparisons, raw_suite["comparisons"], strict=True):
                raw["direction"] = comp.direction
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
        return out
