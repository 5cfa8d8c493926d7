"""tunegate.stats.common: the checks and resampling kernels under the bootstrap functions
(the resampled counts follow the multinomial of observed frequencies on both paths)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tunegate.stats.common import (
    _as_codes,
    _as_values,
    _chunks,
    _percentile_interval,
    _resampled_counts,
    _scatter_counts,
)


def test_percentile_interval_is_numpys_linear_percentiles() -> None:
    dist = np.random.default_rng(0).normal(size=1001)
    lo, hi = _percentile_interval(dist, 0.9)
    assert lo == pytest.approx(float(np.percentile(dist, 5.0)), abs=1e-12)
    assert hi == pytest.approx(float(np.percentile(dist, 95.0)), abs=1e-12)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ([[0, 1]], "one-dimensional"),
        ([0.5, 1.0], "must be integers"),
        ([0, 3], r"must lie in \[0, 3\)"),
        ([-1], r"must lie in \[0, 3\)"),
    ],
)
def test_codes_are_checked(codes: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _as_codes(codes, 3)  # type: ignore[arg-type]


def test_values_are_checked_and_chunks_cover_every_resample() -> None:
    assert _as_values([1, 2], "v").dtype == np.float64
    with pytest.raises(ValueError, match="must be finite"):
        _as_values([1.0, float("nan")], "v")
    chunks = list(_chunks(2_500_000, 1))
    assert chunks[0] == (0, 500_000)
    assert chunks[-1][1] == 2_500_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(chunks))


@pytest.mark.parametrize("n_unique", [2, 40])  # multinomial path, then index path
def test_resampled_counts_have_the_multinomial_mean_and_sum(n_unique: int) -> None:
    n = 48
    inverse = np.arange(n) % n_unique
    rng = np.random.default_rng(1)
    parts = list(_resampled_counts(inverse, n_unique, 4000, rng))
    counts = np.concatenate([c for _, _, c in parts])
    assert counts.shape == (4000, n_unique)
    assert (counts.sum(axis=1) == n).all()
    expected = np.bincount(inverse, minlength=n_unique)  # n * observed frequency
    assert np.allclose(counts.mean(axis=0), expected, rtol=0.1)


def test_scatter_counts_sums_items_into_their_cells() -> None:
    counts = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int64)
    cells = np.array([0, 2, 0])
    assert _scatter_counts(counts, cells, 3).tolist() == [[4, 0, 2], [10, 0, 5]]
