"""Typed results read back: a stored result (the JSON a run keeps) becomes the same
:class:`RunResult` again through ``model_validate``, and its JSON form stays key for key
what older tunegate versions wrote (the fixture was stored by a real run at 5a0bea3)."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from tunegate.errors import DataError
from tunegate.report.json_report import to_json
from tunegate.report.markdown import to_markdown
from tunegate.report.stored import result_from_dict
from tunegate.results import Comparison, Estimate, GateResult, RunResult, read_result

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def stored() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "stored_result_v1.json").read_text("utf-8"))
    return data


def test_stored_result_reads_back_typed(stored: dict[str, Any]) -> None:
    result = read_result(stored)
    assert isinstance(result, RunResult)
    assert [s.name for s in result.suites] == ["sentiment", "qa"]
    assert isinstance(result.gate, GateResult)
    assert result.gate.verdict == stored["gate"]["verdict"]
    assert result.gate.exit_code == stored["gate"]["exit_code"]
    tuned = result.main.models["tuned"]
    assert isinstance(tuned.metrics["accuracy"], Estimate)
    assert (
        tuned.metrics["accuracy"].value
        == stored["suites"][0]["models"]["tuned"]["metrics"]["accuracy"]["value"]
    )
    assert isinstance(tuned.metrics["accuracy"].ci, tuple)
    comp = result.main.comparisons[0]
    assert isinstance(comp, Comparison)
    assert comp.direction == stored["suites"][0]["comparisons"][0]["direction"]
    assert len(result.main.cases) == len(stored["suites"][0]["cases"])


#: Keys added since the fixture was stored (issue 20: what each comparison rests on).
ADDED = {
    "comparisons": {"n_excluded": 0, "excluded": {}, "per_case": "", "p_value_of": ""},
    "category_comparisons": {"n_excluded": 0, "excluded": {}},
    "cases": {"thresholds": {}, "scorer_errors": []},  # issue 23; scorer errors
}


def _without_added(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without the keys added since the fixture, checking they have their
    defaults (an older result means what it meant)."""
    out = copy.deepcopy(data)
    assert out.pop("sequential") is None  # issue 24: a fixed-size run
    for suite in out["suites"]:
        for kind, defaults in ADDED.items():
            for row in suite.get(kind) or []:
                for key, default in defaults.items():
                    assert row.pop(key) == default
        for model in suite["models"].values():  # issue 20: how answers became labels
            assert model.pop("parsing") is None
            assert model.pop("repeats") is None  # issue 24: asked each case once
            assert model.pop("batch") is None  # issue 24: not sent through a batch API
            assert model.pop("scorer_errors") == {}  # no scorer failed to score a case
    return out


def test_json_report_of_a_read_back_result_is_the_stored_json(stored: dict[str, Any]) -> None:
    again = _without_added(to_json(read_result(stored)))
    assert again == stored
    # Keys in the same order, all the way down (the JSON report is a contract).
    assert json.dumps(again, indent=2, ensure_ascii=False) == json.dumps(
        stored, indent=2, ensure_ascii=False
    )


def test_markdown_from_a_stored_result_is_unchanged(stored: dict[str, Any]) -> None:
    expected = (FIXTURES / "stored_result_v1.md").read_text("utf-8")
    assert to_markdown(result_from_dict(stored)) == expected


def test_an_older_result_without_newer_keys_reads_back(stored: dict[str, Any]) -> None:
    old = copy.deepcopy(stored)
    for key in ("facts", "human", "model_meta", "leakage", "warnings", "reused_answers"):
        old.pop(key, None)
    for suite in old["suites"]:
        for key in ("judges", "pass_rule", "inputs", "category_comparisons", "regression"):
            suite.pop(key, None)
        for model in suite["models"].values():
            for key in ("cache", "tokens_per_1k", "cost", "run", "categories"):
                model.pop(key, None)
        for case in suite["cases"]:
            for key in ("scores", "failed", "detail", "score"):
                case.pop(key, None)
    result = read_result(old)
    assert result.facts == {}
    assert result.human is None
    assert result.main.judges is None
    assert result.main.pass_rule == ""
    assert result.main.models["tuned"].cache is None
    assert result.main.cases[0].scores == {}
    assert result.main.cases[0].failed == []
    assert to_markdown(result)  # renders


def test_undefined_numbers_read_back_as_nan(stored: dict[str, Any]) -> None:
    data = copy.deepcopy(stored)
    raw = data["suites"][0]["comparisons"][0]
    raw["p_value"] = None
    raw["ci"] = [None, None]
    data["suites"][0]["models"]["tuned"]["metrics"]["accuracy"]["ci"] = [0.5, None]
    result = read_result(data)
    comp = result.main.comparisons[0]
    assert math.isnan(comp.p_value)
    assert all(math.isnan(x) for x in comp.ci)
    assert comp.direction == "none"
    assert result.main.models["tuned"].metrics["accuracy"].ci is None
    out = to_json(result)["suites"][0]["comparisons"][0]
    assert out["p_value"] is None
    assert out["ci"] == [None, None]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["suites"][0]["models"]["tuned"].__setitem__("n", "many"), "suites[0]"),
        (lambda d: d["suites"][1]["cases"][2].pop("model"), "suites[1].cases[2].model"),
        (lambda d: d["gate"].__setitem__("verdict", "MAYBE"), "gate.verdict"),
        (lambda d: d.__setitem__("suites", "none"), "suites"),
    ],
)
def test_a_bad_stored_result_is_a_data_error_naming_the_key(
    stored: dict[str, Any], change: Any, where: str
) -> None:
    data = copy.deepcopy(stored)
    change(data)
    with pytest.raises(DataError, match=r"^stored result: " + re.escape(where)):
        read_result(data)


def test_not_an_object_is_a_data_error() -> None:
    with pytest.raises(DataError, match="not an object"):
        read_result([1, 2])
