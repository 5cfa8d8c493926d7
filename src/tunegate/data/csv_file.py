"""CSV (or TSV, by the ``.tsv`` suffix) with a header row, read through a field map."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from tunegate.data.case import Case, FieldMap
from tunegate.data.lines import csv_problem, read_lines
from tunegate.data.records import record_case
from tunegate.errors import DataError


def csv_records(path: Path, fmap: FieldMap, problems: list[str]) -> Iterator[tuple[int, Case]]:
    """The cases of a CSV file with the line each row ends on."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = list(read_lines(path))
    reader = csv.DictReader(lines, delimiter=delimiter)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise DataError(f"{path}:1: {csv_problem(exc)}") from None
    if not header:
        return  # an empty file: load_cases reports "no cases"
    named = [name for name in header if name.strip()]
    twice = next((name for name in named if named.count(name) > 1), None)
    if twice is not None:
        raise DataError(
            f"{path}:1: column {twice!r} appears {named.count(twice)} times in the header "
            f"(columns: {', '.join(header)}); rename or remove the copies"
        )
    needs = (fmap.input_field, fmap.label_field) if fmap.label_required else (fmap.input_field,)
    for needed in needs:
        if needed not in header:
            raise DataError(
                f"{path}:1: no column {needed!r} in the header (columns: {', '.join(header)})"
            )
    rows = iter(reader)
    while True:
        start = reader.line_num + 1  # the line the next record starts on
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(f"{path}:{start}: {csv_problem(exc)}")
            return
        line_no = reader.line_num
        if None in row:
            problems.append(f"{path}:{line_no}: more values than header columns")
            continue
        case = record_case(dict(row), fmap, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case
