"""A perplexity suite over the input reads no reference (issue 20): its JSONL / CSV
records need no ``label`` field (it was demanded on every line and never read), while
``target: reference`` still needs it, and other tasks still do."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tunegate.config import SuiteConfig, parse_config
from tunegate.errors import DataError
from tunegate.pipeline.suites import load_suite_cases

TUNEGATE = Path(sys.executable).parent / "tunegate"


def write_records(folder: Path) -> None:
    rows = [{"id": f"c{i}", "text": f"hello world {i}"} for i in range(3)]
    (folder / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "t.csv").write_text("id,text\nc0,hello world 0\nc1,hello world 1\n")


def suite(folder: Path, path: str, task: dict[str, Any]) -> SuiteConfig:
    config = parse_config(
        {
            "dataset": {"path": str(folder / path)},
            "task": task,
            "models": {"a": {"type": "python", "function": "m:f"}},
        },
        source=folder / "tunegate.yaml",
    )
    return config.all_suites[0]


@pytest.mark.parametrize("path", ["t.jsonl", "t.csv"])
def test_perplexity_of_the_input_needs_no_label(tmp_path: Path, path: str) -> None:
    write_records(tmp_path)
    cases = load_suite_cases(suite(tmp_path, path, {"type": "perplexity"}), main=True)
    assert [c.text for c in cases][:2] == ["hello world 0", "hello world 1"]
    assert {c.reference for c in cases} == {""}
    assert all("label" not in c.metadata for c in cases)


def test_a_label_that_is_there_is_still_read(tmp_path: Path) -> None:
    (tmp_path / "t.jsonl").write_text(json.dumps({"text": "a b", "label": "x"}) + "\n")
    [case] = load_suite_cases(suite(tmp_path, "t.jsonl", {"type": "perplexity"}), main=True)
    assert case.reference == "x"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("t.jsonl", r"t.jsonl:1: missing field\(s\) \['label'\]"),
        ("t.csv", r"t.csv:1: no column 'label' in the header"),
    ],
)
def test_the_perplexity_of_the_reference_and_other_tasks_still_need_it(
    tmp_path: Path, path: str, message: str
) -> None:
    write_records(tmp_path)
    target: dict[str, Any] = {"type": "perplexity", "target": "reference"}
    with pytest.raises(DataError, match=message):
        load_suite_cases(suite(tmp_path, path, target), main=True)
    generation: dict[str, Any] = {"type": "generation", "scorers": [{"type": "exact_match"}]}
    with pytest.raises(DataError, match=message):
        load_suite_cases(suite(tmp_path, path, generation), main=True)


def test_validate_accepts_a_perplexity_suite_without_labels(tmp_path: Path) -> None:
    write_records(tmp_path)
    (tmp_path / "m.py").write_text("def f(text):\n    return 'x'\n")
    (tmp_path / "tunegate.yaml").write_text(
        "name: ppl\ndataset: {path: t.jsonl}\ntask: {type: perplexity}\n"
        "models:\n  a: {type: python, function: 'm:f'}\n"
    )
    done = subprocess.run(
        [str(TUNEGATE), "validate", "tunegate.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "OK — 3 cases, perplexity" in done.stdout
