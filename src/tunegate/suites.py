"""Load a suite's cases, whatever its format, ready for every backend.

Classification cases are checked against the task's labels; multiple-choice
questions (MMLU CSV, tunegate's general-knowledge JSONL) get their choices written
into the text, so every backend sees the same standard prompt; tool-calling cases
come from BFCL files. The main suite keeps its case ids; the cases of other suites
are stored as ``<suite>/<id>`` so that suites never collide in the store.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tunegate.config import DatasetConfig, SuiteConfig
from tunegate.data import Case, FieldMap, load_cases
from tunegate.errors import ConfigError

__all__ = ["field_map", "load_suite_cases", "suite_format"]


def field_map(ds: DatasetConfig) -> FieldMap:
    """The loader's field map for a dataset section."""
    return FieldMap(
        input_field=ds.input_field,
        label_field=ds.label_field,
        category_field=ds.category_field,
        id_field=ds.id_field,
    )


def suite_format(suite: SuiteConfig) -> str:
    """The dataset format, with ``auto`` resolved from the task and the file name."""
    fmt = suite.dataset.format
    if fmt != "auto":
        return fmt
    kind = suite.task.type
    if kind == "tool_call":
        return "bfcl"
    if kind == "multiple_choice":
        return "mmlu" if Path(suite.dataset.path).suffix.lower() == ".csv" else "general"
    return "auto"


def _as_multiple_choice(case: Case) -> Case:
    from tunegate.mmlu import format_multiple_choice

    text = format_multiple_choice(case)
    metadata = {**case.metadata, "question": case.text}
    return replace(
        case, text=text, messages=({"role": "user", "content": text},), metadata=metadata
    )


def load_suite_cases(suite: SuiteConfig, *, main: bool, limit: int | None = None) -> list[Case]:
    """The cases of ``suite`` (the first ``limit`` or ``dataset.limit``)."""
    ds, task = suite.dataset, suite.task
    fmt = suite_format(suite)
    n = limit or ds.limit
    cases: list[Case]
    if fmt == "bfcl":
        from tunegate.bfcl import load_bfcl

        cases = load_bfcl(ds.path)
    elif fmt in ("mmlu", "general"):
        from tunegate.mmlu import load_general_jsonl, load_multiple_choice_csv

        cases = load_multiple_choice_csv(ds.path) if fmt == "mmlu" else load_general_jsonl(ds.path)
    else:
        labels = task.labels if task.type == "classification" else None
        cases = load_cases(ds.path, fmt, field_map(ds), labels=labels)  # type: ignore[arg-type]
    if fmt in ("mmlu", "general") and task.type != "multiple_choice":
        raise ConfigError(
            f"{ds.path}: a {fmt} file holds multiple-choice questions; "
            f"use task: {{type: multiple_choice}} (not {task.type})"
        )
    if task.type == "multiple_choice":
        if fmt not in ("mmlu", "general"):
            raise ConfigError(
                f"{ds.path}: a multiple_choice task reads MMLU CSV (question,A,B,C,D,answer) "
                "or general-knowledge JSONL (format: mmlu or general)"
            )
        cases = [_as_multiple_choice(c) for c in cases]
    if n:
        cases = cases[:n]
    if not main:
        cases = [replace(c, id=f"{suite.name}/{c.id}") for c in cases]
    return cases
