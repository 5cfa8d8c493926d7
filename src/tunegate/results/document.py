"""The run's JSON document: the :class:`~tunegate.results.RunResult` as plain JSON types,
with the sentences that state each comparison and warning (:mod:`tunegate.results.wording`).
The pipeline stores it with the run; the reports write it as it is."""

from __future__ import annotations

from typing import Any

from tunegate.jsonable import jsonable
from tunegate.results import RunResult
from tunegate.results.wording import cache_lines, conclusion, run_notes


def to_json(result: RunResult) -> dict[str, Any]:
    """The report as a JSON-ready dictionary (NaN becomes null)."""
    data = result.to_dict()
    for suite, raw_suite in zip(result.suites, data["suites"], strict=True):
        for comp, raw in zip(suite.comparisons, raw_suite["comparisons"], strict=True):
            raw["conclusion"] = conclusion(comp, result.confidence, suite)
    data["warnings"] = run_notes(result)  # every warning and note of the run
    data["reused_answers"] = cache_lines(result)
    return jsonable(data)  # type: ignore[no-any-return]
