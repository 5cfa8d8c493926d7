"""The JSON report: the run's document (:func:`tunegate.results.document.to_json`,
re-exported here) written as indented JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.report.files import write_atomic
from tunegate.results import RunResult
from tunegate.results.document import to_json

# A list or object with more members than this has one member per line, written
# compactly: a per-case row stays readable on its line, and the C encoder writes it
# (``indent=`` would send the whole report through the pure-Python encoder, about 10x
# slower on 5,000 cases).
_ONE_LINE_MEMBERS = 32
_compact = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


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
