"""A/B comparison of a candidate against baselines, case by case on the same cases.

Every comparison rests on the cases both models answered: a case where either model's
request failed (a transport error, ``ScoredModel.errors``) is missing evidence, not a
wrong answer, so it is left out of the pairing and counted in ``n_excluded`` with its
reason in ``excluded`` (``candidate error``, ``baseline error``, ``both errors``; for a
per-case metric also ``scorer error``, a scorer that could not score either model's
answer, and ``no value``, e.g. a judge that did not grade the case). An
unparseable answer is an answer: it stays in, counted wrong. With no case answered by
both, the comparison still exists, with ``n == 0``, no interval (NaN) and no p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tunegate.results import CategoryComparison, Comparison
from tunegate.scoring.classification import count_metric, n_count_cells
from tunegate.stats import (
    mcnemar_test,
    paired_bootstrap_counts,
    paired_bootstrap_mean_delta,
    wins_ties_losses,
)

if TYPE_CHECKING:  # a type only: evaluate's imports stay out of compare's
    from tunegate.evaluation.scores import ScoredModel

Mask = npt.NDArray[np.bool_]


def _errors(scored: ScoredModel, n: int) -> Mask:
    errors = np.asarray(scored.errors, dtype=bool)
    return errors if errors.size == n else np.zeros(n, dtype=bool)


def _unscored(scored: ScoredModel, n: int, metric: str) -> Mask:
    """Per case: the scorer of ``metric`` could not score it (``pass_rate``: any scorer,
    since every scorer decides the pass)."""
    masks = scored.scorer_errors.values() if metric == "pass_rate" else []
    if metric in scored.scorer_errors:
        masks = [scored.scorer_errors[metric]]
    out = np.zeros(n, dtype=bool)
    for mask in masks:
        if mask.size == n:
            out |= mask
    return out


def answered_by_both(candidate: ScoredModel, baseline: ScoredModel) -> Mask:
    """Per case: neither model's request failed."""
    n = len(candidate.correct)
    if len(baseline.correct) != n:
        raise ValueError("models must be compared on the same cases")
    return ~(_errors(candidate, n) | _errors(baseline, n))


def exclusions(
    candidate: ScoredModel,
    baseline: ScoredModel,
    keep: Mask,
    idx: Sequence[int] | None = None,
    metric: str | None = None,
) -> dict[str, int]:
    """Why the cases outside ``keep`` (within ``idx``, default all) were left out; with
    ``metric``, a case either model's scorer could not score is a ``scorer error``."""
    n = len(candidate.correct)
    where = np.asarray(idx if idx is not None else range(n), dtype=np.intp)
    a, b = _errors(candidate, n)[where], _errors(baseline, n)[where]
    left_out = ~keep[where]
    counts = {
        "candidate error": int(np.count_nonzero(a & ~b)),
        "baseline error": int(np.count_nonzero(~a & b)),
        "both errors": int(np.count_nonzero(a & b)),
    }
    if metric is not None:
        unscored = _unscored(candidate, n, metric) | _unscored(baseline, n, metric)
        counts["scorer error"] = int(np.count_nonzero(unscored[where] & ~(a | b) & left_out))
    counts["no value"] = int(np.count_nonzero(left_out)) - sum(counts.values())
    return {k: v for k, v in counts.items() if v > 0}


def _no_pairs(
    candidate: ScoredModel,
    baseline: ScoredModel,
    metric: str,
    excluded: dict[str, int],
    per_case: str,
) -> Comparison:
    nan = math.nan
    return Comparison(
        candidate=candidate.name,
        baseline=baseline.name,
        metric=metric,
        candidate_value=nan,
        baseline_value=nan,
        delta=nan,
        ci=(nan, nan),
        p_value=nan,
        test="none: no case was answered by both models",
        wins=0,
        ties=0,
        losses=0,
        n=0,
        n_excluded=sum(excluded.values()),
        excluded=excluded,
        per_case=per_case,
        p_value_of="",
    )


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
    """For each metric: the delta (candidate - baseline) with a paired bootstrap interval,
    on the cases both models answered.

    The bootstrap resamples those cases jointly. The p-value is McNemar's test on
    per-case correctness (exact binomial when fewer than 25 cases are discordant): it
    tests accuracy (``p_value_of``), and wins/ties/losses count cases where only the
    candidate, both or neither, or only the baseline is correct (``per_case``
    accuracy), whichever metric the row is about.
    """
    keep = answered_by_both(candidate, baseline)
    excluded = exclusions(candidate, baseline, keep)
    if not keep.any():
        return [_no_pairs(candidate, baseline, m, excluded, "accuracy") for m in metrics]
    right_a, right_b = candidate.correct[keep], baseline.correct[keep]
    codes_a, codes_b = candidate.codes[keep], baseline.codes[keep]
    test = mcnemar_test(right_a, right_b)
    wins, ties, losses = wins_ties_losses(right_a.astype(float), right_b.astype(float))
    n_cells = n_count_cells(len(labels))
    out: list[Comparison] = []
    for metric in metrics:
        fn = count_metric(metric)
        delta, lo, hi = paired_bootstrap_counts(
            codes_a,
            codes_b,
            n_cells,
            fn,
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        values = [
            float(fn(np.bincount(codes, minlength=n_cells)[None, :])[0])
            for codes in (codes_a, codes_b)
        ]
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
                n=int(keep.sum()),
                n_excluded=int((~keep).sum()),
                excluded=excluded,
                per_case="accuracy",
                p_value_of="accuracy",
            )
        )
    return out


