"""tunegate.compare: paired comparisons of a candidate with a baseline on the same cases,
checked against scikit-learn (metric values), statsmodels (McNemar) and hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score
from statsmodels.stats.contingency_tables import mcnemar

from tunegate.compare import compare_categories, compare_classification, compare_generic
from tunegate.data import Case
from tunegate.evaluate import ScoredModel, score_classification
from tunegate.store import Response

LABELS = ["positive", "negative", "neutral"]
REFS = [LABELS[i % 3] for i in range(30)]
# The candidate is wrong on cases 0-2, the baseline on 0-11 (so 9 discordant in favour of
# the candidate, none against); case 5's baseline answer is unparseable.
CAND = [LABELS[(i + 1) % 3] if i < 3 else r for i, r in enumerate(REFS)]
BASE = [LABELS[(i + 2) % 3] if i < 12 else r for i, r in enumerate(REFS)]
BASE[5] = "no idea"
KW = {"confidence": 0.95, "n_resamples": 2000, "seed": 3}


def _scored(name: str, answers: list[str]) -> ScoredModel:
    cases = [Case(id=f"c{i}", text=f"t{i}", reference=r) for i, r in enumerate(REFS)]
    responses = [
        Response(case_id=c.id, model=name, key=f"{name}{i}", text=a, latency_ms=1.0)
        for i, (c, a) in enumerate(zip(cases, answers, strict=True))
    ]
    return score_classification(name, cases, responses, LABELS)


def _generic(name: str, values: list[float], lower: bool = False) -> ScoredModel:
    v = np.array(values, dtype=float)
    return ScoredModel(
        name=name,
        responses=[],
        predictions=[None] * len(v),
        errors=[False] * len(v),
        correct=v >= 0.5,
        codes=np.array([], dtype=int),
        values={"score": v},
        lower_is_better=frozenset({"score"}) if lower else frozenset(),
    )


def test_classification_values_match_sklearn_and_the_p_value_statsmodels() -> None:
    cand, base = _scored("ft", CAND), _scored("base", BASE)
    out = compare_classification(cand, base, LABELS, ["accuracy", "macro_f1"], **KW)
    assert [c.metric for c in out] == ["accuracy", "macro_f1"]
    acc, f1 = out
    base_pred = ["__none__" if p == "no idea" else p for p in BASE]
    assert acc.candidate_value == pytest.approx(accuracy_score(REFS, CAND), abs=1e-12)
    assert acc.baseline_value == pytest.approx(accuracy_score(REFS, base_pred), abs=1e-12)
    assert f1.candidate_value == pytest.approx(
        f1_score(REFS, CAND, labels=LABELS, average="macro"), abs=1e-12
    )
    assert f1.baseline_value == pytest.approx(
        f1_score(REFS, base_pred, labels=LABELS, average="macro", zero_division=0), abs=1e-12
    )
    # Correctness table: both right 18, only candidate 9, only baseline 0, both wrong 3.
    assert (acc.wins, acc.ties, acc.losses) == (9, 21, 0)
    exact = mcnemar([[18, 9], [0, 3]], exact=True).pvalue
    assert acc.p_value == pytest.approx(exact, rel=1e-12)
    assert acc.test.startswith("McNemar")
    assert acc.n == 30
    assert acc.delta == pytest.approx(acc.candidate_value - acc.baseline_value, abs=1e-12)
    assert acc.ci[0] <= acc.delta <= acc.ci[1]
    assert acc.ci[0] > 0  # nine wins and no loss: the interval excludes 0
    again = compare_classification(cand, base, LABELS, ["accuracy"], **KW)
    assert again[0].ci == acc.ci  # seeded


def test_models_on_different_cases_are_refused() -> None:
    short = _scored("ft", CAND)
    short.correct = short.correct[:10]
    with pytest.raises(ValueError, match="same cases"):
        compare_classification(short, _scored("base", BASE), LABELS, ["accuracy"], **KW)


def test_generic_metric_mean_delta_and_cases_without_a_value_left_out() -> None:
    a = [1.0, 0.8, np.nan, 0.6, 0.9, 1.0, 0.7, 0.4]
    b = [0.5, 0.8, 0.9, 0.2, np.nan, 0.6, 0.7, 0.5]
    [c] = compare_generic(_generic("ft", a), _generic("base", b), ["score", "absent"], **KW)
    keep = [0, 1, 3, 5, 6, 7]
    aa, bb = np.array(a)[keep], np.array(b)[keep]
    assert c.n == 6
    assert c.candidate_value == pytest.approx(aa.mean(), abs=1e-12)
    assert c.baseline_value == pytest.approx(bb.mean(), abs=1e-12)
    assert c.delta == pytest.approx(aa.mean() - bb.mean(), abs=1e-12)
    assert (c.wins, c.ties, c.losses) == (3, 2, 1)
    assert "pass/fail" in c.test


def test_lower_is_better_counts_wins_the_other_way() -> None:
    a = [2.0, 3.0, 5.0, 4.0]
    b = [3.0, 3.0, 4.0, 6.0]
    [c] = compare_generic(_generic("ft", a, True), _generic("base", b, True), ["score"], **KW)
    assert (c.wins, c.ties, c.losses) == (2, 1, 1)
    assert c.delta == pytest.approx(np.mean(a) - np.mean(b), abs=1e-12)


def test_categories_pass_rate_delta_and_the_regression_margin() -> None:
    cand, base = _scored("ft", CAND), _scored("base", BASE)
    groups = {"early": list(range(12)), "late": list(range(12, 30))}
    out = compare_categories(cand, base, groups, margin=0.05, **KW)
    early, late = out
    assert (early.category, early.n, early.metric) == ("early", 12, "pass_rate")
    assert early.candidate_value == pytest.approx(9 / 12)
    assert early.baseline_value == pytest.approx(0.0)
    assert early.delta == pytest.approx(0.75)
    assert not early.flagged
    assert late.delta == pytest.approx(0.0)
    assert not late.flagged
    # Swapped, the early category drops by 0.75 > margin: flagged.
    swapped = compare_categories(base, cand, groups, margin=0.05, **KW)
    assert swapped[0].flagged
    assert not swapped[1].flagged
