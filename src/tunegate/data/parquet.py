"""Parquet files (through pyarrow), records read through a field map, numbered by row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.errors import DataError


def parquet_rows(path: Path) -> list[Any]:
    """The rows of a Parquet file as dictionaries (pyarrow)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from None
    try:
        rows: list[Any] = pq.read_table(path).to_pylist()
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ...
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from None
    return rows
