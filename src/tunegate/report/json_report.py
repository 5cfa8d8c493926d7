"""The JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.jsonable import jsonable
from tunegate.report.files import write_atomic
from tunegate.report.wording import cache_lines, conclusion, run_notes
from tunegate.results import RunResult


def to_json(result: RunResult) -> dict[str, Any]:
    """The report as a JSON-ready dictionary (NaN becomes null)."""
    data = result.to_dict()
    for suite, raw_suite in zip(result.suites, data["suites"], strict=True):
        for comp, raw in zip(suite.comparisons, raw_suite["comparisons"], strict=True):
            raw["conclusion"] = conclusion(comp, result.confidence, suite)
    data["warnings"] = run_notes(result)  # every warning and note of the run
    data["reused_answers"] = cache_lines(result)
    return jsonable(data)  # type: ignore[no-any-return]


def write_json(result: RunResult, path: str | Path) -> Path:
    """Write the JSON report (creating folders); return the path."""
    text = json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n"
    return write_atomic(path, text)
