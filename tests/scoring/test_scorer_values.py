"""Scorer values that refer to the case (issue 20 item 6): ``{{ reference }}``, ``{{ input }}``,
metadata and category rendered per case; regex values escape what they insert; the
declarative ``contains_reference``; validate refuses an unknown name (exit 2, the key)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tunegate.config import parse_config
from tunegate.config.scorers import scorer_config
from tunegate.data import Case
from tunegate.pipeline.preflight import first_template_problem, preflight
from tunegate.scoring.registry import BuildContext, build_scorer
from tunegate.store import Response

TUNEGATE = Path(sys.executable).parent / "tunegate"


def _score(options: dict[str, Any], case: Case, answer: str | None) -> tuple[bool, str | None]:
    built = build_scorer(scorer_config(**options), BuildContext("task.scorers[0]"))
    response = Response(case_id=case.id, model="m", key="k", text=answer)
    score = next(iter(built(case, response).values()))
    return score.passed, score.detail


PARIS = Case(
    id="c1",
    text="Capital of France?",
    reference="Paris",
    category="geo",
    metadata={"country": "France"},
)


def test_contains_the_reference() -> None:
    options = {"type": "contains", "value": "{{ reference }}"}
    assert _score(options, PARIS, "It is Paris.") == (True, None)
    passed, detail = _score(options, PARIS, "It is Lyon.")
    assert not passed
    assert detail == "'Paris' not found in the output"  # the rendered value, not the template


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        ("{{ metadata.country }}", "France it is"),
        ("{{ country }}", "France it is"),
        ("{{ category }}", "a geo question"),
        ("{{ input }}", "You asked: Capital of France?"),
    ],
)
def test_values_can_use_the_case(value: str, answer: str) -> None:
    assert _score({"type": "contains", "value": value}, PARIS, answer)[0]
    assert not _score({"type": "contains", "value": value}, PARIS, "nothing")[0]


def test_equals_the_reference() -> None:
    options = {"type": "equals", "value": "{{ reference }}"}
    assert _score(options, PARIS, "Paris")[0]
    assert not _score(options, PARIS, "Paris, France")[0]


def test_a_regex_value_escapes_what_it_inserts() -> None:
    case = Case(id="c", text="x", reference="3.5")
    options = {"type": "regex", "value": "^answer: {{ reference }}$"}
    assert _score(options, case, "answer: 3.5")[0]
    assert not _score(options, case, "answer: 3x5")[0]  # "." is a dot, not any character
    brackets = Case(id="c", text="x", reference="f(x) [1]")
    assert _score({"type": "regex", "value": "{{ reference }}"}, brackets, "is f(x) [1]")[0]


def test_contains_reference_takes_any_reference() -> None:
    case = Case(id="c", text="x", reference="NYC", metadata={"references": ["NYC", "New York"]})
    assert _score({"type": "contains_reference"}, case, "It's New York")[0]
    assert not _score({"type": "contains_reference"}, case, "It's Boston")[0]
    assert _score({"type": "contains_reference", "negate": True}, case, "It's Boston")[0]


def _project(tmp_path: Path, value: str) -> tuple[Any, Path]:
    (tmp_path / "cases.jsonl").write_text(
        "".join(
            json.dumps({"id": f"c{i}", "text": f"q{i}", "label": f"a{i}"}) + "\n" for i in range(3)
        )
    )
    data: dict[str, Any] = {
        "dataset": {"path": "cases.jsonl"},
        "task": {"type": "generation", "scorers": [{"type": "contains", "value": value}]},
        "models": {"fn": {"type": "python", "function": "m:f"}},
    }
    path = tmp_path / "tunegate.yaml"
    path.write_text(json.dumps(data))  # JSON is YAML
    return parse_config(data, source=path), path


def test_validate_refuses_an_unknown_name(tmp_path: Path) -> None:
    config, path = _project(tmp_path, "{{ referenc }}")
    found = preflight(config, tmp_path, str(path))
    problems = [p for p in found.problems if "scorers" in p]
    assert len(problems) == 1
    assert "task.scorers[0].value" in problems[0]
    assert "'referenc' is undefined" in problems[0]
    assert "reference" in problems[0].split("can use:")[1]
    suite = config.all_suites[0]
    assert "task.scorers[0].value" in (
        first_template_problem(config, suite, found.cases[suite.name]) or ""
    )
    config, path = _project(tmp_path, "{{ reference }}")
    assert not [p for p in preflight(config, tmp_path, str(path)).problems if "scorers" in p]


def test_validate_command_exits_2_naming_the_key(tmp_path: Path) -> None:
    _, path = _project(tmp_path, "{{ referenc }}")
    done = subprocess.run(
        [str(TUNEGATE), "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "task.scorers[0].value" in done.stderr
    assert "referenc" in done.stderr
    assert "Traceback" not in done.stderr
