"""Label Studio and Argilla 2.x exchange: what is exported, what is imported, what is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunegate.errors import DataError
from tunegate.human.exchange import (
    export_argilla,
    export_labelstudio,
    import_argilla,
    import_csv_votes,
    import_labelstudio,
)
from tunegate.human.store import StudyItem
from tunegate.human.study import PairItem

CRITERIA = ["safety", "overall"]


def items() -> list[StudyItem]:
    out = []
    for k, left in enumerate(("a", "b", "a")):
        pair = PairItem(f"t{k}", f"prompt {k}", f"A{k}", f"B{k}", "cand-model", "base-model", None)
        out.append(StudyItem(pair, k, left, pair.cluster))
    return out


def test_labelstudio_export_is_blind_and_in_recorded_order() -> None:
    exported = export_labelstudio(items(), CRITERIA)
    config = exported["label_config"]
    assert '<Choices name="overall" toName="prompt"' in config
    assert '<Choices name="safety" toName="prompt"' in config
    assert "<Pairwise" not in config
    assert [t["data"]["left"] for t in exported["tasks"]] == ["A0", "B1", "A2"]
    assert "model" not in json.dumps(exported["tasks"])


def test_labelstudio_import(tmp_path: Path) -> None:
    def ann(
        who: object, result: list[dict[str, object]], cancelled: bool = False
    ) -> dict[str, object]:
        return {"completed_by": who, "was_cancelled": cancelled, "result": result}

    def pick(name: str, side: str) -> dict[str, object]:
        return {
            "from_name": name,
            "to_name": "left,right",
            "type": "pairwise",
            "value": {"selected": side},
        }

    tie = {"from_name": "overall_tie", "type": "choices", "value": {"choices": ["Tie"]}}
    tasks = [
        {
            "data": {"item_id": "t0"},
            "annotations": [
                ann({"email": "ann1"}, [pick("overall", "left"), pick("safety", "right")]),
                ann(7, [tie]),
                ann({"email": "ann1"}, [pick("overall", "right")], cancelled=True),
            ],
        },
        {
            "data": {"item_id": "t1"},
            "annotations": [ann({"email": "ann1"}, [pick("overall", "left")])],
        },
    ]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks))
    votes = import_labelstudio(path, items(), ["ann1", "7"], CRITERIA)
    got = {(v.annotator, v.item_id, v.criterion): v.choice for v in votes}
    assert got == {
        ("ann1", "t0", "overall"): "a",
        ("ann1", "t0", "safety"): "b",
        ("7", "t0", "overall"): "tie",
        ("ann1", "t1", "overall"): "b",  # t1 shows b on the left
    }
    tasks[1]["data"]["item_id"] = "zzz"
    path.write_text(json.dumps(tasks))
    with pytest.raises(DataError, match=r"tasks\[1\]\.annotations\[0\]: unknown item id 'zzz'"):
        import_labelstudio(path, items(), ["ann1", "7"], CRITERIA)
    odd = [
        {"data": {"item_id": "t0"}, "annotations": 5},
        {"data": {"item_id": "t0"}, "annotations": [{"result": "x"}]},
        {
            "data": {"item_id": "t0"},
            "annotations": [
                {
                    "result": [
                        {"from_name": "overall_tie", "type": "choices", "value": {"choices": 3}}
                    ]
                }
            ],
        },
    ]
    path.write_text(json.dumps(odd))
    with pytest.raises(DataError) as info:
        import_labelstudio(path, items(), ["ann1"], CRITERIA)
    assert "tasks[0].annotations: expected a list" in str(info.value)
    assert "tasks[1].annotations[0].result: expected a list" in str(info.value)
    assert "2 invalid row(s)" in str(info.value)
    path.write_text("[{")
    with pytest.raises(DataError, match=r"ls\.json:1: invalid JSON"):
        import_labelstudio(path, items(), ["ann1"], CRITERIA)


def test_argilla_round_trip_counts_submitted_only(tmp_path: Path) -> None:
    exported = export_argilla(items(), CRITERIA)
    assert [f["name"] for f in exported["settings"]["fields"]] == [
        "prompt",
        "response1",
        "response2",
    ]
    assert exported["settings"]["questions"][1]["labels"] == ["response1", "response2", "tie"]
    assert "model" not in json.dumps(exported["records"])
    records = exported["records"]
    records[0]["responses"] = {
        "overall": [
            {"value": "response1", "user_id": "u-1", "status": "submitted"},
            {"value": "response2", "user_id": "u-2", "status": "draft"},
            {"value": "tie", "user_id": "u-3", "status": "discarded"},
        ],
        "safety": [{"value": "tie", "user_id": "u-1", "status": "submitted"}],
    }
    records[1]["responses"] = [
        {"question_name": "overall", "value": "response1", "user_id": "u-2", "status": "submitted"}
    ]
    path = tmp_path / "argilla.json"
    path.write_text(json.dumps({"records": records}))
    votes = import_argilla(path, items(), ["u-1", "u-2", "u-3"], CRITERIA)
    got = {(v.annotator, v.item_id, v.criterion): v.choice for v in votes}
    assert got == {
        ("u-1", "t0", "overall"): "a",
        ("u-1", "t0", "safety"): "tie",
        ("u-2", "t1", "overall"): "b",
    }
    records[2]["responses"] = {
        "overall": [{"value": "response3", "user_id": "u-9", "status": "submitted"}]
    }
    path.write_text(json.dumps(records))
    with pytest.raises(DataError) as info:
        import_argilla(path, items(), ["u-1", "u-2", "u-3"], CRITERIA)
    assert "records[2] (overall): unknown annotator 'u-9'; invalid choice 'response3'" in str(
        info.value
    )


def test_csv_header_and_encoding_errors(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("item,who,choice\nt0,ann1,a\n")
    with pytest.raises(DataError, match=r"v.csv:1: missing column\(s\) item_id, annotator"):
        import_csv_votes(path, items(), ["ann1"], CRITERIA)
    path.write_bytes(b"item_id,annotator,choice\n\xff\xfe,ann1,a\n")
    with pytest.raises(DataError, match="not UTF-8"):
        import_csv_votes(path, items(), ["ann1"], CRITERIA)
    path.write_text("item_id,annotator,choice\nt2,ann1,LEFT\n")
    (vote,) = import_csv_votes(path, items(), ["ann1"], CRITERIA)
    assert (vote.criterion, vote.choice, vote.left_side) == ("overall", "a", "a")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_csv_import_never_crashes(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.csv"
    path.write_text("item_id,annotator,criterion,choice\n" + text, encoding="utf-8")
    message = ""
    try:
        votes = import_csv_votes(path, items(), ["ann1"], CRITERIA)
    except DataError as exc:
        message = str(exc)
        votes = []
    assert not message or "fuzz.csv" in message
    assert all(v.choice in ("a", "b", "tie") for v in votes)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=json_values)
def test_json_imports_never_crash(tmp_path: Path, data: object) -> None:
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    for importer in (import_labelstudio, import_argilla):
        message = "fuzz.json"
        try:
            importer(path, items(), ["ann1"], CRITERIA)
        except DataError as exc:
            message = str(exc)
        assert "fuzz.json" in message
