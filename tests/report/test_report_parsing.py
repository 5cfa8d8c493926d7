"""The reports count a classification model's answers by how they became labels
(issue 20 item 5): exact, found by the rule, unparseable (and why), under the suite's
``parse:`` rule, in the JSON, the terminal, the Markdown and the HTML."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.report.html import render_html
from tunegate.report.json_report import to_json
from tunegate.report.markdown import to_markdown
from tunegate.report.terminal import summary
from tunegate.results import RunResult
from tunegate.runner import ModelRun
from tunegate.store import Response

LABELS = ["positive", "negative"]
# The chatty baseline's answers: 2 exact, 2 found in a sentence, 1 negated, 1 with both.
CHATTY = ["positive", "Negative.", "It is positive", "Clearly negative", "Not positive", "p or n"]


def _result(tmp_path: Path, parse: Any = None) -> RunResult:
    cases = [Case(id=f"c{i}", text=f"t{i}", reference=LABELS[i % 2]) for i in range(6)]
    chatty = [*CHATTY[:5], "positive or negative"]

    def run(name: str, answers: list[str]) -> ModelRun:
        return ModelRun(
            name,
            [
                Response(case_id=c.id, model=name, key=f"{name}{i}", text=a, latency_ms=5.0)
                for i, (c, a) in enumerate(zip(cases, answers, strict=True))
            ],
        )

    task: dict[str, Any] = {"labels": LABELS}
    if parse is not None:
        task["parse"] = parse
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": task,
            "models": {
                "ft": {"type": "python", "function": "m:f"},
                "chatty": {"type": "python", "function": "m:g"},
            },
            "bootstrap": 200,
        },
        source=tmp_path / "tunegate.yaml",
    )
    exact = [c.reference for c in cases]
    return evaluate_run(
        config, "run-1", cases, {"ft": run("ft", exact), "chatty": run("chatty", chatty)}
    )


def test_the_json_counts_answers_by_how_they_were_parsed(tmp_path: Path) -> None:
    doc = to_json(_result(tmp_path))
    models = doc["suites"][0]["models"] if "suites" in doc else doc["models"]
    assert models["ft"]["parsing"] == {
        "rule": "word",
        "exact": 6,
        "matched": 0,
        "unparseable": 0,
        "failed": 0,
        "why": {},
    }
    assert models["chatty"]["parsing"] == {
        "rule": "word",
        "exact": 2,
        "matched": 2,
        "unparseable": 2,
        "failed": 0,
        "why": {"negated": 1, "several labels": 1},
    }
    assert models["chatty"]["unparseable"] == 2
    json.dumps(doc)


def test_the_substring_rule_scores_a_negated_label_as_the_label(tmp_path: Path) -> None:
    result = _result(tmp_path, parse="substring")
    chatty = result.suites[0].models["chatty"]
    assert chatty.parsing is not None
    assert chatty.parsing["rule"] == "substring"
    assert chatty.unparseable == 0  # "Not positive" is positive, "p or n" the first label
    assert chatty.metrics["accuracy"].value == pytest.approx(5 / 6)


def test_every_report_shows_the_counts(tmp_path: Path) -> None:
    result = _result(tmp_path)
    console = Console(record=True, width=200, color_system=None)
    console.print(summary(result))
    terminal = console.export_text()
    markdown = to_markdown(result)
    page = html.unescape(render_html(to_json(result)))
    line = "2 exact, 2 found by the rule, 2 unparseable (negated 1, several labels 1)"
    for text in (terminal, markdown, page):
        assert "rule: word" in text
        assert "docs/labels.md" in text
        assert line in text
        assert "6 exact, 0 found by the rule, 0 unparseable" in text


@pytest.mark.parametrize(
    ("parse", "message"),
    [
        ({"rule": "regex"}, "needs a pattern"),
        ({"rule": "regex", "pattern": "answer: \\w+"}, "capture group"),
        ("fuzzy", "fuzzy"),
        ({"rule": "word", "pattern": "(x)"}, "pattern is for the regex rule"),
    ],
)
def test_bad_parse_rules_are_config_errors(tmp_path: Path, parse: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        _result(tmp_path, parse)
    assert "task.parse" in str(raised.value)


def test_parse_is_for_classification(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="parse"):
        parse_config(
            {
                "dataset": {"path": "x.jsonl"},
                "task": {"type": "generation", "parse": "word"},
                "models": {"ft": {"type": "python", "function": "m:f"}},
            },
            source=tmp_path / "tunegate.yaml",
        )


def test_failed_requests_are_named_apart_from_unparseable_answers() -> None:
    from tunegate.report.parsing import parsing_line

    counts = {"rule": "word", "exact": 0, "matched": 0, "unparseable": 0, "failed": 30}
    assert parsing_line(counts) == (
        "0 exact, 0 found by the rule, 0 unparseable; 30 failed requests (nothing to parse)"
    )
    assert parsing_line({**counts, "failed": 1}).endswith("; 1 failed request (nothing to parse)")
    assert parsing_line({**counts, "failed": 0}) == "0 exact, 0 found by the rule, 0 unparseable"
