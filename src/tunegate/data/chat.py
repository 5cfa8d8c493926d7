"""OpenAI chat-format JSONL: ``{"messages": [...]}`` per line, the last assistant turn the
reference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from tunegate.data.case import Case
from tunegate.data.lines import json_lines
from tunegate.data.records import chat_case


def chat_records(path: Path, problems: list[str]) -> Iterator[tuple[int, Case]]:
    """The cases of a chat JSONL file with their line numbers."""
    for line_no, obj in json_lines(path, problems):
        case = chat_case(obj, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case
