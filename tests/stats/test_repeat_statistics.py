"""Repeated sampling: per-case figures and the cluster bootstrap over cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunegate.stats import bootstrap_mean_ci
from tunegate.stats.repeats import cluster_bootstrap_ci, per_case_repeat_values, repeat_summary


def test_per_case_figures() -> None:
    passed = [
        [True, True, True],  # always passes
        [False, False, False],  # never
        [True, False, True],  # flaky
        [False, False, True],  # flaky
    ]
    values = per_case_repeat_values(passed)
    assert values["mean"].tolist() == pytest.approx([1.0, 0.0, 2 / 3, 1 / 3])
    assert values["pass_at_k"].tolist() == [1.0, 0.0, 1.0, 1.0]
    assert values["pass_all_k"].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert values["flakiness"].tolist() == [0.0, 0.0, 1.0, 1.0]
    summary = repeat_summary(passed, n_resamples=200)
    assert summary["pass_at_k"][0] == pytest.approx(0.75)
    assert summary["pass_all_k"][0] == pytest.approx(0.25)
    assert summary["flakiness"][0] == pytest.approx(0.5)
    assert summary["mean"][0] == pytest.approx(0.5)


def _stochastic_answers(n: int, k: int, seed: int) -> np.ndarray:
    """Cases of varied difficulty: each case passes each repeat with its own chance."""
    rng = np.random.default_rng(seed)
    difficulty = rng.beta(0.5, 0.5, size=n)  # most cases nearly always or nearly never pass
    return rng.random((n, k)) < difficulty[:, None]


def test_interval_at_k5_is_as_wide_as_the_case_level_variation() -> None:
    n, k = 200, 5
    passed = _stochastic_answers(n, k, seed=3)
    per_case = passed.mean(axis=1)
    lo, hi = cluster_bootstrap_ci(per_case, n_resamples=4000, seed=1)
    width = hi - lo
    # What the case-level variation allows: the normal interval of the per-case means
    # (n independent cases) and the bootstrap of the per-case means.
    case_se = float(per_case.std(ddof=1)) / math.sqrt(n)
    assert width >= 0.9 * 2 * 1.96 * case_se
    plo, phi = bootstrap_mean_ci(per_case, n_resamples=4000, seed=1)
    assert width >= 0.9 * (phi - plo)
    # Treating the 5 x n answers as independent would claim a much narrower interval:
    # this is what resampling answers instead of cases gives, and it is wrong.
    alo, ahi = bootstrap_mean_ci(passed.ravel().astype(float), n_resamples=4000, seed=1)
    assert ahi - alo < 0.75 * width
    assert lo <= per_case.mean() <= hi


def test_interval_covers_at_the_nominal_rate_under_case_level_variation() -> None:
    # A fresh test set of n cases from the same population, k repeats each: the cluster
    # interval covers the population's mean pass rate about 95% of the time.
    n, k, trials = 100, 5, 120
    rng = np.random.default_rng(11)
    covered = 0
    for t in range(trials):
        difficulty = rng.beta(0.5, 0.5, size=n)
        passed = rng.random((n, k)) < difficulty[:, None]
        lo, hi = cluster_bootstrap_ci(passed.mean(axis=1), n_resamples=1000, seed=t)
        covered += lo <= 0.5 <= hi
    assert covered / trials >= 0.88


def test_no_cases_and_bad_shapes() -> None:
    assert all(math.isnan(x) for x in cluster_bootstrap_ci([], n_resamples=10))
    with pytest.raises(ValueError, match="matrix"):
        per_case_repeat_values([True, False])
