"""The tutorial's metric and suite calls, exactly as written, on tunegate.api."""

from __future__ import annotations

import json
import threading
import time

import pytest
from servers import openai_app, serve
from statsmodels.stats.proportion import proportion_confint

from tunegate import EvalCase, exact_match_score, run_eval_suite
from tunegate.api import CallOptions, PassStats, SuiteReport

# --------------------------------------------------------------------------- metrics


def test_exact_match_score_with_two_strings_says_it_wants_lists() -> None:
    with pytest.raises(
        TypeError, match=r"takes two lists, but predictions is a string \('Paris'\)"
    ):
        exact_match_score("Paris", "Lyons")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="references is a string"):
        exact_match_score(["Paris"], "Paris")
    # The lists the tutorial passes keep working: 1 of 2 right.
    assert exact_match_score(["Paris", "Lyon"], ["paris", "Nice"]) == 0.5


# --------------------------------------------------------------------------- the tutorial's suite


def tutorial_model(prompt: str) -> str:
    """Answers JSON tool picks; the 'complex' ones come back malformed or wrong."""
    answers = {
        "weather in Paris": '{"name": "get_weather", "args": {"city": "Paris"}}',
        "weather in Rome": '{"name": "get_weather", "args": {"city": "Rome"}}',
        "book a flight": '{"name": "search_web"}',
        "book a hotel": "I would call book_hotel",  # not JSON: the scorer raises
        "empty": "{}",
    }
    return answers[prompt]


def name_scorer(pred: str, exp: str) -> bool:
    return bool(json.loads(pred)["name"] == json.loads(exp)["name"])


def test_two_argument_scorer_gets_prediction_and_expected_output() -> None:
    cases = [
        EvalCase(
            "weather in Paris",
            '{"name": "get_weather"}',
            "simple",
            lambda pred, exp: json.loads(pred)["name"] == json.loads(exp)["name"],
        ),
        EvalCase("weather in Rome", '{"name": "get_weather"}', "simple", name_scorer),
        EvalCase("book a flight", '{"name": "book_flight"}', "complex", name_scorer),
        EvalCase("book a hotel", '{"name": "book_hotel"}', "complex", name_scorer),
        EvalCase("empty", '{"name": "none"}', "edge_case", name_scorer),
    ]
    results = run_eval_suite(tutorial_model, cases)

    # The tutorial's reads.
    assert results["simple"]["pass"] == 2
    assert results["simple"]["fail"] == 0
    assert results["simple"]["rate"] == 1.0
    assert results["complex"]["rate"] == 0.0
    assert {category: stats["rate"] for category, stats in results.items()} == {
        "simple": 1.0,
        "complex": 0.0,
        "edge_case": 0.0,
    }
    assert list(results) == ["simple", "complex", "edge_case"]
    assert len(results) == 3
    assert "simple" in results
    assert "adversarial" not in results
    # The Wilson interval beside the rate, as statsmodels computes it.
    low, high = proportion_confint(2, 2, alpha=0.05, method="wilson")
    assert results["simple"]["ci"] == pytest.approx((low, high), abs=1e-12)
    assert results["simple"]["n"] == 2
    # The report object stays available as attributes.
    assert isinstance(results, SuiteReport)
    assert isinstance(results["simple"], PassStats)
    assert results.overall.passed == 2
    assert results.categories["complex"].failed == 2

    # A wrong answer says what was compared.
    assert results.cases[2].detail == 'name_scorer gave 0 for output \'{"name": "search_web"}\''
    # A malformed answer fails its case and keeps the reason.
    hotel = results.cases[3]
    assert hotel.passed is False
    assert hotel.output == "I would call book_hotel"
    assert hotel.detail is not None
    assert "raised JSONDecodeError" in hotel.detail
    assert "name_scorer" in hotel.detail
    empty = results.cases[4]
    assert empty.detail is not None
    assert "raised KeyError" in empty.detail


def test_unknown_category_names_the_known_ones() -> None:
    results = run_eval_suite(lambda p: p, [EvalCase("a", "a", "simple")])
    with pytest.raises(
        KeyError, match="no case has category 'complex'; the categories are 'simple'"
    ):
        results["complex"]
    with pytest.raises(KeyError, match="the keys are 'pass', 'fail', 'rate', 'ci', 'n'"):
        results["simple"]["passed"]


def test_one_argument_and_keyword_scorers_keep_working() -> None:
    cases = [
        EvalCase("Paris", "ignored", "a", lambda pred: pred == "Paris"),
        EvalCase("Paris", "paris", "a", lambda output: output.lower() == "paris"),
        EvalCase("Paris", "paris", "a", lambda case, output: case.reference == output.lower()),
        EvalCase("Paris", "Lyon", "a", lambda pred, exp: (0.25, f"{pred} vs {exp}")),
    ]
    results = run_eval_suite(lambda p: p, cases)
    assert [c.passed for c in results.cases] == [True, True, True, False]
    assert results.cases[3].score == 0.25
    assert results.cases[3].detail == "Paris vs Lyon"


def test_two_argument_scorer_with_several_expected_outputs_takes_the_best() -> None:
    seen: list[tuple[str, str]] = []

    def scorer(pred: str, exp: str) -> bool:
        seen.append((pred, exp))
        return pred == exp

    results = run_eval_suite(
        lambda p: "Roma", [EvalCase("Italy?", ["Rome", "Roma"], "geo", scorer)]
    )
    assert results["geo"]["pass"] == 1
    assert seen == [("Roma", "Rome"), ("Roma", "Roma")]


def test_bad_case_fields_are_rejected_up_front() -> None:
    with pytest.raises(TypeError, match="input_prompt must be a string"):
        EvalCase(3, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of strings"):
        EvalCase("q", ["a", 3])  # type: ignore[list-item]
    with pytest.raises(
        TypeError, match="model_fn must be a function of the prompt or a model name"
    ):
        run_eval_suite(42, [EvalCase("q", "a")])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- concurrency


def test_cases_run_concurrently_with_a_bound() -> None:
    active = 0
    peak = 0
    changed = threading.Condition()
    deadline = time.monotonic() + 10.0

    def slow(prompt: str) -> str:
        nonlocal active, peak
        with changed:
            active += 1
            peak = max(peak, active)
            changed.notify_all()
            # Each call keeps its slot until four were in flight at once: with a bound of
            # four that happens at once; one by one it never does (the deadline ends the wait).
            changed.wait_for(lambda: peak >= 4, timeout=max(0.0, deadline - time.monotonic()))
        time.sleep(0.05)  # more calls than the bound would pile up meanwhile
        with changed:
            active -= 1
        return prompt

    cases = [EvalCase(str(i), str(i)) for i in range(16)]
    results = run_eval_suite(slow, cases, concurrency=4)
    assert results.overall.passed == 16
    assert peak == 4  # concurrent, and bounded


def test_a_model_name_runs_through_the_openai_compatible_endpoint() -> None:
    def answer(messages: list[dict[str, str]]) -> str:
        return messages[-1]["content"].upper()

    app = openai_app(answer, latency_ms=200)
    with serve(app) as url:
        options = CallOptions(base_url=f"{url}/v1", concurrency=10)
        cases = [EvalCase(f"word {i}", f"WORD {i}", "simple", "exact") for i in range(10)]
        results = run_eval_suite("toy-model", cases, options=options)
    assert results["simple"]["rate"] == 1.0
    sent = app.state.log
    assert len(sent) == 10
    assert {e["json"]["model"] for e in sent} == {"toy-model"}
    # Ten 200 ms calls, concurrently: the server answered them all at once.
    assert sent.peak_in_flight == 10
