"""Agreement statistics against their reference libraries."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from tunegate.human.agreement import (
    agreement_values,
    agreement_with_intervals,
    cluster_bootstrap_indices,
)


def _random_votes(seed: int, n_items: int = 60) -> list[tuple[str, str, str]]:
    rng = np.random.default_rng(seed)
    votes = []
    for i in range(n_items):
        truth = rng.choice(["a", "b", "tie"])
        for ann in ("ann1", "ann2", "ann3"):
            label = truth if rng.random() < 0.7 else rng.choice(["a", "b", "tie"])
            votes.append((f"item{i}", ann, str(label)))
    return votes


def test_values_match_reference_libraries() -> None:
    votes = _random_votes(1)
    result = agreement_values(votes)
    by = {(i, a): lab for i, a, lab in votes}
    items = sorted({i for i, _, _ in votes})
    for a, b in [("ann1", "ann2"), ("ann1", "ann3"), ("ann2", "ann3")]:
        expected = cohen_kappa_score([by[(i, a)] for i in items], [by[(i, b)] for i in items])
        assert result["cohen_kappa"][f"{a}|{b}"] == pytest.approx(expected, abs=1e-12)
    table, _ = aggregate_raters(
        np.array([[by[(i, a)] for a in ("ann1", "ann2", "ann3")] for i in items])
    )
    assert result["fleiss_kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-12)
    assert result["n_items"] == 60
    agree = sum(
        by[(i, a)] == by[(i, b)]
        for i in items
        for a, b in [("ann1", "ann2"), ("ann1", "ann3"), ("ann2", "ann3")]
    )
    assert result["percent"] == pytest.approx(agree / (3 * 60))


def test_partial_overlap_and_latest_vote_wins() -> None:
    votes = [
        ("1", "x", "a"),
        ("1", "y", "a"),
        ("2", "x", "b"),
        ("2", "y", "a"),
        ("2", "y", "b"),  # changed vote
        ("3", "x", "tie"),
        ("3", "z", "tie"),
        ("4", "y", "b"),
        ("4", "z", "a"),
    ]
    result = agreement_values(votes)
    assert result["cohen_kappa"]["x|y"] == pytest.approx(1.0)
    # Fleiss' kappa takes the items with full overlap (two ratings each here): 1, 2, 3, 4.
    table = np.array([[2, 0, 0], [0, 2, 0], [0, 0, 2], [1, 1, 0]])  # columns a, b, tie
    assert result["fleiss_kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-12)
    assert result["percent"] == pytest.approx(3 / 4)
    assert result["n_items"] == 4
    assert result["krippendorff_alpha"] is not None


def test_fleiss_uses_items_with_the_most_ratings() -> None:
    votes = [("1", "x", "a"), ("1", "y", "a"), ("1", "z", "b"), ("2", "x", "b"), ("2", "y", "b")]
    votes += [("2", "z", "b"), ("3", "x", "a"), ("3", "y", "b")]  # item 3 has two ratings only
    table = np.array([[2, 1], [0, 3]])
    assert agreement_values(votes)["fleiss_kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-12)
    assert agreement_values([("1", "x", "a"), ("2", "y", "b")])["fleiss_kappa"] is None


def test_undefined_statistics_are_none() -> None:
    result = agreement_values([("1", "x", "a"), ("1", "y", "a"), ("2", "x", "a"), ("2", "y", "a")])
    assert result["cohen_kappa"] == {"x|y": None}
    assert result["fleiss_kappa"] is None
    assert result["krippendorff_alpha"] is None
    assert result["percent"] == 1.0
    assert agreement_values([])["n_items"] == 0


def test_cluster_bootstrap_keeps_clusters_whole() -> None:
    items = [f"i{k}" for k in range(6)]
    clusters = {"i0": "p", "i1": "p", "i2": "p", "i3": "q", "i4": "r", "i5": "r"}
    for rows in cluster_bootstrap_indices(items, clusters, 50, seed=3):
        picked = list(rows)
        if 0 in picked:
            assert picked.count(0) == picked.count(1) == picked.count(2)


def test_intervals_contain_value_and_are_seeded() -> None:
    votes = _random_votes(2, 80)
    first = agreement_with_intervals(votes, n_resamples=200, seed=5)
    again = agreement_with_intervals(votes, n_resamples=200, seed=5)
    assert first == again
    lo, hi = first["fleiss"]["ci"]
    assert lo <= first["fleiss"]["value"] <= hi
    assert first["n_clusters"] == 80
