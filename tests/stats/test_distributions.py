"""tunegate.stats.distributions against scipy, statsmodels and exact rational arithmetic.

Tolerances (relative unless said otherwise), each the measured worst case rounded up:

* normal quantile vs ``scipy.stats.norm.ppf``: 1e-14 (measured 8.4e-16);
* chi-square(1) survival vs ``scipy.stats.chi2.sf``: 1e-12; the error grows like
  ``x * 1e-16`` with the statistic ``x`` (measured 1.9e-13 just above underflow);
* binomial CDF, exact branch: equal (``==``) to the correctly rounded rational;
* binomial CDF, log-space branch vs the exact rational: 5e-13 wherever the result is a
  normal float (measured 2.1e-13 over 526 random points down to 1e-307; 1e-15 near
  the mean);
* two-sided binomial test vs ``scipy.stats.binomtest``: 1e-12 down to p = 1e-50, 2e-12
  below (scipy's own error against exact arithmetic reaches 1.1e-12 at p = 4e-256,
  where ours is 1.1e-14).
"""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from scipy.stats import binom, binomtest, chi2, norm
from statsmodels.stats.contingency_tables import mcnemar

from tunegate.stats import distributions
from tunegate.stats.distributions import (
    binom_half_cdf,
    binom_half_two_sided,
    chi2_1_sf,
    normal_quantile,
)

TINY = 2.2250738585072014e-308  # smallest normal double
LOG_SPACE_TOLERANCE = 5e-13


def exact_cdf(k: int, n: int) -> float:
    """``P(X <= k)``, ``X ~ Binomial(n, 1/2)``, correctly rounded, as a Fraction.

    ``math.comb`` for small ``k``; above, the integer recurrence
    ``C(n, i + 1) = C(n, i) (n - i) / (i + 1)`` (``math.comb`` per term is too slow).
    """
    if k <= 300:
        total = sum(math.comb(n, i) for i in range(k + 1))
    else:
        term = total = 1
        for i in range(k):
            term = term * (n - i) // (i + 1)
            total += term
    return float(Fraction(total, 2**n))


def close(ours: float, reference: float, rel: float) -> bool:
    """Relative closeness for normal floats; subnormal or zero references compare to 1e-320."""
    if abs(reference) < TINY:
        return abs(ours - reference) <= 1e-320
    return abs(ours - reference) <= rel * abs(reference)


# --------------------------------------------------------------------------- normal


def quantile_points() -> list[float]:
    rng = random.Random(0)
    fixed = [1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 1e-3, 0.025, 0.05, 0.1, 0.5, 0.8, 0.975]
    fixed += [0.995, 0.999, 1 - 1e-10, 1 - 1e-15]
    return (
        fixed
        + [rng.random() for _ in range(500)]
        + [10 ** -rng.uniform(0, 300) for _ in range(200)]
    )


def test_normal_quantile_equals_scipy() -> None:
    for p in quantile_points():
        assert normal_quantile(p) == pytest.approx(float(norm.ppf(p)), rel=1e-14, abs=1e-300), p
    assert normal_quantile(0.5) == 0.0


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_normal_quantile_rejects_probabilities_outside_0_1(p: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        normal_quantile(p)


# --------------------------------------------------------------------------- chi-square


def test_chi2_1_sf_equals_scipy() -> None:
    rng = random.Random(1)
    xs = [1e-12, 1e-6, 0.01, 0.5, 1.0, 2.0, 3.841458820694124, 6.63, 10.0, 100.0, 700.0]
    xs += [1000.0, 1371.78, 1400.0]
    xs += [rng.uniform(0, 5) for _ in range(300)] + [rng.uniform(0, 1400) for _ in range(700)]
    for x in xs:
        assert close(chi2_1_sf(x), float(chi2.sf(x, 1)), 1e-12), x
    # At the 95% critical value the tail holds 5%.
    assert chi2_1_sf(float(chi2.isf(0.05, 1))) == pytest.approx(0.05, rel=1e-14)


def test_chi2_1_sf_edges() -> None:
    assert chi2_1_sf(0.0) == 1.0
    assert chi2_1_sf(-3.0) == 1.0
    assert chi2_1_sf(math.inf) == 0.0
    assert chi2_1_sf(5000.0) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        chi2_1_sf(math.nan)


# --------------------------------------------------------------------------- binomial


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 25, 60, 201])
def test_binom_cdf_small_n_is_the_correctly_rounded_rational(n: int) -> None:
    for k in range(n + 1):
        assert binom_half_cdf(k, n) == exact_cdf(k, n), (k, n)


