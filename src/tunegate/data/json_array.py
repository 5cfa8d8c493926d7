"""A JSON file holding one array of records (``[{...}, {...}]``): chat records or records
read through a field map, numbered by item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.data.lines import read_text
from tunegate.errors import DataError


def json_array_items(path: Path) -> list[Any]:
    """The items of a file holding one JSON array."""
    text = read_text(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a JSON array of records, got {type(value).__name__}")
    return value
