"""regression_test and EvalPipeline: paired intervals decide, INCONCLUSIVE when they cannot."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

from tunegate import EvalCase, EvalPipeline, regression_test
from tunegate.stats import interval_standard_error, paired_bootstrap_mean_delta, required_cases


def right(output: str) -> float:
    return 1.0 if output == "right" else 0.0


def scripted(wrong: set[str]) -> object:
    """A model answering 'right' except on the prompts in ``wrong``."""

    def model(prompt: str) -> str:
        return "wrong" if prompt in wrong else "right"

    return model


def cases(prefix: str, n: int, category: str | None = None) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        case: dict[str, object] = {"prompt": f"{prefix}{i}", "scorer": right}
        if category is not None:
            case["category"] = category
        out.append(case)
    return out


# --------------------------------------------------------------------------- regression_test


def test_established_and_inconclusive_drops_per_category() -> None:
    general = cases("math", 30, "math") + cases("chat", 10, "chat")
    target = cases("task", 20)
    # Fine-tuned: wrong on 15 math cases and 1 chat case the base gets right; base wrong on
    # 4 target cases the fine-tuned model gets right.
    fine_tuned = scripted({f"math{i}" for i in range(15)} | {"chat0"})
    base = scripted({f"task{i}" for i in range(4)})

    results = regression_test(fine_tuned, base, general, target)

    general_result = results["general"]
    assert general_result["fine_tuned"] == pytest.approx(24 / 40)
    assert general_result["base"] == 1.0
    assert general_result["delta"] == pytest.approx(24 / 40 - 1.0)
    ft_scores = [0.0] * 15 + [1.0] * 15 + [0.0] + [1.0] * 9
    delta, lo, hi = paired_bootstrap_mean_delta(ft_scores, [1.0] * 40, seed=0)
    assert general_result["ci"] == (lo, hi)
    assert general_result["delta"] == delta
    # The bootstrap interval is close to the normal one: delta +- 1.96 sd / sqrt(n).
    half = 1.959964 * np.std(np.array(ft_scores) - 1.0) / math.sqrt(40)
    assert lo == pytest.approx(delta - half, abs=0.04)
    assert hi == pytest.approx(delta + half, abs=0.04)
    assert general_result["status"] == "regression"

    math_result = general_result["categories"]["math"]
    assert math_result["delta"] == -0.5
    assert math_result["status"] == "regression"
    assert math_result["flagged"] is True
    chat = general_result["categories"]["chat"]
    assert chat["delta"] == pytest.approx(-0.1)
    assert chat["flagged"] is True
    assert chat["status"] == "inconclusive"  # one case of ten: the data cannot settle it
    assert chat["ci"][0] < -0.05 <= chat["ci"][1]
    assert chat["required_n"] > 10

    assert results["target"]["delta"] == pytest.approx(0.2)
    assert results["target"]["status"] == "ok"
    assert results["passed"] is False
    assert len(results["regressions"]) == 2
    assert results["regressions"][0].startswith("general: fine-tuned 0.600 vs base 1.000")
    assert "a drop beyond 0.05 is established" in results["regressions"][0]
    assert any(m.startswith("general/chat:") for m in results["inconclusive"])


def test_a_drop_the_data_cannot_settle_does_not_fail() -> None:
    general = cases("g", 12)
    results = regression_test(scripted({"g0"}), scripted(set()), general, [])
    assert results["general"]["delta"] == pytest.approx(-1 / 12)
    assert results["general"]["status"] == "inconclusive"
    assert results["passed"] is True
    assert results["regressions"] == []
    assert len(results["inconclusive"]) == 1
    assert "cannot be ruled out" in results["inconclusive"][0]
    assert results["target"]["status"] == "empty"


def test_no_drop_passes_and_failed_calls_are_excluded() -> None:
    def broken_on_g1(prompt: str) -> str:
        if prompt == "g1":
            raise TimeoutError("slow")
        return "right"

    general = cases("g", 200)
    results = regression_test(broken_on_g1, scripted(set()), general, cases("t", 5))
    assert results["general"]["n"] == 199
    assert results["general"]["excluded"] == 1
    assert results["general"]["delta"] == 0.0
    assert results["general"]["status"] == "ok"
    assert results["passed"] is True
    assert results["inconclusive"] == []


def test_bad_regression_cases_name_the_key() -> None:
    with pytest.raises(ValueError, match=r"general_cases\[0\] has no 'scorer' key"):
        regression_test(scripted(set()), scripted(set()), [{"prompt": "x"}], [])
    with pytest.raises(TypeError, match=r"target_cases\[0\] is a str"):
        regression_test(scripted(set()), scripted(set()), [], ["x"])
    with pytest.raises(TypeError, match=r"general_cases\[0\]: the scorer returned str"):
        regression_test(
            scripted(set()), scripted(set()), [{"prompt": "x", "scorer": lambda o: o}], []
        )


# --------------------------------------------------------------------------- EvalPipeline


def pipeline_cases(n: int) -> list[dict[str, object]]:
    return [{"prompt": f"c{i}", "scorer": right} for i in range(n)]


def test_pipeline_ships_when_the_interval_lies_above_the_threshold() -> None:
    # 60 cases: model right on 55, baseline right on 30; discordant 27 (model only) and 2.
    model = scripted({f"c{i}" for i in range(55, 60)})
    baseline_wrong = {f"c{i}" for i in range(30)} - {"c0", "c1", "c2"} | {"c55", "c56"}
    baseline = scripted(baseline_wrong)
    result = EvalPipeline(model, baseline, pipeline_cases(60)).run(confidence_threshold=0.05)

    assert result["cases_evaluated"] == 60
    assert result["model_avg_score"] == pytest.approx(55 / 60)
    assert result["baseline_avg_score"] == pytest.approx(31 / 60)
    assert result["improvement"] == pytest.approx(24 / 60)
    assert result["decision"] == "SHIP"
    assert result["ci"][0] > 0.05
    assert result["confidence_threshold"] == 0.05
    table = [[28, 27], [3, 2]]  # [both right, model only], [baseline only, both wrong]
    expected_p = mcnemar(table, exact=False, correction=True).pvalue
    assert result["p_value"] == pytest.approx(expected_p, rel=1e-12)
    assert result["p_value_test"] == "McNemar (chi2)"
    assert result["required_n"] is None
    datetime.fromisoformat(result["timestamp"])


def test_pipeline_iterates_when_the_interval_lies_below() -> None:
    model = scripted({f"c{i}" for i in range(20)})
    result = EvalPipeline(model, scripted(set()), pipeline_cases(40)).run()
    assert result["improvement"] == -0.5
    assert result["decision"] == "ITERATE"
    assert result["ci"][1] < 0.05
    assert result["p_value"] == pytest.approx(2 * 0.5**20, rel=1e-12)  # exact McNemar, 20 vs 0


def test_pipeline_is_inconclusive_on_too_few_cases_and_says_how_many() -> None:
    model = scripted(set())
    baseline = scripted({"c0", "c1"})
    result = EvalPipeline(model, baseline, pipeline_cases(10)).run(confidence_threshold=0.05)
    assert result["improvement"] == pytest.approx(0.2)
    assert result["decision"] == "INCONCLUSIVE"  # the tutorial would ship: 0.2 > 0.05
    lo, hi = result["ci"]
    assert lo <= 0.05 <= hi
    se = interval_standard_error((lo, hi), 0.95)
    assert result["required_n"] == required_cases(se, 10, 0.2 - 0.05, 0.95)
    assert result["required_n"] > 10
    assert f"about {result['required_n']} cases would decide it" in result["reason"]


def test_pipeline_with_continuous_scores_expected_outputs_and_eval_cases() -> None:
    def overlap(output: str, expected: str) -> float:
        a, b = set(output.split()), set(expected.split())
        return len(a & b) / len(a | b)

    expected = {f"q{i}": f"w{i} x y z" for i in range(8)}
    eval_cases = [{"prompt": p, "expected": e, "scorer": overlap} for p, e in expected.items()]
    model = lambda p: expected[p]  # noqa: E731 - perfect
    baseline = lambda p: expected[p].split()[0] + (" x" if p < "q5" else "")  # noqa: E731
    result = EvalPipeline(model, baseline, eval_cases).run()
    base_scores = [overlap(baseline(p), e) for p, e in expected.items()]
    assert result["baseline_avg_score"] == pytest.approx(sum(base_scores) / 8)
    assert result["model_avg_score"] == 1.0
    assert result["p_value_test"] == "sign test"
    assert result["p_value"] == pytest.approx(binomtest(8, 8, 0.5).pvalue, rel=1e-12)

    suite_cases = [EvalCase("Paris", "paris"), EvalCase("Rome", "rome")]
    echo = EvalPipeline(lambda p: p, lambda p: "no", suite_cases).run()
    assert (echo["model_avg_score"], echo["baseline_avg_score"]) == (1.0, 0.0)


def test_pipeline_with_no_answers_is_inconclusive() -> None:
    def down(prompt: str) -> str:
        raise ConnectionError("refused")

    result = EvalPipeline(down, scripted(set()), pipeline_cases(3)).run()
    assert result["decision"] == "INCONCLUSIVE"
    assert result["cases_evaluated"] == 0
    assert result["excluded"] == 3
    assert "ConnectionError: refused" in result["reason"]
