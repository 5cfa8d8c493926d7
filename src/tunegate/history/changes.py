"""What changed between two stored runs, as data: the result of :func:`tunegate.history.diff.diff_results`.

Every delta is ``B - A``; ``to_dict`` gives plain JSON types (tuples become lists,
undefined numbers None).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tunegate.jsonable import jsonable


@dataclass
class MetricChange:
    """One number in run A and run B; ``delta = b - a`` (None when either is missing)."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    ci_a: tuple[float, float] | None = None
    ci_b: tuple[float, float] | None = None


@dataclass
class CategoryChange:
    """A category's pass rate in each run, and the flips among its matched cases."""

    name: str
    n_a: int | None
    n_b: int | None
    pass_rate_a: float | None
    pass_rate_b: float | None
    delta: float | None
    ci_a: tuple[float, float] | None = None
    ci_b: tuple[float, float] | None = None
    fixed: int = 0
    broken: int = 0


@dataclass
class CaseExample:
    """One flipped case with both runs' answers."""

    case_id: str
    category: str | None
    reference: str | None
    prediction_a: str | None
    prediction_b: str | None
    answer_a: str | None
    answer_b: str | None
    error_a: str | None
    error_b: str | None


@dataclass
class CaseChanges:
    """Per-case comparison of one model on the cases both runs scored.

    ``n_matched`` cases have the same ``case_id`` in both runs; ``n_compared`` of them
    have a pass/fail outcome (``correct``) in both, and every count below is over
    those. ``fixed + broken + unchanged == n_compared`` and
    ``unchanged == both_right + both_wrong``. McNemar's
    ``b`` is ``broken`` and its ``c`` is ``fixed``. ``accuracy_delta`` is
    ``accuracy_b - accuracy_a`` on the compared cases, with its paired bootstrap
    interval (None with no compared case).
    """

    n_matched: int
    n_compared: int
    fixed: int
    broken: int
    unchanged: int
    both_right: int
    both_wrong: int
    predictions_changed: int
    accuracy_a: float | None
    accuracy_b: float | None
    accuracy_delta: float | None
    accuracy_ci: tuple[float, float] | None
    mcnemar_p: float
    mcnemar_statistic: float
    mcnemar_method: str
    fixed_ids: list[str]
    broken_ids: list[str]
    only_a_ids: list[str]
    only_b_ids: list[str]
    fixed_examples: list[CaseExample]
    broken_examples: list[CaseExample]


@dataclass
class ModelDiff:
    """One model on one suite, run A against run B."""

    model: str
    suite: str
    primary_metric: str | None
    n_a: int | None
    n_b: int | None
    errors_a: int | None
    errors_b: int | None
    metrics: list[MetricChange]
    latency_ms: list[MetricChange]
    categories: list[CategoryChange]
    cases: CaseChanges | None
    notes: list[str] = field(default_factory=list)

    def metric(self, name: str) -> MetricChange | None:
        """The change of metric ``name``, or None when neither run has it."""
        return next((m for m in self.metrics if m.name == name), None)

    @property
    def primary(self) -> MetricChange | None:
        """The change of the suite's primary metric."""
        return None if self.primary_metric is None else self.metric(self.primary_metric)


@dataclass
class SuiteDiff:
    """One suite present in both runs."""

    name: str
    task: str | None
    primary_metric: str | None
    n_cases_a: int | None
    n_cases_b: int | None
    models: list[ModelDiff]
    models_only_a: list[str]
    models_only_b: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass
class RunSide:
    """What identifies one of the two runs."""

    run_id: str | None
    name: str | None
    candidate: str | None
    baselines: list[str]
    confidence: float | None


@dataclass
class RunDiff:
    """Run B against run A; every delta is ``B - A``."""

    run_a: RunSide
    run_b: RunSide
    confidence: float
    n_resamples: int
    seed: int
    suites: list[SuiteDiff]
    suites_only_a: list[str]
    suites_only_b: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def model_diffs(self) -> list[ModelDiff]:
        """Every model diff of every suite, in order."""
        return [m for s in self.suites for m in s.models]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists, undefined numbers None)."""
        data: dict[str, Any] = jsonable(asdict(self))
        return data
