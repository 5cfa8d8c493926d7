"""The go/no-go gate: criteria -> PASS / FAIL / INCONCLUSIVE / MISSING -> verdict -> exit code.

Most tests build per-case answers whose right verdict is known by construction and
run them through the real :func:`tunegate.pipeline.flow.evaluate_run` (scoring, bootstrap,
paired comparisons, gate). Expected numbers come from the constructed data and from
independent references (scikit-learn, statsmodels, scipy, numpy), never from the code
under test. The last section runs the ``tunegate`` command against loopback servers
and checks the exit codes a CI job would gate on.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import norm
from servers import classify_app, keyword_sentiment, last_user_text, openai_app, serve
from sklearn.metrics import f1_score
from statsmodels.stats.proportion import proportion_confint

from tunegate.config import Config, Criterion, parse_config
from tunegate.data import Case
from tunegate.data.leakage import LeakageReport, check_leakage
from tunegate.errors import ConfigError
from tunegate.gate.criteria import describe
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.results import CriterionResult, RunResult
from tunegate.runner import ModelRun
from tunegate.stats import interval_standard_error, minimum_detectable_effect, required_cases
from tunegate.store import Response

LABELS = ["positive", "negative", "neutral"]
Z975 = float(norm.ppf(0.975))
Z80 = float(norm.ppf(0.8))


# --------------------------------------------------------------------------- builders


def make_cases(n: int, categories: Sequence[str] | None = None) -> list[Case]:
    """``n`` cases cycling the labels, optionally with one category per case."""
    return [
        Case(
            id=f"case-{i:05d}",
            text=f"review {i} of a product",
            reference=LABELS[i % 3],
            category=categories[i] if categories is not None else None,
        )
        for i in range(n)
    ]


def wrong_label(label: str) -> str:
    return LABELS[(LABELS.index(label) + 1) % len(LABELS)]


def model_run(
    name: str,
    cases: Sequence[Case],
    correct: Sequence[bool],
    *,
    errors: Sequence[int] = (),
    unparseable: Sequence[int] = (),
    latency: Callable[[int], float] = lambda i: 5.0,
) -> ModelRun:
    """A finished model run whose answers are right exactly where ``correct`` says.

    Cases whose index is in ``errors`` failed in transport (no answer); those in
    ``unparseable`` got an answer that names no label.
    """
    failed, garbled = set(errors), set(unparseable)
    responses = []
    for i, (case, ok) in enumerate(zip(cases, correct, strict=True)):
        if i in failed:
            responses.append(
                Response(
                    case_id=case.id,
                    model=name,
                    key=f"{name}/{case.id}",
                    error="HTTP 503: the server is overloaded",
                    error_kind="http_503",
                    latency_ms=latency(i),
                )
            )
            continue
        if i in garbled:
            text = "I cannot tell"
        else:
            text = case.reference if ok else wrong_label(case.reference)
        responses.append(
            Response(
                case_id=case.id,
                model=name,
                key=f"{name}/{case.id}",
                text=text,
                latency_ms=latency(i),
            )
        )
    return ModelRun(name, responses)


def pattern(n: int, wrong: Callable[[int], bool]) -> list[bool]:
    return [not wrong(i) for i in range(n)]


def make_config(
    criteria: list[dict[str, Any]] | None = None,
    models: Sequence[str] = ("tuned", "base"),
    gate_confidence: float | None = None,
    **top: Any,
) -> Config:
    """A config over python models (never imported here) with an optional gate."""
    data: dict[str, Any] = {
        "dataset": {"path": "unused.jsonl"},
        "task": {"labels": LABELS},
        "models": {m: {"type": "python", "function": "toy.models:predict"} for m in models},
        **top,
    }
    if criteria is not None:
        data["gate"] = {"criteria": criteria}
        if gate_confidence is not None:
            data["gate"]["confidence"] = gate_confidence
    return parse_config(data)


def evaluate(
    config: Config,
    cases: Sequence[Case],
    runs: Sequence[ModelRun],
    leakage: LeakageReport | None = None,
) -> RunResult:
    result = evaluate_run(
        config, "run-gate-test", cases, {r.name: r for r in runs}, leakage=leakage
    )
    assert result.gate is not None
    return result


def criteria_of(result: RunResult) -> list[CriterionResult]:
    assert result.gate is not None
    return result.gate.criteria


def statuses(result: RunResult) -> list[str]:
    return [c.status for c in criteria_of(result)]


def macro_f1(cases: Sequence[Case], run: ModelRun) -> float:
    """Macro-F1 by scikit-learn over the label set; no answer is a wrong answer."""
    y_true = [c.reference for c in cases]
    y_pred = [r.text if r.text in LABELS else "__none__" for r in run.responses]
    return float(f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0))


def wilson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    lo, hi = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    return float(lo), float(hi)


def expected_mde(ci: tuple[float, float] | None, confidence: float = 0.95) -> float:
    """(z_{1-a/2} + z_{0.8}) * se, with se = interval width / (2 z_{1-a/2})."""
    assert ci is not None
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    return (z + Z80) * (ci[1] - ci[0]) / (2 * z)


# --------------------------------------------------------------------------- clear wins and losses


N_CLEAR = 200
GOOD = pattern(N_CLEAR, lambda i: i % 20 == 7)  # 95% right
POOR = pattern(N_CLEAR, lambda i: i % 5 in (1, 3))  # 60% right


@pytest.mark.parametrize(
    ("tuned", "base", "status", "verdict", "code"),
    [(GOOD, POOR, "PASS", "SHIP", 0), (POOR, GOOD, "FAIL", "ITERATE", 1)],
    ids=["clear-win", "clear-loss"],
)
def test_clear_difference_is_decided_on_the_paired_interval(
    tuned: list[bool], base: list[bool], status: str, verdict: str, code: int
) -> None:
    assert sum(GOOD) == 190
    assert sum(POOR) == 120
    cases = make_cases(N_CLEAR)
    runs = [model_run("tuned", cases, tuned), model_run("base", cases, base)]
    config = make_config([{"metric": "macro_f1", "vs": "base", "min_delta": 0.05}])
    result = evaluate(config, cases, runs)
    [crit] = criteria_of(result)

    expected_delta = macro_f1(cases, runs[0]) - macro_f1(cases, runs[1])
    assert crit.estimate == pytest.approx(expected_delta, abs=1e-12)
    assert abs(expected_delta) > 0.3
    comparison = next(
        c for c in result.comparisons if (c.baseline, c.metric) == ("base", "macro_f1")
    )
    assert crit.ci == comparison.ci  # the paired interval, not two separate ones
    assert crit.ci is not None
    lo, hi = crit.ci
    assert lo <= crit.estimate <= hi
    if status == "PASS":
        assert lo >= 0.05
    else:
        assert hi < 0.05
    assert (crit.status, crit.judge, crit.threshold, crit.n) == (status, "interval", 0.05, 200)
    assert crit.required_n is None  # decided: nothing more to collect
    assert crit.mde == pytest.approx(expected_mde(crit.ci), rel=1e-12)
    assert result.gate is not None
    assert (result.gate.verdict, result.gate.exit_code) == (verdict, code)
    assert not result.gate.default
    assert result.gate.candidate == "tuned"


# --------------------------------------------------------------------------- too few cases

# One 30-case block: both models right on about 70% of it, with different errors. The
# candidate is wrong on 8 cases; the baseline on 9 (BASE_WRONG_PLUS_ONE: the candidate is
# truly one case in 30 better) or on 8 (BASE_WRONG_EQUAL); only 4 wrong cases are shared.
CAND_WRONG = {0, 1, 2, 3, 5, 9, 13, 17}
BASE_WRONG_PLUS_ONE = {0, 1, 2, 3, 7, 11, 19, 23, 27}
BASE_WRONG_EQUAL = {0, 1, 2, 3, 7, 11, 19, 23}


def block_runs(repeats: int, base_wrong: set[int]) -> tuple[list[Case], list[ModelRun]]:
    """The 30-case block repeated ``repeats`` times: the same per-case pattern, more cases."""
    n = 30 * repeats
    cases = make_cases(n)
    tuned = pattern(n, lambda i: i % 30 in CAND_WRONG)
    base = pattern(n, lambda i: i % 30 in base_wrong)
    return cases, [model_run("tuned", cases, tuned), model_run("base", cases, base)]


@pytest.mark.parametrize(
    ("base_wrong", "criterion", "threshold"),
    [
        # superiority: a true advantage of 1 case in 30 over a zero threshold
        (BASE_WRONG_PLUS_ONE, {"metric": "accuracy", "vs": "base", "min_delta": 0.0}, 0.0),
        # non-inferiority: equal accuracy, 5 points of margin
        (BASE_WRONG_EQUAL, {"metric": "accuracy", "vs": "base", "max_drop": 0.05}, -0.05),
    ],
    ids=["superiority", "non-inferiority"],
)
def test_small_test_set_is_inconclusive_and_required_n_decides_it(
    base_wrong: set[int], criterion: dict[str, Any], threshold: float
) -> None:
    config = make_config([criterion])
    true_delta = (len(base_wrong) - len(CAND_WRONG)) / 30
    assert 0.7 <= 1 - len(base_wrong) / 30 <= 0.75

    cases, runs = block_runs(1, base_wrong)
    small = evaluate(config, cases, runs)
    [crit] = criteria_of(small)
    assert crit.status == "INCONCLUSIVE"
    assert crit.estimate == pytest.approx(true_delta, abs=1e-12)
    assert crit.threshold == threshold
    assert crit.ci is not None
    assert crit.ci[0] < threshold <= crit.ci[1]
    assert crit.mde is not None
    assert crit.mde > 0
    assert crit.mde == pytest.approx(expected_mde(crit.ci), rel=1e-12)
    assert crit.mde > abs(true_delta - threshold)  # why 30 cases cannot tell
    assert crit.required_n is not None
    assert crit.required_n > 30
    gap = true_delta - threshold
    assert crit.required_n == math.ceil(30 * (crit.mde / gap) ** 2)
    assert f"about {crit.required_n} cases would decide it" in crit.reason
    assert small.gate is not None
    assert (small.gate.verdict, small.gate.exit_code) == ("INCONCLUSIVE", 3)
    assert f"about {crit.required_n} cases would decide it" in small.gate.reason

    # The same per-case pattern on about required_n cases: now decided.
    repeats = math.ceil(crit.required_n / 30)
    cases, runs = block_runs(repeats, base_wrong)
    big = evaluate(config, cases, runs)
    [decided] = criteria_of(big)
    assert len(cases) < crit.required_n + 30
    assert decided.estimate == pytest.approx(true_delta, abs=1e-12)
    assert decided.status == "PASS", decided.reason
    assert decided.ci is not None
    assert decided.ci[0] >= threshold
    assert big.gate is not None
    assert (big.gate.verdict, big.gate.exit_code) == ("SHIP", 0)

    # ...and the prediction is not wasteful: a quarter of it is still not enough.
    cases, runs = block_runs(math.ceil(crit.required_n / 120), base_wrong)
    [quarter] = criteria_of(evaluate(config, cases, runs))
    assert quarter.status == "INCONCLUSIVE"


def test_exact_tie_on_the_threshold_has_no_required_n() -> None:
    cases, runs = block_runs(1, BASE_WRONG_EQUAL)
    result = evaluate(
        make_config([{"metric": "accuracy", "vs": "base", "min_delta": 0.0}]), cases, runs
    )
    [crit] = criteria_of(result)
    assert crit.estimate == 0.0
    assert crit.status == "INCONCLUSIVE"
    assert crit.mde is not None
    assert crit.mde > 0
    assert crit.required_n is None
    assert "sits on the threshold" in crit.reason
    assert result.gate is not None
    assert result.gate.verdict == "INCONCLUSIVE"


def test_judge_observed_overrides_the_interval_for_a_quality_metric() -> None:
    cases, runs = block_runs(1, BASE_WRONG_EQUAL)
    accuracy = 1 - len(CAND_WRONG) / 30
    threshold = accuracy - 0.03
    config = make_config(
        [
            {"metric": "accuracy", "min": threshold},
            {"metric": "accuracy", "min": threshold, "judge": "observed"},
            {"metric": "accuracy", "min": accuracy + 0.03, "judge": "observed"},
        ]
    )
    by_interval, observed_pass, observed_fail = criteria_of(evaluate(config, cases, runs))
    assert by_interval.estimate == pytest.approx(accuracy)
    assert by_interval.ci is not None
    assert by_interval.ci[0] < threshold
    assert (by_interval.status, by_interval.judge) == ("INCONCLUSIVE", "interval")
    assert (observed_pass.status, observed_pass.judge, observed_pass.ci) == (
        "PASS",
        "observed",
        None,
    )
    assert (observed_fail.status, observed_fail.judge, observed_fail.ci) == (
        "FAIL",
        "observed",
        None,
    )
    assert observed_pass.required_n is None
    assert observed_pass.mde is None


# --------------------------------------------------------------------------- missing evidence


def test_unmeasured_criteria_are_missing_and_block_ship() -> None:
    cases = make_cases(N_CLEAR)
    runs = [model_run("tuned", cases, GOOD), model_run("base", cases, POOR)]
    config = make_config(
        [
            {"metric": "macro_f1", "vs": "base", "min_delta": 0.05},
            {"metric": "error_rate", "max": 0.01},
            {"metric": "human_preference", "min": 0.5},
        ]
    )
    result = evaluate(config, cases, runs)
    assert statuses(result) == ["PASS", "PASS", "MISSING"]
    human = criteria_of(result)[2]
    assert "human" in human.reason
    assert human.estimate is None
    assert human.ci is None
    assert result.gate is not None
    assert (result.gate.verdict, result.gate.exit_code) == ("INCONCLUSIVE", 3)
    assert "human_preference >= 0.5 (missing)" in result.gate.reason


def test_a_criterion_on_an_unknown_suite_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"gate.criteria\[0\].suite: no suite named 'general'"):
        make_config([{"metric": "accuracy", "suite": "general", "min": 0.5}])


@pytest.mark.parametrize(
    ("criterion", "reason"),
    [
        ({"metric": "exact_match", "min": 0.5}, "exact_match is not measured"),
        ({"metric": "schema_compliance", "min": 0.9}, "schema_compliance is not measured"),
        ({"metric": "leakage", "max": 0.01}, "no leakage check ran"),
        ({"metric": "macro_f1", "category": "hard", "min": 0.5}, "use pass_rate"),
    ],
)
def test_other_missing_evidence(criterion: dict[str, Any], reason: str) -> None:
    cases = make_cases(60)
    runs = [model_run("tuned", cases, [True] * 60)]
    result = evaluate(make_config([criterion], models=("tuned",)), cases, runs)
    [crit] = criteria_of(result)
    assert crit.status == "MISSING"
    assert reason in crit.reason
    assert result.gate is not None
    assert result.gate.verdict == "INCONCLUSIVE"


# --------------------------------------------------------------------------- operational limits


def test_zero_errors_pass_on_observed_but_not_on_the_wilson_interval() -> None:
    n = 150
    cases = make_cases(n)
    criteria = [
        {"metric": "error_rate", "max": 0.01},
        {"metric": "error_rate", "max": 0.01, "judge": "interval"},
    ]
    config = make_config(criteria, models=("tuned",))
    result = evaluate(config, cases, [model_run("tuned", cases, [True] * n)])
    observed, interval = criteria_of(result)

    assert (observed.status, observed.judge, observed.estimate, observed.ci) == (
        "PASS",
        "observed",
        0.0,
        None,
    )
    upper = wilson(0, n)[1]
    assert upper > 0.01  # 0 of 150 does not show a rate below 1% at 95%
    assert interval.judge == "interval"
    assert interval.ci == pytest.approx(wilson(0, n), abs=1e-12)
    assert interval.status == "INCONCLUSIVE"
    assert interval.required_n is not None
    assert interval.required_n > n
    assert result.gate is not None
    assert result.gate.verdict == "INCONCLUSIVE"

    # With required_n cases and still no error, the interval clears 1% too.
    more = make_cases(interval.required_n)
    bigger = evaluate(config, more, [model_run("tuned", more, [True] * len(more))])
    assert wilson(0, len(more))[1] <= 0.01
    assert statuses(bigger) == ["PASS", "PASS"]


def test_five_percent_errors_fail_either_way() -> None:
    n = 200
    cases = make_cases(n)
    errors = [i for i in range(n) if i % 20 == 0]  # 10 of 200
    config = make_config(
        [
            {"metric": "error_rate", "max": 0.01},
            {"metric": "error_rate", "max": 0.01, "judge": "interval"},
            {"metric": "unparseable_rate", "max": 0.01},
        ],
        models=("tuned",),
    )
    result = evaluate(config, cases, [model_run("tuned", cases, [True] * n, errors=errors)])
    observed, interval, unparseable = criteria_of(result)
    assert observed.estimate == pytest.approx(0.05)
    assert observed.status == "FAIL"
    assert interval.ci == pytest.approx(wilson(10, n), abs=1e-12)
    assert interval.ci is not None
    assert interval.ci[0] > 0.01
    assert interval.status == "FAIL"
    # a transport error is not an unparseable answer
    assert (unparseable.estimate, unparseable.status) == (0.0, "PASS")
    assert result.gate is not None
    assert (result.gate.verdict, result.gate.exit_code) == ("ITERATE", 1)
    assert result.gate.reason.startswith("2 of 3 criteria failed")


def test_unparseable_rate_is_judged_on_the_observed_value() -> None:
    n = 150
    cases = make_cases(n)
    garbled = [10, 70, 130]  # 2%
    config = make_config(
        [
            {"metric": "unparseable_rate", "max": 0.03},
            {"metric": "unparseable_rate", "max": 0.01},
            {"metric": "error_rate", "max": 0.0},
        ],
        models=("tuned",),
    )
    run = model_run("tuned", cases, [True] * n, unparseable=garbled)
    result = evaluate(config, cases, [run])
    assert [c.estimate for c in criteria_of(result)] == pytest.approx([0.02, 0.02, 0.0])
    assert statuses(result) == ["PASS", "FAIL", "PASS"]


def test_leakage_is_judged_on_the_observed_rate() -> None:
    cases = make_cases(100)
    train = [cases[i] for i in (4, 50, 97)] + [
        Case(
            id=f"train-{i}", text=f"an unrelated training sentence number {i}", reference="neutral"
        )
        for i in range(20)
    ]
    report = check_leakage(train, cases)
    assert report.leakage_rate == pytest.approx(0.03)
    config = make_config(
        [{"metric": "leakage", "max": 0.01}, {"metric": "leakage", "max": 0.05}],
        models=("tuned",),
    )
    result = evaluate(config, cases, [model_run("tuned", cases, [True] * 100)], leakage=report)
    assert statuses(result) == ["FAIL", "PASS"]
    assert all(c.judge == "observed" and c.ci is None for c in criteria_of(result))
    assert criteria_of(result)[0].estimate == pytest.approx(0.03)


# --------------------------------------------------------------------------- categories


def test_category_pass_rates_are_judged_on_wilson_intervals() -> None:
    # 50 easy cases all right, 40 hard cases 10 right, 20 mid cases 14 right
    sizes = {"easy": (50, 50), "hard": (40, 10), "mid": (20, 14)}
    categories: list[str] = []
    correct: list[bool] = []
    for name, (n, k) in sizes.items():
        categories += [name] * n
        correct += [True] * k + [False] * (n - k)
    cases = make_cases(len(categories), categories)
    config = make_config(
        [{"metric": "pass_rate", "category": c, "min": 0.8} for c in (*sizes, "medium")],
        models=("tuned",),
    )
    result = evaluate(config, cases, [model_run("tuned", cases, correct)])
    easy, hard, mid, unknown = criteria_of(result)

    for crit, (name, (n, k)) in zip((easy, hard, mid), sizes.items(), strict=True):
        lo, hi = wilson(k, n)
        assert crit.ci == pytest.approx((lo, hi), abs=1e-12), name
        assert crit.estimate == pytest.approx(k / n)
        assert crit.n == n
        assert f"{k}/{n} correct" in crit.reason
        expected = "PASS" if lo >= 0.8 else "FAIL" if hi < 0.8 else "INCONCLUSIVE"
        assert crit.status == expected, name
    # the data were built to give one of each
    assert [easy.status, hard.status, mid.status] == ["PASS", "FAIL", "INCONCLUSIVE"]
    assert mid.required_n is not None
    assert mid.required_n > 20
    assert unknown.status == "MISSING"
    assert "'medium'" in unknown.reason
    assert "easy, hard, mid" in unknown.reason
    assert result.gate is not None
    assert result.gate.verdict == "ITERATE"


# --------------------------------------------------------------------------- latency


def test_latency_limits_with_judge_observed_use_the_observed_percentiles() -> None:
    n = 100
    cases = make_cases(n)
    # The candidate's first request fails after 5 s: a failure is not timed.
    tuned = model_run(
        "tuned", cases, [True] * n, errors=[0], latency=lambda i: 5000.0 if i == 0 else 10.0 + i
    )
    base = model_run("base", cases, [True] * n, latency=lambda i: 2.0 * (10.0 + i) + i % 7)
    mine = [10.0 + i for i in range(1, n)]
    theirs = [2.0 * (10.0 + i) + i % 7 for i in range(n)]
    p50, p95, p99 = (float(np.percentile(mine, q)) for q in (50, 95, 99))
    ratio50 = p50 / float(np.percentile(theirs, 50))
    ratio99 = p99 / float(np.percentile(theirs, 99))
    config = make_config(
        [
            {"metric": "latency_p50", "max": p50 + 1, "judge": "observed"},
            {"metric": "latency_p95", "max": p95 - 1, "judge": "observed"},
            {
                "metric": "latency_p99",
                "vs": "base",
                "max_ratio": ratio99 + 0.01,
                "judge": "observed",
            },
            {
                "metric": "latency_p50",
                "vs": "base",
                "max_ratio": ratio50 - 0.01,
                "judge": "observed",
            },
        ]
    )
    result = evaluate(config, cases, [tuned, base])
    crits = criteria_of(result)
    assert statuses(result) == ["PASS", "FAIL", "PASS", "FAIL"]
    assert [c.estimate for c in crits] == pytest.approx([p50, p95, ratio99, ratio50])
    assert all(c.judge == "observed" and c.ci is None for c in crits)
    assert result.gate is not None
    assert result.gate.verdict == "ITERATE"


# --------------------------------------------------------------------------- default gate


def test_default_gate_without_a_gate_section() -> None:
    n = 200
    cases = make_cases(n)
    runs = [
        model_run("tuned", cases, pattern(n, lambda i: i % 5 == 0)),  # 80%
        model_run("zs", cases, pattern(n, lambda i: i % 2 == 0)),  # 50%
        model_run("fs", cases, [True] * n),  # 100%
    ]
    result = evaluate(make_config(models=("tuned", "zs", "fs")), cases, runs)
    gate = result.gate
    assert gate is not None
    assert gate.default
    stopped = "no model stopped (unreachable, fatal error, no successful request)"
    assert [c.description for c in gate.criteria] == [
        "macro_f1 - zs >= -0.02",
        "macro_f1 - fs >= -0.02",
        "error_rate <= 0.01",
        "error_rate of zs <= 0.01",
        "error_rate of fs <= 0.01",
        stopped,
    ]
    assert [c.judge for c in gate.criteria] == ["interval", "interval", *["observed"] * 4]
    assert [c.threshold for c in gate.criteria] == [-0.02, -0.02, 0.01, 0.01, 0.01, 0]
    assert statuses(result) == ["PASS", "FAIL", "PASS", "PASS", "PASS", "PASS"]
    deltas = [macro_f1(cases, runs[0]) - macro_f1(cases, r) for r in runs[1:]]
    assert [c.estimate for c in gate.criteria[:2]] == pytest.approx(deltas, abs=1e-12)
    assert (gate.verdict, gate.exit_code) == ("ITERATE", 1)

    # compare: picks the baselines and the primary metric of the default gate
    config = make_config(
        models=("tuned", "zs", "fs"),
        compare={"candidate": "tuned", "baselines": ["zs"], "metric": "accuracy"},
    )
    shipped = evaluate(config, cases, runs)
    assert shipped.gate is not None
    assert shipped.gate.default
    assert [c.description for c in shipped.gate.criteria] == [
        "accuracy - zs >= -0.02",
        "error_rate <= 0.01",
        "error_rate of zs <= 0.01",
        stopped,
    ]
    assert shipped.gate.criteria[0].estimate == pytest.approx(0.8 - 0.5)
    assert (shipped.gate.verdict, shipped.gate.exit_code) == ("SHIP", 0)


# --------------------------------------------------------------------------- descriptions and JSON


@pytest.mark.parametrize(
    ("criterion", "text"),
    [
        (
            {"metric": "macro_f1", "vs": "zero-shot", "min_delta": -0.02},
            "macro_f1 - zero-shot >= -0.02",
        ),
        ({"metric": "accuracy", "vs": "base", "max_drop": 0.05}, "accuracy drop vs base <= 0.05"),
        ({"metric": "latency_p95", "vs": "base", "max_ratio": 1.5}, "latency_p95 / base <= 1.5"),
        (
            {"metric": "pass_rate", "category": "hard", "min": 0.8},
            "pass_rate >= 0.8 [category hard]",
        ),
        ({"metric": "accuracy", "suite": "general", "min": 0.7}, "accuracy >= 0.7 [suite general]"),
        ({"metric": "error_rate", "max": 0.01}, "error_rate <= 0.01"),
    ],
)
def test_describe(criterion: dict[str, Any], text: str) -> None:
    assert describe(Criterion(**criterion)) == text


def test_gate_json() -> None:
    cases, runs = block_runs(1, BASE_WRONG_PLUS_ONE)
    config = make_config(
        [
            {"metric": "accuracy", "vs": "base", "min_delta": 0.0},
            {"metric": "error_rate", "max": 0.01},
            {"metric": "human_preference", "min": 0.5},
        ],
        confidence=0.9,
    )
    result = evaluate(config, cases, runs)
    raw = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    gate = raw["gate"]
    assert gate["verdict"] == "INCONCLUSIVE"
    assert gate["exit_code"] == 3
    assert gate["candidate"] == "tuned"
    assert gate["confidence"] == 0.9
    assert gate["default"] is False
    assert result.gate is not None
    assert gate["reason"] == result.gate.reason
    paired, errors, human = gate["criteria"]
    keys = {"criterion", "description", "status", "judge", "estimate", "ci", "threshold", "reason"}
    assert all(keys <= set(c) for c in gate["criteria"])

    comparison = next(c for c in raw["suites"][0]["comparisons"] if c["metric"] == "accuracy")
    assert paired["criterion"] == {"metric": "accuracy", "vs": "base", "min_delta": 0.0}
    assert paired["description"] == "accuracy - base >= 0"
    assert paired["status"] == "INCONCLUSIVE"
    assert paired["judge"] == "interval"
    assert paired["estimate"] == pytest.approx(1 / 30)
    assert paired["ci"] == comparison["ci"]
    assert paired["threshold"] == 0.0
    assert paired["n"] == 30
    assert paired["mde"] == pytest.approx(expected_mde(tuple(paired["ci"]), 0.9), rel=1e-12)
    assert isinstance(paired["required_n"], int)
    assert paired["required_n"] > 30

    assert (errors["status"], errors["judge"], errors["estimate"]) == ("PASS", "observed", 0.0)
    assert (errors["ci"], errors["threshold"]) == (None, 0.01)
    assert (human["status"], human["estimate"], human["ci"]) == ("MISSING", None, None)


def test_gate_confidence_sets_the_interval_level() -> None:
    cases, runs = block_runs(4, BASE_WRONG_PLUS_ONE)
    criteria = [{"metric": "accuracy", "vs": "base", "min_delta": 0.0}]
    widths = []
    for level in (0.8, 0.99):
        # gate.confidence wins over the top-level confidence
        config = make_config(criteria, gate_confidence=level, confidence=0.95)
        result = evaluate(config, cases, runs)
        assert result.gate is not None
        assert result.gate.confidence == level
        assert result.confidence == level
        [crit] = criteria_of(result)
        assert crit.ci is not None
        assert crit.mde is not None
        widths.append(crit.ci[1] - crit.ci[0])
        assert crit.mde == pytest.approx(expected_mde(crit.ci, level), rel=1e-12)
    assert widths[0] < widths[1]
    # without gate.confidence the top-level confidence applies
    [crit] = criteria_of(evaluate(make_config(criteria, confidence=0.8), cases, runs))
    assert crit.ci is not None
    assert crit.ci[1] - crit.ci[0] == pytest.approx(widths[0])


# --------------------------------------------------------------------------- config errors


def criterion_key(message: str, index: int) -> None:
    """The message names the criterion as ``gate.criteria[i]``."""
    assert re.search(rf"gate\.criteria\[{index}\][.:]", message), message


@pytest.mark.parametrize(
    ("criterion", "contains"),
    [
        (
            {"metric": "accuracy", "min": 0.5, "max": 0.9},
            ["needs exactly one of", "(got min, max)"],
        ),
        ({"metric": "accuracy", "min_delta": 0.0}, ["min_delta compares with another model"]),
        (
            {"metric": "accuracy", "vs": "bse", "min_delta": 0.0},
            ["gate.criteria[1].vs: no model named 'bse'", "did you mean 'base'?"],
        ),
        (
            {"metric": "acuracy", "min": 0.5},
            ["unknown metric 'acuracy'", "did you mean 'accuracy'?"],
        ),
        ({"metric": "accuracy", "vs": "base", "min": 0.5}, ["vs is only used with"]),
        (
            {"metric": "accuracy", "vs": "tuned", "min_delta": 0.0},
            ["gate.criteria[1].vs: the candidate cannot be compared with itself"],
        ),
        (
            {"metric": "accuracy", "vs": "base", "max_ratio": 2.0},
            ["max_ratio compares latencies, not accuracy"],
        ),
        (
            {"metric": "error_rate", "vs": "base", "min_delta": 0.0},
            ["min_delta needs a metric compared case by case"],
        ),
    ],
    ids=[
        "two-thresholds",
        "no-vs",
        "unknown-vs",
        "unknown-metric",
        "vs-with-min",
        "self",
        "ratio-not-latency",
        "delta-not-paired",
    ],
)
def test_config_errors_name_the_criterion(criterion: dict[str, Any], contains: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        make_config([{"metric": "error_rate", "max": 0.01}, criterion])
    message = str(info.value)
    assert message.startswith("tunegate.yaml: gate.criteria")
    criterion_key(message, 1)
    for part in contains:
        assert part in message


def test_validation_errors_use_the_same_index_notation_as_reference_errors() -> None:
    with pytest.raises(ConfigError, match=r"gate\.criteria\[1\]: needs exactly one of"):
        make_config([{"metric": "error_rate", "max": 0.01}, {"metric": "accuracy"}])


# --------------------------------------------------------------------------- stats helpers


def test_minimum_detectable_effect_is_z_sum_times_se() -> None:
    for se in (0.001, 0.02, 0.3):
        assert minimum_detectable_effect(se) == pytest.approx((Z975 + Z80) * se, rel=1e-12)
    z95 = float(norm.ppf(0.95))
    z90 = float(norm.ppf(0.9))
    assert minimum_detectable_effect(0.02, 0.9, 0.9) == pytest.approx((z95 + z90) * 0.02)
    assert interval_standard_error((0.1, 0.3)) == pytest.approx(0.2 / (2 * Z975))


def test_required_cases_scales_as_inverse_square_of_the_gap() -> None:
    se, n = 0.05, 100
    mde = (Z975 + Z80) * se
    for gap in (0.01, 0.02, 0.04, -0.03):
        assert required_cases(se, n, gap) == math.ceil(n * (mde / abs(gap)) ** 2)
    quarter = required_cases(se, n, 0.01)
    half_gap = required_cases(se, n, 0.02)
    assert quarter is not None
    assert half_gap is not None
    assert quarter / half_gap == pytest.approx(4, rel=1e-3)
    assert required_cases(se, n, 0.0) is None
    assert required_cases(0.0, n, 0.01) is None
    # A gap already beyond the detectable distance needs no more cases than we have.
    assert required_cases(se, n, 2 * mde) == n


# --------------------------------------------------------------------------- the command

TUNEGATE = Path(sys.executable).parent / "tunegate"
PRODUCTS = ["kettle", "lamp", "tent", "mouse", "drone"]
SENTENCES = {
    "positive": "I love this {p}, it is excellent",
    "negative": "Awful {p}, it arrived broken",
    "neutral": "The {p} was delivered on Monday",
}
TRICKY = "Not good, this {p} is not great at all"  # negative; the keyword rule says positive

CLI_CONFIG = """\
name: gate-cli
dataset:
  path: test.jsonl
