"""A JSON file holding one array of records (``[{...}, {...}]``): chat records or records
read through a field map, numbered by item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.data.lines import read_text
from tunegate.data.values import JsonProblem, parse_json
from tunegate.errors import DataError


def json_array_items(path: Path) -> list[Any]:
    """The items of a file holding one JSON array."""
    text = read_text(path)
    try:
        value = parse_json(text)
    except JsonProblem as exc:
        where = f"{path}:{exc.line}" if exc.line is not None else str(path)
        raise DataError(f"{where}: {exc.message}") from None
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a JSON array of records, got {type(value).__name__}")
    return value
