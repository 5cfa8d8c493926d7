"""Presentation of the HTML report: the forest plot coloured by each criterion's
outcome, "nothing changed" instead of rows of +0.000, run facts without Python literals."""

from __future__ import annotations

import re
from typing import Any

from tunegate.report.html import render_html
from tunegate.report.plots import ForestRow, forest

GREEN, RED, AMBER = "#1a7f37", "#cf222e", "#9a6700"


def _mark_colour(svg: str, i: int) -> str:
    block = svg[svg.index(f'<g id="forest-mark-{i}"') :]
    match = re.search(r"fill: (#[0-9a-f]{6})", block)
    assert match is not None
    return match.group(1)


def test_a_passing_non_inferiority_row_is_green_though_its_delta_is_negative() -> None:
    rows = [
        ForestRow("passes, delta below zero", -0.03, -0.04, -0.01, -0.05, "PASS"),
        ForestRow("fails, delta above zero", 0.02, 0.01, 0.03, 0.05, "FAIL"),
        ForestRow("undecided", 0.0, -0.1, 0.1, 0.0, "INCONCLUSIVE"),
        ForestRow("no criterion, worse", -0.2, -0.3, -0.1),
    ]
    svg = forest(rows, "Paired deltas")
    assert [_mark_colour(svg, i) for i in range(4)] == [GREEN, RED, AMBER, RED]


def _result() -> dict[str, Any]:
    return {
        "run_id": "r2",
        "name": "demo",
        "candidate": "tuned",
        "confidence": 0.95,
        "suites": [{"name": "qa", "task": "generation", "models": {}, "cases": []}],
        "facts": {
            "models": {"tuned": {"type": "openai", "stop": ["\n", "END"], "params": {"n": [1]}}}
        },
    }


def _diff(delta: float) -> dict[str, Any]:
    metrics = [{"name": "pass_rate", "a": 0.5, "b": 0.5 + delta, "delta": delta}]
    metrics += [{"name": f"rouge{i}", "a": 0.4, "b": 0.4, "delta": 0.0} for i in range(40)]
    cases: dict[str, Any] = {"fixed": 1 if delta else 0, "broken": 0, "unchanged": 5}
    cases.update({"n_compared": 6, "fixed_ids": ["q1"] if delta else [], "broken_ids": []})
    cases.update({"accuracy_delta": delta, "accuracy_ci": [0.0, 0.3], "mcnemar_p": 1e-9})
    return {
        "run_a": {"run_id": "r1"},
        "suites": [
            {"name": "qa", "models": [{"model": "tuned", "metrics": metrics, "cases": cases}]}
        ],
        "notes": [],
    }


def _changes(page: str) -> str:
    section = page[page.index('<section id="changes">') :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section[: section.index("</section>")]))


def test_changes_say_nothing_changed_instead_of_rows_of_zero() -> None:
    text = _changes(render_html(_result(), _diff(0.0)))
    assert "Nothing changed" in text
    assert "+0.000" not in text


def test_changes_show_only_what_changed_and_name_the_pass_rate() -> None:
    text = _changes(render_html(_result(), _diff(0.125)))
    assert "Nothing changed" not in text
    assert text.count("+0.125") == 2  # the metric row and the pass-rate line
    assert "+0.000" not in text
    assert "40 other metric values unchanged" in text
    assert "pass rate +0.125" in text  # a generation suite: not "accuracy"
    assert "McNemar p&lt;0.0001" in text  # escaped in the markup


def test_run_facts_show_no_python_lists() -> None:
    page = render_html(_result())
    facts = page[page.index('<section id="facts">') :]
    assert "[" not in re.sub(r"<[^>]+>", "", facts[: facts.index("</section>")])
    assert ", END" in facts
    assert "n=1" in facts


def test_the_case_data_keeps_latencies_to_a_tenth_of_a_millisecond() -> None:
    from tunegate.report.html_data import OUTCOME_FIELDS, page_data

    result = _result()
    result["suites"][0]["models"] = {"tuned": {}}
    result["suites"][0]["cases"] = [
        {"case_id": "q1", "model": "tuned", "answer": "a", "latency_ms": 12.811591999707161},
        {"case_id": "q2", "model": "tuned", "answer": "b", "latency_ms": None},
    ]
    cases = page_data(result)["suites"][0]["cases"]
    at = OUTCOME_FIELDS.index("latency_ms")
    assert [c[4][0][at] for c in cases] == [12.8, None]
