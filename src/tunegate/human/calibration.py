"""Is the judge as good as a person? A judge's verdicts held against the human majority.

On the items that have a human majority on the overall preference (the label most
annotators chose, when exactly one label has the most votes) and a judge verdict:

- percent agreement with ties (``judge == majority`` over those items) and without ties
  (over the items where both the judge and the majority are decisive);
- Cohen's kappa between judge and majority (``sklearn.metrics.cohen_kappa_score``) with a
  bootstrap interval over items, or over clusters of items sharing a prompt (a resample
  where kappa is undefined counts at both ends of kappa's range, see
  :func:`tunegate.human.agreement.bootstrap_interval`: it is never dropped);
- the confusion matrix (rows: human majority, columns: judge; labels a, b, tie);
- judge errors (no verdict could be parsed) counted apart, never as a vote.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tunegate.human.agreement import (
    bootstrap_interval,
    cluster_bootstrap_indices,
    kappa_from_codes,
)

LABELS = ("a", "b", "tie")


def human_majority(votes: Iterable[tuple[str, str, str]]) -> dict[str, str | None]:
    """``{item_id: label}`` from (item, annotator, label) triples; None when the top count
    is shared (no majority). A later vote of the same annotator on an item replaces it."""
    latest: dict[tuple[str, str], str] = {}
    for item, annotator, label in votes:
        latest[(item, annotator)] = label
    per_item: dict[str, Counter[str]] = {}
    for (item, _), label in latest.items():
        per_item.setdefault(item, Counter())[label] += 1
    out: dict[str, str | None] = {}
    for item, counts in per_item.items():
        ranked = counts.most_common()
        unique_top = len(ranked) == 1 or ranked[0][1] > ranked[1][1]
        out[item] = ranked[0][0] if unique_top else None
    return out


def _kappa(human: list[str], judge: list[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(human) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(human, judge, labels=list(LABELS)))
    return value if np.isfinite(value) else None


def calibrate(
    judge: str,
    verdicts: Mapping[str, str | None],
    majority: Mapping[str, str | None],
    clusters: Mapping[str, str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Agreement of one judge's verdicts (``a`` / ``b`` / ``tie``, None = judge error) with
    the human majority."""
    from sklearn.metrics import confusion_matrix

    judged = [i for i in verdicts if i in majority]
    errors = [i for i in judged if verdicts[i] is None]
    no_majority = [i for i in judged if verdicts[i] is not None and majority[i] is None]
    items = [i for i in judged if verdicts[i] is not None and majority[i] is not None]
    human = [str(majority[i]) for i in items]
    machine = [str(verdicts[i]) for i in items]
    same = np.array([h == m for h, m in zip(human, machine, strict=True)], dtype=bool)
    decisive = np.array(
        [h != "tie" and m != "tie" for h, m in zip(human, machine, strict=True)], dtype=bool
    )
    kappa = _kappa(human, machine)
    ci_kappa: list[float] | None = None
    ci_percent: list[float] | None = None
    undefined = 0
    if len(items) >= 2:
        kappas: list[float | None] = []
        percents: list[float | None] = []
        code = {label: i for i, label in enumerate(LABELS)}
        human_codes = np.array([code[h] for h in human], dtype=np.int64)
        machine_codes = np.array([code[m] for m in machine], dtype=np.int64)
        for rows in cluster_bootstrap_indices(items, clusters, n_resamples, seed):
            kappas.append(kappa_from_codes(human_codes[rows], machine_codes[rows], len(LABELS)))
            percents.append(float(same[rows].mean()))
        if kappa is not None:
            ci_kappa, undefined = bootstrap_interval(kappas, level)
        ci_percent, _ = bootstrap_interval(percents, level, lowest=0.0)
    matrix = (
        confusion_matrix(human, machine, labels=list(LABELS)).tolist()
        if items
        else [[0] * 3 for _ in LABELS]
    )
    return {
        "judge": judge,
        "n_items": len(items),
        "n_verdicts": len(verdicts),
        "errors": len(errors),
        "no_human_majority": len(no_majority),
        "not_in_human_votes": len(verdicts) - len(judged),
        "percent": {"value": float(same.mean()) if items else None, "ci": ci_percent},
        "percent_without_ties": {
            "value": float(same[decisive].mean()) if decisive.any() else None,
            "n": int(decisive.sum()),
        },
        "cohen_kappa": {"value": kappa, "ci": ci_kappa, "undefined_resamples": undefined},
        "confusion": {"labels": list(LABELS), "rows": "human majority", "matrix": matrix},
    }
