"""Label Studio: the labeling config, the tasks, and votes from its JSON export.

The config shows the prompt and the two answers next to each other and asks one
``<Choices>`` per criterion, so that every criterion is recorded from the labeling page.
Exports from the earlier config (a ``<Pairwise>`` and a ``<criterion>_tie`` choice per
criterion) still import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from tunegate.errors import DataError
from tunegate.human.exchange_base import _Checker, _load_json, _raise_if
from tunegate.human.store import StudyItem, Vote
from tunegate.human.study import OVERALL

#: The choices of each criterion in the labeling config: (shown, alias). The alias is what
#: Label Studio writes into the result; the importer reads either.
LS_CHOICES = (
    ("A", "left"),
    ("B", "right"),
    ("Tie", "tie"),
    ("Both bad", "both_bad"),
    ("Can't judge", "skip"),
)
#: A choice as Label Studio may write it -> the choice tunegate reads (left / right as shown).
_LS_CHOICE = {
    **{shown.lower(): alias for shown, alias in LS_CHOICES},
    **{alias: alias for _, alias in LS_CHOICES},
}

#: The answers' row: next to each other, stacked when there is no room for two columns.
_LS_ROW = "display: flex; flex-wrap: wrap; gap: 12px; align-items: stretch"
_LS_ANSWER = (
    "flex: 1 1 320px; min-width: 0; border: 1px solid #d0d7de; border-radius: 6px; "
    "padding: 4px 12px"
)


def labelstudio_config(criteria: Sequence[str]) -> str:
    """The labeling config: the prompt, the two answers next to each other (stacked on a
    narrow screen, so they are named A and B, never left and right), and one
    ``<Choices>`` per criterion (A, B, Tie, Both bad, Can't judge): every criterion is
    recorded from the labeling page, each as its own result."""
    parts = [
        "<View>",
        '  <Header value="Prompt"/>',
        '  <Text name="prompt" value="$prompt"/>',
        f'  <View style="{_LS_ROW}">',
        f'    <View style="{_LS_ANSWER}">',
        '      <Header value="Answer A" size="4"/>',
        '      <Text name="left" value="$left"/>',
        "    </View>",
        f'    <View style="{_LS_ANSWER}">',
        '      <Header value="Answer B" size="4"/>',
        '      <Text name="right" value="$right"/>',
        "    </View>",
        "  </View>",
    ]
    for crit in criteria:
        title = (
            "Which answer is better overall?" if crit == OVERALL else f"{crit}: which is better?"
        )
        parts.append(f'  <Header value={quoteattr(title)} size="5"/>')
        parts.append(
            f'  <Choices name={quoteattr(crit)} toName="prompt" choice="single-radio" '
            'showInline="true" required="true">'
        )
        for shown, alias in LS_CHOICES:
            parts.append(f"    <Choice value={quoteattr(shown)} alias={quoteattr(alias)}/>")
        parts.append("  </Choices>")
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


def users_from_list(data: Any, where: str) -> dict[str, str]:
    """User id -> email (else username) from Label Studio's user list (a list, or a page
    with ``results``), as ``GET /api/users`` answers."""
    rows = data.get("results") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise DataError(f"{where}: expected Label Studio's user list (GET /api/users)")
    users: dict[str, str] = {}
    for i, row in enumerate(rows):
        who = row.get("email") or row.get("username") if isinstance(row, dict) else None
        if not isinstance(row, dict) or row.get("id") is None or not who:
            raise DataError(f"{where}: [{i}]: expected an object with `id` and `email`")
        users[str(row["id"])] = str(who)
    return users


def read_labelstudio_users(path: Path) -> dict[str, str]:
    """:func:`users_from_list` of a file holding the JSON of ``GET /api/users``."""
    return users_from_list(_load_json(path), str(path))


def _chosen(results: list[Any], where: str, errors: list[str]) -> dict[str, str]:
    """Criterion -> choice (left / right as shown, tie, both_bad, skip) of one annotation's
    results: a ``choices`` result named after the criterion (this config), or the earlier
    config's ``pairwise`` result and ``<criterion>_tie`` choice. A criterion given two
    different answers is an error, never one of them."""
    chosen: dict[str, str] = {}
    ties: set[str] = set()  # the earlier config's Tie boxes
    for r, res in enumerate(results):
        value = res.get("value") if isinstance(res, dict) else None
        if not isinstance(value, dict):
            errors.append(f"{where}.result[{r}]: expected an object with `value`")
            continue
        name = str(res.get("from_name") or OVERALL)
        kind = res.get("type")
        picked = value.get("choices")
        if kind == "pairwise":
            choice = str(value.get("selected"))
        elif kind == "choices" and name.endswith("_tie"):
            if isinstance(picked, list) and "Tie" in picked:
                ties.add(name[: -len("_tie")])
            continue
        elif kind == "choices":
            if not isinstance(picked, list) or len(picked) != 1:
                errors.append(
                    f"{where}.result[{r}]: criterion {name!r}: expected one choice, got {picked!r}"
                )
                continue
            choice = _LS_CHOICE.get(str(picked[0]).strip().lower(), str(picked[0]))
        else:
            continue
        if chosen.setdefault(name, choice) != choice:
            errors.append(f"{where}: criterion {name!r} chosen twice ({chosen[name]}, {choice})")
    for crit in sorted(ties):
        if crit in chosen:
            errors.append(f"{where}: criterion {crit!r} has both a side ({chosen[crit]}) and Tie")
        else:
            chosen[crit] = "tie"
    return chosen


def import_labelstudio(
    path: Path,
    items: Sequence[StudyItem],
    annotators: Sequence[str],
    criteria: Sequence[str],
    users: Mapping[str, str] | None = None,
) -> list[Vote]:
    """Votes from a Label Studio JSON export file: :func:`import_labelstudio_tasks`."""
    return import_labelstudio_tasks(_load_json(path), str(path), items, annotators, criteria, users)


def import_labelstudio_tasks(
    data: Any,
    where: str,
    items: Sequence[StudyItem],
    annotators: Sequence[str],
    criteria: Sequence[str],
    users: Mapping[str, str] | None = None,
) -> list[Vote]:
    """Votes from Label Studio's JSON export (``annotations[].result[]``: a ``choices``
    result per criterion, A / B / Tie / Both bad / Can't judge, or the earlier config's
    ``pairwise`` and ``<criterion>_tie``); ``where`` names the source in errors. The
    annotator is ``completed_by``: an expanded user's email, or a user id mapped through
    ``users`` (:func:`users_from_list`). Cancelled annotations are skipped. A criterion
    given two answers, and a task annotated twice by one person, are errors (nothing is
    imported), never silently one of them."""
    tasks = data.get("tasks") if isinstance(data, dict) else data
    if not isinstance(tasks, list):
        raise DataError(f"{where}: expected a list of tasks (Label Studio's JSON export)")
    check = _Checker(items, annotators, criteria)
    errors: list[str] = []
    votes: list[Vote] = []
    seen: dict[tuple[str, str], str] = {}  # (item, annotator) -> the annotation's place
    unmapped: set[str] = set()  # user ids that are no annotator
    for t, task in enumerate(tasks):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            errors.append(f"{where}: tasks[{t}]: expected an object with `data`")
            continue
        item_id = task["data"].get("item_id")
        annotations = task.get("annotations") or []
        if not isinstance(annotations, list):
            errors.append(f"{where}: tasks[{t}].annotations: expected a list")
            continue
        for a, ann in enumerate(annotations):
            place = f"{where}: tasks[{t}].annotations[{a}]"
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue
            results = ann.get("result") or []
            if not isinstance(results, list):
                errors.append(f"{place}.result: expected a list")
                continue
            chosen = _chosen(results, place, errors)
            raw = ann.get("completed_by")
            annotator = _ls_annotator(raw, users)
            if annotator not in check.annotators and (isinstance(raw, int) or str(raw).isdigit()):
                unmapped.add(str(raw))
            if chosen:
                key = (str(item_id), annotator)
                if key in seen:
                    errors.append(f"{place}: {annotator} annotated this task before ({seen[key]})")
                    continue
                seen[key] = f"annotations[{a}]"
            for crit, choice in chosen.items():
                vote = check.vote(place, item_id, annotator, crit, choice, "labelstudio", errors)
                if vote is not None:
                    votes.append(vote)
    try:
        _raise_if(errors, where)
    except DataError as exc:
        if not unmapped:
            raise
        ids = ", ".join(sorted(unmapped, key=lambda x: (len(x), x)))
        hint = (
            f"no annotator of the study for Label Studio user id(s) {ids} in the users list"
            if users is not None
            else f"completed_by holds Label Studio user ids ({ids}): pass --users FILE, "
            "Label Studio's user list (GET /api/users), to map them to the annotators' emails"
        )
        raise DataError(f"{exc}\n{hint}") from None
    return votes
