"""The data package: one dispatcher (``load_cases``) over one source per format, one
format Literal shared with the config, and ``shots: {format: mmlu}`` read as MMLU
(it used to fall into the CSV reader)."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path
from typing import get_args

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tunegate.config import DatasetConfig, ShotsConfig, load_config
from tunegate.data import DATA_FORMATS, Case, DataFormat, FieldMap, load_cases
from tunegate.data.bfcl import load_bfcl
from tunegate.data.general import GENERAL_KNOWLEDGE, load_general_jsonl
from tunegate.data.lines import json_lines
from tunegate.data.mmlu import load_multiple_choice_csv
from tunegate.data.multiple_choice import as_multiple_choice, format_multiple_choice
from tunegate.errors import DataError
from tunegate.models import build_backends

TOOL_CALLING = Path(__file__).resolve().parents[2] / "src/tunegate/examples/tool_calling"
RECORDS = [
    {"id": "r1", "text": "great kettle", "label": "positive", "category": "kitchen"},
    {"id": "r2", "text": "broken lamp", "label": "negative", "category": "home"},
]
MMLU_ROWS = [
    ["What is 2 + 2?", "3", "4", "5", "6", "B"],
    ["Which is a colour?", "Red", "Dog", "Run", "Ten", "a"],
    ["Capital of Italy?", "Milan", "Turin", "Rome", "Naples", "C"],
]


def write_mmlu(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(MMLU_ROWS)
    return path


def expected_records() -> list[tuple[str, str, str, str | None]]:
    return [(r["id"], r["text"], r["label"], r["category"]) for r in RECORDS]


def summary(cases: list[Case]) -> list[tuple[str, str, str, str | None]]:
    return [(c.id, c.text, c.reference, c.category) for c in cases]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "json", "parquet", "auto"])
def test_field_map_formats_give_the_same_cases(tmp_path: Path, fmt: str) -> None:
    suffix = {"auto": "jsonl", "parquet": "parquet"}.get(fmt, fmt)
    path = tmp_path / f"cases.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS), encoding="utf-8")
    elif suffix == "json":
        path.write_text(json.dumps(RECORDS), encoding="utf-8")
    elif suffix == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(RECORDS[0]))
            writer.writeheader()
            writer.writerows(RECORDS)
    else:
        pq.write_table(pa.Table.from_pylist(RECORDS), path)
    cases = load_cases(path, fmt)  # type: ignore[arg-type]
    assert summary(cases) == expected_records()


def test_chat_format(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    record = {
        "id": "c1",
        "messages": [
            {"role": "system", "content": "Classify."},
            {"role": "user", "content": "great kettle"},
            {"role": "assistant", "content": "positive"},
        ],
    }
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (case,) = load_cases(path, "chat")
    assert (case.id, case.text, case.reference) == ("c1", "great kettle", "positive")
    assert case.messages[0] == {"role": "system", "content": "Classify."}


def test_mmlu_and_general_come_with_the_multiple_choice_prompt(tmp_path: Path) -> None:
    path = write_mmlu(tmp_path / "astronomy_test.csv")
    raw = load_multiple_choice_csv(path)
    cases = load_cases(path, "mmlu")
    assert [c.reference for c in cases] == ["B", "A", "C"]
    for plain, ready in zip(raw, cases, strict=True):
        assert ready.text == format_multiple_choice(plain)
        assert ready.text.startswith(f"Question: {plain.text}\nA. ")
        assert ready.text.endswith("\nAnswer:")
        assert ready.messages == ({"role": "user", "content": ready.text},)
        assert ready.metadata["question"] == plain.text
        assert ready.metadata["choices"] == plain.metadata["choices"]
    general = load_cases(GENERAL_KNOWLEDGE, "general")
    assert len(general) == len(load_general_jsonl()) == 100
    assert general[0] == as_multiple_choice(load_general_jsonl()[0])


def test_bfcl_through_the_dispatcher_is_the_bfcl_loader() -> None:
    path = TOOL_CALLING / "cases.jsonl"
    assert load_cases(path, "bfcl") == load_bfcl(path)
    assert load_cases(path, "bfcl", limit=2) == load_bfcl(path)[:2]


def test_an_unknown_format_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"cases\.jsonl: unknown data format 'yaml' \(one of auto"):
        load_cases(path, "yaml")  # type: ignore[arg-type]


def test_one_jsonl_line_reader_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"a": 1}\n\n[1, 2]\n{oops\n{"b": 2}\n', encoding="utf-8")
    problems: list[str] = []
    assert list(json_lines(path, problems)) == [(1, {"a": 1}), (5, {"b": 2})]
    assert problems == [
        f"{path}:3: expected a JSON object, got list",
        f"{path}:4: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
    ]


def test_config_and_loaders_share_one_format_literal() -> None:
    assert get_args(DataFormat) == DATA_FORMATS
    for model in (DatasetConfig, ShotsConfig):
        assert get_args(model.model_fields["format"].annotation) == DATA_FORMATS
    with pytest.raises(ValueError, match="format"):
        DatasetConfig(path=Path("x.csv"), format="yaml")  # type: ignore[arg-type]


def test_shots_in_mmlu_format_are_multiple_choice_examples(tmp_path: Path) -> None:
    write_mmlu(tmp_path / "dev.csv")
    write_mmlu(tmp_path / "test.csv")
    config_path = tmp_path / "tunegate.yaml"
    config_path.write_text(
        textwrap.dedent(
            """
            name: mc-shots
            dataset: {path: test.csv, format: mmlu}
            task: {type: multiple_choice}
            models:
              chat:
                type: openai
                model: m
                base_url: http://127.0.0.1:9/v1
                shots: {path: dev.csv, format: mmlu, k: 2, seed: 1}
            """
        ),
        encoding="utf-8",
    )
    config = load_config(config_path)
    test_cases = load_cases(tmp_path / "test.csv", "mmlu")
    built = build_backends(config, [], tmp_path)  # no test texts to keep out of the shots
    shots = built.meta["chat"]["shots"]
    assert shots["k"] == 2
    assert len(shots["ids"]) == 2
    request = built.backends["chat"].render(test_cases[0])
    messages = request["messages"]
    shot_users = [m["content"] for m in messages[:-1] if m["role"] == "user"]
    shot_answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(shot_users) == 2
    assert all(u.startswith("Question: ") and "\nA. " in u for u in shot_users)
    assert all(u.endswith("\nAnswer:") for u in shot_users)
    assert set(shot_answers) <= {"A", "B", "C", "D"}
    assert messages[-1]["content"] == test_cases[0].text


def test_field_map_is_the_datasets_field_map(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"key": "k1", "q": "Why?", "a": "Because"}) + "\n", "utf-8")
    fields = FieldMap(input_field="q", label_field="a", id_field="key", category_field=None)
    (case,) = load_cases(path, "jsonl", fields)
    assert (case.id, case.text, case.reference) == ("k1", "Why?", "Because")


def test_human_pairs_use_the_same_line_reader(tmp_path: Path) -> None:
    from tunegate.human.study import items_from_pairs

    pair = {"prompt": "p", "output_a": "a", "output_b": "b", "model_a": "x", "model_b": "y"}
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps({"id": 1, **pair}), "{nope", "[]", json.dumps({"id": 1, **pair})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        items_from_pairs(path)
    assert str(info.value).splitlines() == [
        f"{path}:2: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"{path}:3: expected a JSON object, got list",
        f"{path}:4: duplicate id '1'",
    ]
