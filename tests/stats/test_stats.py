"""Statistics: bootstrap intervals, paired comparisons, McNemar, Wilson, percentiles."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy.stats import binomtest, chi2
from statsmodels.stats.proportion import proportion_confint

from tunegate.scoring.classification import confusion_codes, count_metric, metrics_from_counts
from tunegate.stats import (
    bootstrap_counts_ci,
    bootstrap_mean_ci,
    latency_percentiles,
    mcnemar_test,
    paired_bootstrap_counts,
    paired_bootstrap_mean_delta,
    wilson_interval,
    wins_ties_losses,
)

pytestmark = pytest.mark.filterwarnings("error")

LABELS = ["negative", "neutral", "positive"]
N_CELLS = 12  # L * (L + 1) for three labels
MACRO_F1 = count_metric("macro_f1")


def simulated_codes(n: int, accuracy: float, seed: int, n_labels: int = 3) -> npt.NDArray[np.int64]:
    """Confusion codes of a classifier right with probability ``accuracy``."""
    rng = np.random.default_rng(seed)
    labels = [f"l{i}" for i in range(n_labels)]
    truth = rng.integers(0, n_labels, size=n)
    guess = rng.integers(0, n_labels + 1, size=n)  # n_labels: no valid label
    predicted = np.where(rng.random(n) < accuracy, truth, guess)
    y_true = [labels[t] for t in truth]
    y_pred = [None if p == n_labels else labels[p] for p in predicted]
    return confusion_codes(y_true, y_pred, labels)


class Recorder:
    """Wrap a count metric and keep every value it returns (the bootstrap distribution)."""

    def __init__(self, metric: Callable[[npt.NDArray[Any]], npt.NDArray[np.float64]]) -> None:
        self.metric = metric
        self.values: list[npt.NDArray[np.float64]] = []

    def __call__(self, counts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        result = self.metric(counts)
        self.values.append(result)
        return result

    def distribution(self) -> npt.NDArray[np.float64]:
        return np.concatenate(self.values)


def naive_counts(
    codes: npt.NDArray[np.int64], n_cells: int, n_resamples: int, seed: int
) -> npt.NDArray[np.int64]:
    """Cell counts of the textbook bootstrap: resample case indices, then count."""
    rng = np.random.default_rng(seed)
    n = codes.size
    picked = codes[rng.integers(0, n, size=(n_resamples, n))]
    offsets = (np.arange(n_resamples) * n_cells)[:, np.newaxis]
    return np.bincount((picked + offsets).ravel(), minlength=n_resamples * n_cells).reshape(
        n_resamples, n_cells
    )


def assert_same_distribution(ours: npt.NDArray[np.float64], naive: npt.NDArray[np.float64]) -> None:
    """Means within 4 standard errors, standard deviations within 10 %."""
    spread = naive.std()
    assert spread > 0
    standard_error = spread * math.sqrt(1 / ours.size + 1 / naive.size)
    assert abs(ours.mean() - naive.mean()) < 4 * standard_error
    assert ours.std() == pytest.approx(spread, rel=0.1)


# --------------------------------------------------------------------------- counts bootstrap


def test_counts_ci_contains_point_estimate() -> None:
    codes = simulated_codes(500, 0.7, seed=1)
    point = float(MACRO_F1(np.bincount(codes, minlength=N_CELLS))[0])
    lo, hi = bootstrap_counts_ci(codes, N_CELLS, MACRO_F1, n_resamples=2000)
    assert type(lo) is float
    assert type(hi) is float
    assert lo < point < hi
    assert hi - lo < 0.2


def test_counts_ci_is_seeded() -> None:
    codes = simulated_codes(300, 0.6, seed=2)
    first = bootstrap_counts_ci(codes, N_CELLS, MACRO_F1, n_resamples=1000, seed=7)
    again = bootstrap_counts_ci(codes, N_CELLS, MACRO_F1, n_resamples=1000, seed=7)
    other = bootstrap_counts_ci(codes, N_CELLS, MACRO_F1, n_resamples=1000, seed=8)
    assert first == again
    assert first != other


def test_counts_ci_narrows_with_confidence() -> None:
    codes = simulated_codes(300, 0.6, seed=3)
    lo90, hi90 = bootstrap_counts_ci(codes, N_CELLS, MACRO_F1, n_resamples=2000, confidence=0.9)
    lo99, hi99 = bootstrap_counts_ci(codes, N_CELLS, MACRO_F1, n_resamples=2000, confidence=0.99)
    assert lo99 < lo90 < hi90 < hi99


@pytest.mark.parametrize(
    ("n", "n_labels"),
    [
        (2000, 3),  # few distinct cells: drawn through the multinomial
        (40, 6),  # nearly one case per cell: drawn by index
    ],
)
def test_counts_bootstrap_matches_naive_bootstrap(n: int, n_labels: int) -> None:
    n_cells = n_labels * (n_labels + 1)
    codes = simulated_codes(n, 0.6, seed=4, n_labels=n_labels)
    recorder = Recorder(MACRO_F1)
    bootstrap_counts_ci(codes, n_cells, recorder, n_resamples=4000, seed=11)
    ours = recorder.distribution()
    assert ours.shape == (4000,)
    naive = MACRO_F1(naive_counts(codes, n_cells, 4000, seed=12))
    assert_same_distribution(ours, naive)


def test_counts_bootstrap_keeps_the_number_of_cases() -> None:
    codes = simulated_codes(250, 0.5, seed=5)
    sizes: list[npt.NDArray[np.int64]] = []

    def total(counts: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        sizes.append(counts.sum(axis=1))
        totals: npt.NDArray[np.float64] = counts.sum(axis=1).astype(np.float64)
        return totals

    assert bootstrap_counts_ci(codes, N_CELLS, total, n_resamples=500) == (250.0, 250.0)
    assert all((size == 250).all() for size in sizes)


def test_counts_ci_small_inputs() -> None:
    assert all(math.isnan(v) for v in bootstrap_counts_ci([], N_CELLS, MACRO_F1))
    # One case: every resample is that case.
    point = float(MACRO_F1(np.bincount([5], minlength=N_CELLS))[0])
    assert bootstrap_counts_ci([5], N_CELLS, MACRO_F1, n_resamples=100) == (point, point)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"codes": [0, 12]}, r"\[0, 12\)"),
        ({"codes": [-1]}, r"\[0, 12\)"),
        ({"codes": [0.5]}, "integers"),
        ({"confidence": 1.0}, "confidence"),
        ({"n_resamples": 0}, "n_resamples"),
    ],
)
def test_counts_ci_rejects_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"codes": [0, 1], "n_cells": N_CELLS, "metric": MACRO_F1}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bootstrap_counts_ci(**arguments)


# --------------------------------------------------------------------------- paired counts


def test_paired_counts_detects_a_clearly_better_system() -> None:
    better = simulated_codes(600, 0.85, seed=6)
    rng = np.random.default_rng(0)
    # The worse system: same cases and true labels, a third of its answers unparseable.
    worse = np.where(rng.random(600) < 0.35, (better // 4) * 4 + 3, better)
    delta, lo, hi = paired_bootstrap_counts(better, worse, N_CELLS, MACRO_F1, n_resamples=2000)
    observed = metrics_from_counts(
        np.stack([np.bincount(better, minlength=12), np.bincount(worse, minlength=12)])
    )["macro_f1"]
    assert delta == float(observed[0] - observed[1])
    assert 0 < lo < delta < hi


def test_paired_counts_identical_systems_include_zero() -> None:
    codes = simulated_codes(400, 0.6, seed=7)
    delta, lo, hi = paired_bootstrap_counts(codes, codes, N_CELLS, MACRO_F1, n_resamples=1000)
    assert (delta, lo, hi) == (0.0, 0.0, 0.0)
    assert lo <= 0 <= hi


def test_paired_counts_equal_quality_includes_zero() -> None:
    # Two systems of the same accuracy that err independently on the same cases.
    rng = np.random.default_rng(8)
    truth = rng.integers(0, 3, size=400)

    def system() -> npt.NDArray[np.int64]:
        guess = rng.integers(0, 4, size=400)
        return truth * 4 + np.where(rng.random(400) < 0.6, truth, guess)

    _, lo, hi = paired_bootstrap_counts(system(), system(), N_CELLS, MACRO_F1, n_resamples=2000)
    assert lo < 0 < hi


@pytest.mark.parametrize("n", [3000, 60])
def test_paired_counts_match_naive_paired_bootstrap(n: int) -> None:
    a = simulated_codes(n, 0.7, seed=10)
    rng = np.random.default_rng(2)
    b = np.where(rng.random(n) < 0.3, (a // 4) * 4 + rng.integers(0, 4, n), a)
    recorder = Recorder(MACRO_F1)
    paired_bootstrap_counts(a, b, N_CELLS, recorder, n_resamples=3000, seed=3)
    values = recorder.values  # the observed pair first, then A and B for each chunk
    ours = np.concatenate(values[1::2]) - np.concatenate(values[2::2])

    naive_rng = np.random.default_rng(4)
    indices = naive_rng.integers(0, n, size=(3000, n))
    offsets = (np.arange(3000) * N_CELLS)[:, np.newaxis]

    def counts_of(codes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        flat = (codes[indices] + offsets).ravel()
        return np.bincount(flat, minlength=3000 * N_CELLS).reshape(3000, N_CELLS)

    naive = MACRO_F1(counts_of(a)) - MACRO_F1(counts_of(b))
    assert ours.shape == (3000,)
    assert_same_distribution(ours, naive)


def test_paired_counts_small_inputs() -> None:
    assert all(math.isnan(v) for v in paired_bootstrap_counts([], [], N_CELLS, MACRO_F1))
    # One case of class 0: A right (macro-F1 1/3 over three labels), B unparseable (0).
    delta, lo, hi = paired_bootstrap_counts([0], [3], N_CELLS, MACRO_F1, n_resamples=50)
    assert delta == lo == hi == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="cases"):
        paired_bootstrap_counts([0, 1], [0], N_CELLS, MACRO_F1)


# --------------------------------------------------------------------------- mean bootstrap


def naive_means(values: npt.NDArray[np.float64], n_resamples: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)


def percentile_ci(distribution: npt.NDArray[np.float64]) -> tuple[float, float]:
    lo, hi = np.percentile(distribution, [2.5, 97.5])
    return float(lo), float(hi)


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(20).normal(0.4, 0.2, size=800),  # continuous: index path
        (np.random.default_rng(21).random(800) < 0.3).astype(float),  # 0/1: multinomial
    ],
    ids=["continuous", "binary"],
)
def test_mean_ci_matches_naive_bootstrap(values: npt.NDArray[np.float64]) -> None:
    lo, hi = bootstrap_mean_ci(values, n_resamples=4000, seed=1)
    assert type(lo) is float
    assert lo < values.mean() < hi
    naive_lo, naive_hi = percentile_ci(naive_means(values, 4000, seed=2))
    width = naive_hi - naive_lo
    assert lo == pytest.approx(naive_lo, abs=0.1 * width)
    assert hi == pytest.approx(naive_hi, abs=0.1 * width)


def test_mean_ci_is_seeded() -> None:
    values = np.random.default_rng(22).random(200)
    assert bootstrap_mean_ci(values, n_resamples=500, seed=3) == bootstrap_mean_ci(
        values, n_resamples=500, seed=3
    )
    assert bootstrap_mean_ci(values, n_resamples=500, seed=3) != bootstrap_mean_ci(
        values, n_resamples=500, seed=4
    )


def test_mean_ci_normal_approximation() -> None:
    # For a large sample the bootstrap interval is close to mean +- 1.96 sd / sqrt(n).
    values = np.random.default_rng(23).exponential(1.0, size=5000)
    lo, hi = bootstrap_mean_ci(values, n_resamples=4000)
    half = 1.959964 * values.std() / math.sqrt(values.size)
    assert lo == pytest.approx(values.mean() - half, abs=0.1 * half)
    assert hi == pytest.approx(values.mean() + half, abs=0.1 * half)


def test_paired_mean_delta() -> None:
    rng = np.random.default_rng(24)
    base = rng.random(500)
    better = base + 0.05 + rng.normal(0, 0.05, size=500)
    delta, lo, hi = paired_bootstrap_mean_delta(better, base, n_resamples=2000)
    assert delta == pytest.approx(float(np.mean(better - base)))
    assert type(delta) is float
    assert 0 < lo < delta < hi
    same = paired_bootstrap_mean_delta(base, base, n_resamples=200)
    assert same == (0.0, 0.0, 0.0)
    # The paired interval is the bootstrap interval of the per-case differences.
    assert (lo, hi) == bootstrap_mean_ci(better - base, n_resamples=2000)


def test_paired_mean_delta_is_much_narrower_than_unpaired() -> None:
    rng = np.random.default_rng(25)
    difficulty = rng.random(400)
    a = difficulty + rng.normal(0, 0.02, size=400)
    b = difficulty + rng.normal(0, 0.02, size=400)
    _, lo, hi = paired_bootstrap_mean_delta(a, b, n_resamples=1000)
    a_lo, a_hi = bootstrap_mean_ci(a, n_resamples=1000)
    assert hi - lo < (a_hi - a_lo) / 5


def test_mean_small_inputs() -> None:
    assert all(math.isnan(v) for v in bootstrap_mean_ci([]))
    assert all(math.isnan(v) for v in paired_bootstrap_mean_delta([], []))
    assert bootstrap_mean_ci([0.25], n_resamples=10) == (0.25, 0.25)
    assert paired_bootstrap_mean_delta([1.0], [0.5], n_resamples=10) == (0.5, 0.5, 0.5)
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean_ci([1.0, math.nan])
    with pytest.raises(ValueError, match="cases"):
        paired_bootstrap_mean_delta([1.0], [1.0, 2.0])


# --------------------------------------------------------------------------- McNemar


def outcomes(both: int, only_a: int, only_b: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return a, b


@pytest.mark.parametrize(("only_a", "only_b"), [(7, 2), (1, 0), (3, 3), (0, 5), (13, 11)])
def test_mcnemar_exact_equals_binomial_test(only_a: int, only_b: int) -> None:
    a, b = outcomes(20, only_a, only_b, 9)
    result = mcnemar_test(a, b)
    assert (result.b, result.c, result.method) == (only_a, only_b, "exact")
    expected = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert result.statistic == min(only_a, only_b)
    assert type(result.p_value) is float


@pytest.mark.parametrize(("only_a", "only_b"), [(20, 5), (40, 30), (12, 13)])
def test_mcnemar_chi2_equals_formula(only_a: int, only_b: int) -> None:
    a, b = outcomes(50, only_a, only_b, 10)
    result = mcnemar_test(a, b)
    statistic = (abs(only_a - only_b) - 1) ** 2 / (only_a + only_b)
    assert result.method == "chi2"
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_value == pytest.approx(chi2.sf(statistic, df=1), rel=1e-12)


def test_mcnemar_no_discordant_pairs() -> None:
    for a, b in [outcomes(5, 0, 0, 3), ([], [])]:
        result = mcnemar_test(a, b)
        assert (result.b, result.c, result.p_value, result.method) == (0, 0, 1.0, "exact")
    with pytest.raises(ValueError, match="cases"):
        mcnemar_test([True], [True, False])


# --------------------------------------------------------------------------- small helpers


def test_wins_ties_losses() -> None:
    assert wins_ties_losses([1.0, 0.5, 0.2, 0.0], [0.5, 0.5, 0.3, 0.0]) == (1, 2, 1)
    assert wins_ties_losses([], []) == (0, 0, 0)
    result = wins_ties_losses(np.array([1, 0]), np.array([0, 0]))
    assert all(type(v) is int for v in result)


@pytest.mark.parametrize(
    ("successes", "n", "confidence"),
    [(0, 10, 0.95), (3, 10, 0.95), (10, 10, 0.95), (1, 1, 0.9), (512, 1000, 0.99), (7, 9, 0.8)],
)
def test_wilson_equals_statsmodels(successes: int, n: int, confidence: float) -> None:
    lo, hi = wilson_interval(successes, n, confidence)
    expected_lo, expected_hi = proportion_confint(
        successes, n, alpha=1 - confidence, method="wilson"
    )
    assert lo == pytest.approx(expected_lo, abs=1e-12)
    assert hi == pytest.approx(expected_hi, abs=1e-12)
    assert type(lo) is float


def test_wilson_edge_cases() -> None:
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 3)


def test_latency_percentiles() -> None:
    values = list(np.random.default_rng(30).gamma(2.0, 100.0, size=501))
    result = latency_percentiles(values)
    assert list(result) == ["p50", "p95", "p99"]
    for q in (50, 95, 99):
        assert result[f"p{q}"] == float(np.percentile(values, q))
    assert latency_percentiles([]) == {"p50": None, "p95": None, "p99": None}
    assert latency_percentiles([5.0]) == {"p50": 5.0, "p95": 5.0, "p99": 5.0}
    assert latency_percentiles([1.0, math.nan, 3.0], qs=(50, 99.9)) == {"p50": 2.0, "p99.9": 2.998}


def test_perplexity_interval_is_a_ratio_of_sums() -> None:
    from tunegate.stats import bootstrap_perplexity_ci

    # Every token has log-prob -2, whatever the case length: each resample gives exp(2).
    counts = np.array([3, 7, 1, 12, 5], dtype=float)
    lo, hi = bootstrap_perplexity_ci(-2.0 * counts, counts, n_resamples=500)
    assert lo == pytest.approx(math.exp(2.0))
    assert hi == pytest.approx(math.exp(2.0))
    # Two kinds of case: the interval lies between their perplexities.
    sums = np.array([-1.0] * 20 + [-3.0] * 20)
    lo, hi = bootstrap_perplexity_ci(sums, np.ones(40), n_resamples=2000)
    assert math.exp(1.0) < lo < math.exp(2.0) < hi < math.exp(3.0)
    with pytest.raises(ValueError, match="2 log-prob sums but 3 token counts"):
        bootstrap_perplexity_ci([-1.0, -2.0], [1, 2, 3])