def test_binom_cdf_exact_branch_is_correctly_rounded() -> None:
    # Points on both sides of the symmetry and at the end of the exact branch.
    for k, n in [(1413, 2829), (1416, 2829), (999, 4000), (3000, 4000), (20, 200_000)]:
        tail = n - k - 1 if 2 * k >= n else k
        assert tail * n <= distributions._EXACT_WORK_LIMIT
        assert binom_half_cdf(k, n) == exact_cdf(k, n), (k, n)


def log_space_points() -> list[tuple[int, int]]:
    """(k, n) beyond the exact branch, from the mean down to where the CDF underflows."""
    rng = random.Random(2)
    points = [(4999, 10_000), (4990, 10_000), (9999, 20_001), (9000, 20_000)]
    while len(points) < 60:
        n = rng.randrange(3000, 20_000)
        k = int(n / 2 - rng.uniform(0, 38) * math.sqrt(n) / 2)
        if k > 0 and 2 * k < n and k * n > distributions._EXACT_WORK_LIMIT:
            points.append((k, n))
    return points


def test_log_space_branch_against_exact_arithmetic() -> None:
    checked = 0
    worst = 0.0
    for k, n in log_space_points():
        expected = exact_cdf(k, n)
        ours = distributions._log_space_cdf(k, n)
        if expected >= TINY:
            worst = max(worst, abs(ours - expected) / expected)
            checked += 1
        else:
            assert ours < 1e-300
    assert checked >= 40
    assert worst <= LOG_SPACE_TOLERANCE


def test_log_space_branch_near_the_mean_is_close_to_exact() -> None:
    for k, n in [(24_999, 50_000), (24_900, 50_000), (20_000, 40_001)]:
        expected = exact_cdf(k, n)
        assert distributions._log_space_cdf(k, n) == pytest.approx(expected, rel=1e-14)


def test_binom_cdf_upper_half_uses_the_complement() -> None:
    # 1 - P(X <= n - k - 1): absolute error near 1e-16 (scipy's is up to 1.3e-15 here).
    for k, n in [(60, 100), (5001, 10_000), (150_000, 200_000), (100_000, 200_000)]:
        assert binom_half_cdf(k, n) == pytest.approx(float(binom.cdf(k, n, 0.5)), abs=2e-15)
    assert binom_half_cdf(60, 100) == exact_cdf(60, 100)
    assert binom_half_cdf(200_000, 200_000) == 1.0
    assert binom_half_cdf(0, 200_000) == 0.0  # 2**-200000 underflows


def two_sided_points() -> list[tuple[int, int]]:
    rng = random.Random(3)
    points = [(k, n) for n in range(0, 61) for k in range(n + 1)]
    for n in [99, 100, 1000, 2829, 4001, 30_000, 100_000, 199_999, 200_000]:
        half = n // 2
        spread = int(40 * math.sqrt(n) / 2)
        ks = {0, 1, 5, half - 1, half, half + 1, n - 1, n}
        ks |= {rng.randrange(max(0, half - spread), min(n, half + spread) + 1) for _ in range(25)}
        points += [(k, n) for k in sorted(ks) if 0 <= k <= n]
    return points


def test_two_sided_equals_scipy_binomtest() -> None:
    for k, n in two_sided_points():
        ours = binom_half_two_sided(k, n)
        reference = 1.0 if n == 0 else float(binomtest(k, n, 0.5).pvalue)
        # scipy's own error grows in the far tail (1.1e-12 at 4e-256 against exact
        # arithmetic, where ours is 1.1e-14; see the next test).
        rel = 1e-12 if reference >= 1e-50 else 2e-12
        assert close(ours, reference, rel), (k, n, ours, reference)
        assert binom_half_two_sided(n - k, n) == ours  # symmetric


@pytest.mark.parametrize(("k", "n"), [(12_902, 30_000), (44_600, 100_000)])
def test_two_sided_in_the_far_tail_is_nearer_exact_than_scipy(k: int, n: int) -> None:
    exact = 2 * exact_cdf(k, n)
    ours = binom_half_two_sided(k, n)
    scipy_value = float(binomtest(k, n, 0.5).pvalue)
    assert abs(ours - exact) <= abs(scipy_value - exact)
    assert ours == pytest.approx(exact, rel=LOG_SPACE_TOLERANCE)


def test_two_sided_equals_statsmodels_exact_mcnemar() -> None:
    for b in range(0, 30):
        for c in range(0, 30):
            if b + c == 0:
                continue
            reference = float(mcnemar([[5, b], [c, 5]], exact=True).pvalue)
            assert binom_half_two_sided(b, b + c) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(-1, 5), (6, 5), (0, -1)])
def test_binomial_rejects_bad_counts(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        binom_half_cdf(k, n)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        binom_half_two_sided(k, n)
