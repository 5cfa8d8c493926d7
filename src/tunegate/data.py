"""Test cases and the loaders that read them.

A :class:`Case` is one held-out example: an id, the input (chat messages and the
plain text of the last user turn), the reference answer, and optional category and
metadata. Loaders read OpenAI chat-format JSONL, and JSONL, CSV, JSON arrays
(``[{...}, {...}]``) or Parquet (through pyarrow) with a field map. Every error names
the file and the line (the item or row number for JSON arrays and Parquet).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tunegate.errors import DataError

Message = dict[str, str]
DataFormat = Literal["auto", "chat", "jsonl", "csv", "json", "parquet"]

_MAX_REPORTED = 10


@dataclass(frozen=True)
class Case:
    """One test case.

    ``messages`` is the conversation sent to chat models (without the reference
    assistant turn); ``text`` is the content of its last user message, used by
    backends that take plain text.
    """

    id: str
    text: str
    reference: str
    messages: tuple[Message, ...] = ()
    category: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def chat(self) -> list[Message]:
        """The input as chat messages (a single user turn when the source had none)."""
        if self.messages:
            return [dict(m) for m in self.messages]
        return [{"role": "user", "content": self.text}]


@dataclass(frozen=True)
class FieldMap:
    """Which fields of a JSONL/CSV record hold what."""

    input_field: str = "text"
    label_field: str = "label"
    category_field: str | None = "category"
    id_field: str | None = "id"


def detect_format(path: Path) -> Literal["chat", "jsonl", "csv", "json", "parquet"]:
    """Guess the format from the extension and, for JSON, the first record (a file that
    starts with ``[`` is a JSON array)."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".tsv"}:
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    for line in _read_lines(path):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("["):
            return "json"
        try:
            first = json.loads(stripped)
        except json.JSONDecodeError:
            return "jsonl"  # the loader reports the bad line
        return "chat" if isinstance(first, dict) and "messages" in first else "jsonl"
    return "jsonl"


def load_cases(
    path: str | Path,
    fmt: DataFormat = "auto",
    fields: FieldMap | None = None,
    labels: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Case]:
    """Load test cases from ``path``.

    With ``labels`` given, each reference must name one of them (compared after
    case and whitespace folding) and is replaced by the canonical label.
    Raises :class:`DataError` naming file and line for every problem found
    (up to ten at once), for an empty file and for duplicate ids.
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.is_dir():
        raise DataError(f"{p}: is a directory, expected a file")
    kind = detect_format(p) if fmt == "auto" else fmt
    fmap = fields or FieldMap()
    problems: list[str] = []
    if kind == "chat":
        records = list(_chat_records(p, problems))
    elif kind == "jsonl":
        records = list(_jsonl_records(p, fmap, problems))
    elif kind in ("json", "parquet"):
        rows = _json_array(p) if kind == "json" else _parquet_rows(p)
        records = list(_row_records(p, rows, fmap, problems, "item" if kind == "json" else "row"))
    else:
        records = list(_csv_records(p, fmap, problems))
    cases: list[Case] = []
    seen: dict[str, int] = {}
    canonical = {_fold(lab): lab for lab in labels} if labels is not None else None
    for line_no, case in records:
        if case.id in seen:
            problems.append(
                f"{p}:{line_no}: duplicate id {case.id!r} (first seen on line {seen[case.id]})"
            )
            continue
        seen[case.id] = line_no
        if canonical is not None:
            label = canonical.get(_fold(case.reference))
            if label is None:
                problems.append(
                    f"{p}:{line_no}: label {case.reference!r} is not one of the task's "
                    f"labels {list(canonical.values())}"
                )
                continue
            case = Case(
                id=case.id,
                text=case.text,
                reference=label,
                messages=case.messages,
                category=case.category,
                metadata=case.metadata,
                source=case.source,
            )
        cases.append(case)
    if problems:
        shown = problems[:_MAX_REPORTED]
        more = len(problems) - len(shown)
        tail = f"\n... and {more} more problem(s)" if more else ""
        raise DataError("\n".join(shown) + tail)
    if not cases:
        raise DataError(f"{p}: no cases (the file is empty)")
    if limit is not None:
        cases = cases[:limit]
    return cases


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _read_lines(path: Path) -> Iterator[str]:
    try:
        # utf-8-sig: files saved by Excel and some editors start with a byte order mark.
        with path.open(encoding="utf-8-sig") as fh:
            yield from fh
    except UnicodeDecodeError:
        raise DataError(_not_utf8(path)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def _not_utf8(path: Path) -> str:
    """Where the first invalid byte is (the streaming decoder only knows its chunk offset)."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})"
    return f"{path}: not UTF-8 text"


def _json_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, line in enumerate(_read_lines(path), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            problems.append(f"{path}:{line_no}: invalid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
            continue
        yield line_no, obj


def _case_id(obj: dict[str, Any], id_field: str | None, line_no: int) -> str:
    if id_field and obj.get(id_field) not in (None, ""):
        return str(obj[id_field])
    return f"line-{line_no}"


def _chat_records(path: Path, problems: list[str]) -> Iterator[tuple[int, Case]]:
    for line_no, obj in _json_lines(path, problems):
        case = _chat_case(obj, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case


def _json_array(path: Path) -> list[Any]:
    """The items of a file holding one JSON array."""
    text = "".join(_read_lines(path))
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}:{exc.lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(value, list):
        raise DataError(f"{path}: expected a JSON array of records, got {type(value).__name__}")
    return value


def _parquet_rows(path: Path) -> list[Any]:
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


def _row_records(
    path: Path, rows: Sequence[Any], fmap: FieldMap, problems: list[str], unit: str
) -> Iterator[tuple[int, Case]]:
    """Cases from records (JSON array items, Parquet rows), numbered from 1: chat records
    (with ``messages``) or records read through the field map."""
    for number, obj in enumerate(rows, start=1):
        where = f"{path}: {unit} {number}"
        if not isinstance(obj, dict):
            problems.append(f"{where}: expected an object, got {type(obj).__name__}")
            continue
        if "messages" in obj:
            case = _chat_case(obj, where, number, problems)
        else:
            case = _record_case(obj, fmap, where, number, problems)
        if case is not None:
            yield number, case


def _chat_case(obj: dict[str, Any], where: str, line_no: int, problems: list[str]) -> Case | None:
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
        id=_case_id(obj, "id", line_no),
        text=users[-1]["content"],
        reference=messages[last_assistant]["content"].strip(),
        messages=tuple(prompt),
        category=str(category) if category is not None else None,
        metadata=dict(metadata),
        source=where,
    )


def _record_case(
    rec: dict[str, Any], fmap: FieldMap, where: str, line_no: int, problems: list[str]
) -> Case | None:
    missing = [f for f in (fmap.input_field, fmap.label_field) if rec.get(f) in (None, "")]
    if missing:
        present = ", ".join(sorted(rec)) or "none"
        problems.append(f"{where}: missing field(s) {missing} (fields present: {present})")
        return None
    category = rec.get(fmap.category_field) if fmap.category_field else None
    used = {fmap.input_field, fmap.label_field, fmap.category_field, fmap.id_field}
    metadata = {k: v for k, v in rec.items() if k not in used}
    raw = rec[fmap.label_field]
    if isinstance(raw, list) and raw and all(isinstance(x, str) and x.strip() for x in raw):
        # Several acceptable references: the first is shown, all are scored against.
        metadata["references"] = [x.strip() for x in raw]
        reference = raw[0].strip()
    elif isinstance(raw, (dict, list)):
        reference = json.dumps(raw, ensure_ascii=False)  # an expected JSON value
    else:
        reference = str(raw).strip()
    return Case(
        id=_case_id(rec, fmap.id_field, line_no),
        text=str(rec[fmap.input_field]),
        reference=reference,
        category=str(category) if category not in (None, "") else None,
        metadata=metadata,
        source=where,
    )


def _jsonl_records(path: Path, fmap: FieldMap, problems: list[str]) -> Iterator[tuple[int, Case]]:
    for line_no, obj in _json_lines(path, problems):
        case = _record_case(obj, fmap, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case


def _csv_records(path: Path, fmap: FieldMap, problems: list[str]) -> Iterator[tuple[int, Case]]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = list(_read_lines(path))
    reader = csv.DictReader(lines, delimiter=delimiter)
    header = reader.fieldnames or []
    if not header:
        return  # an empty file: load_cases reports "no cases"
    for needed in (fmap.input_field, fmap.label_field):
        if needed not in header:
            raise DataError(
                f"{path}:1: no column {needed!r} in the header (columns: {', '.join(header)})"
            )
    for row in reader:
        line_no = reader.line_num
        if None in row:
            problems.append(f"{path}:{line_no}: more values than header columns")
            continue
        case = _record_case(dict(row), fmap, f"{path}:{line_no}", line_no, problems)
        if case is not None:
            yield line_no, case
