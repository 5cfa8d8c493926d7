"""Judge prompts, strict verdict parsing and the pairwise statistics (pure functions)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest

from tunegate.scoring.judge import (
    DEFAULT_PAIRWISE_RUBRIC,
    DEFAULT_RUBRICS,
    SCALES,
    check_rubric,
    normalise,
    parse_pairwise,
    parse_pointwise,
    render_rubric,
    verdict_labels,
)
from tunegate.scoring.pairwise import PairJudgment, outcome, summarise, summarise_by_category
from tunegate.stats import bootstrap_mean_ci

# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("answer", "verdict", "reasoning"),
    [
        ("The answer is right.\nVerdict: PASS", "PASS", "The answer is right."),
        ("Wrong capital.\n\n**Verdict:** fail.", "FAIL", "Wrong capital."),
        ("Final verdict: Passed", "PASS", ""),
        ('{"reasoning": "all good", "verdict": "pass"}', "PASS", "all good"),
        ('Thinking...\n{"verdict": "FAIL"}', "FAIL", "Thinking..."),
        ("PASS", "PASS", ""),
    ],
)
def test_pass_fail_verdicts(answer: str, verdict: str, reasoning: str) -> None:
    got = parse_pointwise(answer, "pass_fail")
    assert got.ok, got.error
    assert got.verdict == verdict
    assert got.reasoning == reasoning
    assert got.score == (1.0 if verdict == "PASS" else 0.0)


@pytest.mark.parametrize(
    ("answer", "scale", "score"),
    [
        ("Good but terse.\nScore: 4", "1-5", 0.75),
        ("Verdict: 1", "1-5", 0.0),
        ("Verdict: 5/5", "1-5", 1.0),
        ("Rating = 10", "1-10", 1.0),
        ('{"score": 4}', "1-10", 3 / 9),
        ("7", "1-10", 6 / 9),
    ],
)
def test_numeric_verdicts_are_normalised(answer: str, scale: str, score: float) -> None:
    got = parse_pointwise(answer, scale)  # type: ignore[arg-type]
    assert got.ok, got.error
    assert got.score == pytest.approx(score)


@pytest.mark.parametrize(
    ("answer", "scale", "why"),
    [
        ("The response is good, I would PASS it.", "pass_fail", "no final 'Verdict"),
        ("Verdict: PASS\nHope this helps!", "pass_fail", "no final 'Verdict"),
        ("Verdict: maybe", "pass_fail", "not PASS or FAIL"),
        ("Verdict: 6", "1-5", "outside the scale 1-5"),
        ("Verdict: 0", "1-10", "outside the scale 1-10"),
        ("Verdict: 3.5", "1-5", "not an integer from 1 to 5"),
        ("Verdict: 4/10", "1-5", "not an integer from 1 to 5"),
        ('{"reasoning": "fine"}', "pass_fail", "no 'verdict' key"),
        ("", "1-5", "answered nothing"),
        ("   \n ", "pass_fail", "answered nothing"),
    ],
)
def test_answers_without_a_valid_verdict_are_judge_errors(
    answer: str, scale: str, why: str
) -> None:
    got = parse_pointwise(answer, scale)  # type: ignore[arg-type]
    assert not got.ok
    assert got.verdict is None
    assert got.score is None
    assert why in (got.error or "")


def test_no_answer_at_all_is_a_judge_error() -> None:
    assert parse_pointwise(None, "1-5").error == "the judge gave no answer"
    assert parse_pairwise(None).error == "the judge gave no answer"


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ("A is more accurate.\nVerdict: A", "A"),
        ("Verdict: Response B", "B"),
        ("**Verdict: tie**", "tie"),
        ("Verdict: Tie.", "tie"),
        ('{"winner": "b", "reasoning": "shorter"}', "B"),
        ("A", "A"),
    ],
)
def test_pairwise_verdicts(answer: str, verdict: str) -> None:
    got = parse_pairwise(answer)
    assert got.ok, got.error
    assert got.verdict == verdict
    assert got.score is None


@pytest.mark.parametrize("answer", ["Verdict: A and B", "Verdict: C", "Both are fine.", "A or B"])
def test_pairwise_answers_without_a_verdict_are_errors(answer: str) -> None:
    got = parse_pairwise(answer)
    assert not got.ok
    assert got.verdict is None


@pytest.mark.parametrize(
    "answer",
    [
        "Verdict: A\nOn reflection B is more accurate.\nVerdict: B",
        "**Verdict:** B\n\nVerdict: tie",
        'Winner: A\n{"verdict": "B"}',
    ],
)
def test_two_different_pairwise_verdicts_are_a_judge_error(answer: str) -> None:
    # The last-line rule alone reads the final verdict and drops the earlier one.
    got = parse_pairwise(answer)
    assert not got.ok
    assert got.verdict is None
    assert "two different verdicts" in (got.error or "")


@pytest.mark.parametrize(
    ("answer", "scale"),
    [
        ("Score: 2\nThe answer misses a step.\nScore: 4", "1-5"),
        ("Verdict: PASS\nWait, the date is wrong.\nVerdict: FAIL", "pass_fail"),
        ("Rating: 9/10\nVerdict: 3", "1-10"),
    ],
)
def test_two_different_rubric_scores_are_a_judge_error(answer: str, scale: str) -> None:
    got = parse_pointwise(answer, scale)  # type: ignore[arg-type]
    assert not got.ok
    assert got.score is None
    assert "two different verdicts" in (got.error or "")


@pytest.mark.parametrize(
    ("answer", "scale", "verdict"),
    [
        ("Verdict: A\nTo repeat:\nVerdict: a", "pairwise", "A"),
        ("Score: 4\nScore: 4/5", "1-5", "4"),
        ("Verdict: pass\nVerdict: PASSED", "pass_fail", "PASS"),
        # A format reminder in the reasoning is no verdict of its own.
        ("End with Verdict: A, B or tie\nVerdict: B", "pairwise", "B"),
        ("Score: 3 for style\nVerdict: 5", "1-5", "5"),
    ],
)
def test_the_same_verdict_repeated_is_fine(answer: str, scale: str, verdict: str) -> None:
    got = (
        parse_pairwise(answer) if scale == "pairwise" else parse_pointwise(answer, scale)  # type: ignore[arg-type]
    )
    assert got.ok, got.error
    assert got.verdict == verdict


@given(st.text(max_size=300))
def test_parsing_never_raises_and_returns_a_verdict_or_an_error(text: str) -> None:
    for scale in SCALES:
        got = parse_pointwise(text, scale)
        assert (got.verdict is None) == (got.error is not None)
        if got.ok:
            assert got.score is not None
            assert 0.0 <= got.score <= 1.0
    pair = parse_pairwise(text)
    assert pair.verdict in (None, "A", "B", "tie")
    assert (pair.verdict is None) == (pair.error is not None)


def test_normalise_and_labels() -> None:
    assert normalise("PASS", "pass_fail") == 1.0
    assert normalise("FAIL", "pass_fail") == 0.0
    assert [normalise(i, "1-5") for i in range(1, 6)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert normalise(10, "1-10") == 1.0
    assert verdict_labels("pass_fail") == ["PASS", "FAIL"]
    assert verdict_labels("1-10") == [str(i) for i in range(1, 11)]
    assert verdict_labels("pairwise") == ["A", "B", "tie"]


# --------------------------------------------------------------------------- rubrics


def test_default_rubrics_render_the_case_and_ask_for_a_verdict_line() -> None:
    for scale, template in DEFAULT_RUBRICS.items():
        assert check_rubric(template, "pointwise") is None
        with_ref = render_rubric(template, input="Q?", output="<b>out</b>", reference="R")
        without = render_rubric(template, input="Q?", output="<b>out</b>", reference="")
        assert "Q?" in with_ref
        assert "<b>out</b>" in with_ref
        assert "[Reference answer]\nR" in with_ref
        assert "Reference" not in without
        assert "Verdict:" in with_ref.splitlines()[-1], scale
    assert check_rubric(DEFAULT_PAIRWISE_RUBRIC, "pairwise") is None
    prompt = render_rubric(
        DEFAULT_PAIRWISE_RUBRIC, input="Q", output_a="first", output_b="second", reference=""
    )
    assert prompt.index("[Response A]\nfirst") < prompt.index("[Response B]\nsecond")
    assert prompt.rstrip().endswith("Verdict: A, B or tie")


def test_a_template_in_a_model_output_is_not_rendered() -> None:
    prompt = render_rubric("{{ output }}", output="{{ 7 * 7 }} {% if x %}", input="", reference="")
    assert prompt == "{{ 7 * 7 }} {% if x %}"


@pytest.mark.parametrize(
    ("template", "kind", "problem"),
    [
        ("Grade {{ answer }}", "pointwise", "unknown template names ['answer']"),
        ("Grade {{ input }}", "pointwise", "must show {{ output }}"),
        ("{{ output_a }} only", "pairwise", "must show {{ output_b }}"),
        ("{{ output }} {% if %}", "pointwise", "template syntax error"),
        ("{{ output }}", "pairwise", "unknown template names ['output']"),
    ],
)
def test_bad_rubrics(template: str, kind: str, problem: str) -> None:
    assert problem in (check_rubric(template, kind) or "")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- pairwise


def _j(
    cf: str | None, bf: str | None, cand: int = 10, base: int = 10, cat: str = "x"
) -> PairJudgment:
    return PairJudgment(f"c{id((cf, bf))}", cat, cf, bf, cand, base)


@pytest.mark.parametrize(
    ("candidate_first", "baseline_first", "expected"),
    [
        ("A", "B", "win"),  # candidate picked in both orders
        ("B", "A", "loss"),
        ("tie", "tie", "tie"),
        ("A", "A", "inconsistent"),  # the first-shown output won both times
        ("B", "B", "inconsistent"),
        ("A", "tie", "inconsistent"),
        ("A", None, "error"),
        (None, None, "error"),
    ],
)
def test_verdicts_are_mapped_back_to_models(
    candidate_first: str | None, baseline_first: str | None, expected: str
) -> None:
    assert outcome(_j(candidate_first, baseline_first)) == expected


def test_pairwise_summary_counts_rates_tests_and_biases() -> None:
    judgments = (
        [_j("A", "B", cand=50, base=10)] * 6  # 6 wins, longer candidate
        + [_j("B", "A", cand=5, base=20)] * 2  # 2 losses, shorter candidate
        + [_j("tie", "tie")] * 2
        + [_j("A", "A", cand=30, base=10)] * 3  # first shown wins both times
        + [_j("A", None)]  # judge error
    )
    s = summarise(judgments, n_resamples=2000, seed=3)
    assert (s["wins"], s["ties"], s["losses"], s["inconsistent"], s["errors"]) == (6, 2, 2, 3, 1)
    assert s["n"] == 13
    values = [1.0] * 6 + [0.0] * 2 + [0.5] * 5
    assert s["win_rate"]["value"] == pytest.approx(sum(values) / 13)
    assert s["win_rate"]["ci"] == bootstrap_mean_ci(values, n_resamples=2000, seed=3)
    assert s["decisive_win_rate"]["value"] == pytest.approx(6 / 8)
    assert s["decisive_win_rate"]["p_value"] == pytest.approx(binomtest(6, 8, 0.5).pvalue)
    # Decisive single verdicts: 6 wins x2 (A then B), 2 losses x2 (B then A), 3 inconsistent x2
    # (A, A), 1 error pair with one valid "A": 12 + 4 + 6 + 1 = 23; first shown wins in
    # 6 + 2 + 6 + 1 = 15 of them.
    assert s["position_bias"] == {"value": pytest.approx(15 / 23), "n": 23}
    # Longer output wins: all 12 win verdicts (candidate 50 > 10), 0 of 4 loss verdicts
    # (baseline longer wins? the baseline (20) won: yes, 4), inconsistent: candidate (30)
    # wins when first, baseline (10) when first -> 3 of 6; error pair: candidate first wins, 10=10.
    assert s["length_bias"] == {"value": pytest.approx((12 + 4 + 3) / 22), "n": 22}


def test_pairwise_summary_per_category_and_without_votes() -> None:
    judgments = [_j("A", "B", cat="a"), _j("B", "A", cat="b"), _j("A", "B", cat="b")]
    cats = summarise_by_category(judgments, n_resamples=500)
    assert list(cats) == ["a", "b"]
    assert (cats["a"]["wins"], cats["b"]["wins"], cats["b"]["losses"]) == (1, 1, 1)
    assert cats["a"]["win_rate"]["ci"] == (1.0, 1.0)
    empty = summarise([_j(None, "A")])
    assert empty["n"] == 0
    assert empty["errors"] == 1
    assert empty["win_rate"] == {"value": None, "ci": None}
    assert empty["decisive_win_rate"]["p_value"] == 1.0


_verdicts = st.sampled_from(["A", "B", "tie", None])


@given(
    st.lists(
        st.tuples(
            _verdicts, _verdicts, st.integers(0, 50), st.integers(0, 50), st.sampled_from("xy")
        ),
        max_size=40,
    )
)
def test_pairwise_summary_invariants(
    rows: list[tuple[str | None, str | None, int, int, str]],
) -> None:
    judgments = [
        PairJudgment(f"c{i}", cat, a, b, la, lb) for i, (a, b, la, lb, cat) in enumerate(rows)
    ]
    s = summarise(judgments, n_resamples=200)
    counts = [s[k] for k in ("wins", "ties", "losses", "inconsistent", "errors")]
    assert sum(counts) == len(rows)
    assert s["n"] == len(rows) - s["errors"]
    value, ci = s["win_rate"]["value"], s["win_rate"]["ci"]
    if s["n"]:
        assert 0.0 <= value <= 1.0
        assert ci[0] <= value + 1e-12
        assert value - 1e-12 <= ci[1]
    else:
        assert value is None
    for key in ("position_bias", "length_bias"):
        bias = s[key]
        assert (bias["value"] is None) == (bias["n"] == 0)
    # The other model as the candidate: its 'candidate first' order is the old 'baseline
    # first' one (the shown order and its verdict unchanged). Wins and losses trade places.
    mirrored = summarise(
        [
            PairJudgment(
                j.case_id,
                j.category,
                j.baseline_first,
                j.candidate_first,
                j.baseline_len,
                j.candidate_len,
            )
            for j in judgments
        ],
        n_resamples=200,
    )
    assert (mirrored["wins"], mirrored["losses"]) == (s["losses"], s["wins"])
    assert mirrored["position_bias"] == s["position_bias"]
    by_cat = summarise_by_category(judgments, n_resamples=200)
    assert sum(c["n"] for c in by_cat.values()) == s["n"]