task:
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: http
    url: {classify_url}/classify
  zero-shot:
    type: openai
    model: toy
    base_url: {openai_url}/v1
"""


def cli_records(n: int) -> list[dict[str, str]]:
    records = []
    for i in range(n):
        product = f"{PRODUCTS[i % len(PRODUCTS)]} no. {i}"
        if i % 8 == 7:
            text, label = TRICKY.format(p=product), "negative"
        else:
            label = LABELS[i % 3]
            text = SENTENCES[label].format(p=product)
        records.append({"id": f"r{i:03d}", "text": text, "label": label})
    return records


def never_neutral(messages: list[dict[str, Any]]) -> str:
    """The baseline: the keyword rule, but it never says neutral."""
    said = keyword_sentiment(last_user_text(messages))
    return "negative" if said == "negative" else "positive"


@dataclass
class CliRun:
    proc: subprocess.CompletedProcess[str]
    report: dict[str, Any] | None
    folder: Path


def gate_yaml(criteria: list[dict[str, Any]]) -> str:
    return "gate:\n  criteria:\n" + "".join(f"    - {json.dumps(c)}\n" for c in criteria)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CliRun]:
    """Every command of this section, run at once against one pair of servers."""
    folder = tmp_path_factory.mktemp("gate-cli")
    records = cli_records(40)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    right = [keyword_sentiment(r["text"]) == r["label"] for r in records]
    base_right = [
        never_neutral([{"role": "user", "content": r["text"]}]) == r["label"] for r in records
    ]
    accuracy = sum(right) / len(right)
    assert 0.8 <= accuracy < 0.95
    assert sum(base_right) < sum(right) - 8
    plans: dict[str, tuple[list[dict[str, Any]], list[str]]] = {
        "ship": (
            [
                {"metric": "accuracy", "vs": "zero-shot", "min_delta": 0.0},
                {"metric": "error_rate", "max": 0.01},
            ],
            [],
        ),
        "iterate": ([{"metric": "accuracy", "vs": "zero-shot", "min_delta": 0.6}], []),
        "no-gate": ([{"metric": "accuracy", "vs": "zero-shot", "min_delta": 0.6}], ["--no-gate"]),
        "inconclusive": ([{"metric": "accuracy", "min": round(accuracy - 0.025, 3)}], []),
        "bad": ([{"metric": "accuracy", "vs": "zero-shoot", "min_delta": 0.0}], []),
    }
    env = {**os.environ, "COLUMNS": "250"}
    with (
        serve(classify_app()) as classify_url,
        serve(openai_app(answer=never_neutral)) as openai_url,
    ):
        procs: dict[str, subprocess.Popen[str]] = {}
        runs = {}
        try:
            for name, (criteria, flags) in plans.items():
                text = CLI_CONFIG.format(classify_url=classify_url, openai_url=openai_url)
                (folder / f"{name}.yaml").write_text(text + gate_yaml(criteria))
                args = [str(TUNEGATE), "run", f"{name}.yaml", "--quiet", "--json", f"{name}.json"]
                args += ["--store", f"{name}.db", *flags]
                procs[name] = subprocess.Popen(
                    args,
                    cwd=folder,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            for name, proc in procs.items():
                stdout, stderr = proc.communicate(timeout=120)
                done = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
                path = folder / f"{name}.json"
                report = json.loads(path.read_text()) if path.exists() else None
                runs[name] = CliRun(done, report, folder)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
    return runs


def expected_cli_delta() -> float:
    """Accuracy of the keyword rule minus that of the never-neutral baseline, from the data."""
    records = cli_records(40)
    right = sum(keyword_sentiment(r["text"]) == r["label"] for r in records)
    base = sum(
        never_neutral([{"role": "user", "content": r["text"]}]) == r["label"] for r in records
    )
    return (right - base) / len(records)


def gate_of(run: CliRun) -> dict[str, Any]:
    assert run.report is not None, run.proc.stderr
    gate: dict[str, Any] = run.report["gate"]
    return gate


def test_cli_ship_exits_0(cli_runs: dict[str, CliRun]) -> None:
    run = cli_runs["ship"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert "VERDICT: SHIP" in run.proc.stdout
    gate = gate_of(run)
    assert (gate["verdict"], gate["exit_code"]) == ("SHIP", 0)
    assert [c["status"] for c in gate["criteria"]] == ["PASS", "PASS"]
    assert gate["criteria"][0]["estimate"] == pytest.approx(expected_cli_delta(), abs=1e-12)
    assert gate["criteria"][0]["ci"][0] >= 0.0
    assert gate["criteria"][1]["estimate"] == 0.0


def test_cli_iterate_exits_1(cli_runs: dict[str, CliRun]) -> None:
    run = cli_runs["iterate"]
    assert run.proc.returncode == 1, run.proc.stderr
    assert "VERDICT: ITERATE" in run.proc.stdout
    gate = gate_of(run)
    [crit] = gate["criteria"]
    assert crit["status"] == "FAIL"
    assert crit["estimate"] == pytest.approx(expected_cli_delta(), abs=1e-12)
    assert crit["ci"][1] < 0.6
    assert "Traceback" not in run.proc.stderr


def test_cli_no_gate_exits_0_and_prints_no_verdict(cli_runs: dict[str, CliRun]) -> None:
    run = cli_runs["no-gate"]
    assert run.proc.returncode == 0, run.proc.stderr
    assert "VERDICT" not in run.proc.stdout
    assert run.report is not None
    assert run.report["gate"] is None


def test_cli_inconclusive_exits_3(cli_runs: dict[str, CliRun]) -> None:
    run = cli_runs["inconclusive"]
    assert run.proc.returncode == 3, run.proc.stderr
    assert "VERDICT: INCONCLUSIVE" in run.proc.stdout
    [crit] = gate_of(run)["criteria"]
    assert crit["status"] == "INCONCLUSIVE"
    assert crit["ci"][0] < crit["threshold"] <= crit["ci"][1]
    assert crit["required_n"] > 40
    assert f"about {crit['required_n']} cases would decide it" in " ".join(run.proc.stdout.split())


def test_cli_config_error_exits_2(cli_runs: dict[str, CliRun]) -> None:
    run = cli_runs["bad"]
    assert run.proc.returncode == 2
    assert "bad.yaml: gate.criteria[0].vs: no model named 'zero-shoot'" in run.proc.stderr
    assert "did you mean 'zero-shot'?" in run.proc.stderr
    assert "Traceback" not in run.proc.stderr
    assert "VERDICT" not in run.proc.stdout
    assert run.report is None


def test_cli_plan_reports_the_sample_size_of_the_stored_run(cli_runs: dict[str, CliRun]) -> None:
    run = cli_runs["inconclusive"]
    [crit] = gate_of(run)["criteria"]
    proc = subprocess.run(
        [str(TUNEGATE), "plan", "--store", "inconclusive.db"],
        cwd=run.folder,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if "INCONCLUSIVE" in x)
    assert str(crit["required_n"]) in line
    mde = crit["mde"]
    assert f"{mde:.3f}" in line
    assert f"{mde / 2:.3f}" in line  # four times the cases halve the detectable effect


def test_cli_plan_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(TUNEGATE), "plan", "--store", str(tmp_path / "none.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "no store here" in proc.stderr
    assert "Traceback" not in proc.stderr
