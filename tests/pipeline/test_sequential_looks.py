"""The looks of a sequential run: each judged on intervals widened to its boundary, so
evidence that would pass a fixed 95% interval does not ship at an early look."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tunegate.config import parse_config
from tunegate.config.gate import GateConfig
from tunegate.data import Case
from tunegate.pipeline.sequential import plan, run_looks, widen
from tunegate.results import RunResult, read_result
from tunegate.runner import ModelRun
from tunegate.stats.sequential import group_sequential_bounds

STORED = Path(__file__).parent.parent / "fixtures" / "stored_result_v1.json"
GATE = GateConfig.model_validate(
    {"criteria": [{"metric": "accuracy", "vs": "base", "suite": "sentiment", "min_delta": 0}]}
)


def _result() -> RunResult:
    return read_result(json.loads(STORED.read_text("utf-8")))


def test_widen_scales_each_side_about_the_estimate() -> None:
    result = _result()
    comp = next(c for c in result.main.comparisons if c.metric == "accuracy")
    lo, hi = comp.ci
    widen(result, 2.0)
    assert comp.ci == pytest.approx(
        (comp.delta - 2 * (comp.delta - lo), comp.delta + 2 * (hi - comp.delta))
    )
    est = result.main.models["tuned"].metrics["accuracy"]
    before = _result().main.models["tuned"].metrics["accuracy"]
    assert est.ci is not None
    assert before.ci is not None
    assert est.value is not None
    assert est.ci[0] == pytest.approx(est.value - 2 * (est.value - before.ci[0]))


def _config(n: int) -> Any:
    return parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": ["positive", "negative"]},
            "models": {"tuned": {"type": "python", "function": "m:f"}},
            "sequential": {"look_every": n // 20},
        }
    )


def test_the_plan_spends_alpha_over_the_planned_looks() -> None:
    cases = [Case(id=f"c{i}", text="t", reference="x") for i in range(1000)]
    the_plan = plan(_config(1000), cases, _config(1000).sequential)
    assert the_plan.looks == list(range(50, 1001, 50))
    fractions = [n / 1000 for n in the_plan.looks]
    assert the_plan.bounds == pytest.approx(group_sequential_bounds(fractions, 0.025))
    assert the_plan.bounds[0] > 9  # the first of 20 looks: almost nothing spent


def test_an_early_look_does_not_ship_on_a_fixed_95_interval() -> None:
    # Every look shows the fixture's evidence: accuracy +0.27, 95% interval [0.07, 0.47].
    # A fixed interval per look would ship at look 1; the widened one waits.
    cases = [Case(id=f"c{i}", text="t", reference="x") for i in range(1000)]
    the_plan = plan(_config(1000), cases, _config(1000).sequential)
    looked: list[int] = []

    async def send(new: Sequence[Case]) -> dict[str, ModelRun]:
        return {}

    async def evaluate(prefix: Sequence[Case], runs: dict[str, ModelRun]) -> RunResult:
        looked.append(len(prefix))
        return copy.deepcopy(_result())

    outcome = asyncio.run(run_looks(the_plan, send, evaluate, GATE))
    info = outcome.info
    assert info["looks"] > 1  # not at the first look
    assert info["decision"] == "SHIP"
    assert looked == the_plan.looks[: info["looks"]]  # every look counted
    # it stopped at the first look whose boundary the fixture's evidence clears
    lower_z = 0.2666666666666667 / ((0.2666666666666667 - 0.06666666666666665) / 1.959964)
    k = info["looks"]
    assert the_plan.bounds[k - 1] <= lower_z < the_plan.bounds[k - 2]
    assert info["cases_used"] == the_plan.looks[k - 1]
