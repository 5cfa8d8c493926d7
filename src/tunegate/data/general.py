"""tunegate's general-knowledge JSON Lines: four-choice questions with free-text answers.

The bundled regression set (:data:`GENERAL_KNOWLEDGE`, ``path: builtin:general``: 100
questions written for this project, 20 in each of geography, science, arithmetic,
language and history) is one such file::

    {"id": "gk-001", "category": "geography", "question": "What is the capital of Canada?",
     "answers": ["Ottawa"], "choices": ["Toronto", "Vancouver", "Ottawa", "Montreal"],
     "answer": "C"}

``answers`` lists the acceptable short free-text answers (for scoring the question
without its choices); ``answer`` is the letter of the right choice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tunegate.data.case import Case
from tunegate.data.lines import check_file, json_lines, raise_problems
from tunegate.data.multiple_choice import LETTERS, letter
from tunegate.errors import DataError

#: The bundled general-knowledge regression set (see the module docstring).
GENERAL_KNOWLEDGE = Path(__file__).parent.parent / "examples" / "general" / "general.jsonl"
_GENERAL_FIELDS = ("id", "category", "question", "answers", "choices", "answer")


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
    right = letter(record["answer"])
    if right is None:
        found.append(f"answer {record['answer']!r} is not one of A, B, C, D")
    if found or answers is None or choices is None or right is None:
        problems.extend(f"{where}: {problem}" for problem in found)
        return None
    extra = {k: v for k, v in record.items() if k not in _GENERAL_FIELDS}
    return Case(
        id=case_id,
        text=question.strip(),
        reference=right,
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
    check_file(p)
    problems: list[str] = []
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for line_no, record in json_lines(p, problems):
        where = f"{p}:{line_no}"
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
    raise_problems(problems)
    if not cases:
        raise DataError(f"{p}: no questions (the file is empty)")
    return cases
