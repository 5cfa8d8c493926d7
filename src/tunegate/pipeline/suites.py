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
from tunegate.tasks import TASK_KINDS, task_kind

__all__ = ["field_map", "load_suite_cases", "suite_format"]


def field_map(ds: DatasetConfig, *, label_required: bool = True) -> FieldMap:
    """The loader's field map for a dataset section (see :meth:`DatasetConfig.field_map`)."""
    return ds.field_map(label_required=label_required)


def suite_format(suite: SuiteConfig) -> str:
    """The dataset format, with ``auto`` resolved from the task and the file name."""
    return suite.task.kind.resolve_format(suite.dataset.format, Path(suite.dataset.path))


def _format_problem(path: Path, fmt: str, task: str) -> str:
    """Why a task kind does not read a file of format ``fmt``, and what does."""
    readers = [k.name for k in TASK_KINDS.values() if fmt in k.formats]
    to = f"; a {fmt} file is read by task: {{type: {readers[0]}}}" if readers else ""
    return f"{path}: a {task} task reads {task_kind(task).formats_text}, not {fmt}{to}"


def load_suite_cases(suite: SuiteConfig, *, main: bool, limit: int | None = None) -> list[Case]:
    """The cases of ``suite`` (the first ``limit`` or ``dataset.limit``)."""
    ds, task, kind = suite.dataset, suite.task, suite.task.kind
    fmt = suite_format(suite)
    n = limit or ds.limit
    labels = task.labels if kind.needs_labels else None
    # One dispatcher for every format (tunegate.data); MMLU and general-knowledge
    # questions come with the standard multiple-choice prompt every backend sees.
    # The perplexity of the input reads no reference: the label field may be absent.
    reads_reference = not (kind.has_target and task.target == "input")
    fields = field_map(ds, label_required=reads_reference)
    cases = load_cases(ds.path, fmt, fields, labels=labels)  # type: ignore[arg-type]
    if fmt not in kind.formats:
        raise ConfigError(_format_problem(ds.path, fmt, task.type))
    if n:
        cases = cases[:n]
    if not main:
        cases = [replace(c, id=f"{suite.name}/{c.id}") for c in cases]
    return cases
