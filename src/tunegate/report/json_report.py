"""The JSON report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.jsonable import jsonable
from tunegate.report.files import write_atomic
from tunegate.report.wording import cache_lines, conclusion, run_notes
from tunegate.results import RunResult

# A list or object with more members than this has one member per line, written
# compactly: a per-case row stays readable on its line, and the C encoder writes it
# (``indent=`` would send the whole report through the pure-Python encoder, about 10x
# slower on 5,000 cases).
_ONE_LINE_MEMBERS = 32
_compact = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


def to_json(result: RunResult) -> dict[str, Any]:
    """The report as a JSON-ready dictionary (NaN becomes null)."""
    data = result.to_dict()
    for suite, raw_suite in zip(result.suites, data["suites"], strict=True):
        for comp, raw in zip(suite.comparisons, raw_suite["comparisons"], strict=True):
            raw["conclusion"] = conclusion(comp, result.confidence, suite)
    data["warnings"] = run_notes(result)  # every warning and note of the run
    data["reused_answers"] = cache_lines(result)
    return jsonable(data)  # type: ignore[no-any-return]


def dumps_report(data: Any) -> str:
    """``data`` (plain JSON types) as indented JSON text, one line per member of a long
    list or object (see ``_ONE_LINE_MEMBERS``); ends with a newline."""
    out: list[str] = []
    _write(data, "", out)
    out.append("\n")
    return "".join(out)


def _write(value: Any, pad: str, out: list[str]) -> None:
    if isinstance(value, dict) and value:
        inner = pad + "  "
        long = len(value) > _ONE_LINE_MEMBERS
        out.append("{")
        for i, (key, member) in enumerate(value.items()):
            out.append(("\n" if i == 0 else ",\n") + inner + _compact(str(key)) + ": ")
            if long:
                out.append(_compact(member))
            else:
                _write(member, inner, out)
        out.append("\n" + pad + "}")
    elif isinstance(value, list | tuple) and value:
        inner = pad + "  "
        long = len(value) > _ONE_LINE_MEMBERS
        out.append("[")
        for i, member in enumerate(value):
            out.append(("\n" if i == 0 else ",\n") + inner)
            if long:
                out.append(_compact(member))
            else:
                _write(member, inner, out)
        out.append("\n" + pad + "]")
    else:
        out.append(_compact(value))


def write_json(result: RunResult, path: str | Path) -> Path:
    """Write the JSON report (creating folders); return the path."""
    return write_json_document(to_json(result), path)


def write_json_document(data: dict[str, Any], path: str | Path) -> Path:
    """Write ``data`` (a :func:`to_json` document) as the JSON report; return the path."""
    return write_atomic(path, dumps_report(data))
