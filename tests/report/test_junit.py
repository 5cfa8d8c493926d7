"""The CI renderers (issue 25): the JUnit XML report read back with junitparser, the
GitHub workflow-command annotations and the step summary."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from junitparser import Error, Failure, JUnitXml, TestSuite

from tunegate.report.github import (
    annotation_lines,
    append_step_summary,
    command,
    escape_data,
    escape_property,
)
from tunegate.report.junit import to_junit, write_junit
from tunegate.report.markdown import to_markdown
from tunegate.results import RunResult, read_result

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored_result_v1.json"
HOSTILE = 'model said "a,b:c" 100% \x00\x1b]]><tag>&amp;\r\n::error::injected'


def _result(**changes: Any) -> RunResult:
    """The stored fixture (suites sentiment and qa, four criteria, one warning) with its
    criteria changed: ``changes`` maps a criterion's index to the fields to replace."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    for index, fields in changes.items():
        data["gate"]["criteria"][int(index.lstrip("c"))].update(fields)
    return read_result(data)


def _mixed() -> RunResult:
    """One criterion of each status; a MISSING one on a suite the run does not have, and
    a criterion without ``suite`` (the main suite's)."""
    return _result(
        c0={"status": "FAIL", "reason": HOSTILE},
        c2={"status": "MISSING", "reason": "no suite named 'other' in this run"},
        c3={"criterion": {"metric": "error_rate", "max": 0.1}, "description": "error_rate <= 0.1"},
    )


def _read(tmp_path: Path, result: RunResult) -> dict[str, TestSuite]:
    path = write_junit(result, tmp_path / "deep" / "junit.xml")
    xml = JUnitXml.fromfile(str(path))
    return {suite.name: suite for suite in xml}


def test_a_testsuite_per_suite_and_a_testcase_per_criterion(tmp_path: Path) -> None:
    suites = _read(tmp_path, _result())
    assert list(suites) == ["sentiment", "qa"]
    names = {name: [case.name for case in suite] for name, suite in suites.items()}
    assert names == {
        "sentiment": [
            "macro_f1 - base >= -0.02 [suite sentiment]",
            "macro_f1 - big >= -0.05 [suite sentiment]",
            "error_rate <= 0.1 [suite sentiment]",
        ],
        "qa": ["exact_match - base >= -0.2 [suite qa]"],
    }
    sentiment = suites["sentiment"]
    assert (sentiment.tests, sentiment.failures, sentiment.errors) == (3, 0, 1)
    [passed, undecided, _] = list(sentiment)
    assert passed.is_passed
    assert "tuned 0.886 vs base 0.664" in (passed.system_out or "")
    # INCONCLUSIVE is an error (never a pass, never a skip), carrying the reason.
    [result] = undecided.result
    assert isinstance(result, Error)
    assert result.type == "INCONCLUSIVE"
    assert "about 315 cases would decide it" in (result.message or "")
    assert "[-0.148, 0.215]" in (result.message or "")
    props = {p.name: p.value for p in sentiment.properties()}
    assert props == {
        "run_id": "20261202-160710-6a797d",
        "candidate": "tuned",
        "verdict": "INCONCLUSIVE",
    }
    # The run's warning is on the main suite (junitparser reads it only on test cases).
    tree = ET.parse(tmp_path / "deep" / "junit.xml")
    assert [e.text for e in tree.iter("system-err")] == [
        "tuned: 2 error(s) (model 2); first: report_models:tuned raised RuntimeError: "
        "backend exploded on this review"
    ]


