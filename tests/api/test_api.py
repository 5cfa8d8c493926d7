"""The Python API (tunegate.api): metric values, suite counts, Wilson intervals, failures."""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys

import numpy as np
import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics.bleu import BLEU
from sacrebleu.metrics.chrf import CHRF
from statsmodels.stats.proportion import proportion_confint

import tunegate
from tunegate.api import (
    SCORERS,
    EvalCase,
    SuiteReport,
    calculate_perplexity,
    exact_match_score,
    rouge_l_score,
    run_eval_suite,
)
from tunegate.data import Case
from tunegate.models.hf import perplexity as hf_perplexity


def echo(prompt: str) -> str:
    """A model that answers with its prompt."""
    return prompt


# --------------------------------------------------------------------------- metrics


@pytest.mark.parametrize(
    ("prediction", "reference", "use_stemmer"),
    [
        ("the cat sat on the mat", "the cat was sitting on the mat", False),
        ("the cat sat on the mat", "the cat was sitting on the mat", True),
        ("police killed the gunman", "the gunman was shot down by police", False),
        ("completely unrelated words", "the cat sat", False),
        ("", "the cat sat", False),
    ],
)
def test_rouge_l_score_equals_rouge_score_library(
    prediction: str, reference: str, use_stemmer: bool
) -> None:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=use_stemmer)
    expected = scorer.score(reference, prediction)["rougeL"].fmeasure
    assert rouge_l_score(prediction, reference, use_stemmer) == expected


def test_rouge_l_score_by_hand_and_with_several_references() -> None:
    # LCS("a b c d", "a c d e") = "a c d": P = R = 3/4, F = 3/4.
    assert rouge_l_score("a b c d", "a c d e") == pytest.approx(0.75, abs=1e-12)
    references = ["x y z", "the cat sat on the mat"]
    best = rouge_scorer.RougeScorer(["rougeL"]).score_multi(references, "the cat sat")
    assert rouge_l_score("the cat sat", references) == best["rougeL"].fmeasure
    assert rouge_l_score(None, "anything") == 0.0


def test_exact_match_score_values() -> None:
    predictions = ["Paris", " paris ", "Lyon", None]
    references = ["paris", "Paris", ["Marseille", "lyon"], "Nice"]
    assert exact_match_score(predictions, references) == 0.75
    # Punctuation and articles count unless SQuAD normalisation is asked for.
    assert exact_match_score(["The Paris!"], ["paris"]) == 0.0
    assert (
        exact_match_score(["The Paris!"], ["paris"], remove_punctuation=True, remove_articles=True)
        == 1.0
    )
    with pytest.raises(ValueError, match="2 predictions but 1 reference"):
        exact_match_score(["a", "b"], ["a"])


def test_calculate_perplexity_is_exp_of_mean_negative_log_prob() -> None:
    log_probs = [math.log(0.5), math.log(0.25), math.log(0.1)]
    by_hand = math.exp(-(math.log(0.5) + math.log(0.25) + math.log(0.1)) / 3)
    assert calculate_perplexity(log_probs) == pytest.approx(by_hand, rel=1e-15)
    # Geometric mean of the inverse probabilities: (2 * 4 * 10) ** (1/3).
    assert calculate_perplexity(log_probs) == pytest.approx(80 ** (1 / 3), rel=1e-12)
    assert calculate_perplexity(np.array(log_probs)) == pytest.approx(by_hand, rel=1e-15)
    assert calculate_perplexity(np.array(log_probs, dtype=np.float32)) == pytest.approx(
        by_hand, rel=1e-6
    )
    assert calculate_perplexity([0.0, 0.0]) == 1.0
    assert calculate_perplexity((-1.0,)) == pytest.approx(math.e, rel=1e-15)


def test_calculate_perplexity_edge_cases() -> None:
    assert calculate_perplexity([-1.0, -math.inf]) == math.inf
    assert calculate_perplexity([-800.0, -900.0]) == math.inf  # exp(850) overflows
    with pytest.raises(ValueError, match="empty"):
        calculate_perplexity([])
    with pytest.raises(ValueError, match="empty"):
        calculate_perplexity(np.array([]))
    with pytest.raises(ValueError, match="NaN"):
        calculate_perplexity([-1.0, math.nan])
    with pytest.raises(ValueError, match="negative log-likelihood"):
        calculate_perplexity([2.3, 1.2])  # NLLs instead of log-probabilities
    with pytest.raises(ValueError, match="one-dimensional"):
        calculate_perplexity(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="sequence of numbers"):
        calculate_perplexity(["a", "b"])


