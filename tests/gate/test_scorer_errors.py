"""A scorer that could not score a case (it raised, or returned something unusable) is
missing evidence, not a wrong answer (docs/gate.md, "Scorer errors").

The runs go through the real :func:`tunegate.pipeline.evaluating.evaluate_run` with a
custom scorer loaded from a file; the expected counts follow from the constructed answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.results import RunResult
from tunegate.runner import ModelRun
from tunegate.store import Response

SCORER = """
BROKEN = set({broken!r})

def check(case, output):
    output.strip()  # raises on a failed request's missing answer, as user code may
    if case.id in BROKEN:
        raise RuntimeError("scorer bug")
    return output == case.reference
"""


def _cases(n: int) -> list[Case]:
    return [
        Case(id=f"c{i:03d}", text=f"q {i}", reference=f"answer {i}", category="ab"[i % 2])
        for i in range(n)
    ]


def _run(
    name: str, cases: Sequence[Case], right: Sequence[bool], failed: Sequence[int] = ()
) -> ModelRun:
    responses = [
        Response(
            case_id=c.id,
            model=name,
            key=f"{name}/{c.id}",
            text=None if i in failed else c.reference if ok else "something else",
            error="HTTP 503: overloaded" if i in failed else None,
            latency_ms=3.0,
        )
        for i, (c, ok) in enumerate(zip(cases, right, strict=True))
    ]
    return ModelRun(name, responses)


def _evaluate(
    tmp_path: Path,
    n: int,
    broken: Sequence[int],
    tuned: Sequence[bool],
    base: Sequence[bool],
    failed: Sequence[int] = (),
    gate: list[dict[str, Any]] | None = None,
) -> RunResult:
    cases = _cases(n)
    scorer = tmp_path / "scorer_file.py"
    scorer.write_text(SCORER.format(broken=[cases[i].id for i in broken]), encoding="utf-8")
    config = parse_config(
        {
            "dataset": {"path": "unused.jsonl"},
            "task": {
                "type": "generation",
                "scorers": [{"type": "custom", "name": "check", "function": f"{scorer}:check"}],
            },
            "models": {
                m: {"type": "python", "function": "toy.models:predict"} for m in ("tuned", "base")
            },
            "compare": {"candidate": "tuned"},
            **({"gate": {"criteria": gate}} if gate is not None else {}),
        }
    )
    runs = {"tuned": _run("tuned", cases, tuned, failed), "base": _run("base", cases, base)}
    return evaluate_run(config, "run-scorer-errors", cases, runs)


def test_a_scorer_failing_on_every_case_leaves_the_gate_inconclusive(tmp_path: Path) -> None:
    # Today's bug: every case scored 0 for both models, delta 0 [0, 0], SHIP.
    result = _evaluate(tmp_path, 20, range(20), [True] * 20, [False] * 20)
    assert result.gate is not None
    assert result.gate.verdict == "INCONCLUSIVE"
    assert result.gate.exit_code == 3
    primary = result.gate.criteria[0]
    assert primary.criterion["metric"] == "check"
    assert primary.status == "INCONCLUSIVE"
    assert "scorer check failed on 20 of 20 cases of tuned" in primary.reason
    assert "fix the scorer" in primary.reason
    comp = result.main.comparisons[0]
    assert (comp.n, comp.n_excluded, comp.excluded) == (0, 20, {"scorer error": 20})
    for name in ("tuned", "base"):
        model = result.main.models[name]
        assert model.scorer_errors == {"check": 20}
        assert model.metrics["check"].value is None  # no case was scored: no value
        assert model.errors == 0  # the requests did not fail
    rows = [r for r in result.main.cases if r.model == "tuned"]
    assert all(r.scorer_errors == ["check"] and "check" not in r.scores for r in rows)
    assert any("scorer errors on check 20 of 20" in n for n in result.main.notes)
    # The JSON keeps the counts.
    data = json.loads(json.dumps(result.to_dict()))
    main = data["suites"][0]
    assert main["models"]["tuned"]["scorer_errors"] == {"check": 20}
    assert main["cases"][0]["scorer_errors"] == ["check"]
    assert main["comparisons"][0]["excluded"] == {"scorer error": 20}


def test_one_scorer_error_in_200_cases_is_left_out_and_the_gate_still_decides(
    tmp_path: Path,
) -> None:
    # tuned right on every case, base on every other: a real difference of 0.5.
    n = 200
    result = _evaluate(tmp_path, n, [7], [True] * n, [i % 2 == 0 for i in range(n)])
    comp = result.main.comparisons[0]
    assert comp.n == 199  # today: 200, case 7 counted as wrong for both
    assert comp.excluded == {"scorer error": 1}
    assert comp.candidate_value == 1.0  # case 7 is not a wrong answer of tuned
    assert result.main.models["tuned"].metrics["check"].value == 1.0
    assert result.main.models["tuned"].scorer_errors == {"check": 1}
    assert result.gate is not None
    assert result.gate.verdict == "SHIP"  # 1 of 200 = 0.5%, within the 1% limit
    assert "1 left out: scorer error 1" in result.gate.criteria[0].reason


def test_the_gate_error_limit_applies_to_scorer_errors(tmp_path: Path) -> None:
    # 3 of 200 cases (1.5%) unscored for both: above the default 1% limit.
    n = 200
    result = _evaluate(tmp_path, n, [1, 2, 3], [True] * n, [i % 2 == 0 for i in range(n)])
    assert result.gate is not None
    assert result.gate.verdict == "INCONCLUSIVE"
    reason = result.gate.criteria[0].reason
    assert "scorer check failed on 3 of 200 cases of tuned (1.5%, above the 1% limit)" in reason
    assert "of base" in reason  # the baseline's scorer errors count too


def test_a_legitimately_failing_answer_is_still_a_wrong_answer(tmp_path: Path) -> None:
    # No scorer error: base's wrong answers fail the check and count as wrong.
    n = 40
    result = _evaluate(tmp_path, n, [], [True] * n, [False] * n)
    base = result.main.models["base"]
    assert base.scorer_errors == {}
    assert base.metrics["check"].value == 0.0
    comp = result.main.comparisons[0]
    assert (comp.n, comp.n_excluded, comp.delta) == (40, 0, 1.0)
    rows = [r for r in result.main.cases if r.model == "base"]
    assert all(r.scorer_errors == [] and r.scores["check"] == 0.0 and not r.correct for r in rows)
    assert result.gate is not None
    assert result.gate.verdict == "SHIP"


def test_a_scorer_tripping_on_a_failed_request_is_the_request_error_only(
    tmp_path: Path,
) -> None:
    # The scorer raises on tuned's missing answer (case 3): that case is a failed request
    # (counted in errors, left out as "candidate error"), not also a scorer error.
    n = 200
    result = _evaluate(tmp_path, n, [], [True] * n, [i % 2 == 0 for i in range(n)], [3])
    tuned = result.main.models["tuned"]
    assert tuned.errors == 1
    assert tuned.scorer_errors == {}
    comp = result.main.comparisons[0]
    assert (comp.n, comp.excluded) == (199, {"candidate error": 1})
    assert result.gate is not None
    assert result.gate.verdict == "SHIP"


def test_the_gate_error_rate_limit_is_the_scorer_error_limit(tmp_path: Path) -> None:
    # 3 of 200 (1.5%) unscored: within a gate allowing 5% errors, the criterion decides.
    n = 200
    gate = [
        {"metric": "check", "vs": "base", "min_delta": 0.1},
        {"metric": "error_rate", "max": 0.05},
    ]
    result = _evaluate(
        tmp_path, n, [1, 2, 3], [True] * n, [i % 2 == 0 for i in range(n)], gate=gate
    )
    assert result.gate is not None
    assert result.gate.criteria[0].status == "PASS"
    assert "3 left out: scorer error 3" in result.gate.criteria[0].reason
    strict = _evaluate(
        tmp_path, n, [1, 2, 3], [True] * n, [i % 2 == 0 for i in range(n)], gate=gate[:1]
    )
    assert strict.gate is not None
    assert strict.gate.criteria[0].status == "INCONCLUSIVE"  # no error_rate: 1% default


def test_category_comparisons_leave_a_scorer_error_out(tmp_path: Path) -> None:
    # Case 0 (category a) unscored for both: category a pairs 99 cases, b all 100.
    n = 200
    result = _evaluate(tmp_path, n, [0], [True] * n, [False] * n)
    by_category = {c.category: c for c in result.main.category_comparisons}
    assert (by_category["a"].n, by_category["a"].excluded) == (99, {"scorer error": 1})
    assert (by_category["b"].n, by_category["b"].excluded) == (100, {})
    assert by_category["a"].candidate_value == 1.0  # case 0 is not a failure of tuned
