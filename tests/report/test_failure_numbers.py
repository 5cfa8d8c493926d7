"""The numbers behind a failure: a continuous scorer's per-case score keeps the
threshold it was held to, and the reports say ``rouge: rougeL 0.37 < 0.5`` instead of
``rouge: failed`` (the case row's detail and ``thresholds``, the Markdown list of the
candidate's failing cases)."""

from __future__ import annotations

import math
from pathlib import Path

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.report.markdown import to_markdown
from tunegate.results import RunResult
from tunegate.runner import ModelRun
from tunegate.scoring.base import Score, above, below
from tunegate.store import Response

REFERENCE = "the quick brown fox jumps over the lazy dog"
ANSWERS = {
    "good": REFERENCE,
    "half": "the quick brown fox sleeps",  # rougeL below 0.7
}


def test_a_continuous_score_keeps_its_threshold_and_says_its_shortfall() -> None:
    score = Score.from_value(0.3712, 0.5)
    assert score.threshold == 0.5
    assert score.shortfall("rougeL") == "rougeL 0.37 < 0.5"
    assert Score.from_value(0.9, 0.5).shortfall("rougeL") is None
    assert Score.from_bool(False).shortfall("json") is None  # pass/fail: no numbers
    assert below(0.4999, 0.5) == "0.4999 < 0.5"  # never "0.50 < 0.5"
    assert below(0.4951, 0.5) == "0.495 < 0.5"
    assert below(math.nan, 0.5) == "no value (needs >= 0.5)"


def _result(tmp_path: Path) -> RunResult:
    cases = [Case(id=f"c{i}", text=f"q{i}", reference=REFERENCE) for i in range(4)]

    def run(name: str, answer: str) -> ModelRun:
        return ModelRun(
            name,
            [
                Response(case_id=c.id, model=name, key=f"{name}{i}", text=answer, latency_ms=5.0)
                for i, c in enumerate(cases)
            ],
        )

    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"type": "generation", "scorers": [{"type": "rouge", "threshold": 0.7}]},
            "models": {
                "half": {"type": "python", "function": "m:f"},
                "good": {"type": "python", "function": "m:g"},
            },
            "bootstrap": 200,
        },
        source=tmp_path / "tunegate.yaml",
    )
    return evaluate_run(config, "run-1", cases, {n: run(n, a) for n, a in ANSWERS.items()})


def test_a_failed_case_carries_the_threshold_and_the_numbers(tmp_path: Path) -> None:
    result = _result(tmp_path)
    rows = [r for r in result.cases if r.model == "half"]
    assert rows
    for row in rows:
        assert not row.correct
        assert row.failed == ["rouge"]
        assert row.thresholds == {"rougeL": 0.7}
        value = row.scores["rougeL"]
        assert value < 0.7
        assert row.detail == f"rouge: rougeL {below(value, 0.7)}"
        assert "failed" not in row.detail
    passing = [r for r in result.cases if r.model == "good"]
    assert all(r.correct and r.thresholds == {} for r in passing)


def test_markdown_lists_the_candidates_failing_cases_with_their_numbers(tmp_path: Path) -> None:
    result = _result(tmp_path)
    assert result.candidate == "half"
    text = to_markdown(result)
    assert "#### Cases half does not pass" in text
    row = next(r for r in result.cases if r.model == "half")
    assert f"- `{row.case_id}`: rouge: rougeL {below(row.scores['rougeL'], 0.7)}" in text


def test_a_pass_rule_says_its_numbers_first(tmp_path: Path) -> None:
    cases = [Case(id="c0", text="q", reference=REFERENCE)]
    responses = {
        "ok": Response(case_id="c0", model="ok", key="k1", text=REFERENCE),
        "near": Response(
            case_id="c0", model="near", key="k2", text="the quick brown fox jumps over the dog"
        ),
    }
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {
                "type": "generation",
                "scorers": [{"type": "rouge", "threshold": 0.5}],
                "pass": {"metric": "rougeL", "min": 0.99},
            },
            "models": {n: {"type": "python", "function": f"m:{n}"} for n in ("near", "ok")},
            "bootstrap": 200,
        },
        source=tmp_path / "tunegate.yaml",
    )
    result = evaluate_run(config, "r", cases, {n: ModelRun(n, [r]) for n, r in responses.items()})
    row = next(r for r in result.cases if r.model == "near")
    value = row.scores["rougeL"]
    assert 0.5 < value < 0.99  # the scorer passes it, the rule does not
    assert not row.correct
    assert row.failed == ["pass rule"]
    assert row.detail == f"pass rule: rougeL {below(value, 0.99)}"
    assert row.thresholds == {"rougeL": 0.99}
    ok = next(r for r in result.cases if r.model == "ok")
    assert ok.correct
    assert ok.failed == []


def test_an_upper_bound_reads_the_other_way() -> None:
    assert above(0.5001, 0.5) == "0.5001 > 0.5"
    assert above(0.7, 0.5) == "0.70 > 0.5"
