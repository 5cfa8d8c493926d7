"""The gate's judge and human criteria on a finished run, with human study results given
directly (the study itself is exercised in test_judge_run.py)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from test_judge_run import _config, _run, _write_project

from tunegate.config import GateConfig
from tunegate.gate.criteria import evaluate_gate
from tunegate.results import CriterionResult, RunResult


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    tmp_path = tmp_path_factory.mktemp("judged")
    _write_project(tmp_path)
    return _run(tmp_path, _config(tmp_path))


def _human(kappa: float | None = 0.8, n_items: int = 60) -> dict[str, Any]:
    return {
        "study": "s",
        "n_votes": 120,
        "preference": {
            "candidate": "tuned",
            "baseline": "base",
            "win_rate": {"value": 0.62, "ci": [0.55, 0.69]},
            "wins": 60,
            "ties": 30,
            "losses": 30,
            "n_votes": 120,
        },
        "position_bias": {"left_win_rate": {"value": 0.58, "ci": [0.5, 0.66]}, "n_decisive": 90},
        "agreement": {
            "fleiss": {"value": 0.45, "ci": [0.3, 0.6]},
            "krippendorff_alpha": {"value": 0.71, "ci": [0.62, 0.8]},
            "n_items": 60,
        },
        "judges": [
            {"judge": "grader", "n_items": n_items, "cohen_kappa": {"value": kappa, "ci": None}}
        ],
    }


def _gate(result: RunResult, human: dict[str, Any] | None, **gate: Any) -> list[CriterionResult]:
    run = copy.copy(result)
    run.human = human
    outcome = evaluate_gate(run, GateConfig.model_validate(gate))
    return outcome.criteria


def test_human_criteria_read_the_study(judged: RunResult) -> None:
    crits = _gate(
        judged,
        _human(),
        criteria=[
            {"metric": "human_preference", "vs": "base", "min": 0.5},
            {"metric": "human_preference", "vs": "base", "min": 0.6},
            {"metric": "annotator_agreement", "min": 0.4},
            {"metric": "annotator_agreement", "min": 0.65, "agreement": "krippendorff_alpha"},
            {"metric": "annotator_agreement", "min": 0.65},
        ],
    )
    assert [c.status for c in crits] == [
        "PASS",
        "INCONCLUSIVE",
        "INCONCLUSIVE",
        "INCONCLUSIVE",
        "FAIL",
    ]
    assert crits[0].estimate == 0.62
    assert crits[0].ci == (0.55, 0.69)
    assert crits[0].reason.startswith("study s: 60 wins, 30 ties, 30 losses over 120 votes")
    assert crits[0].description == "human_preference vs base >= 0.5"
    assert "the interval straddles 0.6" in crits[1].reason
    assert crits[3].reason.startswith("Krippendorff's alpha 0.710 on 60 items")
    assert crits[4].reason.startswith("Fleiss' κ 0.450 on 60 items")


def test_human_preference_against_another_baseline_or_without_votes(judged: RunResult) -> None:
    no_votes = _human()
    no_votes["preference"]["win_rate"] = {"value": None, "ci": None}
    crits = _gate(
        judged, _human(), criteria=[{"metric": "human_preference", "vs": "tuned2", "min": 0.5}]
    )
    assert crits[0].status == "MISSING"
    assert "study s compares tuned with base, not tuned2" in crits[0].reason
    crits = _gate(judged, no_votes, criteria=[{"metric": "human_preference", "min": 0.5}])
    assert (crits[0].status, crits[0].reason) == ("MISSING", "no votes yet in study s")
    crits = _gate(
        judged,
        {"study": "x", "error": "human study: no study named 'x'"},
        criteria=[{"metric": "annotator_agreement", "min": 0.5}],
    )
    assert (crits[0].status, crits[0].reason) == ("MISSING", "human study: no study named 'x'")


@pytest.mark.parametrize(
    ("kappa", "n_items", "status", "reason"),
    [
        (
            0.41,
            62,
            "MISSING",
            "judge not calibrated: κ 0.41 on 62 items (needs κ ≥ 0.6 on ≥ 50 items)",
        ),
        (
            0.9,
            12,
            "MISSING",
            "judge not calibrated: κ 0.90 on 12 items (needs κ ≥ 0.6 on ≥ 50 items)",
        ),
        (None, 70, "MISSING", "judge not calibrated: κ undefined on 70 items"),
        (0.75, 80, "PASS", "judge grader: 6 wins, 0 ties, 0 losses, 0 inconsistent, 0 errors"),
    ],
)
def test_trust_judge_needs_agreement_with_people(
    judged: RunResult, kappa: float | None, n_items: int, status: str, reason: str
) -> None:
    crits = _gate(
        judged,
        _human(kappa, n_items),
        trust_judge={"min_kappa": 0.6, "min_items": 50},
        criteria=[
            {"metric": "judge_preference", "vs": "base", "min": 0.5},
            {"metric": "judge_score", "min": 0.2},
            {"metric": "position_bias", "max": 0.6},
            # The pointwise judge fails 1 of its 12 calls (the 'garbage' case): allowed here
            # (the default 1% limit would leave judge_score undecided).
            {"metric": "error_rate", "model": "grader", "max": 0.2},
        ],
    )
    assert crits[0].status == status
    assert reason in crits[0].reason
    assert crits[1].status == ("MISSING" if status == "MISSING" else "PASS")
    # Position bias is the judge's own behaviour: judged whatever its calibration.
    assert crits[2].status == "PASS"
    assert crits[2].estimate == 0.5


def test_judge_criteria_without_a_trust_rule_or_without_a_judge(judged: RunResult) -> None:
    crits = _gate(
        judged,
        None,
        criteria=[
            {"metric": "judge_preference", "min": 0.9},
            {"metric": "judge_score", "max": 0.3},
            {"metric": "position_bias", "max": 0.4},
            {"metric": "error_rate", "model": "grader", "max": 0.2},  # see above
        ],
    )
    assert [c.status for c in crits][:3] == ["PASS", "FAIL", "FAIL"]
    assert "first-shown output in 50.0% of 12 decisive verdicts" in crits[2].reason
    no_judges = copy.copy(judged)
    no_judges.suites = [copy.copy(judged.main)]
    no_judges.suites[0].judges = None
    crits = _gate(
        no_judges,
        _human(),
        criteria=[
            {"metric": "judge_preference", "vs": "base", "min": 0.5},
            {"metric": "position_bias", "max": 0.6},
        ],
    )
    assert (crits[0].status, crits[0].reason) == ("MISSING", "no pairwise judge in this suite")
    # Without a pairwise judge, position bias is the share of human votes for the left side.
    assert (crits[1].status, crits[1].estimate) == ("PASS", 0.58)
    assert "the left output won 58.0% of 90 decisive human votes" in crits[1].reason


def test_the_study_path_is_the_config_key(tmp_path: Path) -> None:
    from tunegate.config import parse_config

    config = _config(tmp_path, human={"study": "demo"})
    parsed = parse_config(config, source=tmp_path / "tunegate.yaml")
    assert parsed.human is not None
    assert parsed.human.study == "demo"
