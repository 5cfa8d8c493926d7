"""Votes in and out: CSV, Label Studio (pairwise) and Argilla 2.x JSON.

Exports show only what annotators see (the prompt, the left and right outputs in the
recorded order, the item id), never model names. Imports map left / right back to the
stored sides through the recorded order; every bad row is reported with its line (CSV)
or its position (JSON), and nothing is imported from a file holding any.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from tunegate.errors import DataError
from tunegate.human.store import CHOICES, VOTE_CHOICES, StudyItem, Vote
from tunegate.human.study import OVERALL

FORMATS = ("csv", "labelstudio", "argilla")
#: Other spellings of a format (docs/human-eval.md writes ``label-studio``).
_FORMAT_ALIASES = {"label-studio": "labelstudio", "label_studio": "labelstudio"}


def format_name(name: str) -> str:
    """The format ``name`` stands for (``label-studio`` is ``labelstudio``)."""
    return _FORMAT_ALIASES.get(name.strip().lower(), name.strip().lower())


_MAX_SHOWN = 20


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None


def _raise_if(errors: list[str], path: Path) -> None:
    if errors:
        shown = "\n  ".join(errors[:_MAX_SHOWN])
        more = f"\n  ... and {len(errors) - _MAX_SHOWN} more" if len(errors) > _MAX_SHOWN else ""
        raise DataError(f"{path}: {len(errors)} invalid row(s), nothing imported:\n  {shown}{more}")


#: How people write the two choices that are not a preference.
_SPELLED = {"both bad": "both_bad", "can't judge": "skip", "cant_judge": "skip"}


class _Checker:
    """Validates item ids, annotators, criteria and choices against a study."""

    def __init__(
        self, items: Sequence[StudyItem], annotators: Sequence[str], criteria: Sequence[str]
    ) -> None:
        self.items = {i.item.item_id: i for i in items}
        self.annotators = set(annotators)
        self.criteria = list(criteria)

    def vote(
        self,
        where: str,
        item_id: Any,
        annotator: Any,
        criterion: Any,
        choice: Any,
        source: str,
        errors: list[str],
    ) -> Vote | None:
        item = self.items.get(str(item_id)) if item_id is not None else None
        problems = []
        if item is None:
            problems.append(f"unknown item id {item_id!r}")
        if str(annotator) not in self.annotators:
            problems.append(f"unknown annotator {annotator!r}")
        crit = str(criterion or OVERALL)
        if crit not in self.criteria:
            problems.append(
                f"unknown criterion {crit!r} (study criteria: {', '.join(self.criteria)})"
            )
        text = str(choice or "").strip().lower()
        text = _SPELLED.get(text, text)
        if text not in ("left", "right", *VOTE_CHOICES):
            problems.append(f"invalid choice {choice!r} (left, right, tie, a, b, both_bad or skip)")
        if problems or item is None:
            errors.append(f"{where}: {'; '.join(problems)}")
            return None
        side = item.to_side(text) if text in ("left", "right") else text
        return Vote(str(annotator), item.item.item_id, crit, side, item.left_side, source)


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


# --------------------------------------------------------------------------- Label Studio


def labelstudio_config(criteria: Sequence[str]) -> str:
    """The labeling config: the prompt, the two texts, a ``<Pairwise>`` and a tie choice
    per criterion."""
    parts = [
        "<View>",
        '  <Text name="prompt" value="$prompt"/>',
        '  <Text name="left" value="$left"/>',
        '  <Text name="right" value="$right"/>',
    ]
    for crit in criteria:
        parts.append(f"  <Header value={quoteattr(crit)}/>")
        parts.append(f'  <Pairwise name={quoteattr(crit)} toName="left,right"/>')
        parts.append(
            f'  <Choices name={quoteattr(crit + "_tie")} toName="left" choice="single">'
            '<Choice value="Tie"/></Choices>'
        )
    parts.append("</View>")
    return "\n".join(parts)


def export_labelstudio(items: Sequence[StudyItem], criteria: Sequence[str]) -> dict[str, Any]:
    """``{"label_config": ..., "tasks": [...]}``; each task's data holds the item id, the
    prompt and the outputs in the recorded left / right order."""
    tasks = [
        {
            "data": {
                "item_id": i.item.item_id,
                "prompt": i.item.prompt,
                "left": i.left_output,
                "right": i.right_output,
            }
        }
        for i in items
    ]
    return {"label_config": labelstudio_config(criteria), "tasks": tasks}


def _ls_annotator(value: Any, users: Mapping[str, str] | None = None) -> str:
    """The annotator of ``completed_by``: an expanded user's email (or username), else the
    user id, mapped through ``users`` (id -> email) when given."""
    if isinstance(value, Mapping):
        for key in ("email", "username"):
            if value.get(key) is not None:
                return str(value[key])
        value = value.get("id")
    if users is not None and str(value) in users:
        return users[str(value)]
    return str(value)


def read_labelstudio_users(path: Path) -> dict[str, str]:
    """User id -> email (else username) from Label Studio's user list: the JSON of
    ``GET /api/users`` (a list, or a page with ``results``)."""
    data = _load_json(path)
    rows = data.get("results") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise DataError(f"{path}: expected Label Studio's user list (GET /api/users)")
    users: dict[str, str] = {}
    for i, row in enumerate(rows):
        who = row.get("email") or row.get("username") if isinstance(row, dict) else None
        if not isinstance(row, dict) or row.get("id") is None or not who:
            raise DataError(f"{path}: [{i}]: expected an object with `id` and `email`")
        users[str(row["id"])] = str(who)
    return users


def _load_json(path: Path) -> Any:
    try:
        return json.loads(_read(path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None


def import_labelstudio(
    path: Path,
    items: Sequence[StudyItem],
    annotators: Sequence[str],
    criteria: Sequence[str],
    users: Mapping[str, str] | None = None,
) -> list[Vote]:
    """Votes from a Label Studio JSON export (``annotations[].result[]``: ``pairwise`` with
    ``value.selected`` left / right, the ``<criterion>_tie`` choice for a tie; the
    annotator from ``completed_by``: an expanded user's email, or a user id mapped through
    ``users``, :func:`read_labelstudio_users`). Cancelled annotations are skipped. A
    criterion given both a side and Tie, and a task annotated twice by one person, are
    errors (nothing is imported), never silently one of them."""
    data = _load_json(path)
    tasks = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(tasks, list):
        raise DataError(f"{path}: expected a list of tasks (Label Studio's JSON export)")
    check = _Checker(items, annotators, criteria)
    errors: list[str] = []
    votes: list[Vote] = []
    seen: dict[tuple[str, str], str] = {}  # (item, annotator) -> the annotation's place
    unmapped: set[str] = set()  # user ids that are no annotator
    for t, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            errors.append(f"{path}: tasks[{t}]: expected an object with `data`")
            continue
        item_id = task["data"].get("item_id")
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            errors.append(f"{path}: tasks[{t}].annotations: expected a list")
            continue
        for a, ann in enumerate(annotations):
            where = f"{path}: tasks[{t}].annotations[{a}]"
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue
            results = ann.get("result") or []
            if not isinstance(results, list):
                errors.append(f"{where}.result: expected a list")
                continue
            sides: dict[str, str] = {}
            ties: set[str] = set()
            for r, res in enumerate(results):
                value = res.get("value") if isinstance(res, dict) else None
                if not isinstance(value, dict):
                    errors.append(f"{where}.result[{r}]: expected an object with `value`")
                    continue
                name = str(res.get("from_name") or OVERALL)
                if res.get("type") == "pairwise":
                    side = str(value.get("selected"))
                    if sides.setdefault(name, side) != side:
                        errors.append(
                            f"{where}: criterion {name!r} chosen twice ({sides[name]}, {side})"
                        )
                elif (
                    res.get("type") == "choices"
                    and name.endswith("_tie")
                    and isinstance(value.get("choices"), list)
                    and "Tie" in value["choices"]
                ):
                    ties.add(name[: -len("_tie")])
            for crit in sorted(ties & set(sides)):
                errors.append(
                    f"{where}: criterion {crit!r} has both a side ({sides[crit]}) and Tie"
                )
            chosen = {**sides, **dict.fromkeys(ties - set(sides), "tie")}
            raw = ann.get("completed_by")
            annotator = _ls_annotator(raw, users)
            if annotator not in check.annotators and (isinstance(raw, int) or str(raw).isdigit()):
                unmapped.add(str(raw))
            if chosen:
                key = (str(item_id), annotator)
                if key in seen:
                    errors.append(f"{where}: {annotator} annotated this task before ({seen[key]})")
                    continue
                seen[key] = f"annotations[{a}]"
            for crit, choice in chosen.items():
                vote = check.vote(where, item_id, annotator, crit, choice, "labelstudio", errors)
                if vote is not None:
                    votes.append(vote)
    try:
        _raise_if(errors, path)
    except DataError as exc:
        if not unmapped:
            raise
        ids = ", ".join(sorted(unmapped, key=lambda x: (len(x), x)))
        hint = (
            f"no annotator of the study for Label Studio user id(s) {ids} in the users file"
            if users is not None
            else f"completed_by holds Label Studio user ids ({ids}): pass --users FILE, "
            "Label Studio's user list (GET /api/users), to map them to the annotators' emails"
        )
        raise DataError(f"{exc}\n{hint}") from None
    return votes


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
