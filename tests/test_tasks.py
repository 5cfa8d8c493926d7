"""The registry of task kinds: each kind's metrics, formats, backend mode and scoring."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tunegate.config import TASK_TYPES, TaskConfig, default_metric, suite_metrics
from tunegate.tasks import TASK_KINDS, task_kind


def _task(**data: Any) -> TaskConfig:
    return TaskConfig.model_validate(data)


def test_every_task_type_is_a_registered_kind() -> None:
    assert TASK_TYPES == (
        "classification",
        "multiple_choice",
        "generation",
        "tool_call",
        "perplexity",
    )
    assert set(TASK_KINDS) == set(TASK_TYPES)
    for name in TASK_TYPES:
        assert task_kind(name).name == name


@pytest.mark.parametrize(
    ("data", "metrics", "lead", "mode"),
    [
        (
            {"type": "classification", "labels": ["a", "b"]},
            ["accuracy", "macro_f1", "micro_f1", "weighted_f1"],
            "macro_f1",
            "classify",
        ),
        ({"type": "multiple_choice"}, ["accuracy"], "accuracy", "choice"),
        ({"type": "perplexity"}, ["perplexity"], "perplexity", "perplexity"),
        ({"type": "generation"}, ["exact_match"], "exact_match", "generate"),
        (
            {"type": "generation", "scorers": [{"type": "rouge"}, {"type": "bleu"}]},
            ["rougeL", "rouge1", "rouge2", "rougeLsum", "bleu"],
            "rougeL",
            "generate",
        ),
        ({"type": "tool_call"}, ["tool_call_accuracy"], "tool_call_accuracy", "generate"),
    ],
)
def test_a_kind_gives_metrics_lead_metric_and_backend_mode(
    data: dict[str, Any], metrics: list[str], lead: str, mode: str
) -> None:
    task = _task(**data)
    assert suite_metrics(task) == metrics
    assert default_metric(task) == lead
    assert task.kind.backend_mode == mode


def test_labels_come_from_the_task_or_the_kind() -> None:
    assert _task(type="classification", labels=["x", "y"]).label_list == ["x", "y"]
    assert _task(type="multiple_choice").label_list == ["A", "B", "C", "D"]
    assert _task(type="generation").label_list == []


def test_auto_format_is_resolved_by_the_kind() -> None:
    mc = task_kind("multiple_choice")
    assert mc.resolve_format("auto", Path("q.csv")) == "mmlu"
    assert mc.resolve_format("auto", Path("q.jsonl")) == "general"
    assert task_kind("tool_call").resolve_format("auto", Path("x.json")) == "bfcl"
    assert task_kind("generation").resolve_format("auto", Path("x.json")) == "auto"
    assert task_kind("generation").resolve_format("csv", Path("x.json")) == "csv"
    assert "mmlu" in mc.formats
    assert "jsonl" not in mc.formats
    assert "mmlu" not in task_kind("classification").formats


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "classification"}, "a classification task needs labels"),
        ({"type": "generation", "labels": ["a", "b"]}, "labels are for classification tasks"),
        ({"type": "perplexity", "scorers": [{"type": "json"}]}, "has its own metric"),
        ({"type": "generation", "target": "reference"}, "target chooses what a perplexity"),
        ({"type": "perplexity", "pass": {"metric": "perplexity", "max": 9}}, "pass chooses"),
    ],
)
def test_the_kind_decides_which_options_a_task_takes(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _task(**data)


def test_only_scorer_kinds_have_a_default_scorer_and_judges_grade_generation() -> None:
    assert [k.name for k in TASK_KINDS.values() if k.uses_scorers] == ["generation", "tool_call"]
    assert [k.name for k in TASK_KINDS.values() if k.judged] == ["generation"]
    assert task_kind("tool_call").tools
    assert task_kind("perplexity").notes is not None


def test_perplexity_notes_flag_different_tokenizers() -> None:
    from types import SimpleNamespace

    def run(tokenizer: str) -> Any:
        return SimpleNamespace(responses=[SimpleNamespace(output={"tokenizer": tokenizer})])

    from tunegate.evaluation.kinds import suite_notes

    kind = task_kind("perplexity")
    assert suite_notes(kind, "ppl", {"a": run("t1"), "b": run("t1")}) == []
    (note,) = suite_notes(kind, "ppl", {"a": run("t1"), "b": run("t2")})
    assert suite_notes(task_kind("generation"), "g", {"a": run("t1"), "b": run("t2")}) == []
    assert note.startswith("ppl: the models use different tokenizers (a: t1, b: t2)")


def test_kinds_name_their_functions_and_the_config_imports_no_engine() -> None:
    """Task kinds are metadata: they name their scoring functions (registered in
    tunegate.evaluation.kinds), and scorer configs declare their metrics, so importing the
    config and the kinds, and reading a generation task's metrics, imports neither the
    scoring, the evaluation, the runner nor the models code."""
    import subprocess
    import sys

    from tunegate.evaluation.kinds import COMPARE, SCORE

    for kind in TASK_KINDS.values():
        assert callable(SCORE.get(kind.score))
        assert callable(COMPARE.get(kind.compare))
    code = (
        "import sys, tunegate.config, tunegate.tasks\n"
        "task = tunegate.config.TaskConfig(type='generation', scorers=[{'type': 'rouge'}])\n"
        "assert tunegate.config.suite_metrics(task)[0] == 'rougeL'\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tunegate.evaluation', "
        "'tunegate.scoring', 'tunegate.runner', 'tunegate.models'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_an_unknown_task_kind_lists_the_known_ones() -> None:
    from tunegate.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match=r"unknown task type 'clasification' \(did you"):
        task_kind("clasification")
    with pytest.raises(ValueError, match="unknown task type 'clasification'"):
        _task(type="clasification", labels=["a", "b"])
