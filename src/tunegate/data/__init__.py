"""Test cases and where they come from: one source per format and one dispatcher.

A :class:`Case` is one held-out example: an id, the input (chat messages and the
plain text of the last user turn), the reference answer, and optional category and
metadata. :func:`load_cases` reads any :data:`DataFormat`:

* ``chat`` (:mod:`~tunegate.data.chat`): OpenAI chat-format JSONL;
* ``jsonl``, ``csv``, ``json``, ``parquet`` (:mod:`~tunegate.data.jsonl`,
  :mod:`~tunegate.data.csv_file`, :mod:`~tunegate.data.json_array`,
  :mod:`~tunegate.data.parquet`): records read through a :class:`FieldMap`;
* ``bfcl`` (:mod:`~tunegate.data.bfcl`): Berkeley Function Calling Leaderboard files;
* ``mmlu``, ``general`` (:mod:`~tunegate.data.mmlu`, :mod:`~tunegate.data.general`):
  four-choice questions (:mod:`~tunegate.data.multiple_choice`).

Every JSONL source reads lines with :func:`tunegate.data.lines.json_lines`; every
error names the file and the line (the item or row number for JSON arrays and Parquet).
"""

from __future__ import annotations

from tunegate.data.case import Case, FieldMap, Message
from tunegate.data.formats import DATA_FORMATS, DataFormat, FileFormat, detect_format
from tunegate.data.load import load_cases
from tunegate.data.response import MAX_ANSWER_CHARS, Response

__all__ = [
    "DATA_FORMATS",
    "MAX_ANSWER_CHARS",
    "Case",
    "DataFormat",
    "FieldMap",
    "FileFormat",
    "Message",
    "Response",
    "detect_format",
    "load_cases",
]
