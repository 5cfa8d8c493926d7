"""The decision: compare, gate criteria, the judge and human sections."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from tunegate.config.base import Float, Int, _Strict
from tunegate.config.scorers import PairwiseJudgeConfig


class CompareConfig(_Strict):
    """Which model is the candidate and which are its baselines."""

    candidate: str
    baselines: list[str] = Field(default_factory=list)
    metric: str | None = None


GATE_METRICS = (
    "accuracy",
    "macro_f1",
    "micro_f1",
    "weighted_f1",
    "error_rate",
    "unparseable_rate",
    "pass_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "leakage",
    "cost_per_1k",
    "stopped_models",
    "human_preference",
    "judge_preference",
    "judge_score",
    "annotator_agreement",
    "position_bias",
    "exact_match",
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "bleu",
    "chrf",
    "json_valid",
    "schema_compliance",
    "tool_call_accuracy",
    "perplexity",
    # repeats: k >= 2 (each case asked k times; docs/cost.md)
    "pass_at_k",
    "pass_all_k",
    "flakiness",
)

#: Operational limits: facts of the run, judged on the observed value by default.
OBSERVED_METRICS = (
    "error_rate",
    "unparseable_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "leakage",
    "cost_per_1k",
    "stopped_models",
)

#: Metrics that are facts of the run or not per case: no paired (min_delta) criteria.
_NOT_PAIRED = (
    *OBSERVED_METRICS,
    "human_preference",
    "judge_preference",
    "annotator_agreement",
    "position_bias",
    "pass_at_k",
    "pass_all_k",
    "flakiness",
)

#: Criteria about the run or a study, not one model's value: no ``model:``.
_RUN_WIDE = (
    "stopped_models",
    "leakage",
    "human_preference",
    "judge_preference",
    "annotator_agreement",
    "position_bias",
)

#: Preference criteria: ``min`` on the candidate's win rate against ``vs``.
PREFERENCE_METRICS = ("human_preference", "judge_preference")


class Criterion(_Strict):
    """One go/no-go condition on the candidate.

    Exactly one threshold: ``min`` / ``max`` on the candidate's own value (or, with
    ``model:``, another model's: a baseline's ``error_rate``, a judge's),
    ``min_delta`` (candidate minus ``vs``; negative = non-inferiority margin),
    ``max_drop`` (the candidate may be at most this much worse than ``vs``), or
    ``max_ratio`` (candidate / ``vs``, for latency).
    """

    metric: str
    vs: str | None = None
    # Whose own value ``min`` / ``max`` limit (default: the candidate), e.g. a baseline's
    # error_rate; a model of ``models:`` (a judge: its judge calls).
    model: str | None = None
    suite: str | None = None
    category: str | None = None
    min: Float | None = None
    max: Float | None = None
    min_delta: Float | None = None
    max_drop: Annotated[Float, Field(ge=0)] | None = None
    max_ratio: Annotated[Float, Field(gt=0)] | None = None
    judge: Literal["interval", "observed"] | None = None
    # annotator_agreement: which statistic (Fleiss' kappa by default)
    agreement: Literal["fleiss", "krippendorff_alpha"] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        # Custom scorers add their own names: those are checked against the config later.
        if not re.fullmatch(r"[A-Za-z_][\w.-]*", metric):
            raise ValueError(f"invalid metric name {metric!r}")
        return metric

    @model_validator(mode="after")
    def _one_threshold(self) -> Criterion:
        given = [
            k
            for k in ("min", "max", "min_delta", "max_drop", "max_ratio")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "needs exactly one of min, max, min_delta, max_drop, max_ratio"
                + (f" (got {', '.join(given)})" if given else "")
            )
        relative = given[0] in ("min_delta", "max_drop", "max_ratio")
        latency = self.metric.startswith("latency_")
        if given[0] == "max_ratio" and not latency:
            raise ValueError(f"max_ratio compares latencies, not {self.metric}")
        if given[0] in ("min_delta", "max_drop") and self.metric in _NOT_PAIRED:
            raise ValueError(f"{given[0]} needs a metric compared case by case, not {self.metric}")
        if relative and self.vs is None:
            raise ValueError(f"{given[0]} compares with another model: add vs: <model>")
        if self.agreement is not None and self.metric != "annotator_agreement":
            raise ValueError("agreement chooses the statistic of annotator_agreement")
        if not relative and self.vs is not None and self.metric not in PREFERENCE_METRICS:
            raise ValueError(
                f"vs is only used with min_delta, max_drop or max_ratio, not {given[0]}"
                f" (to limit another model's own {self.metric}, write model: {self.vs})"
            )
        if self.model is not None and (relative or self.vs is not None):
            raise ValueError(
                "model names whose own value min/max limit; a comparison (vs) is always "
                "of the candidate"
            )
        if self.model is not None and self.metric in _RUN_WIDE:
            raise ValueError(f"{self.metric} is not a value of one model: drop model")
        return self


class TrustJudgeConfig(_Strict):
    """A judge-based criterion counts only when the judge agrees with the human majority:
    Cohen's kappa at least ``min_kappa`` on at least ``min_items`` items of the study."""

    min_kappa: Annotated[Float, Field(ge=-1, le=1)] = 0.6
    min_items: Annotated[Int, Field(ge=1)] = 50


class GateConfig(_Strict):
    """The go/no-go decision: every criterion must pass for SHIP."""

    candidate: str | None = None
    criteria: Annotated[list[Criterion], Field(min_length=1)]
    confidence: Annotated[Float, Field(gt=0.5, lt=1.0)] | None = None
    trust_judge: TrustJudgeConfig | None = None


class JudgeSection(_Strict):
    """A top-level pairwise judge: ``model`` compares the candidate with its baselines on
    every case of ``suites`` (default: every generation suite)."""

    model: str
    suites: list[str] | None = None
    rubric: str | None = None
    name: str | None = None

    def as_scorer(self) -> PairwiseJudgeConfig:
        """The same judge as a suite's ``pairwise_judge`` scorer."""
        return PairwiseJudgeConfig(
            type="pairwise_judge", judge=self.model, rubric=self.rubric, name=self.name
        )


class HumanConfig(_Strict):
    """Where the run's human evaluation is: the study ``study`` in the store (default: the
    latest study made from this run)."""

    study: str | None = None
