"""tunegate.human.calibration: a judge's verdicts against the human majority, checked
against scikit-learn's Cohen's kappa and confusion matrix and counts by hand."""

from __future__ import annotations

import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from tunegate.human.calibration import LABELS, calibrate, human_majority


def test_majority_per_item_with_the_latest_vote_of_each_annotator() -> None:
    votes = [
        ("i1", "ann", "a"),
        ("i1", "bob", "a"),
        ("i1", "cy", "b"),
        ("i2", "ann", "a"),
        ("i2", "bob", "b"),  # a tie of counts: no majority
        ("i3", "ann", "b"),
        ("i3", "ann", "tie"),  # ann changed her mind: the later vote counts
    ]
    assert human_majority(votes) == {"i1": "a", "i2": None, "i3": "tie"}


def test_calibration_numbers_match_sklearn_and_hand_counts() -> None:
    human = ["a", "a", "b", "b", "tie", "a", "b", "a", "tie", "b"]
    judge = ["a", "b", "b", "b", "tie", "a", "a", "a", "b", "b"]
    majority = {f"i{k}": h for k, h in enumerate(human)}
    majority["i10"] = None  # no human majority
    verdicts: dict[str, str | None] = {f"i{k}": j for k, j in enumerate(judge)}
    verdicts["i10"] = "a"
    verdicts["i11"] = None  # ... and an item nobody voted on
    majority["i12"] = "a"
    verdicts["i12"] = None  # a judge error on a voted item
    out = calibrate("grader", verdicts, majority, n_resamples=400, seed=2)
    assert out["judge"] == "grader"
    assert (out["n_items"], out["n_verdicts"], out["errors"]) == (10, 13, 1)
    assert out["no_human_majority"] == 1
    assert out["not_in_human_votes"] == 1
    assert out["percent"]["value"] == pytest.approx(7 / 10)
    # Decisive on both sides: items 0,1,2,3,5,6,7,9 -> 6 of 8 agree.
    assert out["percent_without_ties"] == {"value": pytest.approx(6 / 8), "n": 8}
    expected = cohen_kappa_score(human, judge, labels=list(LABELS))
    assert out["cohen_kappa"]["value"] == pytest.approx(expected, abs=1e-12)
    lo, hi = out["cohen_kappa"]["ci"]
    assert lo <= expected <= hi
    assert (
        out["confusion"]["matrix"] == confusion_matrix(human, judge, labels=list(LABELS)).tolist()
    )
    assert out["confusion"]["rows"] == "human majority"


def test_too_few_items_give_no_kappa_and_no_interval() -> None:
    out = calibrate("g", {"i1": "a"}, {"i1": "a"})
    assert out["cohen_kappa"] == {"value": None, "ci": None, "undefined_resamples": 0}
    assert out["percent"] == {"value": 1.0, "ci": None}
    empty = calibrate("g", {}, {})
    assert empty["percent"]["value"] is None
    assert empty["confusion"]["matrix"] == [[0, 0, 0], [0, 0, 0], [0, 0, 0]]
