"""CSV (or TSV, by the ``.tsv`` suffix) with a header row, read through a field map."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from tunegate.data.case import Case, FieldMap
from tunegate.data.lines import read_lines
from tunegate.data.records import record_case
from tunegate.errors import DataError


def csv_records(path: Path, fmap: FieldMap, problems: list[str]) -> Iterator[tuple[int, Case]]:
    """The cases of a CSV file with the line each row ends on."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = list(read_lines(path))
    reader = csv.DictReader(lines, delimiter=delimiter)
    header = reader.fieldnames or []
    if not header:
        return  # an empty file: load_cases reports "no cases"
    for needed in (fmap.input_field, fmap.label_field):
        if needed not in header:
            raise DataError(
                f"{path}:1: no column {needed!r} in the header (columns: {', '.join(header)})"
            )
    for row in reader:
        line_no = reader.line_num
        if None in row:
            problems.append(f"{path}:{line_no}: more values than header columns")
            continue
        case = record_case(dict(row), fmap, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case
