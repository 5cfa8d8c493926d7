"""Types, limits and input checks shared by the statistics modules, and the resampling
kernels (chunked multinomial or index resampling of confusion-cell counts)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

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
