"""The Label Studio labeling config records every criterion (issue 25): one ``<Choices>``
per criterion, the two answers in one flex row, named A and B (they stack on a narrow
screen, so never "left" / "right"), and the importer reads those choices, as aliases or as
shown, next to exports of the earlier ``<Pairwise>`` config."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tunegate.errors import DataError
from tunegate.human.exchange import export_labelstudio, import_labelstudio
from tunegate.human.store import StudyItem
from tunegate.human.study import PairItem

CRITERIA = ["correctness", "style", "overall"]


def _items() -> list[StudyItem]:
    out = []
    for k, left in enumerate(("a", "b")):
        pair = PairItem(f"t{k}", f"prompt {k}", f"A{k}", f"B{k}", "cand", "base", None)
        out.append(StudyItem(pair, k, left, pair.cluster))
    return out


def test_config_has_one_choices_per_criterion_and_the_answers_side_by_side() -> None:
    config = ET.fromstring(export_labelstudio(_items(), CRITERIA)["label_config"])
    choices = config.findall(".//Choices")
    assert [c.get("name") for c in choices] == CRITERIA
    for c in choices:
        assert c.get("choice") == "single-radio"
        assert c.get("toName") == "prompt"
        assert [(x.get("value"), x.get("alias")) for x in c.findall("Choice")] == [
            ("A", "left"),
            ("B", "right"),
            ("Tie", "tie"),
            ("Both bad", "both_bad"),
            ("Can't judge", "skip"),
        ]
    assert config.find(".//Pairwise") is None  # it could hold one criterion only
    texts = {t.get("name"): t for t in config.iter("Text")}
    assert texts["left"].get("value") == "$left"
    assert texts["right"].get("value") == "$right"
    # Both answers sit in one row laid out by flexbox, each in its own column.
    rows = [v for v in config.iter("View") if "display: flex" in (v.get("style") or "")]
    assert len(rows) == 1
    columns = rows[0].findall("View")
    assert [[t.get("name") for t in col.iter("Text")] for col in columns] == [["left"], ["right"]]
    assert [col.find("Header").get("value") for col in columns] == ["Answer A", "Answer B"]  # type: ignore[union-attr]
    shown = " ".join(h.get("value") or "" for h in config.iter("Header")).lower()
    assert "left" not in shown
    assert "right" not in shown


def _choice(name: str, *picked: str) -> dict[str, Any]:
    return {
        "from_name": name,
        "to_name": "prompt",
        "type": "choices",
        "origin": "manual",
        "value": {"choices": list(picked)},
    }


def _write(tmp_path: Path, results: list[list[dict[str, Any]]]) -> Path:
    tasks = [
        {
            "id": k + 1,
            "data": {"item_id": f"t{k}"},
            "annotations": [{"id": k + 1, "completed_by": 1, "result": result}],
        }
        for k, result in enumerate(results)
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks))
    return path


def test_every_criterion_is_read_from_its_choices(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            # as Label Studio writes them (the aliases)
            [_choice("correctness", "left"), _choice("style", "tie"), _choice("overall", "right")],
            # as shown (a config edited without aliases); t1 shows b on the left
            [_choice("correctness", "A"), _choice("style", "Both bad"), _choice("overall", "B")],
        ],
    )
    votes = import_labelstudio(path, _items(), ["ann"], CRITERIA, {"1": "ann"})
    got = {(v.item_id, v.criterion): v.choice for v in votes}
    assert got == {
        ("t0", "correctness"): "a",
        ("t0", "style"): "tie",
        ("t0", "overall"): "b",
        ("t1", "correctness"): "b",
        ("t1", "style"): "both_bad",
        ("t1", "overall"): "a",
    }
    skip = _write(tmp_path, [[_choice("overall", "Can't judge")], [_choice("overall", "skip")]])
    assert {
        v.choice for v in import_labelstudio(skip, _items(), ["ann"], CRITERIA, {"1": "ann"})
    } == {"skip"}


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([_choice("overall", "left", "right")], "criterion 'overall': expected one choice"),
        ([_choice("overall", "left"), _choice("overall", "tie")], "chosen twice (left, tie)"),
        ([_choice("overall", "maybe")], "invalid choice 'maybe'"),
        ([_choice("speed", "left")], "unknown criterion 'speed'"),
    ],
)
def test_an_answer_that_is_not_one_choice_is_refused(
    tmp_path: Path, result: list[dict[str, Any]], message: str
) -> None:
    path = _write(tmp_path, [[_choice("correctness", "left")], result])
    with pytest.raises(DataError, match="nothing imported") as info:
        import_labelstudio(path, _items(), ["ann"], CRITERIA, {"1": "ann"})
    assert "tasks[1].annotations[0]" in str(info.value)
    assert message in str(info.value)
