"""Reading data files as text: the one JSON Lines reader every JSONL source uses, and the
checks that make an unreadable file a :class:`DataError` naming file and line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tunegate.data.values import JsonProblem, may_have_problem, parse_json, value_problem
from tunegate.errors import DataError

#: At most this many problems of a file are reported at once.
MAX_REPORTED = 10


def check_file(path: Path) -> None:
    """A :class:`DataError` for a missing path or a folder."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")


def read_lines(path: Path) -> Iterator[str]:
    """The file's lines (UTF-8, a byte order mark dropped)."""
    try:
        # utf-8-sig: files saved by Excel and some editors start with a byte order mark.
        with path.open(encoding="utf-8-sig") as fh:
            yield from fh
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a file") from None
    except UnicodeDecodeError:
        raise DataError(not_utf8(path)) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None


def read_text(path: Path) -> str:
    """The whole file as text (see :func:`read_lines`)."""
    return "".join(read_lines(path))


def not_utf8(path: Path) -> str:
    """Where the first invalid byte is (the streaming decoder only knows its chunk offset)."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return f"{path}:1: UTF-16 text (a byte order mark {raw[:2]!r}): save the file as UTF-8"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f"{path}:{line}: not UTF-8 text ({exc.reason} at byte {exc.start})"
    return f"{path}: not UTF-8 text"


def json_lines(path: Path, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each non-blank line of a JSON Lines file that holds a JSON object, with its line
    number; a line that is not one (or holds a value :func:`record_problem` refuses) adds a
    problem naming ``path:line`` and is skipped."""
    for line_no, line in enumerate(read_lines(path), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            obj = parse_json(stripped)
        except JsonProblem as exc:
            problems.append(f"{path}:{line_no}: {exc.message}")
            continue
        if not isinstance(obj, dict):
            problems.append(f"{path}:{line_no}: expected a JSON object, got {type(obj).__name__}")
            continue
        problem = record_problem(obj) if may_have_problem(stripped) else None
        if problem is not None:
            problems.append(f"{path}:{line_no}: {problem}")
            continue
        yield line_no, obj


def record_problem(record: Any) -> str | None:
    """Why a parsed record cannot be used (nested too deeply, text that is not valid
    Unicode), naming the key; None when it can."""
    found = value_problem(record)
    if found is None:
        return None
    key, message = found
    return f"field {key!r} {message}" if key else f"the record {message}"


def csv_problem(exc: Exception) -> str:
    """What a ``csv.Error`` means, in words: a field past the csv module's limit is most
    often an unclosed quote that runs on through the file."""
    text = str(exc)
    if "field larger than field limit" in text:
        limit = csv.field_size_limit()
        return (
            f"invalid CSV (a field longer than {limit:,} characters: an unclosed quote? "
            "For longer texts use JSONL)"
        )
    return f"invalid CSV ({text})"


def raise_problems(problems: list[str]) -> None:
    """Raise the first :data:`MAX_REPORTED` problems (and how many more) as one error."""
    if problems:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        tail = f"\n... and {more} more problem(s)" if more else ""
        raise DataError("\n".join(shown) + tail)
