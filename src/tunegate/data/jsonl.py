"""JSON Lines read through a field map: one record per line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tunegate.data.case import Case, FieldMap
from tunegate.data.lines import json_lines
from tunegate.data.records import record_case


def jsonl_records(path: Path, fmap: FieldMap, problems: list[str]) -> Iterator[tuple[int, Case]]:
    """The cases of a JSONL file with their line numbers."""
    for line_no, obj in json_lines(path, problems):
        case = record_case(obj, fmap, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case
