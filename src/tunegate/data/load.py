"""The one dispatcher: a data file in any format (:data:`~tunegate.data.formats.DataFormat`)
into checked test cases."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tunegate.data.case import Case, FieldMap
from tunegate.data.formats import DATA_FORMATS, DataFormat, detect_format
from tunegate.data.lines import check_file, raise_problems
from tunegate.errors import DataError


def load_cases(
    path: str | Path,
    fmt: DataFormat = "auto",
    fields: FieldMap | None = None,
    labels: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Case]:
    """Load test cases from ``path`` in format ``fmt`` (``auto`` guesses a file format).

    ``fields`` maps the record fields of JSONL, CSV, JSON and Parquet files. MMLU CSV
    and general-knowledge questions (``mmlu``, ``general``) come with the standard
    multiple-choice prompt as their text (:func:`~tunegate.data.multiple_choice.as_multiple_choice`),
    ready for any backend and for k-shot examples; BFCL files (``bfcl``) with the
    conversation and the functions. With ``labels`` given, each reference must name one of them (compared after
    case and whitespace folding) and is replaced by the canonical label.
    Raises :class:`DataError` naming file and line for every problem found
    (up to ten at once), for an empty file and for duplicate ids.
    """
    p = Path(path)
    check_file(p)
    if fmt not in DATA_FORMATS:
        raise DataError(f"{p}: unknown data format {fmt!r} (one of {', '.join(DATA_FORMATS)})")
    kind = detect_format(p) if fmt == "auto" else fmt
    problems: list[str] = []
    records = _records(p, kind, fields or FieldMap(), problems)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    canonical = {_fold(lab): lab for lab in labels} if labels is not None else None
    for line_no, case in records:
        if case.id in seen:
            problems.append(
                f"{p}:{line_no}: duplicate id {case.id!r} (first seen on line {seen[case.id]})"
            )
            continue
        seen[case.id] = line_no
        if canonical is not None:
            label = canonical.get(_fold(case.reference))
            if label is None:
                problems.append(
                    f"{p}:{line_no}: label {case.reference!r} is not one of the task's "
                    f"labels {list(canonical.values())}"
                )
                continue
            case = Case(
                id=case.id,
                text=case.text,
                reference=label,
                messages=case.messages,
                category=case.category,
                metadata=case.metadata,
                source=case.source,
            )
        cases.append(case)
    raise_problems(problems)
    if not cases:
        raise DataError(f"{p}: no cases (the file is empty)")
    if limit is not None:
        cases = cases[:limit]
    return cases


def _records(path: Path, kind: str, fmap: FieldMap, problems: list[str]) -> list[tuple[int, Case]]:
    """The cases of one file with the line (item, row) each starts on, by format."""
    if kind == "chat":
        from tunegate.data.chat import chat_records

        return list(chat_records(path, problems))
    if kind == "jsonl":
        from tunegate.data.jsonl import jsonl_records

        return list(jsonl_records(path, fmap, problems))
    if kind in ("json", "parquet"):
        from tunegate.data.json_array import json_array_items
        from tunegate.data.parquet import parquet_rows
        from tunegate.data.records import row_records

        rows = json_array_items(path) if kind == "json" else parquet_rows(path)
        unit = "item" if kind == "json" else "row"
        return list(row_records(path, rows, fmap, problems, unit))
    if kind == "csv":
        from tunegate.data.csv_file import csv_records

        return list(csv_records(path, fmap, problems))
    return [(_line(c), c) for c in _question_cases(path, kind)]


def _question_cases(path: Path, kind: str) -> list[Case]:
    """BFCL, MMLU CSV and general-knowledge files: their own loaders check every line."""
    if kind == "bfcl":
        from tunegate.data.bfcl import load_bfcl

        return load_bfcl(path)
    from tunegate.data.multiple_choice import as_multiple_choice

    if kind == "mmlu":
        from tunegate.data.mmlu import load_multiple_choice_csv

        return [as_multiple_choice(c) for c in load_multiple_choice_csv(path)]
    from tunegate.data.general import load_general_jsonl

    return [as_multiple_choice(c) for c in load_general_jsonl(path)]


def _line(case: Case) -> int:
    """The line a case's ``source`` (``<file>:<line>``) names."""
    tail = case.source.rpartition(":")[2]
    return int(tail) if tail.isdigit() else 0


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()
