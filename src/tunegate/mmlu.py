"""Load four-choice multiple-choice questions: MMLU CSV files and tunegate's general set.

MMLU files (``hendrycks/test``: ``data/{dev,test}/<subject>_{dev,test}.csv``) are CSV
without a header, one question per record: ``question,A,B,C,D,answer`` where
``answer`` is the letter of the right choice. A quoted question may span several
physical lines, so each case's ``source`` names the line its record starts on.

tunegate's bundled general-knowledge regression set (:data:`GENERAL_KNOWLEDGE`,
100 questions written for this project, 20 in each of geography, science,
arithmetic, language and history) is JSON Lines::

    {"id": "gk-001", "category": "geography", "question": "What is the capital of Canada?",
     "answers": ["Ottawa"], "choices": ["Toronto", "Vancouver", "Ottawa", "Montreal"],
     "answer": "C"}

``answers`` lists the acceptable short free-text answers (for scoring the question
without its choices); ``answer`` is the letter of the right choice.

Both loaders give :class:`~tunegate.data.Case` objects with the question in
``text``, the answer letter in ``reference`` and
``metadata["choices"] = {"A": ..., "B": ..., "C": ..., "D": ...}``;
:func:`format_multiple_choice` renders the standard prompt for them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tunegate.data import Case
from tunegate.errors import DataError

__all__ = [
    "CHOICE_CONTINUATIONS",
    "GENERAL_KNOWLEDGE",
    "LETTERS",
    "format_multiple_choice",
    "load_general_jsonl",
    "load_multiple_choice_csv",
    "mmlu_category",
]

#: The answer letters, in choice order.
LETTERS = ("A", "B", "C", "D")

#: What a local model's next tokens are scored on after :func:`format_multiple_choice`'s
#: ``"Answer:"`` (one log-likelihood per letter, the highest wins).
CHOICE_CONTINUATIONS = tuple(f" {letter}" for letter in LETTERS)

#: The bundled general-knowledge regression set (see the module docstring).
GENERAL_KNOWLEDGE = Path(__file__).parent / "examples" / "general" / "general.jsonl"

_COLUMNS = "question, A, B, C, D, answer"
_HEADER_ANSWER_NAMES = frozenset({"answer", "answers", "answer_letter", "target", "label"})
_SPLIT_SUFFIX = re.compile(r"_(?:test|dev|val|validation|train|auxiliary_train)$")
_GENERAL_FIELDS = ("id", "category", "question", "answers", "choices", "answer")
_MAX_REPORTED = 10


def mmlu_category(path: str | Path) -> str:
    """The subject an MMLU file holds, from its name, without the split suffix.

    ``high_school_physics_test.csv`` -> ``high_school_physics``;
    ``astronomy_dev.csv`` -> ``astronomy``; any other name gives its stem.
    """
    stem = Path(path).stem
    return _SPLIT_SUFFIX.sub("", stem) or stem


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig: files saved by Excel and some editors start with a byte order mark.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except UnicodeDecodeError as exc:
        raw = path.read_bytes()
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def _raise_problems(problems: list[str]) -> None:
    if problems:
        shown = problems[:_MAX_REPORTED]
        more = len(problems) - len(shown)
        raise DataError("\n".join(shown) + (f"\n... and {more} more problem(s)" if more else ""))


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


def _letter(raw: Any) -> str | None:
    """The answer letter (``A``-``D``, surrounding space and case ignored), or None."""
    if not isinstance(raw, str):
        return None
    letter = raw.strip().upper()
    return letter if letter in LETTERS else None


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
    text = _read_text(p)
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
        answer = _letter(row[5])
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
    _raise_problems(problems)
    if not cases:
        what = "only a header row" if skipped_header else "the file is empty"
        raise DataError(f"{p}: no questions ({what})")
    return cases


def _strings(value: Any) -> list[str] | None:
    """``value`` as a list of non-empty strings (stripped), or None."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return None
    return [v.strip() for v in value]


