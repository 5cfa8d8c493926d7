"""Reports ask the registry of task kinds (:mod:`tunegate.tasks`) what a suite shows, instead
of branching on the stored task name: per-class tables, the "unparsed" column, the metric
columns, which answers can be unparseable. A stored task this version does not know renders
as a plain suite."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.console import Console

import tunegate.report
from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.report.html import render_html
from tunegate.report.html_data import page_data, picks_label, suite_cases
from tunegate.report.json_report import to_json
from tunegate.report.terminal import suite_parts
from tunegate.results import RunResult, SuiteResult
from tunegate.results.wording import metric_columns
from tunegate.runner import ModelRun
from tunegate.store import Response
from tunegate.tasks import TASK_KINDS, TASK_TYPES, stored_task_kind

LABELS = ["positive", "negative"]


def _result(tmp_path: Path) -> RunResult:
    """A classification run of two models on 20 cases; ``ft`` leaves case 3 unparseable."""
    cases = [Case(id=f"c{i}", text=f"t{i}", reference=LABELS[i % 2]) for i in range(20)]

    def run(name: str, right: int) -> ModelRun:
        responses = []
        for i, c in enumerate(cases):
            wrong = LABELS[(LABELS.index(c.reference) + 1) % 2]
            text = c.reference if i < right else wrong
            if name == "ft" and i == 3:
                text = "no idea"
            responses.append(
                Response(case_id=c.id, model=name, key=f"{name}{i}", text=text, latency_ms=5.0)
            )
        return ModelRun(name, responses)

    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": LABELS},
            "models": {
                "ft": {"type": "python", "function": "m:f"},
                "base": {"type": "python", "function": "m:g"},
            },
            "bootstrap": 200,
        },
        source=tmp_path / "tunegate.yaml",
    )
    return evaluate_run(config, "run-1", cases, {"ft": run("ft", 18), "base": run("base", 12)})


def _text(suite: SuiteResult) -> str:
    console = Console(record=True, width=200, color_system=None)
    for part in suite_parts(suite, "ft", 0.95):
        console.print(part)
    return console.export_text()


def test_the_kinds_say_what_reports_show() -> None:
    shown = {
        name: (k.per_class, k.shows_unparsed, k.picks_label, k.table_metrics)
        for name, k in TASK_KINDS.items()
    }
    assert shown == {
        "classification": (True, True, True, ("accuracy", "macro_f1")),
        "multiple_choice": (False, False, True, ()),
        "generation": (False, False, False, ()),
        "tool_call": (False, True, False, ()),
        "perplexity": (False, False, False, ()),
    }
    assert stored_task_kind("classification") is TASK_KINDS["classification"]
    assert stored_task_kind("a_kind_from_the_future") is None
    assert stored_task_kind(None) is None


def test_a_classification_suite_shows_per_class_and_unparsed(tmp_path: Path) -> None:
    suite = _result(tmp_path).main
    assert suite.task == "classification"
    text = _text(suite)
    assert "unparsed" in text
    assert "Per class: precision / recall / F1" in text
    assert metric_columns(suite) == ["macro_f1", "accuracy"]
    # ft's unparseable answer to c3 is flagged in the drill-down data; a label-picking task.
    data = to_json(_result(tmp_path))
    stored = data["suites"][0]
    assert picks_label(stored)
    page = page_data(data)
    assert page["suites"][0]["picks_label"] is True
    assert len(suite_cases(stored, ["ft", "base"])) == 20


def test_an_unknown_stored_task_renders_as_a_plain_suite(tmp_path: Path) -> None:
    suite = _result(tmp_path).main.model_copy(update={"task": "a_kind_from_the_future"})
    text = _text(suite)
    assert "unparsed" not in text
    assert "confusion" not in text.lower()
    # Without a kind's table metrics the suite's own metrics are the columns.
    assert metric_columns(suite) == [
        suite.primary_metric,
        *[m for m in suite.metrics if m != suite.primary_metric],
        *(["pass_rate"] if len(suite.metrics) > 1 else []),
    ]
    data: dict[str, Any] = to_json(_result(tmp_path))
    data["suites"][0]["task"] = "a_kind_from_the_future"
    assert not picks_label(data["suites"][0])
    assert page_data(data)["suites"][0]["picks_label"] is False
    html = render_html(data)
    assert "a_kind_from_the_future" in html


def test_no_renderer_branches_on_a_task_name() -> None:
    """No ``suite.task == "classification"`` (or ``in (...)``) in the renderers or the page
    script. (A metric named ``perplexity``, lower-is-better, is another matter.)"""
    folder = Path(tunegate.report.__file__).parent
    sources = [*folder.glob("*.py"), *folder.glob("templates/*.js")]
    names = "|".join(TASK_TYPES)
    pattern = re.compile(rf"""(==|!=|===|!==|\bin)\s*\(?\s*["']({names})["']""")
    found = [
        f"{path.name}: {line.strip()}"
        for path in sources
        for line in path.read_text(encoding="utf-8").splitlines()
        if "task" in line and pattern.search(line)
    ]
    assert found == []
