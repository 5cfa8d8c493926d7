"""A distribution-free confidence interval for a quantile (latency percentiles), and for
the ratio of two models' quantiles.

For ``n`` independent values with sorted order statistics ``x(1) <= ... <= x(n)``, the
number ``B`` of values at or below the true ``q``-quantile is ``Binomial(n, q)``, so
``P(x(l) <= quantile < x(u)) >= P(l <= B <= u - 1) = F(u - 1) - F(l - 1)`` with ``F`` the
binomial CDF, whatever the distribution of the values. The interval takes the largest
``l`` with ``F(l - 1) <= alpha / 2`` and the smallest ``u`` with ``F(u - 1) >= 1 - alpha / 2``
(``alpha = 1 - confidence``); when no such ``l`` exists (too few values below the
quantile) the lower end is 0, and when ``u > n`` (too few values above it: a p99 of 150
requests rests on 1.5 expected tail values) the upper end is unbounded (``inf``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tunegate.stats.common import FloatArray, _check_confidence

#: Below this many expected values beyond the quantile (``n * (1 - q)``) the percentile
#: is driven by a handful of requests: the gate says so.
MIN_TAIL_SAMPLES = 10


def binomial_cdf(n: int, p: float) -> FloatArray:
    """``P(B <= k)`` for ``k = 0..n``, ``B ~ Binomial(n, p)`` (log-space pmf, summed)."""
    if n < 0 or not 0.0 <= p <= 1.0:
        raise ValueError(f"need n >= 0 and 0 <= p <= 1, got n={n}, p={p}")
    k = np.arange(n + 1)
    if p in (0.0, 1.0):
        step: FloatArray = np.where(k >= (n if p == 1.0 else 0), 1.0, 0.0)
        return step
    lgamma = np.vectorize(math.lgamma, otypes=[float])
    log_pmf = (
        math.lgamma(n + 1)
        - lgamma(k + 1)
        - lgamma(n - k + 1)
        + k * math.log(p)
        + (n - k) * math.log1p(-p)
    )
    cdf: FloatArray = np.cumsum(np.exp(log_pmf - log_pmf.max()))
    out: FloatArray = np.minimum(cdf / cdf[-1], 1.0)
    return out


@dataclass(frozen=True)
class QuantileInterval:
    """A sample quantile with its distribution-free interval (``hi`` may be ``inf``)."""

    estimate: float
    lo: float
    hi: float
    n: int
    tail: float  # expected values beyond the quantile: n * (1 - q)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.hi)


def quantile_interval(
    values: npt.ArrayLike, q: float, confidence: float = 0.95
) -> QuantileInterval:
    """The ``q``-quantile (``numpy.percentile``, linear) of ``values`` and its order-statistic
    interval at ``confidence`` (see the module). NaN values are left out; with no values
    every number is NaN."""
    _check_confidence(confidence)
    if not 0.0 < q < 1.0:
        raise ValueError(f"q must be in (0, 1), got {q!r}")
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        return QuantileInterval(math.nan, math.nan, math.nan, 0, 0.0)
    estimate = float(np.percentile(x, 100.0 * q))
    alpha = 1.0 - confidence
    cdf = binomial_cdf(n, q)  # cdf[k] = P(B <= k)
    # lower rank l (1-based): the largest l with P(B <= l - 1) <= alpha / 2
    low_ok = np.nonzero(cdf[:n] <= alpha / 2)[0]  # candidates l - 1 = 0..n-1
    lo = float(x[low_ok[-1]]) if low_ok.size else 0.0
    # upper rank u: the smallest u with P(B <= u - 1) >= 1 - alpha / 2
    high_ok = np.nonzero(cdf[:n] >= 1.0 - alpha / 2)[0]  # u - 1 = 0..n-1 -> x(u) = x[u - 1]
    hi = float(x[high_ok[0]]) if high_ok.size else math.inf
    return QuantileInterval(estimate, lo, hi, n, n * (1.0 - q))


def ratio_interval(mine: QuantileInterval, theirs: QuantileInterval) -> tuple[float, float]:
    """The interval of ``mine / theirs`` that the two intervals bound:
    ``(mine.lo / theirs.hi, mine.hi / theirs.lo)`` (0 and ``inf`` where unbounded). With
    each interval at level ``1 - alpha / 2`` it holds at ``1 - alpha`` (Bonferroni)."""
    lo = mine.lo / theirs.hi if math.isfinite(theirs.hi) and theirs.hi > 0 else 0.0
    hi = mine.hi / theirs.lo if theirs.lo > 0 else math.inf
    return lo, hi
