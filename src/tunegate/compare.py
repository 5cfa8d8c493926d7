"""A/B comparison of a candidate against baselines, case by case on the same cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tunegate.results import CategoryComparison, Comparison
from tunegate.scoring.classification import count_metric, n_count_cells
from tunegate.stats import (
    mcnemar_test,
    paired_bootstrap_counts,
    paired_bootstrap_mean_delta,
    wins_ties_losses,
)

if TYPE_CHECKING:  # a type only: evaluate's imports stay out of compare's
    from tunegate.evaluate import ScoredModel


def compare_classification(
    candidate: ScoredModel,
    baseline: ScoredModel,
    labels: Sequence[str],
    metrics: Sequence[str],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> list[Comparison]:
    """For each metric: the delta (candidate - baseline) with a paired bootstrap interval.

    Both models answered the same cases, so the bootstrap resamples cases jointly.
    The p-value is McNemar's test on per-case correctness (exact binomial when
    fewer than 25 cases are discordant); wins/ties/losses count cases where only
    the candidate, both or neither, or only the baseline is correct.
    """
    if len(candidate.correct) != len(baseline.correct):
        raise ValueError("models must be compared on the same cases")
    test = mcnemar_test(candidate.correct, baseline.correct)
    wins, ties, losses = wins_ties_losses(
        candidate.correct.astype(float), baseline.correct.astype(float)
    )
    out: list[Comparison] = []
    for metric in metrics:
        fn = count_metric(metric)
        delta, lo, hi = paired_bootstrap_counts(
            candidate.codes,
            baseline.codes,
            n_count_cells(len(labels)),
            fn,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        values = []
        for scored in (candidate, baseline):
            counts = np.bincount(scored.codes, minlength=n_count_cells(len(labels)))[None, :]
            values.append(float(fn(counts)[0]))
        out.append(
            Comparison(
                candidate=candidate.name,
                baseline=baseline.name,
                metric=metric,
                candidate_value=values[0],
                baseline_value=values[1],
                delta=delta,
                ci=(lo, hi),
                p_value=test.p_value,
                test=f"McNemar ({test.method})",
                wins=wins,
                ties=ties,
                losses=losses,
                n=len(candidate.correct),
            )
        )
    return out


def _paired_values(
    candidate: ScoredModel, baseline: ScoredModel, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    a, b = candidate.values[metric], baseline.values[metric]
    keep = ~(np.isnan(a) | np.isnan(b))
    return a[keep], b[keep]


def compare_generic(
    candidate: ScoredModel,
    baseline: ScoredModel,
    metrics: Sequence[str],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> list[Comparison]:
    """For each per-case metric: the paired bootstrap of the mean difference.

    Corpus-level metrics (BLEU, chrF) are paired through their sentence-level
    per-case values. The p-value is McNemar's test on per-case pass/fail;
    wins/ties/losses compare the per-case values of the metric (for perplexity,
    lower wins). Cases where either model has no value (a failed perplexity
    request) are left out of that metric's pairing.
    """
    if len(candidate.correct) != len(baseline.correct):
        raise ValueError("models must be compared on the same cases")
    test = mcnemar_test(candidate.correct, baseline.correct)
    out: list[Comparison] = []
    for metric in metrics:
        if metric not in candidate.values or metric not in baseline.values:
            continue
        a, b = _paired_values(candidate, baseline, metric)
        if a.size == 0:
            continue
        delta, lo, hi = paired_bootstrap_mean_delta(
            a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        lower = metric in candidate.lower_is_better
        wins, ties, losses = wins_ties_losses(-a, -b) if lower else wins_ties_losses(a, b)
        out.append(
            Comparison(
                candidate=candidate.name,
                baseline=baseline.name,
                metric=metric,
                candidate_value=float(a.mean()),
                baseline_value=float(b.mean()),
                delta=delta,
                ci=(lo, hi),
                p_value=test.p_value,
                test=f"McNemar ({test.method}) on pass/fail",
                wins=wins,
                ties=ties,
                losses=losses,
                n=int(a.size),
            )
        )
    return out


def compare_categories(
    candidate: ScoredModel,
    baseline: ScoredModel,
    groups: dict[str, list[int]],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
    margin: float | None = None,
) -> list[CategoryComparison]:
    """Per category, the paired pass-rate delta (candidate - baseline) with its interval.

    With ``margin`` (a regression suite), a category is flagged when its observed
    drop exceeds the margin (``delta < -margin``).
    """
    out: list[CategoryComparison] = []
    for category, idx in groups.items():
        a = candidate.correct[idx].astype(float)
        b = baseline.correct[idx].astype(float)
        delta, lo, hi = paired_bootstrap_mean_delta(
            a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        out.append(
            CategoryComparison(
                candidate=candidate.name,
                baseline=baseline.name,
                category=category,
                metric="pass_rate",
                candidate_value=float(a.mean()),
                baseline_value=float(b.mean()),
                delta=delta,
                ci=(lo, hi),
                n=len(idx),
                flagged=margin is not None and delta < -margin,
            )
        )
    return out
