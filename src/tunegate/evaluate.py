"""From stored responses to per-model results: per-case scores, metrics and intervals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunegate.data import Case
from tunegate.results import CaseRow, Estimate, ModelResult
from tunegate.scoring.classification import (
    LabelParser,
    classification_report,
    confusion_codes,
    count_metric,
    n_count_cells,
)
from tunegate.stats import bootstrap_counts_ci, latency_percentiles, wilson_interval
from tunegate.store import Response

CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "micro_f1", "weighted_f1")


@dataclass
class ScoredModel:
    """A model's per-case predictions, ready for metrics and paired comparisons."""

    name: str
    responses: list[Response]
    predictions: list[str | None]
    errors: list[bool]
    correct: np.ndarray
    codes: np.ndarray


def score_classification(
    name: str, cases: Sequence[Case], responses: Sequence[Response], labels: Sequence[str]
) -> ScoredModel:
    """Parse every answer into a label (None when unparseable or failed)."""
    parse = LabelParser(labels)
    errors = [r.error is not None for r in responses]
    predictions = [None if err else parse(r.text) for r, err in zip(responses, errors, strict=True)]
    references = [c.reference for c in cases]
    correct = np.array(
        [p is not None and p == ref for p, ref in zip(predictions, references, strict=True)],
        dtype=bool,
    )
    return ScoredModel(
        name=name,
        responses=list(responses),
        predictions=predictions,
        errors=errors,
        correct=correct,
        codes=confusion_codes(references, predictions, labels),
    )


def classification_result(
    scored: ScoredModel,
    cases: Sequence[Case],
    labels: Sequence[str],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> ModelResult:
    """Metrics with bootstrap intervals, per-class report, latency and tokens for one model."""
    report = classification_report(
        [c.reference for c in cases], scored.predictions, labels, errors=scored.errors
    )
    point = {
        "accuracy": report.accuracy,
        "macro_f1": report.macro_f1,
        "micro_f1": report.micro_f1,
        "weighted_f1": report.weighted_f1,
    }
    metrics: dict[str, Estimate] = {}
    for name in CLASSIFICATION_METRICS:
        lo, hi = bootstrap_counts_ci(
            scored.codes,
            n_count_cells(len(labels)),
            count_metric(name),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        metrics[name] = Estimate(point[name], (lo, hi))
    n = len(cases)
    n_err = sum(scored.errors)
    n_unparseable = sum(
        1 for p, e in zip(scored.predictions, scored.errors, strict=True) if p is None and not e
    )
    metrics["error_rate"] = Estimate(n_err / n if n else None)
    metrics["unparseable_rate"] = Estimate(n_unparseable / n if n else None)
    ok = [r for r in scored.responses if r.error is None]
    latencies = [r.latency_ms for r in ok if r.latency_ms is not None]
    prompt = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    completion = [r.completion_tokens for r in ok if r.completion_tokens is not None]
    kinds = Counter(r.error_kind or "unknown" for r in scored.responses if r.error is not None)
    first_errors = list(dict.fromkeys(r.error for r in scored.responses if r.error is not None))[:5]
    return ModelResult(
        name=scored.name,
        n=n,
        errors=n_err,
        unparseable=n_unparseable,
        cached=sum(1 for r in scored.responses if r.cached),
        metrics=metrics,
        per_class={
            label: {
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
                "support": s.support,
            }
            for label, s in report.per_class.items()
        },
        confusion=report.confusion,
        latency_ms=latency_percentiles(latencies),
        tokens={
            "prompt": sum(prompt) if prompt else None,
            "completion": sum(completion) if completion else None,
        },
        error_kinds=dict(kinds),
        first_errors=[e for e in first_errors if e is not None],
        categories=category_pass_rates(scored, cases, confidence),
    )


def category_pass_rates(
    scored: ScoredModel, cases: Sequence[Case], confidence: float
) -> dict[str, dict[str, Any]]:
    """Per category: n, correct, pass rate (= accuracy) and its Wilson interval."""
    groups: dict[str, list[bool]] = {}
    for case, ok in zip(cases, scored.correct, strict=True):
        if case.category is not None:
            groups.setdefault(case.category, []).append(bool(ok))
    out: dict[str, dict[str, Any]] = {}
    for category in sorted(groups):
        flags = groups[category]
        k = sum(flags)
        out[category] = {
            "n": len(flags),
            "correct": k,
            "pass_rate": k / len(flags),
            "ci": wilson_interval(k, len(flags), confidence),
        }
    return out


def case_rows(scored: ScoredModel, cases: Sequence[Case]) -> list[CaseRow]:
    """Per-case rows for the JSON output."""
    return [
        CaseRow(
            case_id=case.id,
            model=scored.name,
            prediction=pred,
            reference=case.reference,
            correct=bool(ok),
            latency_ms=resp.latency_ms,
            error=resp.error,
            answer=resp.text,
            category=case.category,
            cached=resp.cached,
        )
        for case, resp, pred, ok in zip(
            cases, scored.responses, scored.predictions, scored.correct, strict=True
        )
    ]
