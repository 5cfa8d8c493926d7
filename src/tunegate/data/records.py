"""One record (a JSON object, a CSV or Parquet row) into a :class:`Case`: a chat record
(``messages``) or a record read through a :class:`FieldMap`."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tunegate.data.case import Case, FieldMap
from tunegate.data.lines import record_problem


def case_id(obj: dict[str, Any], id_field: str | None, line_no: int) -> str:
    if id_field and obj.get(id_field) not in (None, ""):
        return str(obj[id_field])
    return f"line-{line_no}"


def row_records(
    path: Path, rows: Sequence[Any], fmap: FieldMap, problems: list[str], unit: str
) -> Iterator[tuple[int, Case]]:
    """Cases from records (JSON array items, Parquet rows), numbered from 1: chat records
    (with ``messages``) or records read through the field map."""
    for number, obj in enumerate(rows, start=1):
        where = f"{path}: {unit} {number}"
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected an object, got {type(obj).__name__}")
            continue
        problem = record_problem(obj)
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        if "messages" in obj:
            case = chat_case(obj, where, number, problems)
        else:
            case = record_case(obj, fmap, where, number, problems)
        if case is not None:
            yield number, case


def chat_case(obj: dict[str, Any], where: str, line_no: int, problems: list[str]) -> Case | None:
    """A case from one chat record (``messages``, the last assistant turn the reference)."""
    messages = obj.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append(f"{where}: 'messages' must be a non-empty list")
        return None
    bad = next(
        (
            i
            for i, m in enumerate(messages)
            if not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ),
        None,
    )
    if bad is not None:
        problems.append(f"{where}: messages[{bad}] needs a string 'role' and 'content'")
        return None
    last_assistant = max(
        (i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None
    )
    if last_assistant is None:
        problems.append(f"{where}: no assistant message (the reference answer)")
        return None
    prompt = [{"role": m["role"], "content": m["content"]} for m in messages[:last_assistant]]
    users = [m for m in prompt if m["role"] == "user"]
    if not users:
        problems.append(f"{where}: no user message before the assistant message")
        return None
    category = obj.get("category")
    raw_meta = obj.get("metadata")
    metadata: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    return Case(
        id=case_id(obj, "id", line_no),
        text=users[-1]["content"],
        reference=messages[last_assistant]["content"].strip(),
        messages=tuple(prompt),
        category=str(category) if category is not None else None,
        metadata=dict(metadata),
        source=where,
    )


def record_case(
    rec: dict[str, Any], fmap: FieldMap, where: str, line_no: int, problems: list[str]
) -> Case | None:
    label = fmap.label_field
    unread = not fmap.label_required and rec.get(label) in (None, "")
    found = _field_problems(rec, fmap.input_field, fmap.input_field if unread else label)
    if found:
        problems.append(f"{where}: {found}")
        return None
    category = rec.get(fmap.category_field) if fmap.category_field else None
    used = {fmap.input_field, fmap.label_field, fmap.category_field, fmap.id_field}
    metadata = {k: v for k, v in rec.items() if k not in used}
    raw = "" if unread else rec[label]
    if isinstance(raw, list) and raw and all(isinstance(x, str) and x.strip() for x in raw):
        # Several acceptable references: the first is shown, all are scored against.
        metadata["references"] = [x.strip() for x in raw]
        reference = raw[0].strip()
    elif isinstance(raw, (dict, list)):
        reference = json.dumps(raw, ensure_ascii=False)  # an expected JSON value
    else:
        reference = str(raw).strip()
    return Case(
        id=case_id(rec, fmap.id_field, line_no),
        text=str(rec[fmap.input_field]),
        reference=reference,
        category=str(category) if category not in (None, "") else None,
        metadata=metadata,
        source=where,
    )


def _field_problems(rec: dict[str, Any], text_field: str, label_field: str) -> str | None:
    """Why ``rec`` lacks its input or its label: a field absent (naming the fields it has),
    null, or empty (a label of only spaces is empty too); None when both have a value."""
    missing = [f for f in dict.fromkeys((text_field, label_field)) if f not in rec]
    said = []
    if missing:
        present = ", ".join(sorted(str(k) for k in rec)) or "none"
        said.append(f"missing field(s) {missing} (fields present: {present})")
    for name in dict.fromkeys((text_field, label_field)):
        value = rec.get(name, 0)
        if value is None:
            said.append(f"field {name!r} is null")
        elif value == "" or (name == label_field and isinstance(value, str) and not value.strip()):
            said.append(f"field {name!r} is empty")
    return "; ".join(said) or None
