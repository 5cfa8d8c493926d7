"""The data formats: one Literal for the config (``dataset.format``, ``shots.format``) and
the loaders alike, and the guess for ``auto``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from tunegate.data.lines import read_lines
from tunegate.data.values import JsonProblem, parse_json

#: Formats told apart by the file itself (``auto`` guesses one of these).
FileFormat = Literal["chat", "jsonl", "csv", "json", "parquet"]
#: Every format a dataset or a shots file may name: the file formats, BFCL tool-call
#: files, MMLU CSV and tunegate's general-knowledge JSONL (both four-choice questions).
DataFormat = Literal["auto", "chat", "jsonl", "csv", "json", "parquet", "bfcl", "mmlu", "general"]
DATA_FORMATS: tuple[str, ...] = get_args(DataFormat)
#: The formats that hold four-choice questions (given the standard prompt on loading).
MULTIPLE_CHOICE_FORMATS = ("mmlu", "general")


def detect_format(path: Path) -> FileFormat:
    """Guess the format from the extension and, for JSON, the first record (a file that
    starts with ``[`` is a JSON array)."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv"}:
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    for line in read_lines(path):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("["):
            return "json"
        try:
            first = parse_json(stripped)
        except JsonProblem:
            return "jsonl"  # the loader reports the bad line
        return "chat" if isinstance(first, dict) and "messages" in first else "jsonl"
    return "jsonl"
