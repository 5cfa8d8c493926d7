"""MMLU CSV files: four-choice questions, ``question,A,B,C,D,answer`` per record.

MMLU files (``hendrycks/test``: ``data/{dev,test}/<subject>_{dev,test}.csv``) are CSV
without a header, one question per record, ``answer`` the letter of the right choice.
A quoted question may span several physical lines, so each case's ``source`` names
the line its record starts on. The cases have the question in ``text``, the answer
letter in ``reference`` and ``metadata["choices"] = {"A": ..., ..., "D": ...}``
(:func:`tunegate.data.multiple_choice.format_multiple_choice` renders the prompt).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from tunegate.data.case import Case
from tunegate.data.lines import check_file, raise_problems, read_text
from tunegate.data.multiple_choice import LETTERS, letter
from tunegate.errors import DataError

_COLUMNS = "question, A, B, C, D, answer"
_HEADER_ANSWER_NAMES = frozenset({"answer", "answers", "answer_letter", "target", "label"})
_SPLIT_SUFFIX = re.compile(r"_(?:test|dev|val|validation|train|auxiliary_train)$")


def mmlu_category(path: str | Path) -> str:
    """The subject an MMLU file holds, from its name, without the split suffix.

    ``high_school_physics_test.csv`` -> ``high_school_physics``;
    ``astronomy_dev.csv`` -> ``astronomy``; any other name gives its stem.
    """
    stem = Path(path).stem
    return _SPLIT_SUFFIX.sub("", stem) or stem


def _csv_rows(path: Path, text: str, problems: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank CSV record with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline="\n"))
    end = 0
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(f"{path}:{start}: invalid CSV ({exc})")
            return
        end = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line
        yield start, row


def _looks_like_header(row: Sequence[str]) -> bool:
    cells = [cell.strip().casefold() for cell in row]
    if not cells or cells[-1].upper() in LETTERS:
        return False
    return cells[-1] in _HEADER_ANSWER_NAMES or cells[1:5] == ["a", "b", "c", "d"]


def load_multiple_choice_csv(
    path: str | Path, *, category: str | None = None, has_header: bool | None = None
) -> list[Case]:
    """Load an MMLU-style CSV file, ``question,A,B,C,D,answer`` per record.

    ``category`` defaults to the subject in the file name (:func:`mmlu_category`).
    ``has_header=None`` detects a header row: the first record is one when its last
    cell is not an answer letter and is ``answer`` (or ``target``, ``label``, ...)
    or its choice cells read ``A, B, C, D``. MMLU's own files have no header.

    Each case has ``id = "<category>-<n>"`` (``n`` counts questions from 1, header
    excluded), the question in ``text``, the answer letter in ``reference``,
    ``metadata = {"choices": {"A": ..., "B": ..., "C": ..., "D": ...},
    "format": "multiple_choice"}`` and ``source = "<file>:<line>"``. Question and
    choices are stripped of surrounding whitespace; the answer letter may be in
    either case. Raises :class:`~tunegate.errors.DataError` naming file and line
    for a wrong number of columns, an answer other than A-D, an empty question or
    choice (up to ten problems at once), and for a file without questions.
    """
    p = Path(path)
    check_file(p)
    text = read_text(p)
    subject = category if category is not None else mmlu_category(p)
    problems: list[str] = []
    cases: list[Case] = []
    first = True
    skipped_header = False
    number = 0
    for line_no, row in _csv_rows(p, text, problems):
        if first:
            first = False
            if has_header or (has_header is None and _looks_like_header(row)):
                skipped_header = True
                continue
        number += 1
        where = f"{p}:{line_no}"
        if len(row) != len(LETTERS) + 2:
            problems.append(f"{where}: expected 6 columns ({_COLUMNS}), found {len(row)}")
            continue
        question = row[0].strip()
        choices = {letter: cell.strip() for letter, cell in zip(LETTERS, row[1:5], strict=True)}
        answer = letter(row[5])
        bad = False
        if not question:
            problems.append(f"{where}: empty question")
            bad = True
        empty = [letter for letter, choice in choices.items() if not choice]
        if empty:
            problems.append(f"{where}: empty choice {', '.join(empty)}")
            bad = True
        if answer is None:
            problems.append(f"{where}: answer {row[5]!r} is not one of A, B, C, D")
            bad = True
        if bad or answer is None:
            continue
        cases.append(
            Case(
                id=f"{subject}-{number}",
                text=question,
                reference=answer,
                category=subject,
                metadata={"choices": choices, "format": "multiple_choice"},
                source=where,
            )
        )
    raise_problems(problems)
    if not cases:
        what = "only a header row" if skipped_header else "the file is empty"
        raise DataError(f"{p}: no questions ({what})")
    return cases
