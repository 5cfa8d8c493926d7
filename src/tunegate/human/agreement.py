"""Inter-annotator agreement, computed once with the field's reference libraries.

- Cohen's kappa per annotator pair: ``sklearn.metrics.cohen_kappa_score`` on the items both
  annotators rated, ``kappa = (p_o - p_e) / (1 - p_e)``.
- Fleiss' kappa: ``statsmodels.stats.inter_rater.fleiss_kappa`` on the items with full
  overlap: those rated by the largest number of annotators any item has (every annotator
  when all rate everything; the study's overlap otherwise). Fleiss' kappa needs the same
  number of ratings per item, not the same raters.
- Krippendorff's alpha (nominal): the ``krippendorff`` package over all ratings
  (``alpha = 1 - D_o / D_e``; items with a single rating are not pairable and drop out).
- Percent agreement: agreeing annotator pairs over all annotator pairs, pooled over items.

Intervals come from a bootstrap over items, or over clusters of items (items sharing a
prompt) when a cluster map is given: whole clusters are resampled with replacement. Every
resample counts: one where the statistic is undefined (every rating the same label, so
chance agreement is 1 and kappa is 0/0) is taken at the statistic's lowest possible value
for the lower bound and at its highest for the upper bound (:func:`bootstrap_interval`),
so the interval covers whatever value such a resample might be given and never narrows by
dropping it. Below :data:`MIN_ITEMS` items the reports warn that the interval is rough.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

#: Below this many items an agreement or calibration interval is rough (a percentile
#: bootstrap of kappa on a few dozen items undercovers): the reports warn (docs/human-eval.md).
MIN_ITEMS = 30


@dataclass(frozen=True)
class RatingMatrix:
    """Votes as an items-by-annotators matrix of label codes (-1 = not rated)."""

    items: list[str]
    annotators: list[str]
    labels: list[str]
    codes: IntArray

    @classmethod
    def from_votes(cls, votes: Iterable[tuple[str, str, str]]) -> RatingMatrix:
        """Build the matrix; a later vote of the same annotator on the same item wins."""
        latest: dict[tuple[str, str], str] = {}
        items: dict[str, None] = {}
        annotators: dict[str, None] = {}
        for item, annotator, label in votes:
            latest[(str(item), str(annotator))] = str(label)
            items.setdefault(str(item), None)
            annotators.setdefault(str(annotator), None)
        labels = sorted(set(latest.values()))
        label_code = {label: i for i, label in enumerate(labels)}
        item_list = list(items)
        ann_list = sorted(annotators)
        item_row = {item: i for i, item in enumerate(item_list)}
        ann_col = {ann: j for j, ann in enumerate(ann_list)}
        codes = np.full((len(item_list), len(ann_list)), -1, dtype=np.int64)
        for (item, annotator), label in latest.items():
            codes[item_row[item], ann_col[annotator]] = label_code[label]
        return cls(item_list, ann_list, labels, codes)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _cohen(x: IntArray, y: IntArray) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    both = (x >= 0) & (y >= 0)
    if int(both.sum()) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _finite(float(cohen_kappa_score(x[both], y[both])))


def kappa_from_codes(x: IntArray, y: IntArray, n_labels: int) -> float | None:
    """Cohen's kappa of two equal-length code arrays, the formula of scikit-learn's
    ``cohen_kappa_score`` in numpy (for bootstrap resamples; tests hold the two equal):
    ``1 - sum(W * C) / sum(W * E)`` with ``C`` the confusion matrix, ``E`` the outer
    product of its marginals over ``n`` and ``W = 1 - I``."""
    n = max(n_labels, 1)
    if x.size < 2:
        return None
    confusion = np.bincount(x * n + y, minlength=n * n).reshape(n, n).astype(float)
    expected = np.outer(confusion.sum(axis=1), confusion.sum(axis=0)) / confusion.sum()
    off = 1.0 - np.eye(n)
    denominator = float((off * expected).sum())
    if denominator == 0.0:
        return None
    return 1.0 - float((off * confusion).sum()) / denominator


def _fleiss(codes: IntArray, n_labels: int) -> float | None:
    from statsmodels.stats.inter_rater import fleiss_kappa

    if codes.shape[1] < 2:
        return None
    rated = (codes >= 0).sum(axis=1)
    most = int(rated.max()) if rated.size else 0
    if most < 2:
        return None
    full = codes[rated == most]
    table = np.stack([(full == k).sum(axis=1) for k in range(max(n_labels, 1))], axis=1)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return _finite(float(fleiss_kappa(table, method="fleiss")))


def _krippendorff(codes: IntArray) -> float | None:
    import krippendorff

    rated = (codes >= 0).sum(axis=1)
    pairable = codes[rated >= 2]
    if pairable.shape[0] == 0:
        return None
    present = np.unique(pairable[pairable >= 0])
    if present.size < 2:
        return None
    data = np.where(pairable >= 0, pairable, np.nan).astype(float).T
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    return _finite(float(value))


def _percent(codes: IntArray) -> float | None:
    agree = 0
    total = 0
    for j, k in combinations(range(codes.shape[1]), 2):
        both = (codes[:, j] >= 0) & (codes[:, k] >= 0)
        total += int(both.sum())
        agree += int((codes[both, j] == codes[both, k]).sum())
    return agree / total if total else None


def _values(matrix: RatingMatrix, codes: IntArray, fast: bool = False) -> dict[str, Any]:
    cohen: dict[str, float | None] = {}
    for j, k in combinations(range(len(matrix.annotators)), 2):
        key = f"{matrix.annotators[j]}|{matrix.annotators[k]}"
        if fast:
            both = (codes[:, j] >= 0) & (codes[:, k] >= 0)
            x, y = codes[both, j], codes[both, k]
            cohen[key] = kappa_from_codes(x, y, len(matrix.labels))
        else:
            cohen[key] = _cohen(codes[:, j], codes[:, k])
    return {
        "cohen_kappa": cohen,
        "fleiss_kappa": _fleiss(codes, len(matrix.labels)),
        "krippendorff_alpha": _krippendorff(codes),
        "percent": _percent(codes),
        "n_items": int(((codes >= 0).sum(axis=1) >= 1).sum()),
    }


def agreement_values(votes: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """Agreement of (item_id, annotator, label) triples.

    Returns ``{"cohen_kappa": {"a|b": float | None}, "fleiss_kappa": float | None,
    "krippendorff_alpha": float | None, "percent": float | None, "n_items": int}``.
    Annotator pairs are keyed ``"<a>|<b>"`` with the names sorted. A statistic is ``None``
    when it is undefined (no shared items, a single label everywhere, one annotator).
    """
    matrix = RatingMatrix.from_votes(votes)
    return _values(matrix, matrix.codes)


def cluster_bootstrap_indices(
    items: list[str],
    clusters: Mapping[str, str] | None,
    n_resamples: int,
    seed: int,
) -> list[IntArray]:
    """Row indices of ``n_resamples`` bootstrap samples, resampling whole clusters.

    Without a cluster map every item is its own cluster (the ordinary bootstrap over items).
    """
    groups: dict[str, list[int]] = {}
    for row, item in enumerate(items):
        key = clusters.get(item, item) if clusters is not None else item
        groups.setdefault(key, []).append(row)
    members = [np.asarray(rows, dtype=np.int64) for rows in groups.values()]
    rng = np.random.default_rng(seed)
    samples: list[IntArray] = []
    for _ in range(n_resamples):
        picks = rng.integers(0, len(members), size=len(members))
        samples.append(np.concatenate([members[p] for p in picks]))
    return samples


def bootstrap_interval(
    values: Sequence[float | None],
    level: float,
    lowest: float = -1.0,
    highest: float = 1.0,
) -> tuple[list[float] | None, int]:
    """(percentile interval, number of undefined resamples) of bootstrap ``values``.

    An undefined resample (None) is not dropped: it counts as ``lowest`` when the lower
    bound is taken and as ``highest`` for the upper bound (``lowest`` / ``highest``: the
    statistic's range, widened to the observed values if they pass it). The interval is
    so the widest percentile interval over any values those resamples could be given:
    dropping them instead cuts the interval short, and a fixed value would pretend to
    know. None when there are no resamples.
    """
    if not values:
        return None, 0
    defined = np.asarray([v for v in values if v is not None], dtype=float)
    undefined = len(values) - int(defined.size)
    if defined.size:
        lowest = min(lowest, float(defined.min()))
        highest = max(highest, float(defined.max()))
    tail = (1.0 - level) / 2.0
    low_side = np.concatenate([defined, np.full(undefined, lowest)])
    high_side = np.concatenate([defined, np.full(undefined, highest)])
    lo = float(np.quantile(low_side, tail))
    hi = float(np.quantile(high_side, 1.0 - tail))
    return [lo, hi], undefined


def _block(
    value: float | None, values: Sequence[float | None], level: float, lowest: float = -1.0
) -> dict[str, Any]:
    """``{"value", "ci", "undefined_resamples"}``; no interval for an undefined value."""
    ci, undefined = bootstrap_interval(values, level, lowest=lowest)
    return {
        "value": value,
        "ci": ci if value is not None else None,
        "undefined_resamples": undefined,
    }


def agreement_with_intervals(
    votes: Iterable[tuple[str, str, str]],
    clusters: Mapping[str, str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Agreement values with percentile bootstrap intervals (clusters resampled whole).

    Returns ``{"cohen": {"a|b": {"value", "ci", "undefined_resamples"}}, "fleiss": {...},
    "krippendorff_alpha": {...}, "percent": {...}, "n_items": int, "n_clusters": int}``;
    ``ci`` is ``[lo, hi]`` (see :func:`bootstrap_interval` for the resamples where the
    statistic is undefined) or ``None`` when the statistic itself is undefined.
    """
    matrix = RatingMatrix.from_votes(votes)
    point = _values(matrix, matrix.codes)
    boot: list[dict[str, Any]] = [
        _values(matrix, matrix.codes[rows], fast=True)
        for rows in cluster_bootstrap_indices(matrix.items, clusters, n_resamples, seed)
    ]
    n_clusters = len({clusters.get(i, i) if clusters is not None else i for i in matrix.items})
    return {
        "cohen": {
            pair: _block(value, [b["cohen_kappa"][pair] for b in boot], level)
            for pair, value in point["cohen_kappa"].items()
        },
        "fleiss": _block(point["fleiss_kappa"], [b["fleiss_kappa"] for b in boot], level),
        "krippendorff_alpha": _block(
            point["krippendorff_alpha"], [b["krippendorff_alpha"] for b in boot], level
        ),
        "percent": _block(point["percent"], [b["percent"] for b in boot], level, lowest=0.0),
        "n_items": point["n_items"],
        "n_clusters": n_clusters,
    }
