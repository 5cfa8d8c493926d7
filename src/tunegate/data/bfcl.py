"""Load Berkeley Function Calling Leaderboard (BFCL) files as test cases.

BFCL files are JSON Lines despite their ``.json`` suffix. A question line is
``{"id", "question": [[{"role", "content"}, ...]], "function": [function docs]}``
(one inner list per turn; only single-turn entries are supported here) and a
possible-answer line is ``{"id", "ground_truth": [{name: {param: [acceptable]}}]}``.
Categories without possible answers (``irrelevance``, ``live_irrelevance``) expect
no call at all: their ground truth is ``[]``; in an answer file, ``"ground_truth": []``
marks a case that expects no call.

A case's category comes from the file name (:func:`bfcl_category`) unless the
question line has its own ``"category"`` string, which wins (a suite can then mix
categories in one file, as ``examples/tool_calling/cases.jsonl`` does).

Each :class:`~tunegate.data.Case` carries the conversation in ``messages``, the
last user message in ``text``, the ground truth as JSON in ``reference``, and
``metadata = {"functions": [...], "ground_truth": [...]}``, ready for
:func:`tunegate.scoring.structured.score_tool_calls`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tunegate.data.case import Case
from tunegate.data.lines import check_file, json_lines, raise_problems
from tunegate.errors import DataError

__all__ = ["NO_CALL_CATEGORIES", "bfcl_category", "load_bfcl", "to_openai_tools"]

#: Categories whose cases expect no function call (they have no possible-answer file).
NO_CALL_CATEGORIES = frozenset({"irrelevance", "live_irrelevance"})

_FILE_NAME = re.compile(r"(?:possible_answer_)?BFCL_v\d+_(?P<category>.+)\.jsonl?$")
_CATEGORY_ALIASES = {"simple_python": "simple"}

# BFCL's parameter types -> JSON Schema types, for OpenAI-style tool definitions.
_JSON_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": None}


def bfcl_category(path: str | Path) -> str:
    """The category a BFCL file holds, from its name.

    ``BFCL_v4_simple_python.json`` -> ``simple``; ``BFCL_v4_parallel_multiple.json``
    -> ``parallel_multiple``; other names keep their BFCL category
    (``simple_java``, ``live_multiple``, ...); an unrecognised name gives its stem.
    """
    name = Path(path).name
    match = _FILE_NAME.match(name)
    category = match.group("category") if match else Path(name).stem
    return _CATEGORY_ALIASES.get(category, category)


def _records(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, record in json_lines(path, problems):
        if not isinstance(record.get("id"), str) or not record["id"]:
            problems.append(f"{path}:{line_no}: missing string 'id'")
            continue
        yield line_no, record


def _messages(
    record: dict[str, Any], where: str, problems: list[str]
) -> list[dict[str, str]] | None:
    turns = record.get("question")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, list) for t in turns):
        problems.append(
            f"{where}: 'question' must be a non-empty list of turns (lists of messages)"
        )
        return None
    if len(turns) > 1:
        problems.append(f"{where}: multi-turn entries ({len(turns)} turns) are not supported")
        return None
    messages: list[dict[str, str]] = []
    for index, message in enumerate(turns[0]):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            problems.append(
                f"{where}: question message {index} needs a string 'role' and 'content'"
            )
            return None
        messages.append({"role": message["role"], "content": message["content"]})
    if not any(m["role"] == "user" for m in messages):
        problems.append(f"{where}: the question has no user message")
        return None
    return messages


def _record_category(
    record: dict[str, Any], default: str, where: str, problems: list[str]
) -> str | None:
    """The question line's own ``"category"`` if it has one, else ``default``."""
    if "category" not in record:
        return default
    value = record["category"]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: 'category' must be a non-empty string, got {value!r}")
        return None
    return value


def _ground_truth_problem(ground_truth: Any) -> str | None:
    if not isinstance(ground_truth, list):
        return "'ground_truth' must be a list"
    for index, entry in enumerate(ground_truth):
        if not isinstance(entry, dict) or len(entry) != 1:
            return f"ground_truth[{index}] must be {{function_name: {{param: [values]}}}}"
        ((_, params),) = entry.items()
        if not isinstance(params, dict) or not all(isinstance(v, list) for v in params.values()):
            return f"ground_truth[{index}] must map each parameter to a list of acceptable values"
    return None


def _answers_file(questions: Path) -> Path | None:
    for candidate in (
        questions.with_name(f"possible_answer_{questions.name}"),
        questions.parent / "possible_answer" / questions.name,
    ):
        if candidate.is_file():
            return candidate
    return None


def _load_answers(path: Path, problems: list[str]) -> dict[str, tuple[int, list[Any]]]:
    answers: dict[str, tuple[int, list[Any]]] = {}
    for line_no, record in _records(path, problems):
        where = f"{path}:{line_no}"
        ground_truth = record.get("ground_truth")
        problem = _ground_truth_problem(ground_truth)
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        if record["id"] in answers:
            first = answers[record["id"]][0]
            problems.append(f"{where}: duplicate id {record['id']!r} (first on line {first})")
            continue
        assert isinstance(ground_truth, list)
        answers[record["id"]] = (line_no, ground_truth)
    return answers


