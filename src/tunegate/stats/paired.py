"""Paired tests and closed-form intervals: McNemar, wins/ties/losses and the sign test,
Wilson, latency percentiles, and the sample-size (power) arithmetic."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from tunegate.stats.common import (
    _MCNEMAR_EXACT_BELOW,
    _as_values,
    _check_confidence,
)
from tunegate.stats.distributions import binom_half_two_sided, chi2_1_sf, normal_quantile


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
    B right); under the null each is ``Binomial(b + c, 1/2)``. The exact binomial
    test when ``b + c < 25``, otherwise the chi-square test with continuity
    correction (formulas in :class:`McNemarResult`; distribution functions from
    :mod:`tunegate.stats.distributions`), as
    ``statsmodels.stats.contingency_tables.mcnemar(table, exact=b + c < 25,
    correction=True)`` computes them; the tests compare with it. With ``b + c == 0``
    there is no evidence either way: ``statistic = 0.0``, ``p_value = 1.0``, method
    ``"exact"``.
    """
    right_a = _as_bools(correct_a, "correct_a")
    right_b = _as_bools(correct_b, "correct_b")
    if right_a.size != right_b.size:
        raise ValueError(f"correct_a has {right_a.size} cases but correct_b has {right_b.size}")
    b = int(np.count_nonzero(right_a & ~right_b))
    c = int(np.count_nonzero(~right_a & right_b))
    if b + c == 0:
        return McNemarResult(b=0, c=0, statistic=0.0, p_value=1.0, method="exact")
    if b + c < _MCNEMAR_EXACT_BELOW:
        p_value = binom_half_two_sided(b, b + c)  # min(1, 2 * BinomCDF(min(b, c)))
        return McNemarResult(b=b, c=c, statistic=float(min(b, c)), p_value=p_value, method="exact")
    statistic = (abs(b - c) - 1) ** 2 / (b + c)  # int / int: correctly rounded
    return McNemarResult(
        b=b, c=c, statistic=statistic, p_value=min(1.0, chi2_1_sf(statistic)), method="chi2"
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

    Under the null each decisive case is a win with probability 1/2; with
    ``n = wins + losses`` and ``X ~ Binomial(n, 1/2)`` the p-value is
    ``min(1, 2 * P(X <= min(wins, losses)))``, 1.0 when ``wins == losses`` or with no
    decisive case (:func:`tunegate.stats.distributions.binom_half_two_sided`). The
    tests compare it with ``scipy.stats.binomtest(wins, n, 0.5)``.
    """
    if wins < 0 or losses < 0:
        raise ValueError(f"counts must be >= 0, got wins={wins}, losses={losses}")
    return binom_half_two_sided(wins, wins + losses)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    With ``p = successes / n`` and ``z`` the ``1 - (1 - confidence) / 2`` normal
    quantile::

        center = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z * sqrt(p (1 - p) / n + z^2 / (4 n^2)) / (1 + z^2 / n)
        interval = (center - half, center + half)

    clipped to ``[0, 1]``; ``z`` from :func:`statistics.NormalDist.inv_cdf`. With no
    success the lower bound is exactly 0, with no failure the upper bound exactly 1 (what
    the formula gives in exact arithmetic; in floating point ``center - half`` can come
    out as ``2.8e-17``). The tests compare it with
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    Returns ``(nan, nan)`` when ``n == 0``.
    """
    _check_confidence(confidence)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return math.nan, math.nan
    z = normal_quantile(1.0 - (1.0 - confidence) / 2.0)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    center = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    lo = 0.0 if successes == 0 else max(0.0, center - half)
    hi = 1.0 if successes == n else min(1.0, center + half)
    return lo, hi


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


def interval_standard_error(ci: tuple[float, float], confidence: float = 0.95) -> float:
    """The standard error a two-sided normal interval implies: ``(hi - lo) / (2 z)``,
    with ``z`` the ``1 - (1 - confidence) / 2`` normal quantile."""
    return (ci[1] - ci[0]) / (2.0 * normal_quantile(1.0 - (1.0 - confidence) / 2.0))


def minimum_detectable_effect(se: float, confidence: float = 0.95, power: float = 0.8) -> float:
    """The smallest distance from a threshold that an interval of this standard error
    detects with the given power: ``(z_{1-a/2} + z_{power}) * se``."""
    return (normal_quantile(1.0 - (1.0 - confidence) / 2.0) + normal_quantile(power)) * se


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
