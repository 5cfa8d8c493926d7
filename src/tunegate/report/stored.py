"""Reports of a stored run: the result kept with the run (a JSON dict) back into files.

``tunegate report`` renders from what the run stored, never by re-running or
re-scoring; :func:`result_from_dict` only rebuilds the result dataclasses from
their own JSON form so the Markdown renderer can take them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from tunegate.errors import DataError
from tunegate.report.files import write_atomic
from tunegate.results import (
    CaseRow,
    CategoryComparison,
    Comparison,
    CriterionResult,
    Estimate,
    GateResult,
    ModelResult,
    RunResult,
    SuiteResult,
)

T = TypeVar("T")


def _ci(value: Any) -> tuple[float, float] | None:
    if isinstance(value, list | tuple) and len(value) == 2 and None not in value:
        return (float(value[0]), float(value[1]))
    return None


def _build(cls: type[T], data: Any, where: str, **parts: Any) -> T:
    if not isinstance(data, dict):
        raise DataError(f"stored result: {where} is not an object")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {k: v for k, v in data.items() if k in names}
    kwargs.update(parts)
    if "ci" in kwargs:
        kwargs["ci"] = _ci(kwargs["ci"])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise DataError(f"stored result: {where}: {exc}") from None


def _model(data: dict[str, Any], where: str) -> ModelResult:
    metrics = {
        k: _build(Estimate, v, f"{where}.metrics.{k}")
        for k, v in (data.get("metrics") or {}).items()
    }
    return _build(ModelResult, data, where, metrics=metrics)


def _suite(data: Any, where: str) -> SuiteResult:
    if not isinstance(data, dict):
        raise DataError(f"stored result: {where} is not an object")
    models = {n: _model(m, f"{where}.models.{n}") for n, m in (data.get("models") or {}).items()}
    return _build(
        SuiteResult,
        data,
        where,
        models=models,
        comparisons=[
            _build(Comparison, c, f"{where}.comparisons[{i}]")
            for i, c in enumerate(data.get("comparisons") or [])
        ],
        category_comparisons=[
            _build(CategoryComparison, c, f"{where}.category_comparisons[{i}]")
            for i, c in enumerate(data.get("category_comparisons") or [])
        ],
        cases=[
            _build(CaseRow, c, f"{where}.cases[{i}]") for i, c in enumerate(data.get("cases") or [])
        ],
    )


def result_from_dict(data: dict[str, Any]) -> RunResult:
    """A :class:`RunResult` from its JSON form (``tunegate run --json``, the stored result)."""
    gate = data.get("gate")
    return _build(
        RunResult,
        data,
        "result",
        suites=[_suite(s, f"suites[{i}]") for i, s in enumerate(data.get("suites") or [])],
        gate=None
        if gate is None
        else _build(
            GateResult,
            gate,
            "gate",
            criteria=[
                _build(CriterionResult, c, f"gate.criteria[{i}]")
                for i, c in enumerate(gate.get("criteria") or [])
            ],
        ),
    )


def write_stored_reports(
    result: dict[str, Any],
    *,
    against: dict[str, Any] | None = None,
    html: Path | None = None,
    json_path: Path | None = None,
    markdown: Path | None = None,
) -> list[tuple[str, Path]]:
    """Write the requested reports of a stored ``result``; ``against`` (an earlier run's
    result) adds what changed since it to the HTML report. Returns (kind, path) pairs."""
    written: list[tuple[str, Path]] = []
    if html is not None:
        from tunegate.report.html import write_html

        diff = None
        if against is not None:
            from tunegate.diff import diff_results

            diff = diff_results(
                against,
                result,
                confidence=float(result.get("confidence") or 0.95),
                seed=int(result.get("seed") or 0),
            ).to_dict()
        written.append(("HTML", write_html(result, html, diff)))
    if json_path is not None:
        text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        written.append(("JSON", write_atomic(json_path, text)))
    if markdown is not None:
        from tunegate.report.markdown import write_markdown

        if not result.get("suites"):
            raise DataError("the stored result has no suites: nothing to report")
        written.append(("Markdown", write_markdown(result_from_dict(result), markdown)))
    return written
