"""tunegate.data.records: one record (JSON object, CSV or Parquet row) into a Case, and the
problems of a bad one named by where it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunegate.data.case import FieldMap
from tunegate.data.records import case_id, chat_case, record_case, row_records


def test_case_id_from_the_id_field_or_the_line() -> None:
    assert case_id({"id": 7}, "id", 3) == "7"
    assert case_id({"id": ""}, "id", 3) == "line-3"
    assert case_id({"id": "x"}, None, 3) == "line-3"


def test_a_record_through_the_field_map() -> None:
    problems: list[str] = []
    rec = {"id": "r1", "q": " hi ", "a": " yes ", "cat": "c", "extra": 1}
    case = record_case(rec, FieldMap("q", "a", "cat"), "f.jsonl:4", 4, problems)
    assert case is not None
    assert (case.id, case.text, case.reference, case.category) == ("r1", " hi ", "yes", "c")
    assert case.metadata == {"extra": 1}
    assert case.source == "f.jsonl:4"
    assert problems == []


@pytest.mark.parametrize(
    ("label", "reference", "references"),
    [
        ([" Paris ", "Paris, France"], "Paris", ["Paris", "Paris, France"]),
        ({"city": "Paris"}, '{"city": "Paris"}', None),
        ([1, 2], "[1, 2]", None),
        (3, "3", None),
    ],
)
def test_label_values(label: object, reference: str, references: list[str] | None) -> None:
    case = record_case({"text": "q", "label": label}, FieldMap(), "w", 1, [])
    assert case is not None
    assert case.reference == reference
    assert case.metadata.get("references") == references


def test_a_record_missing_fields_is_a_problem_naming_what_is_there() -> None:
    problems: list[str] = []
    assert record_case({"text": "q", "gold": "x"}, FieldMap(), "f.csv:9", 9, problems) is None
    assert problems == ["f.csv:9: missing field(s) ['label'] (fields present: gold, text)"]


def test_a_chat_record() -> None:
    obj = {
        "id": "k",
        "category": 5,
        "metadata": {"lang": "en"},
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": " a2 "},
        ],
    }
    case = chat_case(obj, "c.jsonl:1", 1, [])
    assert case is not None
    assert (case.id, case.text, case.reference, case.category) == ("k", "second", "a2", "5")
    assert len(case.messages) == 4
    assert case.metadata == {"lang": "en"}


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([], "'messages' must be a non-empty list"),
        ([{"role": "user", "content": 3}], "messages[0] needs a string 'role' and 'content'"),
        ([{"role": "user", "content": "q"}], "no assistant message (the reference answer)"),
        (
            [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}],
            "no user message before the assistant message",
        ),
    ],
)
def test_bad_chat_records(messages: list[object], problem: str) -> None:
    problems: list[str] = []
    assert chat_case({"messages": messages}, "c.jsonl:2", 2, problems) is None
    assert problems == [f"c.jsonl:2: {problem}"]


def test_rows_are_numbered_and_either_chat_or_field_records() -> None:
    rows = [
        {"text": "q", "label": "x"},
        "not an object",
        {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "r"}]},
    ]
    problems: list[str] = []
    got = list(row_records(Path("d.json"), rows, FieldMap(), problems, "item"))
    assert [(n, c.id, c.reference) for n, c in got] == [(1, "line-1", "x"), (3, "line-3", "r")]
    assert problems == ["d.json: item 2: expected an object, got str"]
