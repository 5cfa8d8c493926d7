"""Test-case loaders: chat JSONL, JSONL/CSV/TSV with a field map, labels, and errors with file:line."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from tunegate.data import Case, FieldMap, detect_format, load_cases
from tunegate.errors import DataError, TunegateError

SYSTEM = "Classify the sentiment of the review: positive, negative or neutral."
LABELS = ["positive", "negative", "neutral"]


def chat(
    user: str, assistant: str | None, system: str | None = SYSTEM, **extra: Any
) -> dict[str, Any]:
    """A chat-format record: system?, user, assistant?."""
    messages = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    if assistant is not None:
        messages.append({"role": "assistant", "content": assistant})
    return {"messages": messages, **extra}


def write_lines(path: Path, rows: list[Any]) -> Path:
    """One line per row: strings are written as they are, anything else as JSON."""
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


def write_table(path: Path, rows: list[list[str]], delimiter: str = ",") -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def data_error(path: Path, **kwargs: Any) -> str:
    """The message of the :class:`DataError` that loading ``path`` raises."""
    with pytest.raises(DataError) as info:
        load_cases(path, **kwargs)
    exc = info.value
    assert isinstance(exc, TunegateError)
    assert exc.exit_code == 2
    message = str(exc)
    assert "Traceback" not in message
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    return message


# --------------------------------------------------------------------------- chat JSONL


def test_chat_record_becomes_a_case(tmp_path: Path) -> None:
    record = chat(
        "The kettle boils fast and looks great.",
        "  positive \n",
        id="rev-17",
        category="kitchen",
        metadata={"stars": 5, "source": "amazon"},
    )
    path = write_lines(tmp_path / "test.jsonl", [record])

    [case] = load_cases(path)

    assert isinstance(case, Case)
    assert case.id == "rev-17"
    assert case.text == record["messages"][1]["content"]
    assert case.reference == record["messages"][2]["content"].strip()
    assert case.messages == tuple(record["messages"][:2])  # the assistant turn is not input
    assert all(m["role"] != "assistant" for m in case.messages)
    assert case.category == "kitchen"
    assert case.metadata == record["metadata"]
    assert case.source == f"{path}:1"
    assert case.chat == record["messages"][:2]


def test_chat_ids_default_to_the_line_number_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    rows: list[Any] = [
        chat("first", "positive", id="a"),
        "",
        "   ",
        chat("second", "negative"),
        chat("third", "neutral", id=""),
        "",
    ]
    path = write_lines(tmp_path / "test.jsonl", rows)
    cases = load_cases(path)
    assert [c.text for c in cases] == ["first", "second", "third"]
    assert [c.id for c in cases] == ["a", "line-4", "line-5"]
    assert [c.source for c in cases] == [f"{path}:1", f"{path}:4", f"{path}:5"]


def test_chat_without_system_message_and_defaults(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "test.jsonl", [chat("Fine I guess", "neutral", system=None)])
    [case] = load_cases(path)
    assert case.messages == ({"role": "user", "content": "Fine I guess"},)
    assert case.category is None
    assert case.metadata == {}


def test_numeric_id_and_category_become_strings(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a", "positive", id=7, category=3)])
    [case] = load_cases(path)
    assert (case.id, case.category) == ("7", "3")


def test_multi_turn_conversation_keeps_earlier_turns(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "The box was damaged."},
        {"role": "assistant", "content": "negative", "weight": 0},
        {"role": "user", "content": "But the lamp itself works perfectly."},
        {"role": "assistant", "content": " positive", "weight": 1},
    ]
    path = write_lines(tmp_path / "test.jsonl", [{"id": "conv", "messages": messages}])

    [case] = load_cases(path)

    assert case.text == messages[3]["content"]  # the last user turn
    assert case.reference == messages[4]["content"].strip()  # the last assistant turn
    # Everything before the last assistant turn, as plain role/content pairs.
    assert case.messages == tuple(
        {"role": m["role"], "content": m["content"]} for m in messages[:4]
    )


def test_chat_labels_are_canonicalised(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a", " POSITIVE"), chat("b", "Negative\n")])
    assert [c.reference for c in load_cases(path, labels=LABELS)] == ["positive", "negative"]


# --------------------------------------------------------------------------- JSONL / CSV / TSV


def test_jsonl_with_default_fields(tmp_path: Path) -> None:
    rows = [
        {"id": "r1", "text": "Love it", "label": "positive", "category": "toys", "stars": 5},
        {"text": "Hate it", "label": " negative "},
    ]
    path = write_lines(tmp_path / "test.jsonl", rows)
    cases = load_cases(path)
    assert [c.id for c in cases] == ["r1", "line-2"]
    assert [c.text for c in cases] == [r["text"] for r in rows]
    assert [c.reference for c in cases] == [r["label"].strip() for r in rows]
    assert [c.category for c in cases] == ["toys", None]
    assert cases[0].metadata == {"stars": 5}
    assert cases[1].metadata == {}
    assert cases[0].messages == ()
    assert cases[0].chat == [{"role": "user", "content": rows[0]["text"]}]


def test_jsonl_with_a_field_map(tmp_path: Path) -> None:
    rows = [
        {"uid": 101, "review": "Works as described", "sentiment": "positive", "topic": "tools"},
        {
            "uid": 102,
            "review": "Stopped working",
            "sentiment": "negative",
            "topic": "tools",
            "x": 1,
        },
    ]
    path = write_lines(tmp_path / "reviews.jsonl", rows)
    fmap = FieldMap(
        input_field="review", label_field="sentiment", category_field="topic", id_field="uid"
    )
    cases = load_cases(path, fields=fmap)
    assert [c.id for c in cases] == [str(r["uid"]) for r in rows]
    assert [c.text for c in cases] == [r["review"] for r in rows]
    assert [c.reference for c in cases] == [r["sentiment"] for r in rows]
    assert [c.category for c in cases] == [r["topic"] for r in rows]
    assert [c.metadata for c in cases] == [{}, {"x": 1}]


def test_field_map_without_id_and_category_fields(tmp_path: Path) -> None:
    rows = [{"id": "ignored", "text": "ok", "label": "neutral", "category": "c"}]
    path = write_lines(tmp_path / "t.jsonl", rows)
    [case] = load_cases(path, fields=FieldMap(category_field=None, id_field=None))
    assert case.id == "line-1"
    assert case.category is None
    assert case.metadata == {"id": "ignored", "category": "c"}


def test_csv_with_a_field_map(tmp_path: Path) -> None:
    table = [
        ["review_id", "body", "gold", "dept", "stars"],
        ["a1", "Sturdy, cheap, and it works", "positive", "garden", "5"],
        ["a2", 'It said "waterproof".\nIt is not.', "negative", "", "1"],
    ]
    path = write_table(tmp_path / "reviews.csv", table)
    fmap = FieldMap(
        input_field="body", label_field="gold", category_field="dept", id_field="review_id"
    )
    cases = load_cases(path, fields=fmap)
    assert [c.id for c in cases] == [table[1][0], table[2][0]]
    assert [c.text for c in cases] == [table[1][1], table[2][1]]  # commas, quotes and newlines kept
    assert [c.reference for c in cases] == [table[1][2], table[2][2]]
    assert [c.category for c in cases] == ["garden", None]  # an empty cell is no category
    assert [c.metadata for c in cases] == [{"stars": "5"}, {"stars": "1"}]


def test_csv_ids_default_to_the_line_number(tmp_path: Path) -> None:
    path = write_table(tmp_path / "t.csv", [["text", "label"], ["a", "positive"], ["b", "neutral"]])
    assert [c.id for c in load_cases(path)] == ["line-2", "line-3"]


def test_tsv(tmp_path: Path) -> None:
    table = [["text", "label"], ["good, really good", "positive"], ["bad; truly", "negative"]]
    path = write_table(tmp_path / "test.tsv", table, delimiter="\t")
    cases = load_cases(path)
    assert [c.text for c in cases] == [table[1][0], table[2][0]]
    assert [c.reference for c in cases] == [table[1][1], table[2][1]]


@pytest.mark.parametrize(
    ("name", "rows", "expected"),
    [
        ("test.jsonl", [chat("hi", "positive")], "chat"),
        ("test.jsonl", ["", chat("hi", "positive")], "chat"),
        ("test.jsonl", [{"text": "hi", "label": "positive"}], "jsonl"),
        ("test.txt", [chat("hi", "positive")], "chat"),
        ("data.JSON", [{"text": "hi", "label": "positive"}], "jsonl"),
        ("test.csv", ["text,label", "hi,positive"], "csv"),
        ("test.TSV", ["text\tlabel", "hi\tpositive"], "csv"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, rows: list[Any], expected: str) -> None:
    path = write_lines(tmp_path / name, rows)
    assert detect_format(path) == expected
    [case] = load_cases(path)  # "auto" loads it the same way
    assert (case.text, case.reference) == ("hi", "positive")
    assert bool(case.messages) == (expected == "chat")


def test_explicit_format_overrides_the_extension(tmp_path: Path) -> None:
    csv_path = write_lines(tmp_path / "cases.txt", ["text,label", "hi,positive"])
    [case] = load_cases(csv_path, fmt="csv")
    assert (case.text, case.reference) == ("hi", "positive")
    # A chat file read as plain records has no 'text' field.
    chat_path = write_lines(tmp_path / "chat.jsonl", [chat("hi", "positive")])
    assert "missing field(s) ['text', 'label']" in data_error(chat_path, fmt="jsonl")


# --------------------------------------------------------------------------- labels


def test_labels_are_matched_ignoring_case_and_whitespace(tmp_path: Path) -> None:
    labels = ["positive", "negative", "Very Positive"]
    given = [" Positive", "NEGATIVE ", "very\t positive", "Very Positive"]
    rows = [{"text": f"t{i}", "label": g} for i, g in enumerate(given)]
    path = write_lines(tmp_path / "t.jsonl", rows)
    cases = load_cases(path, labels=labels)
    assert [c.reference for c in cases] == [labels[0], labels[1], labels[2], labels[2]]


def test_without_labels_references_are_kept(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [{"text": "a", "label": " Positive "}])
    assert load_cases(path)[0].reference == "Positive"


def test_numeric_labels(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [{"text": "a", "label": 0}, {"text": "b", "label": 2}])
    assert [c.reference for c in load_cases(path, labels=["0", "1", "2"])] == ["0", "2"]


def test_unknown_label_names_file_and_line(tmp_path: Path) -> None:
    rows = [
        {"text": "a", "label": "positive"},
        {"text": "b", "label": "negative"},
        {"text": "c", "label": "positve"},
    ]
    path = write_lines(tmp_path / "t.jsonl", rows)
    message = data_error(path, labels=LABELS)
    assert message == f"{path}:3: label 'positve' is not one of the task's labels {LABELS}"


def test_unknown_chat_label(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a", "positive"), chat("b", "mixed")])
    assert data_error(path, labels=LABELS).startswith(f"{path}:2: label 'mixed' is not one of")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ('{"messages": [}', "invalid JSON"),
        ("not json at all", "invalid JSON"),
        ('["a list"]', "expected a JSON object, got list"),
        ('"a string"', "expected a JSON object, got str"),
        ("42", "expected a JSON object, got int"),
        (chat("u", None), "no assistant message"),
        (chat("u", None, system=None), "no assistant message"),
        (
            {
                "messages": [
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "no user message",
        ),
        ({"messages": "user: hi"}, "'messages' must be a non-empty list"),
        ({"messages": {"role": "user", "content": "hi"}}, "'messages' must be a non-empty list"),
        ({"messages": []}, "'messages' must be a non-empty list"),
        ({"id": "no-messages"}, "'messages' must be a non-empty list"),
        (
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]},
            "messages[1] needs a string 'role' and 'content'",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": None},
                    {"role": "assistant", "content": "a"},
                ]
            },
            "messages[0] needs a string 'role' and 'content'",
        ),
        (
            {"messages": [{"content": "hi"}, {"role": "assistant", "content": "a"}]},
            "messages[0] needs a string 'role' and 'content'",
        ),
        (
            {"messages": ["hi", {"role": "assistant", "content": "a"}]},
            "messages[0] needs a string 'role' and 'content'",
        ),
    ],
)
def test_bad_chat_line_names_file_and_line(tmp_path: Path, row: Any, expected: str) -> None:
    rows = [chat("good one", "positive"), chat("another", "negative"), row, chat("x", "neutral")]
    path = write_lines(tmp_path / "test.jsonl", rows)
    message = data_error(path, fmt="chat")
    assert message.startswith(f"{path}:3: {expected}"), message
    assert len(message.splitlines()) == 1


def test_invalid_json_detected_in_auto_mode(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "test.jsonl", [chat("a", "positive"), chat("b", "neutral"), "{oops"]
    )
    assert data_error(path).startswith(f"{path}:3: invalid JSON")


def test_missing_jsonl_fields_lists_the_fields_present(tmp_path: Path) -> None:
    rows = [
        {"text": "ok", "label": "positive"},
        {"review": "no text field", "label": "negative", "stars": 1},
        {"text": "", "label": "neutral"},
    ]
    path = write_lines(tmp_path / "t.jsonl", rows)
    lines = data_error(path).splitlines()
    assert lines == [
        f"{path}:2: missing field(s) ['text'] (fields present: label, review, stars)",
        f"{path}:3: field 'text' is empty",
    ]


def test_missing_csv_column_names_the_columns(tmp_path: Path) -> None:
    header = ["review", "label", "stars"]
    path = write_table(tmp_path / "t.csv", [header, ["fine", "neutral", "3"]])
    assert (
        data_error(path)
        == f"{path}:1: no column 'text' in the header (columns: {', '.join(header)})"
    )
    fmap = FieldMap(input_field="review", label_field="sentiment")
    message = data_error(path, fields=fmap)
    assert (
        message == f"{path}:1: no column 'sentiment' in the header (columns: {', '.join(header)})"
    )


def test_empty_csv_value_is_an_empty_field(tmp_path: Path) -> None:
    path = write_table(tmp_path / "t.csv", [["text", "label"], ["a", "positive"], ["b", ""]])
    assert data_error(path) == f"{path}:3: field 'label' is empty"


def test_extra_csv_values(tmp_path: Path) -> None:
    path = write_table(
        tmp_path / "t.csv",
        [["text", "label"], ["a", "positive"], ["b", "negative", "surplus"], ["c", "neutral"]],
    )
    assert data_error(path) == f"{path}:3: more values than header columns"


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_duplicate_ids_name_both_lines(tmp_path: Path, suffix: str) -> None:
    ids = ["a", "b", "c", "a", "b"]
    path = tmp_path / f"t{suffix}"
    if suffix == ".csv":
        write_table(
            path, [["id", "text", "label"], *[[i, f"t{n}", "neutral"] for n, i in enumerate(ids)]]
        )
        line_of = {n: n + 2 for n in range(len(ids))}  # header on line 1
    else:
        write_lines(
            path, [{"id": i, "text": f"t{n}", "label": "neutral"} for n, i in enumerate(ids)]
        )
        line_of = {n: n + 1 for n in range(len(ids))}
    expected = []
    first: dict[str, int] = {}
    for n, i in enumerate(ids):
        if i in first:
            expected.append(
                f"{path}:{line_of[n]}: duplicate id {i!r} (first seen on line {first[i]})"
            )
        else:
            first[i] = line_of[n]
    assert data_error(path).splitlines() == expected


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.jsonl", ""),
        ("blank.jsonl", "\n  \n\t\n"),
        ("empty.csv", ""),
        ("header-only.csv", "text,label\n"),
        ("empty.tsv", ""),
    ],
)
def test_empty_file_has_no_cases(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert data_error(path).startswith(f"{path}: no cases")


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "data" / "missing.jsonl"
    assert data_error(path) == f"{path}: file not found"


def test_directory(tmp_path: Path) -> None:
    path = tmp_path / "test.jsonl"
    path.mkdir()
    assert data_error(path).startswith(f"{path}: is a directory")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_non_utf8_bytes(tmp_path: Path, suffix: str) -> None:
    good = b"text,label\n" if suffix == ".csv" else b'{"text": "ok", "label": "neutral"}\n'
    bad = (
        b"caf\xe9,positive\n" if suffix == ".csv" else b'{"text": "caf\xe9", "label": "positive"}\n'
    )
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(good + bad)
    offset = len(good) + bad.index(b"\xe9")
    message = data_error(path)
    assert message.startswith(f"{path}:2: not UTF-8 text")
    assert f"at byte {offset}" in message


def test_non_utf8_byte_far_into_a_large_file(tmp_path: Path) -> None:
    """The position is the file's, not the offset inside the decoder's current chunk."""
    good = b"".join(
        json.dumps({"text": f"review {i} " + "x" * 60, "label": "neutral"}).encode() + b"\n"
        for i in range(3000)
    )
    bad = b'{"text": "caf\xe9", "label": "positive"}\n'
    path = tmp_path / "big.jsonl"
    path.write_bytes(good + bad)
    offset = len(good) + bad.index(b"\xe9")
    line = good.count(b"\n") + 1
    message = data_error(path)
    assert message.startswith(f"{path}:{line}: not UTF-8 text (")
    assert message.endswith(f" at byte {offset})")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_utf8_byte_order_mark_is_accepted(tmp_path: Path, suffix: str) -> None:
    body = (
        "text,label\nok,neutral\n" if suffix == ".csv" else '{"text": "ok", "label": "neutral"}\n'
    )
    path = tmp_path / f"bom{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    [case] = load_cases(path)
    assert (case.text, case.reference) == ("ok", "neutral")


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    rows: list[Any] = [
        chat("fine", "positive", id="a"),
        "{broken",
        chat("no answer", None),
        chat("fine too", "negative", id="b"),
        ["not", "an", "object"],
        chat("dup", "neutral", id="a"),
        chat("odd label", "meh"),
    ]
    path = write_lines(tmp_path / "t.jsonl", rows)
    lines = data_error(path, labels=LABELS).splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"{path}:2: invalid JSON")
    assert lines[1].startswith(f"{path}:3: no assistant message")
    assert lines[2].startswith(f"{path}:5: expected a JSON object")
    assert lines[3] == f"{path}:6: duplicate id 'a' (first seen on line 1)"
    assert lines[4].startswith(f"{path}:7: label 'meh' is not one of")


@pytest.mark.parametrize("n_bad", [10, 11, 23])
def test_at_most_ten_problems_then_a_count(tmp_path: Path, n_bad: int) -> None:
    shown = 10  # documented: up to ten problems at once
    rows: list[Any] = [chat("good", "positive", id="g")]
    rows += [chat(f"bad {i}", None) for i in range(n_bad)]
    path = write_lines(tmp_path / "t.jsonl", rows)
    lines = data_error(path).splitlines()
    listed = [line for line in lines if not line.startswith("...")]
    assert listed == [
        f"{path}:{line}: no assistant message (the reference answer)"
        for line in range(2, 2 + min(n_bad, shown))
    ]
    if n_bad > shown:
        assert lines[-1] == f"... and {n_bad - shown} more problem(s)"
        assert len(lines) == shown + 1
    else:
        assert len(lines) == n_bad


# --------------------------------------------------------------------------- limit


def test_limit_keeps_the_first_cases_in_file_order(tmp_path: Path) -> None:
    ids = ["z", "y", "x", "w", "v"]
    path = write_lines(
        tmp_path / "t.jsonl", [{"id": i, "text": i, "label": "neutral"} for i in ids]
    )
    assert [c.id for c in load_cases(path, limit=2)] == ids[:2]
    assert [c.id for c in load_cases(path, limit=len(ids) + 3)] == ids
    assert [c.id for c in load_cases(path)] == ids


def test_limit_does_not_hide_problems_later_in_the_file(tmp_path: Path) -> None:
    rows = [{"text": "a", "label": "positive"}, {"text": "b", "label": "positive"}, "{bad"]
    path = write_lines(tmp_path / "t.jsonl", rows)
    assert data_error(path, limit=1).startswith(f"{path}:3: invalid JSON")


def test_cases_are_immutable(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [{"text": "a", "label": "positive"}])
    [case] = load_cases(path)
    with pytest.raises(AttributeError):
        case.reference = "negative"  # type: ignore[misc]
