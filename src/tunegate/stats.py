"""Statistics for comparing models on the same cases: bootstrap, McNemar, Wilson.

Everything here is pure numpy/scipy/statsmodels, synchronous and seeded: each
random function takes ``seed`` and draws from ``np.random.default_rng(seed)``, so
the same inputs and seed give the same result. Results are plain Python ``float``
and ``int`` values.

Degenerate inputs never warn or crash. With no cases (``n == 0``) a point estimate
or interval is NaN. With one case the bootstrap distribution is a single point, so
the interval collapses to the point estimate. NaN is used rather than ``None`` so
that every interval keeps the type ``tuple[float, float]``; renderers turn NaN
into "n/a".

Bootstrap intervals are percentile intervals: with ``alpha = 1 - confidence``, the
``100 * alpha / 2`` and ``100 * (1 - alpha / 2)`` percentiles (numpy's ``linear``
method) of the ``n_resamples`` bootstrap statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "CountMetric",
    "McNemarResult",
    "bootstrap_counts_ci",
    "bootstrap_mean_ci",
    "latency_percentiles",
    "mcnemar_test",
    "paired_bootstrap_counts",
    "paired_bootstrap_mean_delta",
    "sign_test",
    "wilson_interval",
    "wins_ties_losses",
]

#: A metric of confusion-cell counts: maps a ``(B, n_cells)`` integer array to ``(B,)``.
CountMetric = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.floating[Any]]]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Upper bound on the elements of one resampling chunk. The index path holds about
# 12-20 bytes per element at once (uint32 indices plus gathered values), so a chunk
# stays under 10 MB; small chunks also stay in cache, which measured faster.
_CHUNK_ELEMENTS = 500_000
# numpy's multinomial costs about 100 ns per (resample, cell) and index resampling
# about 8 ns per (resample, case): the multinomial is used when it is cheaper.
_MULTINOMIAL_COST_RATIO = 12
# Exact McNemar (binomial) below this many discordant pairs, chi-square from it on.
_MCNEMAR_EXACT_BELOW = 25


# --------------------------------------------------------------------------- helpers


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _check_resamples(n_resamples: int) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, got {n_resamples}")


def _percentile_interval(distribution: FloatArray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo, hi = np.percentile(distribution, [100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)])
    return float(lo), float(hi)


def _as_codes(codes: npt.ArrayLike, n_cells: int, name: str = "codes") -> IntArray:
    array = np.asarray(codes)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {array.dtype}")
    result = array.astype(np.int64)
    if n_cells < 1:
        raise ValueError(f"n_cells must be at least 1, got {n_cells}")
    if result.size and (result.min() < 0 or result.max() >= n_cells):
        raise ValueError(f"{name} must lie in [0, {n_cells})")
    return result


def _as_values(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return array


def _chunks(n_resamples: int, elements_per_row: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges whose size times ``elements_per_row`` stays bounded."""
    rows = max(1, _CHUNK_ELEMENTS // max(1, elements_per_row))
    for start in range(0, n_resamples, rows):
        yield start, min(n_resamples, start + rows)


def _resampled_counts(
    inverse: npt.NDArray[np.intp],
    n_unique: int,
    n_resamples: int,
    rng: np.random.Generator,
    row_elements: int = 0,
) -> Iterator[tuple[int, int, IntArray]]:
    """Bootstrap counts of each distinct item, in chunks of resamples.

    ``inverse[i]`` is the item (in ``range(n_unique)``) of case ``i``. Yields
    ``(start, stop, counts)`` with ``counts`` of shape ``(stop - start, n_unique)``:
    how often each item appears among ``n`` cases drawn with replacement. Chunks
    are sized for rows of at least ``row_elements`` elements (the caller's work).

    Those counts follow Multinomial(n, observed item frequencies) exactly, so they
    are drawn that way when it is cheaper (few distinct items). Otherwise cases are
    drawn by index and counted, which is the same distribution drawn directly.
    """
    n = inverse.size
    if n_unique * _MULTINOMIAL_COST_RATIO <= n:
        freqs = np.bincount(inverse, minlength=n_unique) / n
        for start, stop in _chunks(n_resamples, max(n_unique, row_elements)):
            yield start, stop, rng.multinomial(n, freqs, size=stop - start).astype(np.int64)
        return
    index_dtype = np.uint32 if n <= np.iinfo(np.uint32).max else np.uint64
    for start, stop in _chunks(n_resamples, max(n, n_unique, row_elements)):
        rows = stop - start
        picked = inverse[rng.integers(0, n, size=(rows, n), dtype=index_dtype)]
        picked += (np.arange(rows, dtype=np.intp) * n_unique)[:, np.newaxis]
        counts = np.bincount(picked.ravel(), minlength=rows * n_unique)
        yield start, stop, counts.reshape(rows, n_unique).astype(np.int64)


def _scatter_counts(counts: IntArray, cells: IntArray, n_cells: int) -> IntArray:
    """Sum ``counts[:, u]`` into column ``cells[u]`` of a ``(rows, n_cells)`` array."""
    rows = counts.shape[0]
    target = (np.arange(rows, dtype=np.int64)[:, np.newaxis] * n_cells + cells).ravel()
    summed = np.bincount(target, weights=counts.ravel(), minlength=rows * n_cells)
    # Float sums of integer counts below 2**53 are exact.
    return summed.astype(np.int64).reshape(rows, n_cells)


def _apply_metric(metric: CountMetric, counts: IntArray) -> FloatArray:
    values = np.asarray(metric(counts), dtype=np.float64)
    if values.shape != (counts.shape[0],):
        raise ValueError(
            f"metric must map counts of shape {counts.shape} to shape ({counts.shape[0]},), "
            f"got {values.shape}"
        )
    return values


# --------------------------------------------------------------------------- bootstrap


def bootstrap_counts_ci(
    codes: npt.ArrayLike,
    n_cells: int,
    metric: CountMetric,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a metric of confusion-cell counts.

    ``codes[i]`` in ``[0, n_cells)`` is the cell of case ``i`` (for classification,
    :func:`tunegate.scoring.classification.confusion_codes` with
    ``n_cells = L * (L + 1)``); ``metric`` maps a ``(B, n_cells)`` count array to
    ``B`` values (e.g. ``count_metric("macro_f1")``).

    Why this is exactly the case-resampling bootstrap: a bootstrap resample draws
    ``n`` cases independently and uniformly, with replacement, from the ``n``
    observed cases. Each draw lands in cell ``k`` with probability
    ``p_k = n_k / n`` (the observed cell frequency), independently of the other
    draws, so the resample's cell counts are distributed exactly as
    ``Multinomial(n, p)``. A metric that depends on the resample only through its
    cell counts (every confusion-matrix metric does) therefore has the same
    bootstrap distribution whether the cases or the counts are resampled. Drawing
    ``rng.multinomial(n, p, size=B)`` costs ``O(B * cells)`` instead of
    ``O(B * n)``. Only cells with observed cases are drawn (the others have
    probability 0). When more than ``n / 12`` cells are occupied the multinomial
    (about 100 ns per cell) would cost more than drawing ``n`` indices (about 8 ns
    each), so the cases are drawn by index and counted instead: the same
    distribution, drawn directly.

    Returns ``(lo, hi)``; ``(nan, nan)`` with no cases.
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    observed = _as_codes(codes, n_cells)
    if observed.size == 0:
        return math.nan, math.nan
    cells, inverse = np.unique(observed, return_inverse=True)
    distribution = np.empty(n_resamples, dtype=np.float64)
    rng = np.random.default_rng(seed)
    chunks = _resampled_counts(inverse, cells.size, n_resamples, rng, row_elements=n_cells)
    for start, stop, counts in chunks:
        full = np.zeros((stop - start, n_cells), dtype=np.int64)
        full[:, cells] = counts
        distribution[start:stop] = _apply_metric(metric, full)
    return _percentile_interval(distribution, confidence)


def paired_bootstrap_counts(
    codes_a: npt.ArrayLike,
    codes_b: npt.ArrayLike,
    n_cells: int,
    metric: CountMetric,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Paired bootstrap of ``delta = metric(A) - metric(B)`` on the same cases.

    ``codes_a[i]`` and ``codes_b[i]`` are the cells of case ``i`` for systems A and
    B. Resampling a case resamples both systems' answers to it, so each case is
    encoded as the joint cell ``code_a * n_cells + code_b``; the joint counts of a
    resample are ``Multinomial(n, observed joint frequencies)`` (exactly the
    case-resampling bootstrap, see :func:`bootstrap_counts_ci`), and each system's
    counts are their marginals. The pairing keeps the correlation between the two
    systems, which makes the interval much narrower than two independent ones.

    Returns ``(observed delta, lo, hi)``; all NaN with no cases.
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    observed_a = _as_codes(codes_a, n_cells, "codes_a")
    observed_b = _as_codes(codes_b, n_cells, "codes_b")
    if observed_a.size != observed_b.size:
        raise ValueError(f"codes_a has {observed_a.size} cases but codes_b has {observed_b.size}")
    if observed_a.size == 0:
        return math.nan, math.nan, math.nan
    observed_counts = np.stack(
        [np.bincount(observed_a, minlength=n_cells), np.bincount(observed_b, minlength=n_cells)]
    ).astype(np.int64)
    observed_metric = _apply_metric(metric, observed_counts)
    delta = float(observed_metric[0] - observed_metric[1])

    joint, inverse = np.unique(observed_a * n_cells + observed_b, return_inverse=True)
    cells_a, cells_b = joint // n_cells, joint % n_cells
    distribution = np.empty(n_resamples, dtype=np.float64)
    rng = np.random.default_rng(seed)
    chunks = _resampled_counts(inverse, joint.size, n_resamples, rng, row_elements=2 * n_cells)
    for start, stop, counts in chunks:
        metric_a = _apply_metric(metric, _scatter_counts(counts, cells_a, n_cells))
        metric_b = _apply_metric(metric, _scatter_counts(counts, cells_b, n_cells))
        distribution[start:stop] = metric_a - metric_b
    lo, hi = _percentile_interval(distribution, confidence)
    return delta, lo, hi


def _bootstrap_means(values: FloatArray, n_resamples: int, seed: int) -> FloatArray:
    """``n_resamples`` means of ``n`` values drawn with replacement from ``values``.

    Few distinct values (e.g. 0/1 pass-fail scores): the counts of each distinct
    value are drawn as ``Multinomial(n, observed frequencies)`` (exact, as in
    :func:`bootstrap_counts_ci`) and the mean is ``counts @ distinct / n``.
    Otherwise: plain index resampling, ``uint32`` indices from ``rng.integers``
    (half the memory of ``int64``, as fast to draw), gathered and averaged in chunks of
    at most 500,000 elements (~6 MB). Measured on this 2-core machine: 10,000
    resamples of 10,000 continuous values in about 0.6 s.
    """
    rng = np.random.default_rng(seed)
    n = values.size
    means = np.empty(n_resamples, dtype=np.float64)
    distinct, inverse = np.unique(values, return_inverse=True)
    if distinct.size * _MULTINOMIAL_COST_RATIO <= n:
        for start, stop, counts in _resampled_counts(inverse, distinct.size, n_resamples, rng):
            means[start:stop] = (counts @ distinct) / n
        return means
    index_dtype = np.uint32 if n <= np.iinfo(np.uint32).max else np.uint64
    for start, stop in _chunks(n_resamples, n):
        indices = rng.integers(0, n, size=(stop - start, n), dtype=index_dtype)
        means[start:stop] = values[indices].mean(axis=1)
    return means


def bootstrap_mean_ci(
    values: npt.ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-case scores.

    ``mean = sum_i values_i / n``, resampled over cases with replacement. Returns
    ``(lo, hi)``; ``(nan, nan)`` with no values. Values must be finite.
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    array = _as_values(values, "values")
    if array.size == 0:
        return math.nan, math.nan
    return _percentile_interval(_bootstrap_means(array, n_resamples, seed), confidence)


def paired_bootstrap_mean_delta(
    a: npt.ArrayLike,
    b: npt.ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Paired bootstrap of ``delta = mean(a) - mean(b)`` for scores on the same cases.

    Resampling case ``i`` takes both ``a_i`` and ``b_i``, and
    ``mean(a*) - mean(b*) = mean((a - b)*)``, so this is the bootstrap of the mean
    of the per-case differences ``d_i = a_i - b_i``. Returns
    ``(observed delta, lo, hi)``; all NaN with no cases.
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    array_a = _as_values(a, "a")
    array_b = _as_values(b, "b")
    if array_a.size != array_b.size:
        raise ValueError(f"a has {array_a.size} cases but b has {array_b.size}")
    if array_a.size == 0:
        return math.nan, math.nan, math.nan
    differences = array_a - array_b
    delta = float(differences.mean())
    lo, hi = _percentile_interval(_bootstrap_means(differences, n_resamples, seed), confidence)
    return delta, lo, hi


def bootstrap_perplexity_ci(
    logprob_sums: npt.ArrayLike,
    token_counts: npt.ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of a corpus perplexity, resampling cases.

    Per resample ``exp(-sum_i s_i / sum_i n_i)`` over the drawn cases, where ``s_i`` is
    case ``i``'s summed token log-probability and ``n_i`` its number of scored tokens
    (a ratio of sums, so cases weigh by their length, as in the point estimate).
    """
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    lp = _as_values(logprob_sums, "logprob_sums")
    nt = _as_values(token_counts, "token_counts")
    if lp.size != nt.size:
        raise ValueError(f"{lp.size} log-prob sums but {nt.size} token counts")
    if lp.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = np.empty(n_resamples)
    for start in range(0, n_resamples, 1000):
        stop = min(n_resamples, start + 1000)
        idx = rng.integers(0, lp.size, size=(stop - start, lp.size))
        draws[start:stop] = np.exp(-lp[idx].sum(axis=1) / nt[idx].sum(axis=1))
    return _percentile_interval(draws, confidence)


# --------------------------------------------------------------------------- tests


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired pass/fail outcomes.

    ``b``: cases A got right and B got wrong; ``c``: A wrong and B right.
    ``method == "exact"``: ``statistic = min(b, c)`` and
    ``p_value = min(1, 2 * BinomCDF(min(b, c); b + c, 1/2))``.
    ``method == "chi2"``: ``statistic = (|b - c| - 1)^2 / (b + c)`` (continuity
    corrected) and ``p_value = P(chi2_1 >= statistic)``.
    """

    b: int
    c: int
    statistic: float
    p_value: float
    method: Literal["exact", "chi2"]


def _as_bools(values: npt.ArrayLike, name: str) -> npt.NDArray[np.bool_]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    return array.astype(bool)


def mcnemar_test(correct_a: npt.ArrayLike, correct_b: npt.ArrayLike) -> McNemarResult:
    """McNemar's test that systems A and B have the same accuracy on the same cases.

    Only the discordant cases matter: ``b`` (A right, B wrong) and ``c`` (A wrong,
    B right); under the null each is ``Binomial(b + c, 1/2)``. Uses
    :func:`statsmodels.stats.contingency_tables.mcnemar`: the exact binomial test
    when ``b + c < 25``, otherwise the chi-square test with continuity correction
    (formulas in :class:`McNemarResult`). With ``b + c == 0`` there is no evidence
    either way: ``statistic = 0.0``, ``p_value = 1.0``, method ``"exact"``.
    """
    right_a = _as_bools(correct_a, "correct_a")
    right_b = _as_bools(correct_b, "correct_b")
    if right_a.size != right_b.size:
        raise ValueError(f"correct_a has {right_a.size} cases but correct_b has {right_b.size}")
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    if b + c == 0:
        return McNemarResult(b=0, c=0, statistic=0.0, p_value=1.0, method="exact")
    table = [
        [int(np.count_nonzero(right_a & right_b)), b],
        [c, int(np.count_nonzero(~right_a & ~right_b))],
    ]
    exact = b + c < _MCNEMAR_EXACT_BELOW
    from statsmodels.stats.contingency_tables import mcnemar  # heavy: imported when used

    result = mcnemar(table, exact=exact, correction=True)
    return McNemarResult(
        b=b,
        c=c,
        statistic=float(result.statistic),
        p_value=min(1.0, float(result.pvalue)),
        method="exact" if exact else "chi2",
    )


def wins_ties_losses(score_a: npt.ArrayLike, score_b: npt.ArrayLike) -> tuple[int, int, int]:
    """Count cases where A scores higher, the same, or lower than B.

    ``wins = #{i: a_i > b_i}``, ``ties = #{i: a_i == b_i}``,
    ``losses = #{i: a_i < b_i}`` (exact comparison). Scores must be finite.
    """
    array_a = _as_values(score_a, "score_a")
    array_b = _as_values(score_b, "score_b")
    if array_a.size != array_b.size:
        raise ValueError(f"score_a has {array_a.size} cases but score_b has {array_b.size}")
    return (
        int(np.count_nonzero(array_a > array_b)),
        int(np.count_nonzero(array_a == array_b)),
        int(np.count_nonzero(array_a < array_b)),
    )


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test of ``wins`` against ``losses`` (ties left out).

    Under the null each decisive case is a win with probability 1/2; the p-value
    is :func:`scipy.stats.binomtest` ``(wins, wins + losses, 0.5)``. 1.0 with no
    decisive case.
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got wins={wins}, losses={losses}")
    if wins + losses == 0:
        return 1.0
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With ``p = successes / n`` and ``z`` the ``1 - (1 - confidence) / 2`` normal
    quantile::

        center = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z * sqrt(p (1 - p) / n + z^2 / (4 n^2)) / (1 + z^2 / n)
        interval = (center - half, center + half)

    Matches ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    Returns ``(nan, nan)`` when ``n == 0``.
    """
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return math.nan, math.nan
    from scipy.stats import norm  # heavy: imported when used

    z = float(norm.ppf(1.0 - (1.0 - confidence) / 2.0))
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def latency_percentiles(
    values_ms: npt.ArrayLike, qs: Sequence[float] = (50, 95, 99)
) -> dict[str, float | None]:
    """Latency percentiles, keyed ``"p50"``, ``"p95"``, ``"p99"`` (``f"p{q:g}"``).

    ``numpy.percentile`` with linear interpolation: for sorted values ``x`` and
    ``h = (n - 1) q / 100``, ``p_q = x[floor(h)] + (h - floor(h)) (x[floor(h) + 1] - x[floor(h)])``.
    NaN values (no latency measured) are left out; with no values left every
    percentile is ``None``.
    """
    array = np.asarray(values_ms, dtype=np.float64).ravel()
    array = array[~np.isnan(array)]
    keys = [f"p{q:g}" for q in qs]
    if array.size == 0:
        return dict.fromkeys(keys)
    results = np.percentile(array, list(qs))
    return {key: float(value) for key, value in zip(keys, results, strict=True)}


def _z(probability: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(probability))


def interval_standard_error(ci: tuple[float, float], confidence: float = 0.95) -> float:
    """The standard error a two-sided normal interval implies: ``(hi - lo) / (2 z)``,
    with ``z`` the ``1 - (1 - confidence) / 2`` normal quantile."""
    return (ci[1] - ci[0]) / (2.0 * _z(1.0 - (1.0 - confidence) / 2.0))


def minimum_detectable_effect(se: float, confidence: float = 0.95, power: float = 0.8) -> float:
    """The smallest distance from a threshold that an interval of this standard error
    detects with the given power: ``(z_{1-a/2} + z_{power}) * se``."""
    return (_z(1.0 - (1.0 - confidence) / 2.0) + _z(power)) * se


def required_cases(
    se: float, n: int, gap: float, confidence: float = 0.95, power: float = 0.8
) -> int | None:
    """Cases needed so that an estimate ``gap`` away from a threshold is decided.

    The standard error shrinks as ``1 / sqrt(n)``, so the test set must grow to
    ``n * (minimum_detectable_effect(se) / |gap|)**2`` (rounded up). None when the
    estimate sits exactly on the threshold (no test set decides it) or ``se`` is 0.
    """
    if gap == 0 or se <= 0 or n <= 0 or not math.isfinite(se):
        return None
    mde = minimum_detectable_effect(se, confidence, power)
    return max(n, math.ceil(n * (mde / abs(gap)) ** 2))
