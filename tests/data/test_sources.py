"""The data package's sources one by one (tunegate.data.jsonl, chat, csv_file, json_array,
parquet): what each reads, and problems named by file and line (or item, or row)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunegate.data.case import FieldMap
from tunegate.data.chat import chat_records
from tunegate.data.csv_file import csv_records
from tunegate.data.json_array import json_array_items
from tunegate.data.jsonl import jsonl_records
from tunegate.data.parquet import parquet_rows
from tunegate.errors import DataError


def test_jsonl_records_with_line_numbers_and_problems(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(
        json.dumps({"id": "a", "text": "good", "label": "pos", "category": "x"})
        + "\n\n"
        + json.dumps({"text": "bad"})
        + "\n"
        + json.dumps({"review": "fine", "gold": "neu"})
        + "\n"
    )
    problems: list[str] = []
    got = list(jsonl_records(path, FieldMap(), problems))
    assert [(n, c.id, c.text, c.reference, c.category) for n, c in got] == [
        (1, "a", "good", "pos", "x")
    ]
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}:3")
    assert "label" in problems[0]
    assert problems[1].startswith(f"{path}:4")
    mapped = list(jsonl_records(path, FieldMap("review", "gold"), []))
    assert [(n, c.text, c.reference) for n, c in mapped] == [(4, "fine", "neu")]


def test_chat_records_take_the_last_assistant_turn_as_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    convo = [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": "great"},
        {"role": "assistant", "content": "positive"},
    ]
    path.write_text(json.dumps({"messages": convo}) + "\n" + '{"messages": 3}\n')
    problems: list[str] = []
    [(line, case)] = list(chat_records(path, problems))
    assert line == 1
    assert (case.text, case.reference) == ("great", "positive")
    assert list(case.messages) == convo[:2]
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:2")


def test_csv_and_tsv_rows_end_on_their_line(tmp_path: Path) -> None:
    csv_path = tmp_path / "c.csv"
    csv_path.write_text('text,label\n"two\nlines",pos\nthree,neg,extra\nfour,neg\n')
    problems: list[str] = []
    got = [(n, c.text, c.reference) for n, c in csv_records(csv_path, FieldMap(), problems)]
    assert got == [(3, "two\nlines", "pos"), (5, "four", "neg")]
    assert problems == [f"{csv_path}:4: more values than header columns"]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("text\tlabel\nhello, world\tpos\n")
    assert [c.text for _, c in csv_records(tsv, FieldMap(), [])] == ["hello, world"]
    bad = tmp_path / "b.csv"
    bad.write_text("input,label\nx,y\n")
    with pytest.raises(DataError, match=r"b\.csv:1: no column 'text' in the header"):
        list(csv_records(bad, FieldMap(), []))


def test_a_json_array_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"text": "x", "label": "y"}, 3]')
    assert json_array_items(path) == [{"text": "x", "label": "y"}, 3]
    path.write_text('{"text": "x"}')
    with pytest.raises(DataError, match="expected a JSON array of records, got dict"):
        json_array_items(path)
    path.write_text('[\n{"text": }\n]')
    with pytest.raises(DataError, match=r"a\.json:2: invalid JSON"):
        json_array_items(path)


def test_parquet_rows_through_pyarrow_and_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "label": ["x", "y"]}), path)
    assert parquet_rows(path) == [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    (tmp_path / "no.parquet").write_text("text,label\n")
    with pytest.raises(DataError, match=r"no\.parquet: not a readable Parquet file"):
        parquet_rows(tmp_path / "no.parquet")
