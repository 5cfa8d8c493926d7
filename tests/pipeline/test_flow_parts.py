"""The pipeline's stage helpers take the parts of the config they read: the train-leakage
check gets the k-shot pools and the task's labels, the unparseable-answers note gets the
models the suite runs."""

from __future__ import annotations

import json
from pathlib import Path

from tunegate.config import parse_config
from tunegate.data import Case
from tunegate.pipeline.evaluating import unparseable_notes
from tunegate.pipeline.flow import check_train_leakage, shots_files
from tunegate.results import ModelResult


def test_train_leakage_reads_every_shots_pool_once(tmp_path: Path) -> None:
    rows = [
        {"text": "great phone", "label": "positive"},
        {"text": "awful battery", "label": "negative"},
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    shots = {"path": str(tmp_path / "train.jsonl"), "k": 1}
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": ["positive", "negative"]},
            "models": {
                "a": {"type": "openai", "model": "m", "prompt": "{{ input }}", "shots": shots},
                "b": {"type": "openai", "model": "m", "prompt": "{{ input }}", "shots": shots},
                "c": {"type": "python", "function": "m:f"},
            },
        }
    )
    pools = shots_files(config)
    assert [p.path for p in pools] == [tmp_path / "train.jsonl"] * 2
    cases = [
        Case(id="t1", text="great phone", reference="positive"),
        Case(id="t2", text="fine screen", reference="negative"),
    ]
    report = check_train_leakage(pools, cases, config.main_task.labels)
    assert report is not None
    assert report.n_train == 2  # the shared pool is read once
    assert report.leaked_test_ids == ["t1"]
    assert check_train_leakage([], cases, None) is None


def test_the_unparseable_note_names_the_models_the_suite_runs() -> None:
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"type": "tool_call"},
            "models": {
                "tuned": {"type": "python", "function": "m:f"},
                "summariser": {"type": "python", "function": "m:g"},
            },
        }
    )
    model = ModelResult.model_validate(
        {
            "name": "summariser",
            "n": 10,
            "errors": 0,
            "unparseable": 8,
            "cached": 0,
            "metrics": {},
            "per_class": {},
            "confusion": [],
            "latency_ms": {},
            "tokens": {},
            "error_kinds": {},
            "first_errors": [],
        }
    )
    [note] = unparseable_notes(config.all_suites[0], {"summariser": model}, ["tuned", "summariser"])
    assert note.startswith("main: 8 of 10 answers of summariser ")
    assert note.endswith("(now: tuned, summariser)")
    fine = model.model_copy(update={"unparseable": 2})
    assert unparseable_notes(config.all_suites[0], {"summariser": fine}, ["tuned"]) == []