def test_fail_is_a_failure_missing_an_error_and_data_text_survives(tmp_path: Path) -> None:
    suites = _read(tmp_path, _mixed())
    sentiment = suites["sentiment"]
    # A criterion without suite: lands in the main suite.
    assert [case.name for case in sentiment][-1] == "error_rate <= 0.1"
    assert (sentiment.tests, sentiment.failures, sentiment.errors) == (3, 1, 1)
    [failure] = next(iter(sentiment)).result
    assert isinstance(failure, Failure)
    assert failure.type == "FAIL"
    # Control characters XML cannot carry are replaced; everything else comes back as is.
    assert failure.message is not None
    assert HOSTILE.replace("\x00", "?").replace("\x1b", "?").replace("\r\n", "\n") in (
        failure.message.replace("\r\n", "\n")
    )
    [missing] = next(iter(suites["qa"])).result
    assert isinstance(missing, Error)
    assert missing.type == "MISSING"
    assert "no suite named 'other'" in (missing.message or "")
    totals = JUnitXml.fromfile(str(tmp_path / "deep" / "junit.xml"))
    assert (totals.tests, totals.failures, totals.errors) == (4, 1, 2)


def test_a_run_without_a_gate_has_suites_without_cases(tmp_path: Path) -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["gate"] = None
    suites = _read(tmp_path, read_result(data))
    assert [(s.name, s.tests) for s in suites.values()] == [("sentiment", 0), ("qa", 0)]


def test_a_criterion_on_an_unknown_suite_gets_its_own_testsuite() -> None:
    result = _result(c2={"criterion": {"metric": "accuracy", "suite": "gone"}, "status": "MISSING"})
    xml = JUnitXml.fromstring(to_junit(result).encode("utf-8"))
    assert [(s.name, s.tests, s.errors) for s in xml] == [
        ("sentiment", 3, 1),
        ("qa", 0, 0),
        ("gone", 1, 1),
    ]


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("100%", "100%25", "100%25"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("a:b,c", "a:b,c", "a%3Ab%2Cc"),
        ("%0A", "%250A", "%250A"),  # an escape in the data is not taken as one
    ],
)
def test_workflow_command_escaping(text: str, data: str, prop: str) -> None:
    assert escape_data(text) == data
    assert escape_property(text) == prop


def _unescape(text: str) -> str:
    return (
        text.replace("%0A", "\n")
        .replace("%0D", "\r")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
    )


def test_annotations_name_failed_and_undecided_criteria_and_warnings() -> None:
    lines = annotation_lines(_mixed())
    assert all("\n" not in line and "\r" not in line for line in lines)
    levels = [line.split(" ", 1)[0] for line in lines]
    assert levels == ["::error", "::error", "::warning", "::warning", "::warning"]
    verdict, failed, undecided, missing, warning = lines
    assert verdict.startswith("::error title=tunegate report-demo%3A INCONCLUSIVE::1 of 4")
    # The message after the second '::' is the evidence, escaped; the title is a property.
    head, message = failed.split("::", 2)[1:]
    assert head == "error title=tunegate FAIL%3A macro_f1 - base >= -0.02 [suite sentiment]"
    assert "," not in head.split("title=", 1)[1]
    assert _unescape(message).endswith(HOSTILE)
    assert "%0D%0A::error::injected" in message
    assert "INCONCLUSIVE" in undecided
    assert "about 315 cases" in undecided
    assert "MISSING" in missing
    assert "no suite named 'other'" in missing
    assert warning.startswith("::warning title=tunegate warning::tuned: 2 error(s)")


def test_a_ship_verdict_is_a_notice_and_passing_criteria_say_nothing() -> None:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["gate"]["verdict"] = "SHIP"
    data["gate"]["criteria"][1]["status"] = "PASS"
    data["warnings"] = []
    data["notes"] = []
    data["suites"][0]["models"]["tuned"]["errors"] = 0
    lines = annotation_lines(read_result(data))
    assert lines[0].startswith("::notice title=tunegate report-demo%3A SHIP::")
    assert not any("PASS" in line for line in lines)


def test_command_without_title() -> None:
    assert command("warning", "a\nb") == "::warning::a%0Ab"


def test_the_step_summary_is_appended(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n", encoding="utf-8")
    result = _result()
    append_step_summary(result, summary)
    append_step_summary(result, summary)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n")
    assert text.count(to_markdown(result).rstrip("\n")) == 2
