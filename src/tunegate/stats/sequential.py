"""Group-sequential boundaries: looking at the evidence several times without inflating
the chance of a false decision.

Each look at ``n_k`` of ``N`` cases is at information fraction ``t_k = n_k / N``.
Lan and DeMets (1983) spend the one-sided error ``alpha`` over the looks by a spending
function ``alpha(t)``; the O'Brien-Fleming-type function

    alpha(t) = 2 - 2 * Phi(z_{1 - alpha/2} / sqrt(t))

spends almost nothing early and nearly the whole ``alpha`` at the end. The boundary
``c_k`` of look k is the z value such that the chance, under the null, of crossing
first at look k is ``alpha(t_k) - alpha(t_{k-1})``. With the z statistic a scaled
Brownian motion in the information (a mean of independent per-case terms), the
crossing probabilities are computed exactly by recursive numerical integration over
the looks (Armitage, McPherson and Rowe 1969; Jennison and Turnbull 2000, ch. 19):
the density of ``Z_k`` on the paths that have not crossed yet is carried from look to
look on a grid.

A wrong boundary is easy to get: a fixed ``z_{1-alpha}`` at every look (about 10-15%
false decisions over 20 looks at a nominal 2.5%), a sign error in the spending
function, or looks not counted. The tests simulate the looks and check the total.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence

import numpy as np

from tunegate.stats.distributions import normal_quantile

_SQRT2 = math.sqrt(2.0)


def _upper(x: float) -> float:
    """``1 - Phi(x)``, accurate in the tail."""
    return 0.5 * math.erfc(x / _SQRT2)


def obrien_fleming_spending(t: float, alpha: float) -> float:
    """The one-sided error spent by information fraction ``t`` (0 at 0, ``alpha`` at 1)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if t <= 0.0:
        return 0.0
    t = min(t, 1.0)
    z = normal_quantile(1.0 - alpha / 2.0)
    return 2.0 * _upper(z / math.sqrt(t))


def fractions_of(looks: Sequence[int]) -> list[float]:
    """The information fractions of looks at ``looks`` cases (the last look: all cases)."""
    if not looks or any(b <= a for a, b in itertools.pairwise(looks)) or looks[0] < 1:
        raise ValueError(f"looks must be increasing case counts, got {list(looks)}")
    return [n / looks[-1] for n in looks]


def group_sequential_bounds(fractions: Sequence[float], alpha: float) -> list[float]:
    """The one-sided z boundaries at the looks ``fractions``: see :func:`_bounds`."""
    return list(_bounds(tuple(float(t) for t in fractions), float(alpha)))


@functools.lru_cache(maxsize=64)
def _bounds(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    """The one-sided z boundaries ``c_1 .. c_K`` at the looks ``fractions`` (increasing,
    the last 1.0) that spend ``alpha`` by the O'Brien-Fleming-type function: under the
    null, ``P(Z_k >= c_k`` at some look ``)`` is ``alpha``."""
    grid = np.linspace(-8.0, 10.0, 1201)
    step = float(grid[1] - grid[0])
    bounds: list[float] = []
    density: np.ndarray | None = None  # of Z_{k-1} on the paths not yet stopped
    spent = 0.0
    prev_t = 0.0
    for t in fractions:
        target = obrien_fleming_spending(t, alpha) - spent
        spent += target
        if density is None:
            # The first look: Z_1 is standard normal.
            dens = np.exp(-0.5 * grid * grid) / math.sqrt(2.0 * math.pi)
            c = _normal_tail_point(target)
        else:
            # Z_k = (sqrt(t_{k-1}) Z_{k-1} + sqrt(t_k - t_{k-1}) W) / sqrt(t_k), W ~ N(0, 1):
            # the density of Z_k is a mixture of normals over the previous grid.
            r = math.sqrt(prev_t / t)
            s = math.sqrt((t - prev_t) / t)
            diff = (grid[:, None] - r * grid[None, :]) / s
            kernel = np.exp(-0.5 * diff * diff) / (s * math.sqrt(2.0 * math.pi))
            dens = kernel @ (density * step)
            c = _crossing_point(grid, dens, step, target)
        bounds.append(c)
        density = np.where(grid < c, dens, 0.0)
        prev_t = t
    return tuple(bounds)


def _normal_tail_point(target: float) -> float:
    """The ``c`` with ``1 - Phi(c) = target`` (bisection on erfc: exact far in the tail)."""
    if target <= 0:
        return math.inf
    lo, hi = -10.0, 40.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _upper(mid) > target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _crossing_point(grid: np.ndarray, dens: np.ndarray, step: float, target: float) -> float:
    """The ``c`` with ``integral_c^inf dens = target`` (trapezoid on the grid, linear
    between grid points); ``inf`` for nothing to spend."""
    if target <= 0:
        return math.inf
    # tail[i]: the mass from grid[i] up (trapezoid rule).
    pieces = 0.5 * (dens[1:] + dens[:-1]) * step
    tail = np.concatenate([np.cumsum(pieces[::-1])[::-1], [0.0]])
    if target >= tail[0]:
        return float(grid[0])
    i = int(np.searchsorted(-tail, -target))  # first i with tail[i] <= target
    hi_mass, lo_mass = tail[i - 1], tail[i]
    frac = (hi_mass - target) / (hi_mass - lo_mass) if hi_mass > lo_mass else 0.0
    return float(grid[i - 1] + frac * step)


def look_confidence(bound: float) -> float:
    """The two-sided confidence whose interval ends ``bound`` standard errors from the
    estimate: the interval to judge a look with (``2 Phi(c) - 1``)."""
    if math.isinf(bound):
        return 1.0 - 1e-12
    return min(1.0 - 1e-12, 1.0 - 2.0 * _upper(bound))
