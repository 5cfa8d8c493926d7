"""tunegate.history.plan: sample-size rows from a stored run's gate, checked against scipy's
normal quantiles by hand."""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy.stats import norm

from tunegate.errors import DataError
from tunegate.history.plan import PlanRow, plan_from_result


def _criterion(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "criterion": {"metric": "macro_f1", "vs": "base", "min_delta": 0.0},
        "description": "macro_f1 - base >= 0",
        "status": "INCONCLUSIVE",
        "judge": "paired interval",
    }
    data.update(extra)
    return data


def _result(*criteria: dict[str, Any], confidence: float = 0.95) -> dict[str, Any]:
    return {"gate": {"confidence": confidence, "criteria": list(criteria)}}


def test_an_undecided_criterion_gets_se_mde_and_the_cases_that_would_decide_it() -> None:
    [row] = plan_from_result(
        _result(_criterion(estimate=0.02, ci=[-0.03, 0.07], threshold=0.0, n=200))
    )
    z = norm.ppf(0.975)
    se = 0.10 / (2 * z)
    mde = (z + norm.ppf(0.8)) * se
    assert row.se == pytest.approx(se, rel=1e-9)
    assert row.mde == pytest.approx(mde, rel=1e-9)
    assert row.mde_4x == pytest.approx(mde / 2, rel=1e-9)
    assert row.required_n == math.ceil(200 * (mde / 0.02) ** 2)
    assert row.required_n > 200
    assert f"about {row.required_n} cases would decide it" in row.note
    assert row.to_dict()["ci"] == [-0.03, 0.07]


def test_a_decided_criterion_says_so_and_power_changes_the_mde() -> None:
    crit = _criterion(status="PASS", estimate=0.30, ci=[0.20, 0.40], threshold=0.0, n=100)
    [row] = plan_from_result(_result(crit))
    assert row.note == "decided with 100 cases"
    assert row.required_n == 100  # never fewer than the cases it has
    [strict] = plan_from_result(_result(crit), power=0.9)
    assert strict.mde == pytest.approx((norm.ppf(0.975) + norm.ppf(0.9)) * row.se, rel=1e-9)


def test_observed_value_and_missing_criteria_have_no_sample_size() -> None:
    rows = plan_from_result(
        _result(
            _criterion(status="PASS", judge="observed value", estimate=0.01, threshold=0.05),
            _criterion(status="MISSING", reason="no price for local"),
            _criterion(estimate=0.0, ci=[-0.1, 0.1], threshold=0.0, n=50),
        )
    )
    assert [r.note for r in rows] == [
        "judged on the observed value: no sample size applies",
        "no price for local",
        "the estimate sits on the threshold: no test set decides it",
    ]
    assert all(isinstance(r, PlanRow) and r.required_n is None for r in rows)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({}, "no gate results"),
        ({"gate": {"criteria": "x"}}, "no gate results"),
        (_result({"description": "d", "status": "PASS"}), r"gate.criteria\[0\].criterion"),
        (_result(_criterion(status="MAYBE")), r"gate.criteria\[0\].status"),
    ],
)
def test_a_malformed_stored_gate_is_a_data_error_naming_the_key(
    result: dict[str, Any], message: str
) -> None:
    with pytest.raises(DataError, match=message):
        plan_from_result(result)


def test_power_outside_its_range_is_refused() -> None:
    with pytest.raises(ValueError, match="power must be in"):
        plan_from_result(_result(), power=0.3)