def load_bfcl(
    questions_path: str | Path,
    answers_path: str | Path | None = None,
    *,
    limit: int | None = None,
) -> list[Case]:
    """Load a BFCL question file (and its possible answers) as test cases.

    ``answers_path=None`` looks for ``possible_answer_<file name>`` beside the
    questions, then ``possible_answer/<file name>`` (BFCL's own layout). With no
    answer file, the category must be one that expects no call
    (:data:`NO_CALL_CATEGORIES`); every case then gets ``ground_truth = []``.
    An answer line may also say ``"ground_truth": []`` (no call expected). Each
    case's category is the question line's ``"category"`` when present (a
    non-empty string), else the file's (:func:`bfcl_category`).
    Every question needs an answer with the same id. Raises
    :class:`~tunegate.errors.DataError` naming file and line for each problem
    (up to ten at once).
    """
    questions = Path(questions_path)
    check_file(questions)
    category = bfcl_category(questions)
    problems: list[str] = []
    answers_file = Path(answers_path) if answers_path is not None else _answers_file(questions)
    answers: dict[str, tuple[int, list[Any]]] | None = None
    if answers_file is not None:
        answers = _load_answers(answers_file, problems)
    elif category not in NO_CALL_CATEGORIES:
        raise DataError(
            f"{questions}: no possible-answer file for category {category!r} "
            f"(looked for possible_answer_{questions.name} beside it); pass answers_path"
        )

    cases: list[Case] = []
    seen: dict[str, int] = {}
    for line_no, record in _records(questions, problems):
        where = f"{questions}:{line_no}"
        case_id = record["id"]
        if case_id in seen:
            problems.append(f"{where}: duplicate id {case_id!r} (first on line {seen[case_id]})")
            continue
        seen[case_id] = line_no
        case_category = _record_category(record, category, where, problems)
        messages = _messages(record, where, problems)
        functions = record.get("function")
        if not isinstance(functions, list) or not all(
            isinstance(f, dict) and isinstance(f.get("name"), str) for f in functions
        ):
            problems.append(
                f"{where}: 'function' must be a list of function descriptions with a 'name'"
            )
            continue
        if messages is None or case_category is None:
            continue
        ground_truth: list[Any] = []
        if answers is not None:
            answer = answers.get(case_id)
            if answer is None:
                problems.append(
                    f"{where}: no possible answer with id {case_id!r} in {answers_file}"
                )
                continue
            ground_truth = answer[1]
        cases.append(
            Case(
                id=case_id,
                text=next(m["content"] for m in reversed(messages) if m["role"] == "user"),
                reference=json.dumps(ground_truth, ensure_ascii=False),
                messages=tuple(messages),
                category=case_category,
                metadata={"functions": functions, "ground_truth": ground_truth},
                source=where,
            )
        )
    raise_problems(problems)
    if not cases:
        raise DataError(f"{questions}: no cases (the file is empty)")
    return cases[:limit] if limit is not None else cases


def _json_schema_type(schema: Any) -> Any:
    """A BFCL parameter schema with BFCL's Python type names mapped to JSON Schema."""
    if isinstance(schema, list):
        return [_json_schema_type(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            mapped = _JSON_TYPES.get(value, value)
            if mapped is not None:
                converted[key] = mapped
        elif key in ("properties", "$defs", "definitions") and isinstance(value, Mapping):
            converted[key] = {name: _json_schema_type(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
            converted[key] = _json_schema_type(value)
        else:
            converted[key] = value
    return converted


def to_openai_tools(
    functions: Sequence[Mapping[str, Any]], *, dots_to_underscores: bool = True
) -> list[dict[str, Any]]:
    """BFCL function descriptions as OpenAI ``tools`` (``{"type": "function", ...}``).

    BFCL's types become JSON Schema types (``dict`` -> ``object``, ``float`` ->
    ``number``, ``tuple`` -> ``array``, ``any`` -> no type). OpenAI function names
    must match ``^[a-zA-Z0-9_-]{1,64}$``, so ``dots_to_underscores`` renames
    ``math.factorial`` to ``math_factorial``; score such answers with
    ``score_tool_calls(..., dots_as_underscores=True)``.
    """
    tools: list[dict[str, Any]] = []
    for function in functions:
        name = str(function["name"])
        spec: dict[str, Any] = {"name": name.replace(".", "_") if dots_to_underscores else name}
        if "description" in function:
            spec["description"] = function["description"]
        spec["parameters"] = _json_schema_type(
            function.get("parameters", {"type": "object", "properties": {}})
        )
        tools.append({"type": "function", "function": spec})
    return tools
