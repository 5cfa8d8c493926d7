"""``Config.all_suites`` builds the main suite once (not on every access) and
``Config.is_main`` is the one place that says which suite is the main one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.config import Config

MODELS = {"m": {"type": "python", "function": "mod:fn"}}
TASK = {"type": "classification", "labels": ["yes", "no"]}


def config(**parts: Any) -> Config:
    return Config.model_validate({"models": MODELS, **parts})


def test_the_main_suite_is_built_once() -> None:
    c = config(
        dataset={"path": "main.jsonl"},
        task=TASK,
        suites=[{"name": "extra", "dataset": {"path": "x.jsonl"}, "task": TASK}],
    )
    first, second = c.all_suites, c.all_suites
    assert first[0] is second[0]
    assert [s.name for s in first] == ["main", "extra"]
    assert first[0].dataset is c.dataset
    assert first[0].task is c.task
    assert c.is_main(first[0])
    assert not c.is_main(first[1])
    assert c.main_task is c.task


def test_a_copy_with_another_dataset_gets_its_own_main_suite() -> None:
    c = config(dataset={"path": "main.jsonl"}, task=TASK)
    before = c.all_suites[0]
    assert c.dataset is not None
    moved = c.model_copy(update={"dataset": c.dataset.model_copy(update={"path": Path("b.jsonl")})})
    assert moved.all_suites[0].dataset.path == Path("b.jsonl")
    assert c.all_suites[0] is before
    assert before.dataset.path == Path("main.jsonl")


def test_without_a_top_level_dataset_the_first_suite_is_main() -> None:
    c = config(
        suites=[
            {"name": "a", "dataset": {"path": "a.jsonl"}, "task": TASK},
            {"name": "b", "dataset": {"path": "b.jsonl"}, "task": TASK},
        ]
    )
    a, b = c.all_suites
    assert c.is_main(a)
    assert not c.is_main(b)
    assert c.all_suites[0] is c.suites[0]
