"""Multiple-choice loaders: the real MMLU files in ../shared/data/mmlu, the bundled
general-knowledge set, every error path (with file:line), and the prompt format."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tunegate.data import Case
from tunegate.data.general import GENERAL_KNOWLEDGE, load_general_jsonl
from tunegate.data.mmlu import load_multiple_choice_csv, mmlu_category
from tunegate.data.multiple_choice import CHOICE_CONTINUATIONS, LETTERS, format_multiple_choice
from tunegate.errors import DataError, TunegateError

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
MMLU = SHARED / "data" / "mmlu"
needs_shared = pytest.mark.skipif(
    not MMLU.is_dir(),
    reason=f"{MMLU} is absent (../shared is only beside the project checkout, not in a fresh clone)",
)

#: Test questions per subject; ../shared/README.md: 1261 in all (+5 dev each).
TEST_COUNTS = {
    "astronomy": 152,
    "global_facts": 100,
    "high_school_geography": 198,
    "marketing": 234,
    "nutrition": 306,
    "us_foreign_policy": 100,
    "world_religions": 171,
}
CATEGORIES = ("geography", "science", "arithmetic", "language", "history")

ROWS = [
    ["What is 2 + 2?", "3", "4", "5", "6", "B"],
    ["Which is a colour?", "Red", "Table", "Run", "Seven", "A"],
    ["Which is a fruit?", "Chair", "Car", "Apple", "Road", "C"],
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def gk(**overrides: Any) -> dict[str, Any]:
    """A valid general-knowledge record with some fields replaced (None removes one)."""
    record: dict[str, Any] = {
        "id": "t-1",
        "category": "arithmetic",
        "question": "What is 2 + 2?",
        "answers": ["4", "four"],
        "choices": ["3", "4", "5", "6"],
        "answer": "B",
    }
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(loader: Any, path: Path, **kwargs: Any) -> str:
    with pytest.raises(DataError) as info:
        loader(path, **kwargs)
    assert isinstance(info.value, TunegateError)
    return str(info.value)


# --- the real MMLU files --------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize(("subject", "expected"), sorted(TEST_COUNTS.items()))
def test_mmlu_test_files_load_with_expected_counts(subject: str, expected: int) -> None:
    path = MMLU / "test" / f"{subject}_test.csv"
    cases = load_multiple_choice_csv(path)
    assert len(cases) == expected
    assert [c.id for c in cases] == [f"{subject}-{n}" for n in range(1, expected + 1)]
    assert {c.category for c in cases} == {subject}
    with path.open(encoding="utf-8", newline="") as fh:
        raw = list(csv.reader(fh))
    assert len(raw) == expected  # no header row: the first record is a question
    for case, row in zip(cases, raw, strict=True):
        assert case.text == row[0].strip()
        assert case.text
        assert case.reference == row[5]
        assert case.metadata == {
            "choices": dict(zip(LETTERS, (c.strip() for c in row[1:5]), strict=True)),
            "format": "multiple_choice",
        }
        assert case.source.startswith(f"{path}:")


@needs_shared
def test_mmlu_test_total_is_1261() -> None:
    files = sorted((MMLU / "test").glob("*_test.csv"))
    assert [mmlu_category(f) for f in files] == sorted(TEST_COUNTS)
    total = sum(len(load_multiple_choice_csv(f)) for f in files)
    assert total == 1261


@needs_shared
@pytest.mark.parametrize("subject", sorted(TEST_COUNTS))
def test_mmlu_dev_files_have_five_questions(subject: str) -> None:
    cases = load_multiple_choice_csv(MMLU / "dev" / f"{subject}_dev.csv")
    assert len(cases) == 5
    assert {c.category for c in cases} == {subject}
    assert all(c.reference in LETTERS for c in cases)


@needs_shared
def test_mmlu_known_rows_and_multiline_source_lines() -> None:
    astronomy = load_multiple_choice_csv(MMLU / "test" / "astronomy_test.csv")
    first = astronomy[0]
    assert first.text == 'What is true for a type-Ia ("type one-a") supernova?'
    assert first.metadata["choices"]["A"] == "This type occurs in binary systems."
    assert first.reference == "A"
    assert first.source.endswith("astronomy_test.csv:1")
    # Every nutrition question ends in a quoted newline: records span two lines.
    path = MMLU / "test" / "nutrition_test.csv"
    nutrition = load_multiple_choice_csv(path)
    assert [c.source for c in nutrition[:3]] == [f"{path}:{n}" for n in (1, 3, 5)]
    assert nutrition[0].text == (
        "Which foods tend to be consumed in lower quantities in Wales and Scotland (as of 2020)?"
    )
    assert nutrition[0].reference == "C"
    lines = path.read_text(encoding="utf-8").split("\n")
    last_line = int(nutrition[-1].source.rsplit(":", 1)[1])
    assert lines[last_line - 1].startswith('"Which statement about the oral phase')


@needs_shared
def test_mmlu_prompt_of_a_real_case() -> None:
    case = load_multiple_choice_csv(MMLU / "dev" / "world_religions_dev.csv")[1]
    assert format_multiple_choice(case) == (
        "Question: What is the Second Gem in Buddhism?\n"
        "A. The Dharma\nB. The Sangha\nC. The Buddha\nD. The Bodhisattva\nAnswer:"
    )
    assert case.reference == "A"


# --- the CSV loader on small files ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("high_school_physics_test.csv", "high_school_physics"),
        ("astronomy_dev.csv", "astronomy"),
        ("college_biology_val.csv", "college_biology"),
        ("my_questions.csv", "my_questions"),
    ],
)
def test_category_from_file_name(tmp_path: Path, name: str, expected: str) -> None:
    assert mmlu_category(name) == expected
    cases = load_multiple_choice_csv(write_csv(tmp_path / name, ROWS))
    assert [c.id for c in cases] == [f"{expected}-1", f"{expected}-2", f"{expected}-3"]
    assert {c.category for c in cases} == {expected}


def test_category_argument_wins(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "anatomy_test.csv", ROWS)
    cases = load_multiple_choice_csv(path, category="medicine")
    assert [c.id for c in cases] == ["medicine-1", "medicine-2", "medicine-3"]
    assert {c.category for c in cases} == {"medicine"}


def test_headerless_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "toy_test.csv", ROWS)
    cases = load_multiple_choice_csv(path)
    assert [c.reference for c in cases] == ["B", "A", "C"]
    assert cases[0] == Case(
        id="toy-1",
        text="What is 2 + 2?",
        reference="B",
        category="toy",
        metadata={"choices": {"A": "3", "B": "4", "C": "5", "D": "6"}, "format": "multiple_choice"},
        source=f"{path}:1",
    )
    assert [c.source for c in cases] == [f"{path}:{n}" for n in (1, 2, 3)]


@pytest.mark.parametrize(
    "header",
    [
        ["question", "A", "B", "C", "D", "answer"],
        ["Question", "a", "b", "c", "d", "Answer"],
        ["prompt", "option 1", "option 2", "option 3", "option 4", "target"],
        ["input", "A", "B", "C", "D", "correct"],
    ],
)
def test_header_is_detected(tmp_path: Path, header: list[str]) -> None:
    path = write_csv(tmp_path / "toy_test.csv", [header, *ROWS])
    cases = load_multiple_choice_csv(path)
    assert [c.id for c in cases] == ["toy-1", "toy-2", "toy-3"]
    assert cases[0].text == "What is 2 + 2?"
    assert [c.source for c in cases] == [f"{path}:{n}" for n in (2, 3, 4)]


def test_header_flag_overrides_detection(tmp_path: Path) -> None:
    headerless = write_csv(tmp_path / "plain_test.csv", ROWS)
    forced = load_multiple_choice_csv(headerless, has_header=True)
    assert [c.text for c in forced] == [ROWS[1][0], ROWS[2][0]]
    assert forced[0].id == "plain-1"
    headed = write_csv(tmp_path / "headed_test.csv", [["question", "A", "B", "C", "D", "answer"]])
    message = error_of(load_multiple_choice_csv, headed, has_header=False)
    assert f"{headed}:1: answer 'answer' is not one of A, B, C, D" in message


def test_answer_letter_case_and_spaces_are_tolerated(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "toy_test.csv", [["Q?", " x ", "y", "z", "w", " d "]])
    (case,) = load_multiple_choice_csv(path)
    assert case.reference == "D"
    assert case.metadata["choices"]["A"] == "x"


def test_bom_and_crlf_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "toy_test.csv"
    path.write_bytes(
        b"\xef\xbb\xbfWhat is 2 + 2?,3,4,5,6,B\r\n\r\n"
        b'"A question\r\non two lines?",a,b,c,d,D\r\n'
        b"Last?,a,b,c,d,A\r\n"
    )
    cases = load_multiple_choice_csv(path)
    assert [c.text for c in cases] == ["What is 2 + 2?", "A question\non two lines?", "Last?"]
    assert [c.source for c in cases] == [f"{path}:{n}" for n in (1, 3, 5)]
    assert [c.id for c in cases] == ["toy-1", "toy-2", "toy-3"]


# --- CSV error paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (["Q?", "a", "b", "c", "B"], "expected 6 columns (question, A, B, C, D, answer), found 5"),
        (["Q?", "a", "b", "c", "d", "e", "B"], "expected 6 columns"),
        (["Q?", "a", "b", "c", "d", "E"], "answer 'E' is not one of A, B, C, D"),
        (["Q?", "a", "b", "c", "d", ""], "answer '' is not one of A, B, C, D"),
        (["Q?", "a", "b", "c", "d", "AB"], "answer 'AB' is not one of A, B, C, D"),
        (["  ", "a", "b", "c", "d", "A"], "empty question"),
        (["Q?", "a", "", "c", "d", "A"], "empty choice B"),
        (["Q?", "a", "b", " ", "", "A"], "empty choice C, D"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, bad_row: list[str], expected: str) -> None:
    path = write_csv(tmp_path / "toy_test.csv", [ROWS[0], ROWS[1], bad_row, ROWS[2]])
    message = error_of(load_multiple_choice_csv, path)
    assert message.startswith(f"{path}:3: {expected}")
    assert message.count("\n") == 0  # only the bad row is reported


def test_csv_error_line_after_a_multiline_record(tmp_path: Path) -> None:
    path = tmp_path / "toy_test.csv"
    path.write_text('"First\nquestion\nhere?",a,b,c,d,A\nSecond?,a,b,c,d,F\n', encoding="utf-8")
    message = error_of(load_multiple_choice_csv, path)
    assert message == f"{path}:4: answer 'F' is not one of A, B, C, D"


def test_csv_unterminated_quote_is_reported_where_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "toy_test.csv"
    path.write_text('Q?,a,b,c,d,A\n"Open quote,a,b,c,d,B\nLast?,a,b,c,d,C\n', encoding="utf-8")
    message = error_of(load_multiple_choice_csv, path)
    assert message == f"{path}:2: expected 6 columns (question, A, B, C, D, answer), found 1"


def test_csv_oversized_field_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "toy_test.csv"
    path.write_text(f"Q?,a,b,c,d,A\n{'x' * (csv.field_size_limit() + 1)},a,b,c,d,B\n")
    message = error_of(load_multiple_choice_csv, path)
    assert message.startswith(f"{path}:2: invalid CSV (field larger than field limit")


def test_csv_error_line_after_a_header(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "toy_test.csv",
        [["question", "A", "B", "C", "D", "answer"], ROWS[0], ["", "a", "b", "c", "d", "A"]],
    )
    assert error_of(load_multiple_choice_csv, path) == f"{path}:3: empty question"


def test_csv_reports_several_problems_at_once(tmp_path: Path) -> None:
    rows = [["Q?", "a", "b", "c", "d", "Z"] for _ in range(13)]
    path = write_csv(tmp_path / "toy_test.csv", [ROWS[0], *rows])
    message = error_of(load_multiple_choice_csv, path)
    lines = message.split("\n")
    assert lines[:10] == [f"{path}:{n}: answer 'Z' is not one of A, B, C, D" for n in range(2, 12)]
    assert lines[10] == "... and 3 more problem(s)"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "no questions (the file is empty)"),
        ("\n\n  \n", "no questions (the file is empty)"),
        ("question,A,B,C,D,answer\n", "no questions (only a header row)"),
    ],
)
def test_csv_empty_file(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "toy_test.csv"
    path.write_text(content, encoding="utf-8")
    assert error_of(load_multiple_choice_csv, path) == f"{path}: {expected}"


def test_csv_missing_file_directory_and_bad_encoding(tmp_path: Path) -> None:
    missing = tmp_path / "nope_test.csv"
    assert error_of(load_multiple_choice_csv, missing) == f"{missing}: file not found"
    assert (
        error_of(load_multiple_choice_csv, tmp_path)
        == f"{tmp_path}: is a directory, expected a file"
    )
    latin = tmp_path / "latin_test.csv"
    latin.write_bytes(b"Q?,a,b,c,d,A\nCaf\xe9?,a,b,c,d,B\n")
    assert error_of(load_multiple_choice_csv, latin).startswith(f"{latin}:2: not UTF-8 text")


# --- the general-knowledge JSONL loader -----------------------------------------------


def test_general_loader_on_a_small_file(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "gk.jsonl", [gk(), "", gk(id="t-2", answer="c", note="x")])
    first, second = load_general_jsonl(path)
    assert first == Case(
        id="t-1",
        text="What is 2 + 2?",
        reference="B",
        category="arithmetic",
        metadata={
            "choices": {"A": "3", "B": "4", "C": "5", "D": "6"},
            "answers": ["4", "four"],
            "format": "multiple_choice",
        },
        source=f"{path}:1",
    )
    assert second.reference == "C"
    assert second.source == f"{path}:3"
    assert second.metadata["note"] == "x"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        (gk(question=None), "missing field(s) ['question']"),
        (gk(answers=[]), "missing field(s) ['answers']"),
        (gk(question="   "), "'question' must be a non-empty string"),
        (gk(id=7), "'id' and 'category' must be strings"),
        (gk(choices=["3", "4", "5"]), "'choices' must be a list of 4 non-empty strings"),
        (gk(choices=["3", "4", "", "6"]), "'choices' must be a list of 4 non-empty strings"),
        (gk(choices=["3", "4", "4", "6"]), "'choices' must be distinct"),
        (gk(answers=["4", 4]), "'answers' must be a list of non-empty strings"),
        (gk(answer="E"), "answer 'E' is not one of A, B, C, D"),
        (gk(answer=1), "answer 1 is not one of A, B, C, D"),
        (gk(id="t-0"), "duplicate id 't-0' (first seen on line 1)"),
    ],
)
def test_general_errors_name_file_and_line(tmp_path: Path, line: Any, expected: str) -> None:
    path = write_jsonl(tmp_path / "gk.jsonl", [gk(id="t-0"), "", line])
    message = error_of(load_general_jsonl, path)
    assert message.startswith(f"{path}:3: {expected}")
    assert message.count("\n") == 0


def test_general_empty_and_missing_files(tmp_path: Path) -> None:
    empty = write_jsonl(tmp_path / "gk.jsonl", ["", "  "])
    assert error_of(load_general_jsonl, empty) == f"{empty}: no questions (the file is empty)"
    missing = tmp_path / "none.jsonl"
    assert error_of(load_general_jsonl, missing) == f"{missing}: file not found"


# --- the bundled general-knowledge set ------------------------------------------------


def bundled_records() -> list[dict[str, Any]]:
    lines = GENERAL_KNOWLEDGE.read_text(encoding="utf-8").splitlines()
    assert all(line.strip() for line in lines), "blank line in the bundled set"
    return [json.loads(line) for line in lines]


def fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def test_bundled_set_size_and_categories() -> None:
    records = bundled_records()
    assert len(records) == 100
    assert Counter(r["category"] for r in records) == dict.fromkeys(CATEGORIES, 20)
    cases = load_general_jsonl()
    assert len(cases) == 100
    assert [c.id for c in cases] == [r["id"] for r in records]
    assert all(re.fullmatch(r"gk-\d{3}", c.id) for c in cases)
    assert len({c.id for c in cases}) == 100
    assert [c.source for c in cases] == [f"{GENERAL_KNOWLEDGE}:{n}" for n in range(1, 101)]


def test_bundled_answer_letters_are_balanced() -> None:
    letters = Counter(c.reference for c in load_general_jsonl())
    assert set(letters) == set(LETTERS)
    for letter in LETTERS:
        assert 15 <= letters[letter] <= 35, letters


def test_bundled_right_choice_is_an_accepted_answer_and_no_other_is() -> None:
    for case in load_general_jsonl():
        choices = case.metadata["choices"]
        answers = {fold(a) for a in case.metadata["answers"]}
        assert fold(choices[case.reference]) in answers, case.id
        wrong = [c for letter, c in choices.items() if letter != case.reference]
        assert not answers & {fold(c) for c in wrong}, case.id
        assert len({fold(c) for c in choices.values()}) == 4, case.id


def test_bundled_questions_are_unique_and_short() -> None:
    cases = load_general_jsonl()
    questions = [fold(c.text) for c in cases]
    assert len(set(questions)) == len(questions)
    for case in cases:
        assert case.text.endswith("?"), case.id
        assert all(len(a) <= 40 for a in case.metadata["answers"]), case.id


def test_bundled_arithmetic_answers_are_right() -> None:
    """The arithmetic questions are checked by computing them."""
    ops = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "times": lambda a, b: a * b,
        "divided by": lambda a, b: a / b,
    }
    checked = 0
    for case in load_general_jsonl():
        if case.category != "arithmetic":
            continue
        answer = float(case.metadata["choices"][case.reference])
        if match := re.fullmatch(r"What is ([\d.]+) (\+|-|times|divided by) ([\d.]+)\?", case.text):
            a, op, b = match.groups()
            assert ops[op](float(a), float(b)) == answer, case.id
            checked += 1
        elif match := re.fullmatch(r"What is (\d+) \+ (\d+) \+ (\d+)\?", case.text):
            assert sum(float(x) for x in match.groups()) == answer, case.id
            checked += 1
        elif match := re.fullmatch(r"What is (\d+) squared\?", case.text):
            assert float(match.group(1)) ** 2 == answer, case.id
            checked += 1
        elif match := re.fullmatch(r"What is (\d+) to the power of (\d+)\?", case.text):
            assert float(match.group(1)) ** float(match.group(2)) == answer, case.id
            checked += 1
    assert checked >= 15


# --- the prompt -----------------------------------------------------------------------


def test_format_multiple_choice() -> None:
    case = Case(
        id="x",
        text="  What is 2 + 2? ",
        reference="B",
        metadata={"choices": {"A": "3", "B": "4", "C": "5", "D": "6"}},
    )
    assert (
        format_multiple_choice(case) == "Question: What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:"
    )
    as_list = Case(id="y", text="Q?", reference="A", metadata={"choices": ["w", "x", "y", "z"]})
    assert format_multiple_choice(as_list) == "Question: Q?\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    assert CHOICE_CONTINUATIONS == (" A", " B", " C", " D")


def test_format_bundled_case() -> None:
    case = load_general_jsonl()[0]
    prompt = format_multiple_choice(case)
    assert prompt.startswith(f"Question: {case.text}\nA. ")
    assert prompt.endswith("\nAnswer:")
    assert f"\n{case.reference}. {case.metadata['choices'][case.reference]}\n" in prompt


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"choices": ["a", "b", "c"]},
        {"choices": {"A": "a", "B": "b", "C": "c"}},
        {"choices": "abcd"},
    ],
)
def test_format_rejects_cases_without_four_choices(metadata: dict[str, Any]) -> None:
    case = Case(id="q-1", text="Q?", reference="A", metadata=metadata, source="f.jsonl:4")
    with pytest.raises(DataError, match=r"case 'q-1' \(f\.jsonl:4\): not a multiple-choice case"):
        format_multiple_choice(case)