def test_hf_perplexity_uses_the_same_formula_and_keeps_nan_for_no_tokens() -> None:
    log_probs = np.array([-0.5, -1.5, -2.0])
    assert hf_perplexity(log_probs) == calculate_perplexity(log_probs)
    assert math.isnan(hf_perplexity(np.array([])))


# --------------------------------------------------------------------------- the suite


def wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
    return float(low), float(high)


@pytest.mark.parametrize("confidence", [0.95, 0.9])
def test_pass_rates_and_wilson_intervals_per_category(confidence: float) -> None:
    answers = {f"math{i}": str(i) for i in range(10)}
    answers |= {f"geo{i}": "Paris" for i in range(4)}
    # math: 7 of 10 right; geo: 1 of 4 right; chat: 2 of 2 right.
    cases = [EvalCase(f"math{i}", str(i) if i < 7 else "wrong", category="math") for i in range(10)]
    cases += [EvalCase(f"geo{i}", "paris" if i == 0 else "Rome", category="geo") for i in range(4)]
    cases += [EvalCase("hello", "hello", category="chat", scorer="exact") for _ in range(2)]

    report = run_eval_suite(lambda p: answers.get(p, p), cases, confidence=confidence)

    assert list(report.categories) == ["math", "geo", "chat"]
    for name, passed, n in [("math", 7, 10), ("geo", 1, 4), ("chat", 2, 2)]:
        stats = report.categories[name]
        assert (stats.n, stats.passed, stats.failed) == (n, passed, n - passed)
        assert stats.pass_rate == passed / n
        assert stats.ci == pytest.approx(wilson(passed, n, confidence), abs=1e-12)
    overall = report.overall
    assert (overall.n, overall.passed, overall.failed) == (16, 10, 6)
    assert overall.pass_rate == 10 / 16
    assert overall.ci == pytest.approx(wilson(10, 16, confidence), abs=1e-12)
    assert report.confidence == confidence


def test_wilson_interval_matches_the_formula() -> None:
    cases = [EvalCase(str(i), "yes" if i < 3 else "no") for i in range(8)]
    report = run_eval_suite(lambda _: "yes", cases)
    n, p, z = 8, 3 / 8, 1.959963984540054
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert report.overall.ci == pytest.approx((center - half, center + half), abs=1e-12)


def test_per_case_results() -> None:
    cases = [
        EvalCase("What is the capital of France?", "Paris", id="fr"),
        EvalCase("Capital of Italy?", ["Rome", "Roma"], category="geo"),
    ]
    answers = {"What is the capital of France?": "The Paris.", "Capital of Italy?": "Milan"}
    report = run_eval_suite(answers.__getitem__, cases)
    first, second = report.cases
    assert (first.id, first.category, first.output) == ("fr", "simple", "The Paris.")
    assert (first.score, first.passed, first.detail) == (1.0, True, None)
    assert (second.id, second.category, second.output) == ("1", "geo", "Milan")
    assert (second.score, second.passed) == (0.0, False)
    assert "'Milan' matches none of ['Rome', 'Roma']" in (second.detail or "")
    assert report.failures == [second]


def test_exception_in_model_fn_is_a_failed_case_and_the_suite_goes_on() -> None:
    def flaky(prompt: str) -> str:
        if prompt == "bad":
            raise ConnectionError("server went away")
        return prompt

    cases = [EvalCase("ok", "ok"), EvalCase("bad", "bad"), EvalCase("fine", "fine")]
    report = run_eval_suite(flaky, cases)
    assert [r.passed for r in report.cases] == [True, False, True]
    failed = report.cases[1]
    assert failed.output is None
    assert failed.score == 0.0
    assert failed.detail == "model error: ConnectionError: server went away"
    assert (report.overall.passed, report.overall.failed) == (2, 1)


def test_model_fn_returning_none_or_not_a_string_fails_the_case() -> None:
    outputs: dict[str, object] = {"none": None, "number": 42}
    report = run_eval_suite(outputs.__getitem__, [EvalCase("none", "x"), EvalCase("number", "42")])
    assert [r.passed for r in report.cases] == [False, False]
    assert "no answer" in (report.cases[0].detail or "")
    assert report.cases[1].detail == "model error: returned int, not str"


def test_exception_in_custom_scorer_is_a_failed_case() -> None:
    def broken(case: object, output: str) -> bool:
        raise KeyError("label")

    cases = [EvalCase("a", "a", scorer=broken), EvalCase("b", "b")]
    report = run_eval_suite(echo, cases)
    failed, passed = report.cases
    assert (failed.passed, failed.score, failed.output) == (False, 0.0, "a")
    assert failed.detail is not None
    assert "raised KeyError" in failed.detail
    assert "broken" in failed.detail
    assert passed.passed


