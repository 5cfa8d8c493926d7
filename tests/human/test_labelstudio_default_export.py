"""Label Studio's default export imports (issue 25): ``completed_by`` is a user id there,
mapped to the study's annotators through Label Studio's user list (``--users``); the
documented ``--format label-studio`` spelling is accepted; a criterion with both a side
and Tie, and a task annotated twice by one person, are refused instead of stored as
something else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.errors import DataError
from tunegate.human.exchange import import_labelstudio, read_labelstudio_users
from tunegate.human.store import HumanStore, StudyItem
from tunegate.human.study import PairItem

CRITERIA = ["correctness", "overall"]
ANNOTATORS = ["ann@example.org", "bob@example.org"]
#: Label Studio's GET /api/users (the fields its API returns; trimmed).
USERS = [
    {"id": 1, "first_name": "", "last_name": "", "username": "ann", "email": "ann@example.org"},
    {"id": 2, "first_name": "", "last_name": "", "username": "bob", "email": "bob@example.org"},
]


def _items() -> list[StudyItem]:
    out = []
    for k, left in enumerate(("a", "b")):
        pair = PairItem(f"t{k}", f"prompt {k}", f"A{k}", f"B{k}", "cand", "base", None)
        out.append(StudyItem(pair, k, left, pair.cluster))
    return out


def _pick(name: str, side: str) -> dict[str, Any]:
    return {
        "id": f"r-{name}",
        "from_name": name,
        "to_name": "left,right",
        "type": "pairwise",
        "origin": "manual",
        "value": {"selected": side},
    }


def _tie(name: str) -> dict[str, Any]:
    return {
        "from_name": f"{name}_tie",
        "to_name": "left",
        "type": "choices",
        "origin": "manual",
        "value": {"choices": ["Tie"]},
    }


def _annotation(user: int, result: list[dict[str, Any]], n: int = 1) -> dict[str, Any]:
    """One annotation as the default export writes it: ``completed_by`` is the user id."""
    return {
        "id": n,
        "completed_by": user,
        "result": result,
        "was_cancelled": False,
        "ground_truth": False,
        "lead_time": 3.2,
        "task": 1,
        "project": 1,
    }


def _export(tmp_path: Path, tasks: list[dict[str, Any]]) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def _default_export() -> list[dict[str, Any]]:
    return [
        {
            "id": 1,
            "data": {"item_id": "t0", "prompt": "p", "left": "A0", "right": "B0"},
            "annotations": [
                _annotation(1, [_pick("overall", "left"), _pick("correctness", "right")]),
                _annotation(2, [_tie("overall"), _pick("correctness", "right")], 2),
            ],
        },
        {
            "id": 2,
            "data": {"item_id": "t1", "prompt": "p", "left": "B1", "right": "A1"},
            "annotations": [_annotation(2, [_pick("overall", "left")], 3)],
        },
    ]


def test_user_ids_map_to_annotators_through_the_user_list(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(json.dumps(USERS))
    users = read_labelstudio_users(users_file)
    assert users == {"1": "ann@example.org", "2": "bob@example.org"}
    votes = import_labelstudio(
        _export(tmp_path, _default_export()), _items(), ANNOTATORS, CRITERIA, users
    )
    got = {(v.annotator, v.item_id, v.criterion): v.choice for v in votes}
    assert got == {
        ("ann@example.org", "t0", "overall"): "a",
        ("ann@example.org", "t0", "correctness"): "b",
        ("bob@example.org", "t0", "overall"): "tie",
        ("bob@example.org", "t0", "correctness"): "b",
        ("bob@example.org", "t1", "overall"): "b",  # t1 shows b on the left
    }
    # A paginated user list ({"results": [...]}) reads the same.
    users_file.write_text(json.dumps({"count": 2, "results": USERS}))
    assert read_labelstudio_users(users_file) == users


def test_user_ids_without_a_user_list_are_refused_with_the_way_out(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        import_labelstudio(_export(tmp_path, _default_export()), _items(), ANNOTATORS, CRITERIA)
    text = str(info.value)
    assert "nothing imported" in text
    assert "unknown annotator '1'" in text
    assert "completed_by holds Label Studio user ids (1, 2): pass --users FILE" in text


def test_a_side_and_tie_for_one_criterion_is_refused(tmp_path: Path) -> None:
    tasks = _default_export()
    tasks[0]["annotations"][0]["result"].append(_tie("overall"))
    users = {"1": "ann@example.org", "2": "bob@example.org"}
    with pytest.raises(DataError, match=r"criterion 'overall' has both a side \(left\) and Tie"):
        import_labelstudio(_export(tmp_path, tasks), _items(), ANNOTATORS, CRITERIA, users)


def test_two_annotations_of_one_person_on_one_task_are_refused(tmp_path: Path) -> None:
    tasks = _default_export()
    tasks[1]["annotations"].append(_annotation(2, [_pick("overall", "right")], 4))
    users = {"1": "ann@example.org", "2": "bob@example.org"}
    with pytest.raises(DataError) as info:
        import_labelstudio(_export(tmp_path, tasks), _items(), ANNOTATORS, CRITERIA, users)
    assert (
        "tasks[1].annotations[1]: bob@example.org annotated this task before (annotations[0])"
        in str(info.value)
    )
    # A cancelled second annotation is no vote and no duplicate.
    tasks[1]["annotations"][1]["was_cancelled"] = True
    votes = import_labelstudio(_export(tmp_path, tasks), _items(), ANNOTATORS, CRITERIA, users)
    assert len(votes) == 5


def test_cli_imports_the_default_export_with_label_studio_spelled_out(tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"t{k}",
                    "prompt": f"prompt {k}",
                    "output_a": f"A{k}",
                    "output_b": f"B{k}",
                    "model_a": "cand",
                    "model_b": "base",
                }
            )
            + "\n"
            for k in range(2)
        )
    )
    runner = CliRunner()
    create = ["human", "create", "--pairs", str(pairs), "--annotators", ",".join(ANNOTATORS)]
    create += ["--overlap", "2", "--criteria", ",".join(CRITERIA), "--name", "ls", "--store", store]
    created = runner.invoke(app, create)
    assert created.exit_code == 0, created.output
    with HumanStore(store) as hs:
        left = {i.item.item_id: i.left_side for i in hs.items("ls")}
    tasks = _default_export()
    # Show each person's choice the way this study laid the pair out.
    for task in tasks:
        if left[task["data"]["item_id"]] == "b":
            for ann in task["annotations"]:
                for res in ann["result"]:
                    if res["type"] == "pairwise":
                        flip = {"left": "right", "right": "left"}
                        res["value"]["selected"] = flip[res["value"]["selected"]]
    export = _export(tmp_path, tasks)
    users = tmp_path / "users.json"
    users.write_text(json.dumps(USERS))
    args = ["human", "import", "ls", str(export), "--format", "label-studio", "--store", store]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "pass --users FILE" in refused.output
    with HumanStore(store) as hs:
        assert hs.votes("ls") == []
    imported = runner.invoke(app, [*args, "--users", str(users)])
    assert imported.exit_code == 0, imported.output
    assert "Imported 5 votes into study ls" in imported.output
    with HumanStore(store) as hs:
        stored = {(v.annotator, v.item_id, v.criterion): v.choice for v in hs.votes("ls")}
    assert len(stored) == 5
    assert stored[("ann@example.org", "t0", "overall")] == "a"
    assert stored[("bob@example.org", "t0", "overall")] == "tie"
    wrong = runner.invoke(app, [*args[:-2], "--format", "csv", "--users", str(users)])
    assert wrong.exit_code == 2
