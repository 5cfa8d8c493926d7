"""ab_test_models and compare_results in the tutorial's shapes, checked against scipy,
statsmodels and numpy."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest
from servers import FaultPlan, RequestLog, openai_app, serve
from statsmodels.stats.proportion import proportion_confint

from tunegate import ab_test_models, compare_results
from tunegate.api import CallOptions


def fine_tuned(prompt: str) -> str:
    return f"answer to {prompt}"


async def frontier(prompt: str) -> str:
    await asyncio.sleep(0)
    return prompt.upper()


def test_tutorial_call_returns_outputs_and_latencies_in_case_order() -> None:
    eval_cases = [{"prompt": f"question {i}", "category": "simple"} for i in range(5)]
    started = time.perf_counter()
    results = ab_test_models(eval_cases, fine_tuned, frontier)
    elapsed = time.perf_counter() - started
    assert results["model_a"] == [f"answer to question {i}" for i in range(5)]
    assert results["model_b"] == [f"QUESTION {i}" for i in range(5)]
    assert len(results["latency_a"]) == len(results["latency_b"]) == 5
    assert all(isinstance(x, float) and 0 <= x <= elapsed for x in results["latency_a"])
    assert results["errors_a"] == [None] * 5
    assert results["prompts"] == [c["prompt"] for c in eval_cases]


class InFlight:
    """Counts each model's calls in flight; a call keeps its slot until six calls of each
    model were in flight at once (or a deadline passed: one by one never gets there)."""

    def __init__(self, full: int = 6, patience: float = 10.0) -> None:
        self.lock = threading.Lock()
        self.now = {"a": 0, "b": 0}
        self.peak = {"a": 0, "b": 0}
        self.together = 0  # the most calls of both models in flight at once
        self.full = full
        self.deadline = time.monotonic() + patience

    def enter(self, model: str) -> None:
        with self.lock:
            self.now[model] += 1
            self.peak[model] = max(self.peak[model], self.now[model])
            self.together = max(self.together, sum(self.now.values()))

    def leave(self, model: str) -> None:
        with self.lock:
            self.now[model] -= 1

    def holding(self) -> bool:
        with self.lock:
            return self.together < 2 * self.full and time.monotonic() < self.deadline


def test_cases_run_concurrently_not_one_by_one() -> None:
    calls = InFlight(full=6)

    def slow_a(prompt: str) -> str:
        calls.enter("a")
        while calls.holding():
            time.sleep(0.005)
        time.sleep(0.05)  # more calls than the bound would pile up meanwhile
        calls.leave("a")
        return "a"

    async def slow_b(prompt: str) -> str:
        calls.enter("b")
        while calls.holding():
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.25)
        calls.leave("b")
        return "b"

    cases = [{"prompt": str(i)} for i in range(12)]
    started = time.perf_counter()
    results = ab_test_models(cases, slow_a, slow_b, concurrency=6)
    elapsed = time.perf_counter() - started
    assert results["model_a"] == ["a"] * 12
    assert results["model_b"] == ["b"] * 12
    # Six at a time per model, both models at once (one by one: peaks of 1, together 1).
    assert calls.peak == {"a": 6, "b": 6}
    assert calls.together == 12
    # Each latency covers its own call (at least its sleep), never more than the run.
    assert all(0.2 <= x <= elapsed for x in results["latency_b"])


def overlap(log_a: RequestLog, log_b: RequestLog) -> bool:
    """Whether some request to one app was being answered while one to the other was."""
    return any(
        a["time"] < b["finished"] and b["time"] < a["finished"] for a in log_a for b in log_b
    )


def test_model_names_go_through_the_openai_backend_with_retries() -> None:
    app_a = openai_app(lambda m: "tuned: " + m[-1]["content"], latency_ms=150)
    app_b = openai_app(
        lambda m: "big: " + m[-1]["content"],
        latency_ms=150,
        faults=FaultPlan({"p3": ["429", "ok"]}, retry_after=0),
    )
    with serve(app_a) as url_a, serve(app_b) as url_b:
        from tunegate.config import OpenAIModel

        model_a = OpenAIModel(type="openai", model="ft:tiny", base_url=f"{url_a}/v1")
        cases = [{"prompt": f"p{i}"} for i in range(8)]
        results = ab_test_models(
            cases, model_a, "gpt-big", options=CallOptions(base_url=f"{url_b}/v1", concurrency=8)
        )
    assert results["model_a"] == [f"tuned: p{i}" for i in range(8)]
    assert results["model_b"] == [f"big: p{i}" for i in range(8)]
    # 8 x 150 ms per model, concurrently: each server answered all eight at once, and
    # the two models' requests overlapped.
    assert app_a.state.log.peak_in_flight == app_b.state.log.peak_in_flight == 8
    assert overlap(app_a.state.log, app_b.state.log)
    # The 429 was retried: the server saw "p3" twice and the answer arrived.
    assert [e["action"] for e in app_b.state.log if e["text"] == "p3"] == ["429", "ok"]
    assert {e["json"]["model"] for e in app_b.state.log} == {"gpt-big"}


def test_a_failed_call_is_kept_apart_from_an_answer() -> None:
    def flaky(prompt: str) -> str:
        if prompt == "bad":
            raise ConnectionError("went away")
        return prompt

    results = ab_test_models([{"prompt": "ok"}, {"prompt": "bad"}], flaky, fine_tuned)
    assert results["model_a"] == ["ok", None]
    assert results["latency_a"][1] is None
    assert results["errors_a"] == [None, "model error: ConnectionError: went away"]
    compared = compare_results(results, len)
    assert compared["n"] == 1
    assert compared["excluded"] == 1


async def test_the_result_can_be_awaited_as_in_the_tutorial() -> None:
    results = await ab_test_models([{"prompt": "x"}], fine_tuned, frontier)
    assert results["model_b"] == ["X"]


def test_bad_cases_name_the_position() -> None:
    with pytest.raises(ValueError, match=r"eval_cases\[1\] has no 'prompt' key \(keys: 'text'\)"):
        ab_test_models([{"prompt": "a"}, {"text": "b"}], fine_tuned, frontier)
    with pytest.raises(TypeError, match=r"eval_cases\[0\]\['prompt'\] is a int"):
        ab_test_models([{"prompt": 1}], fine_tuned, frontier)
    with pytest.raises(TypeError, match="model_b must be a function of the prompt"):
        ab_test_models([{"prompt": "a"}], fine_tuned, None)  # type: ignore[arg-type]


def test_compare_results_numbers() -> None:
    # The tutorial's dict, built by hand: scores are the outputs' lengths.
    outputs_a = ["aaaa", "aa", "aaa", "aaaaa", "a", "aaaa", "aaa", "aaaaaa", "aa", "aaaa"]
    outputs_b = ["aa", "aa", "aaaa", "aaa", "aa", "aa", "aaa", "aaa", "a", "aaa"]
    latency_a = [0.10, 0.12, 0.11, 0.30, 0.09, 0.10, 0.13, 0.12, 0.50, 0.11]
    latency_b = [0.80, 0.70, 0.75, 0.90, 0.85, 0.60, 0.72, 0.74, 2.00, 0.81]
    results = {
        "model_a": outputs_a,
        "model_b": outputs_b,
        "latency_a": latency_a,
        "latency_b": latency_b,
    }
    compared = compare_results(results, scorer=len)

    wins_a = sum(len(a) > len(b) for a, b in zip(outputs_a, outputs_b, strict=True))
    wins_b = sum(len(a) < len(b) for a, b in zip(outputs_a, outputs_b, strict=True))
    assert (wins_a, wins_b) == (6, 2)
    assert compared["model_a_win_rate"] == 0.6
    assert compared["model_b_win_rate"] == 0.2
    assert compared["tie_rate"] == 0.2
    assert compared["avg_latency_a_ms"] == pytest.approx(np.mean(latency_a) * 1000, rel=1e-12)
    assert compared["avg_latency_b_ms"] == pytest.approx(np.mean(latency_b) * 1000, rel=1e-12)
    assert compared["model_a_win_rate_ci"] == pytest.approx(
        proportion_confint(6, 10, alpha=0.05, method="wilson"), abs=1e-12
    )
    assert compared["sign_test_p_value"] == pytest.approx(binomtest(6, 8, 0.5).pvalue, rel=1e-12)
    assert compared["sign_test_p_value"] == pytest.approx(0.2890625, rel=1e-12)  # 74/256
    for q in (50, 95, 99):
        expected = float(np.percentile(np.array(latency_b) * 1000, q))
        assert compared["latency_b_ms"][f"p{q}"] == pytest.approx(expected, rel=1e-12)
    assert "no significant difference" in compared["conclusion"]


def test_a_clear_winner_and_a_scorer_that_raises() -> None:
    outputs_a = ['{"ok": 1}'] * 12
    outputs_b = ["not json"] * 11 + ['{"ok": 1}']

    def valid(output: str) -> float:
        import json

        return float(json.loads(output)["ok"])

    compared = compare_results({"model_a": outputs_a, "model_b": outputs_b}, valid)
    # B's scorer raised 11 times: those answers lose; the last case is a tie.
    assert (compared["wins_a"], compared["wins_b"], compared["ties"]) == (11, 0, 1)
    assert compared["scorer_errors_b"] == 11
    assert compared["sign_test_p_value"] == pytest.approx(2 * 0.5**11, rel=1e-12)
    assert "model_a is better" in compared["conclusion"]
    assert compared["avg_latency_a_ms"] is None
    assert compared["latency_a_ms"] == {"p50": None, "p95": None, "p99": None}


def test_compare_results_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="results has no 'model_b' key"):
        compare_results({"model_a": []}, len)
    with pytest.raises(ValueError, match="2 outputs of model_a but 1 of model_b"):
        compare_results({"model_a": ["a", "b"], "model_b": ["a"]}, len)
    with pytest.raises(TypeError, match="scorer returned str"):
        compare_results({"model_a": ["a"], "model_b": ["b"]}, lambda o: o)
    empty = compare_results({"model_a": [], "model_b": []}, len)
    assert math.isnan(empty["model_a_win_rate"])
    assert empty["sign_test_p_value"] == 1.0


def test_a_missing_api_key_is_a_clear_error_and_keys_never_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tunegate.errors import BackendError

    monkeypatch.delenv("TUNEGATE_TEST_KEY", raising=False)
    options = CallOptions(base_url="http://127.0.0.1:9/v1", api_key_env="TUNEGATE_TEST_KEY")
    with pytest.raises(BackendError) as info:
        ab_test_models([{"prompt": "q"}], "gpt-x", fine_tuned, options=options)
    assert str(info.value) == (
        "model_a (api_key_env): environment variable TUNEGATE_TEST_KEY is not set; "
        "set it, or name another with CallOptions(api_key_env=...)"
    )
    # With the key set, the request goes out with it and the error does not repeat it.
    secret = "sk-test-" + "Q" * 32
    monkeypatch.setenv("TUNEGATE_TEST_KEY", secret)
    app = openai_app(require_key="another-key")
    with serve(app) as url:
        options = CallOptions(base_url=f"{url}/v1", api_key_env="TUNEGATE_TEST_KEY")
        results = ab_test_models([{"prompt": "q"}], "gpt-x", fine_tuned, options=options)
    (error,) = results["errors_a"]
    assert error is not None
    assert error.startswith("HTTP 401")
    assert secret not in error
    assert [e["headers"]["authorization"] for e in app.state.log] == [f"Bearer {secret}"]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.none() | st.integers(1, 500)),
        min_size=1,
        max_size=40,
    )
)
def test_compare_results_agrees_with_a_direct_count(
    rows: list[tuple[int, int, int | None]],
) -> None:
    outputs_a = ["x" * a for a, _, _ in rows]
    outputs_b = ["x" * b for _, b, _ in rows]
    latency = [None if ms is None else ms / 1000 for _, _, ms in rows]
    compared = compare_results(
        {"model_a": outputs_a, "model_b": outputs_b, "latency_a": latency}, scorer=len
    )
    wins_a = sum(a > b for a, b, _ in rows)
    wins_b = sum(a < b for a, b, _ in rows)
    n = len(rows)
    assert compared["model_a_win_rate"] == wins_a / n
    assert compared["model_b_win_rate"] == wins_b / n
    assert compared["model_a_win_rate"] + compared["model_b_win_rate"] + compared[
        "tie_rate"
    ] == pytest.approx(1.0)
    expected_p = binomtest(wins_a, wins_a + wins_b, 0.5).pvalue if wins_a + wins_b else 1.0
    assert compared["sign_test_p_value"] == pytest.approx(expected_p, rel=1e-12)
    answered = [ms for _, _, ms in rows if ms is not None]
    if answered:
        assert compared["avg_latency_a_ms"] == pytest.approx(float(np.mean(answered)), rel=1e-9)
        assert compared["latency_a_ms"]["p99"] == pytest.approx(
            float(np.percentile(answered, 99)), rel=1e-9
        )
    else:
        assert compared["avg_latency_a_ms"] is None