def test_custom_scorers_bool_number_and_explanation() -> None:
    def long_enough(output: str) -> tuple[float, str]:
        return min(len(output) / 10, 1.0), f"{len(output)} characters"

    def mentions_reference(case: Case, output: str) -> bool:
        return case.reference.casefold() in output.casefold()

    cases = [
        EvalCase("short", "", scorer=long_enough),  # 0.5 >= 0.5 passes
        EvalCase("tiny", "", scorer=long_enough),  # 0.4 fails
        EvalCase("Rome is big", ["rome", "roma"], scorer=mentions_reference),
        EvalCase("Paris", "rome", scorer=lambda output: output == "Paris"),
    ]
    report = run_eval_suite(echo, cases)
    scores = [(r.score, r.passed, r.detail) for r in report.cases]
    assert scores[0] == (0.5, True, "5 characters")
    assert scores[1] == (0.4, False, "4 characters")
    assert scores[2] == (1.0, True, None)
    assert scores[3] == (1.0, True, None)
    # The threshold applies to custom numbers too.
    strict = run_eval_suite(echo, cases[:1], threshold=0.6)
    assert not strict.cases[0].passed


def test_custom_scorer_sees_all_expected_outputs() -> None:
    seen: list[Case] = []

    def record(case: Case, output: str) -> bool:
        seen.append(case)
        return True

    run_eval_suite(echo, [EvalCase("prompt", ["a", "b"], category="c", scorer=record, id="k")])
    (case,) = seen
    assert case.id == "k"
    assert case.text == "prompt"
    assert case.reference == "a"
    assert case.category == "c"
    assert case.metadata == {"expected_outputs": ["a", "b"]}


def test_unknown_scorer_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown scorer 'f1'") as info:
        EvalCase("q", "a", scorer="f1")
    for name in SCORERS:
        assert repr(name) in str(info.value)
    with pytest.raises(TypeError, match="scorer must be a name"):
        EvalCase("q", "a", scorer=3)


def test_invalid_regex_is_rejected_before_the_model_runs() -> None:
    with pytest.raises(ValueError, match="invalid regular expression"):
        EvalCase("q", ["ok", "(unclosed"], scorer="regex")


def test_named_scorers() -> None:
    bleu = BLEU(effective_order=True)
    chrf = CHRF()
    hypothesis, reference = "the cat is on the mat", "the cat sat on the mat"
    cases = [
        EvalCase("An apple, please.", "apple please", scorer="exact_match_squad"),
        EvalCase("Yes ", "Yes", scorer="exact"),
        EvalCase("Yes", ["yes", "Yes"], scorer="exact"),
        EvalCase("The answer is 42.", ["43", "42"], scorer="contains"),
        EvalCase("order #A-1234 shipped", r"#[A-Z]-\d{4}", scorer="regex"),
        EvalCase("a b c d", "a c d e", scorer="rouge_l"),
        EvalCase(hypothesis, reference, scorer="bleu"),
        EvalCase(hypothesis, reference, scorer="chrf"),
        EvalCase('{"label": "pos"}', "", scorer="json"),
        EvalCase("{label: pos}", "", scorer="json"),
    ]
    report = run_eval_suite(echo, cases)
    got = [(r.score, r.passed) for r in report.cases]
    assert got[0] == (1.0, True)
    assert got[1] == (0.0, False)  # strict: the trailing space counts
    assert got[2] == (1.0, True)
    assert got[3] == (1.0, True)
    assert got[4] == (1.0, True)
    assert got[5] == (pytest.approx(0.75, abs=1e-12), True)
    expected_bleu = bleu.sentence_score(hypothesis, [reference]).score / 100
    assert got[6] == (pytest.approx(expected_bleu, abs=1e-12), expected_bleu >= 0.5)
    expected_chrf = chrf.sentence_score(hypothesis, [reference]).score / 100
    assert got[7] == (pytest.approx(expected_chrf, abs=1e-12), expected_chrf >= 0.5)
    assert got[8] == (1.0, True)
    assert got[9] == (0.0, False)
    assert "invalid JSON" in (report.cases[9].detail or "")


