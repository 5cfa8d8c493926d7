"""Group-sequential boundaries (Lan-DeMets, O'Brien-Fleming-type spending)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tunegate.stats.sequential import (
    fractions_of,
    group_sequential_bounds,
    look_confidence,
    obrien_fleming_spending,
)


def test_spending_starts_near_zero_and_ends_at_alpha() -> None:
    alpha = 0.025
    assert obrien_fleming_spending(1.0, alpha) == pytest.approx(alpha)
    assert obrien_fleming_spending(0.0, alpha) == 0.0
    assert obrien_fleming_spending(0.2, alpha) < 1e-5  # O'Brien-Fleming: almost nothing early
    spent = [obrien_fleming_spending(t, alpha) for t in np.linspace(0.05, 1.0, 20)]
    assert all(b > a for a, b in itertools.pairwise(spent))


def test_five_equal_looks_match_the_published_boundaries() -> None:
    # Jennison & Turnbull (2000), Lan-DeMets O'Brien-Fleming-type, one-sided 0.025, K = 5
    bounds = group_sequential_bounds([0.2, 0.4, 0.6, 0.8, 1.0], 0.025)
    assert bounds == pytest.approx([4.877, 3.357, 2.680, 2.290, 2.031], abs=0.01)


def _false_crossings(bounds: list[float], fractions: list[float], paths: int) -> float:
    """Share of null Brownian paths (z statistics at the looks) crossing a bound."""
    rng = np.random.default_rng(5)
    increments = np.diff([0.0, *fractions])
    steps = rng.standard_normal((paths, len(fractions))) * np.sqrt(increments)
    z = np.cumsum(steps, axis=1) / np.sqrt(fractions)
    return float((z >= np.asarray(bounds)).any(axis=1).mean())


def test_twenty_looks_keep_the_error_at_alpha() -> None:
    looks = list(range(50, 1001, 50))
    fractions = fractions_of(looks)
    alpha = 0.025
    bounds = group_sequential_bounds(fractions, alpha)
    rate = _false_crossings(bounds, fractions, 200_000)
    assert rate == pytest.approx(alpha, abs=0.0025)
    # A fixed boundary per look (no adjustment) would be wrong several times over.
    naive = _false_crossings([1.96] * 20, fractions, 200_000)
    assert naive > 3 * alpha
    # The last boundary is close to the fixed-size one: little is lost at the end.
    assert 1.96 < bounds[-1] < 2.2
    assert bounds == sorted(bounds, reverse=True)


def test_look_confidence_and_bad_looks() -> None:
    assert look_confidence(1.959964) == pytest.approx(0.95, abs=1e-5)
    assert look_confidence(float("inf")) > 0.999999
    with pytest.raises(ValueError, match="increasing"):
        fractions_of([100, 50])