def _general_case(record: dict[str, Any], where: str, problems: list[str]) -> Case | None:
    missing = [name for name in _GENERAL_FIELDS if record.get(name) in (None, "", [])]
    if missing:
        present = ", ".join(sorted(record)) or "none"
        problems.append(f"{where}: missing field(s) {missing} (fields present: {present})")
        return None
    found: list[str] = []
    case_id, category, question = record["id"], record["category"], record["question"]
    if not isinstance(case_id, str) or not isinstance(category, str):
        found.append("'id' and 'category' must be strings")
    if not isinstance(question, str) or not question.strip():
        found.append("'question' must be a non-empty string")
    answers = _strings(record["answers"])
    if answers is None:
        found.append("'answers' must be a list of non-empty strings")
    choices = _strings(record["choices"])
    if choices is None or len(choices) != len(LETTERS):
        found.append(f"'choices' must be a list of {len(LETTERS)} non-empty strings")
    elif len({c.casefold() for c in choices}) != len(choices):
        found.append("'choices' must be distinct")
    letter = _letter(record["answer"])
    if letter is None:
        found.append(f"answer {record['answer']!r} is not one of A, B, C, D")
    if found or answers is None or choices is None or letter is None:
        problems.extend(f"{where}: {problem}" for problem in found)
        return None
    extra = {k: v for k, v in record.items() if k not in _GENERAL_FIELDS}
    return Case(
        id=case_id,
        text=question.strip(),
        reference=letter,
        category=category,
        metadata={
            **extra,
            "choices": dict(zip(LETTERS, choices, strict=True)),
            "answers": answers,
            "format": "multiple_choice",
        },
        source=where,
    )


def load_general_jsonl(path: str | Path = GENERAL_KNOWLEDGE) -> list[Case]:
    """Load a general-knowledge JSONL file (by default the bundled one).

    Each line needs ``id``, ``category``, ``question``, ``answers`` (acceptable
    free-text answers), ``choices`` (four distinct strings) and ``answer`` (the
    letter of the right choice). Each case has the question in ``text``, the
    letter in ``reference``, ``metadata = {"choices": {"A": ..., ...},
    "answers": [...], "format": "multiple_choice"}`` (plus any other fields of the
    line) and ``source = "<file>:<line>"``. Raises
    :class:`~tunegate.errors.DataError` naming file and line for each problem (up
    to ten at once), for duplicate ids and for a file without questions.
    """
    p = Path(path)
    text = _read_text(p)
    problems: list[str] = []
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        where = f"{p}:{line_no}"
        try:
            record = json.loads(stripped)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{where}: expected a JSON object, got {type(record).__name__}")
            continue
        case = _general_case(record, where, problems)
        if case is None:
            continue
        if case.id in seen:
            problems.append(
                f"{where}: duplicate id {case.id!r} (first seen on line {seen[case.id]})"
            )
            continue
        seen[case.id] = line_no
        cases.append(case)
    _raise_problems(problems)
    if not cases:
        raise DataError(f"{p}: no questions (the file is empty)")
    return cases


def _choices(case: Case) -> dict[str, str]:
    raw = case.metadata.get("choices")
    if isinstance(raw, Mapping) and all(isinstance(raw.get(k), str) for k in LETTERS):
        return {k: str(raw[k]) for k in LETTERS}
    if (
        isinstance(raw, Sequence)
        and not isinstance(raw, str)
        and len(raw) == len(LETTERS)
        and all(isinstance(c, str) for c in raw)
    ):
        return dict(zip(LETTERS, (str(c) for c in raw), strict=True))
    where = f" ({case.source})" if case.source else ""
    raise DataError(
        f"case {case.id!r}{where}: not a multiple-choice case "
        "(metadata['choices'] must give the four choices A-D)"
    )


def format_multiple_choice(case: Case) -> str:
    """The standard zero-shot multiple-choice prompt for ``case``::

        Question: <question>
        A. <choice A>
        B. <choice B>
        C. <choice C>
        D. <choice D>
        Answer:

    The prompt ends right after ``"Answer:"`` without a space, so a local model is
    scored by the log-likelihood of each of :data:`CHOICE_CONTINUATIONS`
    (``" A"`` ... ``" D"``, the space belongs to the letter's token) and the most
    likely letter is its answer; a chat model is asked to reply with the letter.
    ``metadata["choices"]`` may be a mapping ``{"A": ..., ...}`` or a list of four
    strings. Raises :class:`~tunegate.errors.DataError` for a case without four
    choices.
    """
    choices = _choices(case)
    lines = [f"Question: {case.text.strip()}"]
    lines.extend(f"{letter}. {choices[letter]}" for letter in LETTERS)
    lines.append("Answer:")
    return "\n".join(lines)
