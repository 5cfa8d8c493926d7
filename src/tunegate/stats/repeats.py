"""Repeated sampling: k answers per case, summarised per case and per model, with
intervals from a cluster bootstrap that resamples **cases**, never single answers.

The k answers to one case are not independent evidence: a case the model finds
hard fails most of its repeats. Resampling the ``n * k`` answers as if they were
``n * k`` cases treats that correlation as information and gives an interval that
is too narrow (about ``sqrt(k)`` times too narrow when the outcome is a property of
the case). The cluster bootstrap draws ``n`` cases with replacement and keeps every
answer of each drawn case together, so the interval reflects the variation between
cases, which is what another test set of the same size would vary by.

A statistic here is a per-case quantity (the share of passing answers, whether any
passed, whether all passed, whether the outcome differed between repeats); its mean
over cases is the model's figure. Because the statistic is a mean of per-case values,
resampling the cases is exactly a bootstrap of those per-case values.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tunegate.stats.common import _check_confidence, _check_resamples, _percentile_interval

#: The per-model figures of repeated sampling, in report order.
REPEAT_METRICS = ("mean", "pass_at_k", "pass_all_k", "flakiness")


def _as_matrix(passed: npt.ArrayLike) -> np.ndarray:
    """A boolean ``(n_cases, k)`` matrix (one row per case, one column per repeat)."""
    matrix = np.asarray(passed, dtype=bool)
    if matrix.ndim != 2:
        raise ValueError(f"expected a (cases, repeats) matrix, got shape {matrix.shape}")
    return matrix


def per_case_repeat_values(passed: npt.ArrayLike) -> dict[str, np.ndarray]:
    """Each case's share of passing answers (``mean``), whether any of its k answers
    passed (``pass_at_k``), whether all did (``pass_all_k``) and whether the outcome
    differed between its repeats (``flakiness``), as float arrays of length n."""
    matrix = _as_matrix(passed)
    if matrix.shape[1] == 0:
        raise ValueError("at least one repeat per case is needed")
    share = matrix.mean(axis=1)
    return {
        "mean": share.astype(float),
        "pass_at_k": matrix.any(axis=1).astype(float),
        "pass_all_k": matrix.all(axis=1).astype(float),
        "flakiness": ((share > 0) & (share < 1)).astype(float),
    }


def cluster_bootstrap_ci(
    per_case: npt.ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of the mean of ``per_case`` values (one per case, e.g. the
    share of a case's k answers that pass), resampling the cases with replacement.

    ``(nan, nan)`` without cases."""
    _check_confidence(confidence)
    _check_resamples(n_resamples)
    values = np.asarray(per_case, dtype=float)
    n = len(values)
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_resamples, chunk):
        stop = min(n_resamples, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[idx].mean(axis=1)
    return _percentile_interval(means, confidence)


def repeat_summary(
    passed: npt.ArrayLike,
    *,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, tuple[float, float]]]:
    """Every figure of :data:`REPEAT_METRICS` as ``(value, interval)``: the mean over
    cases of the per-case values, with its cluster-bootstrap interval."""
    values = per_case_repeat_values(passed)
    out: dict[str, tuple[float, tuple[float, float]]] = {}
    for i, name in enumerate(REPEAT_METRICS):
        v = values[name]
        point = float(v.mean()) if len(v) else float("nan")
        ci = cluster_bootstrap_ci(v, n_resamples=n_resamples, confidence=confidence, seed=seed + i)
        out[name] = (point, ci)
    return out
