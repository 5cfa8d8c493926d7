"""A/B comparison of a candidate against baselines, case by case on the same cases."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunegate.evaluate import ScoredModel
from tunegate.results import Comparison
from tunegate.scoring.classification import count_metric, n_count_cells
from tunegate.stats import mcnemar_test, paired_bootstrap_counts, wins_ties_losses


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