def _is_binary(values: npt.NDArray[np.float64]) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


def compare_generic(
    candidate: ScoredModel,
    baseline: ScoredModel,
    metrics: Sequence[str],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> list[Comparison]:
    """For each per-case metric: the paired bootstrap of the mean difference, on the cases
    both models answered and both have a value of the metric for.

    Corpus-level metrics (BLEU, chrF) are paired through their sentence-level per-case
    values. Wins/ties/losses compare the per-case values of the metric (for perplexity,
    lower wins). The p-value is McNemar's test on a per-case pass/fail: the metric's own
    values when they are all 0 or 1 (``p_value_of`` the metric), else the case's
    pass/fail (every scorer passed: ``p_value_of`` ``pass_rate``), on the same cases.
    """
    both = answered_by_both(candidate, baseline)
    out: list[Comparison] = []
    for metric in metrics:
        if metric not in candidate.values or metric not in baseline.values:
            continue
        va, vb = candidate.values[metric], baseline.values[metric]
        keep = both & ~(np.isnan(va) | np.isnan(vb))
        excluded = exclusions(candidate, baseline, keep, metric=metric)
        if not keep.any():
            out.append(_no_pairs(candidate, baseline, metric, excluded, metric))
            continue
        a, b = va[keep], vb[keep]
        delta, lo, hi = paired_bootstrap_mean_delta(
            a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        lower = metric in candidate.lower_is_better
        wins, ties, losses = wins_ties_losses(-a, -b) if lower else wins_ties_losses(a, b)
        if _is_binary(a) and _is_binary(b):
            test = mcnemar_test(a == 1.0, b == 1.0)
            tested, on = metric, metric
        else:
            test = mcnemar_test(candidate.correct[keep], baseline.correct[keep])
            tested, on = "pass_rate", "pass/fail"
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
                test=f"McNemar ({test.method}) on {on}",
                wins=wins,
                ties=ties,
                losses=losses,
                n=int(a.size),
                n_excluded=int((~keep).sum()),
                excluded=excluded,
                per_case=metric,
                p_value_of=tested,
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
    """Per category, the paired pass-rate delta (candidate - baseline) with its interval,
    on the category's cases both models answered and every scorer scored (NaN with none).

    With ``margin`` (a regression suite), a category is flagged when its observed
    drop exceeds the margin (``delta < -margin``).
    """
    n = len(candidate.correct)
    both = answered_by_both(candidate, baseline)
    both &= ~(_unscored(candidate, n, "pass_rate") | _unscored(baseline, n, "pass_rate"))
    out: list[CategoryComparison] = []
    for category, idx in groups.items():
        picked = np.asarray(idx, dtype=np.intp)
        kept = picked[both[picked]]
        a = candidate.correct[kept].astype(float)
        b = baseline.correct[kept].astype(float)
        if kept.size:
            delta, lo, hi = paired_bootstrap_mean_delta(
                a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
            )
            values = (float(a.mean()), float(b.mean()))
        else:
            delta = lo = hi = math.nan
            values = (math.nan, math.nan)
        out.append(
            CategoryComparison(
                candidate=candidate.name,
                baseline=baseline.name,
                category=category,
                metric="pass_rate",
                candidate_value=values[0],
                baseline_value=values[1],
                delta=delta,
                ci=(lo, hi),
                n=int(kept.size),
                flagged=margin is not None and delta < -margin,
                n_excluded=int(picked.size - kept.size),
                excluded=exclusions(candidate, baseline, both, idx, "pass_rate"),
            )
        )
    return out