def test_exact_match_has_the_yaml_default_and_squad_is_a_name_of_its_own() -> None:
    # One default for exact_match in the API and in tunegate.yaml: strip whitespace,
    # ignore case; punctuation and articles count unless SQuAD normalisation is asked.
    cases = [
        EvalCase("  PARIS ", "paris", scorer="exact_match"),
        EvalCase("An apple, please.", "apple please", scorer="exact_match"),
        EvalCase("An apple, please.", "apple please", scorer="exact_match_squad"),
    ]
    got = [(r.score, r.passed) for r in run_eval_suite(echo, cases).cases]
    assert got == [(1.0, True), (0.0, False), (1.0, True)]


def test_threshold_sets_the_pass_mark_of_continuous_scorers() -> None:
    case = EvalCase("a b c d", "a c d e", scorer="rouge_l")  # ROUGE-L F = 0.75
    assert run_eval_suite(echo, [case], threshold=0.75).cases[0].passed
    assert not run_eval_suite(echo, [case], threshold=0.8).cases[0].passed


def test_async_model_fn() -> None:
    calls: list[str] = []

    async def model(prompt: str) -> str:
        await asyncio.sleep(0)
        calls.append(prompt)
        if prompt == "raise":
            raise TimeoutError("too slow")
        return prompt.upper()

    cases = [EvalCase("abc", "ABC", scorer="exact"), EvalCase("raise", "x")]
    report = run_eval_suite(model, cases)
    assert calls == ["abc", "raise"]
    assert report.cases[0].output == "ABC"
    assert report.cases[0].passed
    assert report.cases[1].detail == "model error: TimeoutError: too slow"


async def test_async_model_fn_inside_a_running_event_loop() -> None:
    async def model(prompt: str) -> str:
        await asyncio.sleep(0)
        return prompt

    report = run_eval_suite(model, [EvalCase("same", "same")])
    assert report.overall.passed == 1


def test_bad_arguments_raise_before_the_model_is_called() -> None:
    def never(prompt: str) -> str:
        raise AssertionError("the model must not be called")

    with pytest.raises(ValueError, match="no cases"):
        run_eval_suite(never, [])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        run_eval_suite(never, [EvalCase("q", "a")], confidence=95)
    with pytest.raises(TypeError, match=r"cases\[1\] is a dict"):
        run_eval_suite(never, [EvalCase("q", "a"), {"input": "q"}])


def test_cases_may_be_any_iterable_and_expected_outputs_are_copied() -> None:
    expected = ["a", "b"]
    case = EvalCase("b", expected)
    expected.append("c")
    assert case.expected_outputs == ["a", "b"]
    report = run_eval_suite(echo, (c for c in [case]))
    assert report.overall.passed == 1


def test_report_to_dict_is_json_and_str_is_a_table() -> None:
    cases = [
        EvalCase("yes", "yes", category="alpha"),
        EvalCase("no", "yes", category="alpha", id="wrong-one"),
        EvalCase("ok", "ok", category="beta"),
    ]
    report = run_eval_suite(echo, cases)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["confidence"] == 0.95
    assert data["overall"]["n"] == 3
    assert data["overall"]["passed"] == 2
    assert data["categories"]["alpha"]["pass_rate"] == 0.5
    assert data["categories"]["beta"]["ci"] == list(report.categories["beta"].ci)
    assert data["cases"][1] == {
        "id": "wrong-one",
        "category": "alpha",
        "output": "no",
        "score": 0.0,
        "passed": False,
        "detail": "'no' matches none of ['yes']",
    }

    text = str(report)
    lines = text.splitlines()
    assert lines[0].split() == ["category", "n", "passed", "failed", "pass", "rate", "95%", "CI"]
    low, high = report.categories["alpha"].ci
    assert f"alpha         2       1       1      50.0%  [{low:.1%}, {high:.1%}]" in text
    assert any(line.startswith("overall") and "66.7%" in line for line in lines)
    assert "wrong-one [alpha] score 0: 'no' matches none of ['yes']" in text
    assert isinstance(report, SuiteReport)


def test_package_exports_the_api_lazily() -> None:
    assert tunegate.run_eval_suite is run_eval_suite
    assert tunegate.EvalCase is EvalCase
    assert "calculate_perplexity" in dir(tunegate)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = tunegate.nope
    code = (
        "import sys, tunegate\n"
        "heavy = [m for m in ('torch', 'sklearn', 'rouge_score', 'sacrebleu', 'statsmodels',"
        " 'scipy', 'tunegate.api') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from tunegate import rouge_l_score\n"
        "assert 'rouge_score' not in sys.modules\n"  # imported when first used (issue 11)
        "assert rouge_l_score('a b', 'a c') > 0\n"
        "assert 'rouge_score' in sys.modules and 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
