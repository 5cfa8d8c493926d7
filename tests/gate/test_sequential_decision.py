"""The stopping decision at an interim look of a sequential run."""

from __future__ import annotations

from typing import Any

from tunegate.gate.sequential import decidable, interim_decision
from tunegate.results import CriterionResult, GateResult, Status


def _c(metric: str, status: Status, judge: str = "interval", **extra: Any) -> CriterionResult:
    ci = (0.1, 0.2) if judge == "interval" else None
    return CriterionResult(
        criterion={"metric": metric, **extra},
        description=metric,
        status=status,
        judge=judge,
        ci=ci,
    )


def _gate(*criteria: CriterionResult) -> GateResult:
    return GateResult(
        verdict="INCONCLUSIVE",
        reason="",
        candidate="tuned",
        confidence=0.95,
        default=False,
        criteria=list(criteria),
    )


def test_every_decidable_pass_ships() -> None:
    stop, why = interim_decision(
        _gate(_c("accuracy", "PASS", vs="base"), _c("error_rate", "PASS", "observed"))
    )
    assert stop == "SHIP"
    assert "2 criteria pass" in why


def test_a_decidable_fail_iterates() -> None:
    stop, _ = interim_decision(_gate(_c("accuracy", "FAIL", vs="base"), _c("pass_rate", "PASS")))
    assert stop == "ITERATE"


def test_macro_f1_and_studies_wait_for_the_end() -> None:
    # a PASS on macro-F1 cannot ship early, a FAIL cannot stop early
    assert interim_decision(_gate(_c("accuracy", "PASS"), _c("macro_f1", "PASS")))[0] is None
    assert interim_decision(_gate(_c("macro_f1", "FAIL")))[0] is None
    assert interim_decision(_gate(_c("human_preference", "PASS")))[0] is None
    assert not decidable(_c("latency_p95", "PASS"))


def test_an_observed_fact_fails_only_at_the_end() -> None:
    # 3 failed requests in the first 50 cases may be 3 in 1,000 at the end
    assert interim_decision(_gate(_c("error_rate", "FAIL", "observed")))[0] is None
    assert decidable(_c("error_rate", "PASS", "observed"))


def test_undecided_criteria_keep_the_run_going() -> None:
    assert interim_decision(_gate(_c("accuracy", "INCONCLUSIVE")))[0] is None
    assert interim_decision(_gate(_c("accuracy", "PASS"), _c("judge_score", "MISSING")))[0] is None
    assert interim_decision(_gate())[0] is None
