"""Votes in and out: CSV, Label Studio (:mod:`tunegate.human.labelstudio_format`) and
Argilla 2.x JSON.

Exports show only what annotators see (the prompt, the left and right outputs in the
recorded order, the item id), never model names. Imports map left / right back to the
stored sides through the recorded order; every bad row is reported with its line (CSV)
or its position (JSON), and nothing is imported from a file holding any.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tunegate.errors import DataError
from tunegate.human.exchange_base import _Checker, _load_json, _raise_if, _read
from tunegate.human.labelstudio_format import (
    LS_CHOICES,
    export_labelstudio,
    import_labelstudio,
    import_labelstudio_tasks,
    labelstudio_config,
    read_labelstudio_users,
    users_from_list,
)
from tunegate.human.store import CHOICES, StudyItem, Vote
from tunegate.human.study import OVERALL

__all__ = [
    "FORMATS",
    "IMPORTERS",
    "LS_CHOICES",
    "export_argilla",
    "export_csv",
    "export_labelstudio",
    "format_name",
    "import_argilla",
    "import_csv_verdicts",
    "import_csv_votes",
    "import_labelstudio",
    "import_labelstudio_tasks",
    "labelstudio_config",
    "read_labelstudio_users",
    "users_from_list",
]

FORMATS = ("csv", "labelstudio", "argilla")
#: Other spellings of a format (docs/human-eval.md writes ``label-studio``).
_FORMAT_ALIASES = {"label-studio": "labelstudio", "label_studio": "labelstudio"}


def format_name(name: str) -> str:
    """The format ``name`` stands for (``label-studio`` is ``labelstudio``)."""
    return _FORMAT_ALIASES.get(name.strip().lower(), name.strip().lower())


# --------------------------------------------------------------------------- CSV


def _csv_rows(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(_read(path)))
    fields = [f.strip() for f in reader.fieldnames or []]
    missing = [f for f in required if f not in fields]
    if missing:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(missing)} (header: {', '.join(fields)})"
        )
    rows = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if any(clean.values()):
            rows.append((reader.line_num, clean))
    return rows


def import_csv_votes(
    path: Path, items: Sequence[StudyItem], annotators: Sequence[str], criteria: Sequence[str]
) -> list[Vote]:
    """Votes from ``item_id, annotator, criterion, choice`` (criterion optional: overall)."""
    check = _Checker(items, annotators, criteria)
    errors: list[str] = []
    votes = []
    for line, row in _csv_rows(path, ("item_id", "annotator", "choice")):
        vote = check.vote(
            f"{path}:{line}",
            row["item_id"],
            row["annotator"],
            row.get("criterion"),
            row["choice"],
            "csv",
            errors,
        )
        if vote is not None:
            votes.append(vote)
    _raise_if(errors, path)
    return votes


def import_csv_verdicts(path: Path, items: Sequence[StudyItem]) -> dict[str, str | None]:
    """A judge's verdicts from ``item_id, verdict``: a / b / tie (or left / right as shown);
    an empty verdict or ``error`` is a judge error (no verdict could be parsed)."""
    known = {i.item.item_id: i for i in items}
    errors: list[str] = []
    verdicts: dict[str, str | None] = {}
    for line, row in _csv_rows(path, ("item_id", "verdict")):
        item = known.get(row["item_id"])
        text = row["verdict"].lower()
        if item is None:
            errors.append(f"{path}:{line}: unknown item id {row['item_id']!r}")
        elif text in ("", "error"):
            verdicts[item.item.item_id] = None
        elif text in ("left", "right"):
            verdicts[item.item.item_id] = item.to_side(text)
        elif text in CHOICES:
            verdicts[item.item.item_id] = text
        else:
            errors.append(
                f"{path}:{line}: invalid verdict {row['verdict']!r} (a, b, tie, left, right, "
                "or empty / error for a judge error)"
            )
    _raise_if(errors, path)
    return verdicts


def export_csv(items: Sequence[StudyItem], votes: Sequence[Vote]) -> str:
    """Votes as CSV ``item_id, annotator, criterion, choice`` (choice as a / b / tie)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["item_id", "annotator", "criterion", "choice"])
    for vote in votes:
        writer.writerow([vote.item_id, vote.annotator, vote.criterion, vote.choice])
    return buffer.getvalue()


# --------------------------------------------------------------------------- Argilla 2.x

_ARGILLA_LABELS = {"response1": "left", "response2": "right", "tie": "tie"}


def export_argilla(items: Sequence[StudyItem], criteria: Sequence[str]) -> dict[str, Any]:
    """Argilla 2.x settings (fields ``prompt``, ``response1``, ``response2``; a label
    question per criterion) and records (``response1`` is the left output)."""
    settings = {
        "fields": [
            {"name": name, "type": "text", "required": True}
            for name in ("prompt", "response1", "response2")
        ],
        "questions": [
            {
                "name": crit,
                "type": "label_selection",
                "labels": list(_ARGILLA_LABELS),
                "required": crit == OVERALL,
            }
            for crit in criteria
        ],
    }
    records = [
        {
            "id": i.item.item_id,
            "fields": {
                "prompt": i.item.prompt,
                "response1": i.left_output,
                "response2": i.right_output,
            },
        }
        for i in items
    ]
    return {"settings": settings, "records": records}


def _argilla_responses(raw: Any) -> list[tuple[str, dict[str, Any]]]:
    """(question, response) pairs from ``{question: [..]}`` or ``[{question_name, ..}]``."""
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(raw, dict):
        for question, answers in raw.items():
            for answer in answers if isinstance(answers, list) else [answers]:
                if isinstance(answer, dict):
                    out.append((str(question), answer))
    elif isinstance(raw, list):
        for answer in raw:
            if isinstance(answer, dict):
                out.append((str(answer.get("question_name")), answer))
    return out


def import_argilla(
    path: Path, items: Sequence[StudyItem], annotators: Sequence[str], criteria: Sequence[str]
) -> list[Vote]:
    """Votes from exported Argilla 2.x records: ``submitted`` responses only (a response
    without a status is taken as submitted), one annotator per ``user_id``."""
    data = _load_json(path)
    records = data.get("records") if isinstance(data, dict) else data
    if not isinstance(records, list):
        raise DataError(f"{path}: expected a list of records (or an object with `records`)")
    check = _Checker(items, annotators, criteria)
    errors: list[str] = []
    votes: list[Vote] = []
    for r, record in enumerate(records):
        if not isinstance(record, dict):
            errors.append(f"{path}: records[{r}]: expected an object")
            continue
        item_id = record.get("id", record.get("external_id"))
        for question, answer in _argilla_responses(record.get("responses")):
            if answer.get("status", "submitted") != "submitted":
                continue
            value = answer.get("value")
            choice = _ARGILLA_LABELS.get(str(value), str(value))
            vote = check.vote(
                f"{path}: records[{r}] ({question})",
                item_id,
                answer.get("user_id"),
                question,
                choice,
                "argilla",
                errors,
            )
            if vote is not None:
                votes.append(vote)
    _raise_if(errors, path)
    return votes


Importer = Callable[[Path, Sequence[StudyItem], Sequence[str], Sequence[str]], list[Vote]]
IMPORTERS: dict[str, Importer] = {
    "csv": import_csv_votes,
    "labelstudio": import_labelstudio,
    "argilla": import_argilla,
}
