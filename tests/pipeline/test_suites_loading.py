"""tunegate.pipeline.suites: a suite's cases whatever its format: field map, limit, ids prefixed for
suites other than the main one, and a format its task does not read named with the fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tunegate.config import parse_config
from tunegate.errors import ConfigError, TunegateError
from tunegate.pipeline.suites import field_map, load_suite_cases, suite_format


def _config(tmp_path: Path, suites: list[dict[str, Any]]) -> Any:
    return parse_config(
        {"suites": suites, "models": {"m": {"type": "python", "function": "m:f"}}},
        source=tmp_path / "tunegate.yaml",
    )


def _write(tmp_path: Path) -> None:
    (tmp_path / "cls.jsonl").write_text(
        "".join(
            json.dumps({"key": f"k{i}", "review": f"r{i}", "gold": ["yes", "no"][i % 2]}) + "\n"
            for i in range(5)
        )
    )
    (tmp_path / "q.csv").write_text("what?,a,b,c,d,A\nwhy?,a,b,c,d,B\n")


def test_cases_through_the_field_map_with_limit_and_suite_prefixed_ids(tmp_path: Path) -> None:
    _write(tmp_path)
    dataset = {
        "path": "cls.jsonl",
        "input_field": "review",
        "label_field": "gold",
        "id_field": "key",
        "limit": 3,
    }
    config = _config(
        tmp_path,
        [
            {"name": "first", "dataset": dataset, "task": {"labels": ["yes", "no"]}},
            {"name": "second", "dataset": dataset, "task": {"labels": ["yes", "no"]}},
        ],
    )
    first, second = config.all_suites
    assert field_map(first.dataset).input_field == "review"
    assert suite_format(first) == "auto"
    main = load_suite_cases(first, main=True)
    assert [(c.id, c.text, c.reference) for c in main] == [
        ("k0", "r0", "yes"),
        ("k1", "r1", "no"),
        ("k2", "r2", "yes"),
    ]
    other = load_suite_cases(second, main=False, limit=2)
    assert [c.id for c in other] == ["second/k0", "second/k1"]


def test_multiple_choice_resolves_its_format_from_the_file(tmp_path: Path) -> None:
    _write(tmp_path)
    config = _config(
        tmp_path,
        [{"name": "mc", "dataset": {"path": "q.csv"}, "task": {"type": "multiple_choice"}}],
    )
    [suite] = config.all_suites
    assert suite_format(suite) == "mmlu"
    cases = load_suite_cases(suite, main=True)
    assert [c.reference for c in cases] == ["A", "B"]
    assert "what?" in cases[0].text


def test_a_format_the_task_does_not_read_is_named_with_the_fix(tmp_path: Path) -> None:
    _write(tmp_path)
    config = _config(
        tmp_path,
        [
            {
                "name": "g",
                "dataset": {"path": "q.csv", "format": "mmlu"},
                "task": {"type": "generation"},
            }
        ],
    )
    [suite] = config.all_suites
    with pytest.raises(ConfigError) as info:
        load_suite_cases(suite, main=True)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "q.csv"))
    assert "a generation task reads" in message
    assert "not mmlu; a mmlu file is read by task: {type: multiple_choice}" in message


def test_a_label_outside_the_tasks_labels_is_a_data_error(tmp_path: Path) -> None:
    _write(tmp_path)
    config = _config(
        tmp_path,
        [
            {
                "name": "c",
                "dataset": {"path": "cls.jsonl", "input_field": "review", "label_field": "gold"},
                "task": {"labels": ["yes", "maybe"]},
            }
        ],
    )
    with pytest.raises(TunegateError, match=r"cls\.jsonl:2"):
        load_suite_cases(config.all_suites[0], main=True)
