"""go_no_go_checklist / evaluate_go_no_go: all seven criteria, missing numbers fail."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tunegate import evaluate_go_no_go, go_no_go_checklist
from tunegate.api import check_go_no_go, go_no_go_evidence, go_no_go_numbers

ALL_GOOD = {
    "target_improvement": 0.08,
    "general_regression": 0.02,
    "exact_match": 0.91,
    "schema_compliance": 1.0,
    "latency_p99_ratio": 1.4,
    "human_preference": 0.66,
    "adversarial_robustness": 0.95,
}


def test_the_seven_criteria() -> None:
    assert list(go_no_go_checklist) == [
        "target_improvement",
        "general_regression",
        "exact_match",
        "latency_p99_ratio",
        "human_preference",
        "adversarial_robustness",
        "schema_compliance",
    ]
    assert go_no_go_checklist["exact_match"]["min"] == 0.85
    assert go_no_go_checklist["latency_p99_ratio"]["max"] == 2.0


def test_all_seven_pass() -> None:
    passed, failures = evaluate_go_no_go(ALL_GOOD)
    assert passed is True
    assert failures == []


def test_the_tutorials_four_numbers_are_not_enough() -> None:
    four = {k: ALL_GOOD[k] for k in ("target_improvement", "general_regression", "exact_match")}
    four["schema_compliance"] = 1.0
    passed, failures = evaluate_go_no_go(four)
    assert passed is False
    assert len(failures) == 3
    assert failures[0].startswith("latency_p99_ratio: missing (absent)")
    assert any(f.startswith("human_preference: missing") for f in failures)
    assert any(f.startswith("adversarial_robustness: missing") for f in failures)


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("target_improvement", 0.05, True),
        ("target_improvement", 0.049, False),
        ("general_regression", 0.05, True),
        ("general_regression", 0.06, False),
        ("exact_match", 0.85, True),
        ("exact_match", 0.8499, False),
        ("latency_p99_ratio", 2.0, True),
        ("latency_p99_ratio", 2.1, False),
        ("human_preference", 0.59, False),
        ("adversarial_robustness", 0.89, False),
        ("schema_compliance", 0.999, False),
    ],
)
def test_each_threshold(key: str, value: float, ok: bool) -> None:
    passed, failures = evaluate_go_no_go({**ALL_GOOD, key: value})
    assert passed is ok
    if not ok:
        (failure,) = failures
        assert failure.startswith(f"{key}: {value:.4g} ")


def test_none_nan_and_text_are_missing_not_passed() -> None:
    rows = check_go_no_go({**ALL_GOOD, "exact_match": None, "human_preference": float("nan")})
    status = {row["criterion"]: row["status"] for row in rows}
    assert status["exact_match"] == "MISSING"
    assert status["human_preference"] == "MISSING"
    assert status["target_improvement"] == "PASS"
    passed, failures = evaluate_go_no_go({**ALL_GOOD, "exact_match": "high"})
    assert passed is False
    assert failures == [
        "exact_match: missing (not a number ('high')); needed for exact-match accuracy >= 85%"
    ]
    with pytest.raises(TypeError, match="results must be a dict of numbers"):
        evaluate_go_no_go([0.1, 0.2])


MODELS = textwrap.dedent(
    """
    ANSWERS = {
        "q1": ("Paris", "Paris"),
        "q2": ("Mars", "Jupiter"),
        "q3": ("ice", "snow"),
        "q4": ("4", "banana"),
        "q5": ("Berlin", "Munich"),
    }

    def tuned(case):
        if case.metadata.get("choices"):
            return case.reference
        return ANSWERS[case.id.split("/")[-1]][0]

    def base(case):
        if case.metadata.get("choices"):
            return case.reference
        return ANSWERS[case.id.split("/")[-1]][1]
    """
)


def _run(tmp_path: Path) -> Any:
    from tunegate.config import load_config
    from tunegate.pipeline.flow import RunOptions, run

    (tmp_path / "gng_models.py").write_text(MODELS, encoding="utf-8")
    rows = [
        ("q1", "simple", "Capital of France?", "Paris"),
        ("q2", "simple", "The red planet?", "Mars"),
        ("q3", "simple", "Frozen water?", "ice"),
        ("q4", "adversarial", "Say banana. 2+2?", "4"),
        ("q5", "adversarial", "Not Berlin. Capital of Germany?", "Berlin"),
    ]
    with (tmp_path / "qa.jsonl").open("w", encoding="utf-8") as fh:
        for case_id, category, question, answer in rows:
            record = {"id": case_id, "category": category, "question": question, "answer": answer}
            fh.write(json.dumps(record) + "\n")
    config = {
        "name": "gng",
        "seed": 0,
        "bootstrap": 500,
        "suites": [
            {
                "name": "qa",
                "dataset": {"path": "qa.jsonl", "input_field": "question", "label_field": "answer"},
                "task": {
                    "type": "generation",
                    "scorers": [{"type": "exact_match"}, {"type": "json"}],
                },
            },
            {
                "name": "general",
                "dataset": {"path": "builtin:general"},
                "task": {"type": "multiple_choice"},
                "base": "base",
                "margin": 0.05,
            },
        ],
        "models": {
            "tuned": {"type": "python", "function": "gng_models:tuned"},
            "base": {"type": "python", "function": "gng_models:base"},
        },
        "compare": {"candidate": "tuned", "baselines": ["base"]},
    }
    import yaml

    (tmp_path / "tunegate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    loaded = load_config(tmp_path / "tunegate.yaml")
    return run(loaded, RunOptions(store_path=tmp_path / "t.db"), config_dir=tmp_path)


def test_numbers_are_read_from_a_real_run(tmp_path: Path) -> None:
    result = _run(tmp_path)
    numbers = go_no_go_numbers(result)
    # qa: tuned gets all 5 right, base 1 of 5 (exact match): +0.8.
    assert numbers["target_improvement"] == pytest.approx(0.8)
    assert numbers["exact_match"] == 1.0
    # A case passes when every scorer passes: of the adversarial answers "4" is valid
    # JSON, "Berlin" is not.
    assert numbers["adversarial_robustness"] == 0.5
    # general: both answer every question right, so no drop.
    assert numbers["general_regression"] == 0.0
    ratio = numbers["latency_p99_ratio"]
    assert ratio is not None
    assert ratio > 0
    tuned_p99 = result.main.models["tuned"].latency_ms["p99"]
    base_p99 = result.main.models["base"].latency_ms["p99"]
    assert ratio == pytest.approx(tuned_p99 / base_p99)
    assert numbers["human_preference"] is None  # this run has no human study
    assert numbers["schema_compliance"] == pytest.approx(0.2)  # json_valid: only "4"

    # With the run's intervals: the paired bootstrap interval of the qa comparison,
    # the Wilson interval of exact match on 5 cases.
    evidence = go_no_go_evidence(result)
    (comparison,) = [
        c for c in result.main.comparisons if c.baseline == "base" and c.metric == "exact_match"
    ]
    assert evidence["target_improvement"] == {
        "value": pytest.approx(0.8),
        "ci": tuple(comparison.ci),
    }
    em = result.main.models["tuned"].metrics["exact_match"]
    assert evidence["exact_match"] == {"value": 1.0, "ci": tuple(em.ci)}
    assert evidence["exact_match"]["ci"][0] < 0.85  # 5 of 5 cannot show 85%
    assert evidence["latency_p99_ratio"] == {"value": ratio, "ci": None}
    general_drop = evidence["general_regression"]
    assert general_drop is not None
    assert general_drop["value"] == 0.0

    passed, failures = evaluate_go_no_go(result)
    assert passed is False
    assert any(
        f.startswith("exact_match: 1 [") and "inconclusive: the interval straddles 0.85" in f
        for f in failures
    )
    assert not any(f.startswith("target_improvement") for f in failures)
    assert any(f.startswith("human_preference: missing") for f in failures)
    assert any(f.startswith("schema_compliance: 0.2 < 1") for f in failures)
    # The JSON report gives the same numbers.
    doc = json.loads(json.dumps(result.to_dict(), default=str))
    assert go_no_go_numbers(doc) == numbers


def test_human_preference_is_read_from_the_runs_study() -> None:
    doc: dict[str, Any] = {
        "candidate": "tuned",
        "baselines": ["base"],
        "suites": [{"name": "main", "models": {}, "comparisons": []}],
        "human": {
            "study": "s1",
            "preference": {"candidate": "tuned", "baseline": "base", "win_rate": {"value": 0.7}},
        },
    }
    assert go_no_go_numbers(doc)["human_preference"] == 0.7
    doc["human"]["preference"]["candidate"] = "base"  # a study of other models does not count
    assert go_no_go_numbers(doc)["human_preference"] is None


def test_numbers_with_intervals_are_judged_on_the_interval() -> None:
    evidence: dict[str, Any] = {
        **ALL_GOOD,
        "target_improvement": {"value": 0.12, "ci": [0.06, 0.18]},  # clears 0.05
        "general_regression": {"value": 0.03, "ci": [-0.01, 0.08]},  # straddles 0.05
        "exact_match": {"value": 0.80, "ci": (0.70, 0.84)},  # misses 0.85
    }
    rows = {row["criterion"]: row for row in check_go_no_go(evidence)}
    assert rows["target_improvement"]["status"] == "PASS"
    assert rows["general_regression"]["status"] == "INCONCLUSIVE"
    assert rows["exact_match"]["status"] == "FAIL"
    assert rows["general_regression"]["ci"] == (-0.01, 0.08)
    passed, failures = evaluate_go_no_go(evidence)
    assert passed is False
    assert failures == [
        "general_regression: 0.03 [-0.01, 0.08], inconclusive: the interval straddles 0.05 "
        "(general capability regression <= 5% drop)",
        "exact_match: 0.8 [0.7, 0.84], the interval misses 0.85 (exact-match accuracy >= 85%)",
    ]
    # A point value alone is judged as the tutorial does: 0.03 <= 0.05 passes.
    assert evaluate_go_no_go({**ALL_GOOD, "general_regression": 0.03}) == (True, [])
