"""Wilson bounds at the edges are exact (issue 20): no success gives a lower bound of
exactly 0 and no failure an upper bound of exactly 1, where floating point made them
``2.7755575615628914e-17`` (0 of 10) and reports printed that."""

from __future__ import annotations

import json

import pytest

from tunegate.stats.paired import wilson_interval


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99, 0.999])
def test_no_success_gives_exactly_zero_and_no_failure_exactly_one(confidence: float) -> None:
    for n in range(1, 2001):
        lo, hi = wilson_interval(0, n, confidence)
        assert lo == 0.0, (n, confidence, lo)
        assert 0.0 < hi < 1.0
        lo, hi = wilson_interval(n, n, confidence)
        assert hi == 1.0, (n, confidence, hi)
        assert 0.0 < lo < 1.0


def test_zero_of_ten_prints_as_zero() -> None:
    lo, hi = wilson_interval(0, 10)
    assert json.dumps(lo) == "0.0"
    assert repr(lo) == "0.0"
    assert hi == pytest.approx(0.2775327998628892, abs=1e-15)


def test_inner_counts_keep_the_formula() -> None:
    # Only the bounds at k = 0 (lower) and k = n (upper) are pinned; the others are
    # what the formula gives (statsmodels agreement is tested in test_paired.py).
    lo, hi = wilson_interval(1, 10)
    assert 0.0 < lo < 0.1 < hi < 1.0
    lo, hi = wilson_interval(9, 10)
    assert 0.0 < lo < 0.9 < hi < 1.0
