"""tunegate.evaluation.compare: paired comparisons of a candidate with a baseline on the same cases,
checked against scikit-learn (metric values), statsmodels (McNemar) and hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score
from statsmodels.stats.contingency_tables import mcnemar

from tunegate.data import Case
from tunegate.evaluation.compare import compare_categories, compare_classification, compare_generic
from tunegate.evaluation.scores import ScoredModel, score_classification
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


# --------------------------------------------------------------------------- issue 20


def _with_errors(scored: ScoredModel, failed: set[int]) -> ScoredModel:
    """``scored`` with transport errors on the cases in ``failed`` (no answer, counted
    wrong in the model's own metrics, as the scorers do)."""
    scored.errors = [i in failed for i in range(len(scored.errors))]
    scored.correct = scored.correct & ~np.array(scored.errors)
    return scored


def test_a_baseline_error_is_left_out_of_the_pairing_not_counted_wrong() -> None:
    # Both models right on every case; the baseline failed a third of its requests.
    cand, base = _scored("ft", REFS), _scored("base", REFS)
    failed = set(range(10))
    # score_classification gives a failed request no prediction: rebuild with errors.
    cases = [Case(id=f"c{i}", text=f"t{i}", reference=r) for i, r in enumerate(REFS)]
    responses = [
        Response(
            case_id=c.id,
            model="base",
            key=f"base{i}",
            text=None if i in failed else c.reference,
            error="HTTP 500" if i in failed else None,
            latency_ms=1.0,
        )
        for i, c in enumerate(cases)
    ]
    base = score_classification("base", cases, responses, LABELS)
    acc, f1 = compare_classification(cand, base, LABELS, ["accuracy", "macro_f1"], **KW)
    for c in (acc, f1):
        assert (c.n, c.n_excluded, c.excluded) == (20, 10, {"baseline error": 10})
        assert c.delta == 0.0
        assert c.candidate_value == c.baseline_value == 1.0
        assert c.ci == (0.0, 0.0)
        assert c.direction == "none"
    assert (acc.wins, acc.ties, acc.losses) == (0, 20, 0)
    assert acc.p_value == 1.0
    assert (acc.per_case, acc.p_value_of, f1.p_value_of) == ("accuracy", "accuracy", "accuracy")


def test_no_case_answered_by_both_is_a_comparison_of_zero_cases() -> None:
    cand = _scored("ft", CAND)
    base = _with_errors(_scored("base", BASE), set(range(30)))
    [acc] = compare_classification(cand, base, LABELS, ["accuracy"], **KW)
    assert (acc.n, acc.n_excluded, acc.excluded) == (0, 30, {"baseline error": 30})
    assert all(np.isnan(x) for x in (*acc.ci, acc.delta, acc.p_value))
    assert acc.direction == "none"
    gen = compare_generic(
        _with_errors(_generic("ft", [1.0] * 4), {0, 1}),
        _with_errors(_generic("base", [1.0] * 4), {1, 2, 3}),
        ["score"],
        **KW,
    )
    assert gen[0].n == 0
    assert gen[0].excluded == {"candidate error": 1, "baseline error": 2, "both errors": 1}
    [cat] = compare_categories(cand, base, {"all": list(range(30))}, **KW)
    assert (cat.n, cat.n_excluded) == (0, 30)
    assert np.isnan(cat.delta)


def test_errors_and_missing_values_are_told_apart() -> None:
    a = _with_errors(_generic("ft", [1.0, 0.5, np.nan, 0.2, 0.9]), {3})
    b = _generic("base", [0.5, 0.5, 0.5, 0.5, 0.5])
    [c] = compare_generic(a, b, ["score"], **KW)
    assert (c.n, c.n_excluded) == (3, 2)
    assert c.excluded == {"candidate error": 1, "no value": 1}


def test_mcnemar_is_on_the_rows_own_binary_metric_else_on_pass_fail() -> None:
    # exact_match-like 0/1 values that disagree with the case's pass/fail (another
    # scorer failed): McNemar is on the metric's own values, as the wins/losses are.
    values_a = [1.0] * 12 + [0.0] * 2
    values_b = [0.0] * 12 + [1.0] * 2
    a, b = _generic("ft", values_a), _generic("base", values_b)
    a.correct = np.zeros(14, dtype=bool)  # every case failed some other scorer
    b.correct = np.zeros(14, dtype=bool)
    [c] = compare_generic(a, b, ["score"], **KW)
    assert (c.wins, c.ties, c.losses) == (12, 0, 2)
    expected = mcnemar([[0, 12], [2, 0]], exact=True).pvalue
    assert c.p_value == pytest.approx(expected, rel=1e-12)
    assert (c.per_case, c.p_value_of) == ("score", "score")
    # A continuous metric: McNemar on pass/fail, said so.
    [r] = compare_generic(_generic("ft", [0.3, 0.9]), _generic("base", [0.2, 0.4]), ["score"], **KW)
    assert (r.per_case, r.p_value_of) == ("score", "pass_rate")
    assert "pass/fail" in r.test


def test_the_paired_bootstrap_draws_as_many_cases_as_were_paired() -> None:
    # Three paired cases with differences (1, 0, 0): a resample of 3 cases has mean
    # k/3 with P(0) = 8/27, P(1/3) = 12/27, P(2/3) = 6/27, P(1) = 1/27, so the 5th and
    # 95th percentiles are exactly 0 and 2/3. Resamples of 2 cases (P(0) = 4/9,
    # P(1/2) = 4/9) would put the 95th at 1; of 4 cases at 3/4; of all 5 cases (the two
    # failed ones included) elsewhere again.
    cand = _generic("ft", [1.0, 0.0, 0.0, 1.0, 1.0])
    base = _with_errors(_generic("base", [0.0, 0.0, 0.0, 0.0, 0.0]), {3, 4})
    [c] = compare_generic(cand, base, ["score"], confidence=0.9, n_resamples=20_000, seed=1)
    assert c.n == 3
    assert c.ci[0] == 0.0
    assert c.ci[1] == pytest.approx(2 / 3, abs=1e-12)
    # The same through the confusion-count bootstrap of a classification comparison.
    refs = ["positive"] * 5
    cases = [Case(id=f"c{i}", text="t", reference=r) for i, r in enumerate(refs)]

    def scored(name: str, answers: list[str | None]) -> ScoredModel:
        responses = [
            Response(
                case_id=cs.id,
                model=name,
                key=f"{name}{i}",
                text=a,
                error=None if a is not None else "HTTP 500",
                latency_ms=1.0,
            )
            for i, (cs, a) in enumerate(zip(cases, answers, strict=True))
        ]
        return score_classification(name, cases, responses, LABELS)

    right = scored("ft", ["positive", "negative", "negative", "positive", "positive"])
    wrong = scored("base", ["negative", "negative", "negative", None, None])
    [acc] = compare_classification(
        right, wrong, LABELS, ["accuracy"], confidence=0.9, n_resamples=20_000, seed=1
    )
    assert acc.n == 3
    assert acc.ci[0] == 0.0
    assert acc.ci[1] == pytest.approx(2 / 3, abs=1e-12)
