"""Fuzzing every loader: arbitrary bytes and structurally valid but wrong documents give a
:class:`TunegateError` whose message starts with the file (and names the key or line), or
exit 2 from the CLI; never another exception. Bounded: ``EXAMPLES`` per loader and shape."""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.config import load_config
from tunegate.data import FieldMap, load_cases
from tunegate.data.bfcl import load_bfcl
from tunegate.data.mmlu import load_multiple_choice_csv
from tunegate.errors import TunegateError
from tunegate.human.exchange import import_argilla, import_csv_votes, import_labelstudio
from tunegate.human.store import StudyItem
from tunegate.human.study import PairItem, items_from_pairs

EXAMPLES = 150
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)


def keyed(keys: list[str], values: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[Any]:
    """Objects that use the loader's own keys with arbitrary values (or other JSON)."""
    return st.fixed_dictionaries({}, optional=dict.fromkeys(keys, values)) | json_values


def jsonl(lines: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.lists(lines, max_size=6).map(
        lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()
    )


def csv_text(columns: list[str]) -> st.SearchStrategy[bytes]:
    header = st.lists(st.sampled_from([*columns, "x", ""]) | st.text(max_size=6), max_size=7)
    rows = st.lists(st.lists(st.text(max_size=10), max_size=8), max_size=6)

    def build(parts: tuple[list[str], list[list[str]]]) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(parts[0])
        writer.writerows(parts[1])
        return buffer.getvalue().encode()

    return st.tuples(header, rows).map(build)


def assert_names_the_file(exc: TunegateError, path: Path) -> None:
    message = str(exc)
    assert message.strip(), "an empty message"
    first = message.splitlines()[0]
    assert first.startswith(str(path)), message
    # After the file: a line number, a key, or a statement about the whole file.
    assert re.match(re.escape(str(path)) + r"(:\d+)?(:\d+)?: \S", first), message


def check(loader: Callable[[Path], Any], data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            loader(path)
        except TunegateError as exc:
            assert_names_the_file(exc, path)


# ------------------------------------------------------------------------ study items

ITEMS = [
    StudyItem(PairItem(f"i{n}", "prompt", "out a", "out b", "m1", "m2"), n, "a", f"i{n}")
    for n in range(2)
]
ANNOTATORS = ["ann1", "ann2"]
CRITERIA = ["overall"]

LOADERS: dict[str, tuple[str, Callable[[Path], Any], st.SearchStrategy[bytes]]] = {
    "chat JSONL": (
        ".jsonl",
        lambda p: load_cases(p, fmt="chat"),
        jsonl(
            keyed(
                ["messages", "id", "category"],
                st.lists(keyed(["role", "content"]), max_size=4) | json_values,
            )
        ),
    ),
    "JSONL with a field map": (
        ".jsonl",
        lambda p: load_cases(
            p, fmt="jsonl", fields=FieldMap(input_field="q", label_field="y"), labels=["a", "b"]
        ),
        jsonl(keyed(["q", "y", "id", "category"])),
    ),
    "CSV with a field map": (
        ".csv",
        lambda p: load_cases(p, fmt="csv", fields=FieldMap(input_field="q", label_field="y")),
        csv_text(["q", "y", "id", "category"]),
    ),
    "BFCL": (
        ".json",
        lambda p: load_bfcl(p, p),  # the same fuzzed file as questions and answers
        jsonl(keyed(["id", "question", "function", "category", "ground_truth"])),
    ),
    "MMLU CSV": (
        ".csv",
        load_multiple_choice_csv,
        csv_text(["question", "A", "B", "C", "D", "answer"]),
    ),
    "pairs JSONL": (
        ".jsonl",
        items_from_pairs,
        jsonl(keyed(["id", "prompt", "output_a", "output_b", "model_a", "model_b", "category"])),
    ),
    "CSV votes": (
        ".csv",
        lambda p: import_csv_votes(p, ITEMS, ANNOTATORS, CRITERIA),
        csv_text(["item_id", "annotator", "criterion", "choice"]),
    ),
    "Label Studio export": (
        ".json",
        lambda p: import_labelstudio(p, ITEMS, ANNOTATORS, CRITERIA),
        st.lists(keyed(["id", "data", "annotations", "completed_by", "result"]), max_size=4).map(
            lambda v: json.dumps(v).encode()
        ),
    ),
    "Argilla export": (
        ".json",
        lambda p: import_argilla(p, ITEMS, ANNOTATORS, CRITERIA),
        st.lists(
            keyed(["id", "metadata", "responses", "user_id", "status", "values"]), max_size=4
        ).map(lambda v: json.dumps(v).encode()),
    ),
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_arbitrary_bytes(name: str) -> None:
    suffix, loader, _ = LOADERS[name]

    @FUZZ
    @given(data=st.binary(max_size=1500))
    def run(data: bytes) -> None:
        check(loader, data, suffix)

    run()


@pytest.mark.parametrize("name", list(LOADERS))
def test_valid_shape_wrong_content(name: str) -> None:
    suffix, loader, documents = LOADERS[name]

    @FUZZ
    @given(data=documents)
    def run(data: bytes) -> None:
        check(loader, data, suffix)

    run()


# ------------------------------------------------------------------------ the config

CONFIG_KEYS = ["name", "seed", "dataset", "task", "models", "compare", "gate", "suites", "store"]
config_documents = st.fixed_dictionaries(
    {},
    optional={
        "dataset": keyed(["path", "format", "input_field", "label_field", "limit"]),
        "task": keyed(["type", "labels", "scorers", "format"]),
        "models": st.dictionaries(
            st.text(max_size=6),
            keyed(["type", "model", "url", "base_url", "api_key_env", "headers", "params"]),
            max_size=3,
        )
        | json_values,
        "compare": keyed(["candidate", "baselines", "base"]),
        "gate": keyed(["criteria"]),
        **dict.fromkeys(("name", "seed", "suites", "store"), json_values),
    },
)


def _yaml(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()


@FUZZ
@given(data=st.binary(max_size=1500) | config_documents.map(_yaml))
def test_config_loader(data: bytes) -> None:
    check(load_config, data, ".yaml")


@pytest.mark.slow
@FUZZ
@given(data=config_documents.map(_yaml) | st.binary(max_size=800))
def test_cli_validate_exit_2_never_a_traceback(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tunegate.yaml"
        path.write_bytes(data)
        result = CliRunner().invoke(app, ["validate", str(path)])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
        assert str(path) in "".join(result.output.split())  # rich may wrap the path


@pytest.mark.slow
@FUZZ
@given(
    train=jsonl(keyed(["text", "label", "id"])) | st.binary(max_size=600),
    test=jsonl(keyed(["text", "label", "id"])) | csv_text(["text", "label", "id"]),
)
def test_cli_check_data_never_a_traceback(train: bytes, test: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        train_path, test_path = Path(folder) / "train.jsonl", Path(folder) / "test.csv"
        train_path.write_bytes(train)
        test_path.write_bytes(test)
        result = CliRunner().invoke(
            app, ["check-data", "--train", str(train_path), "--test", str(test_path)]
        )
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert result.exit_code in (0, 2), result.output
        if result.exit_code == 2:
            flat = "".join(result.output.split())
            assert str(train_path) in flat or str(test_path) in flat, result.output


# ------------------------------------------------------------------ hostile values (issue 21)
#
# Records whose one field holds a hostile JSON value: huge numbers, deep nesting, lone
# surrogates, NaN/Infinity, huge strings; files in other encodings. A file that must not be
# used (the run would crash on it later) is refused naming the file; what loads can be
# encoded as UTF-8 JSON (what sending and storing a case does).

HOSTILE_JSON = st.one_of(
    st.integers(4301, 6000).map(lambda n: ("huge integer", "9" * n, True)),
    st.integers(20, 4300).map(lambda n: ("long integer within the limit", "-" + "7" * n, False)),
    st.sampled_from([100, 101, 150, 999, 1000, 5000, 100_000]).map(
        lambda n: ("deep nesting", "[" * n + "]" * n, True)
    ),
    st.integers(100, 3000).map(lambda n: ("deep nesting", '{"k": ' * n + "1" + "}" * n, True)),
    st.integers(1, 99).map(lambda n: ("nesting within the limit", "[" * n + "]" * n, False)),
    st.sampled_from(['"\\ud800"', '"a\\udc00b"', '"\\udbff\\udbff"', '{"\\ud800": 1}']).map(
        lambda t: ("lone surrogate", t, True)
    ),
    st.just(("surrogate pair", '"\\ud83d\\ude00"', False)),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]).map(
        lambda t: ("NaN/inf", t, False)
    ),
    st.sampled_from(["true", "false", "null", '""', "[]", "{}"]).map(
        lambda t: ("boolean, null, empty", t, False)
    ),
    st.integers(131_073, 300_000).map(lambda n: ("huge string", '"' + "x" * n + '"', False)),
    st.text(max_size=30).map(lambda t: ("any text", json.dumps(t), False)),
)
RECORD_SLOTS = ["id", "text", "label", "category", "extra"]
DATA_ENCODINGS = st.sampled_from(["utf-8", "utf-8 with BOM", "utf-16", "invalid utf-8"])
HOSTILE = settings(max_examples=120, deadline=None, database=None)


def _record(slot: str, value: str, number: int) -> str:
    fields = {
        "id": f'"r{number}"',
        "text": f'"text {number}"',
        "label": '"pos"',
        "category": '"c"',
        "extra": "1",
    }
    fields[slot] = value
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


def _chat(value: str) -> str:
    return (
        '{"messages": [{"role": "user", "content": ' + value + "}, "
        '{"role": "assistant", "content": "pos"}]}'
    )


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16":
        return text.encode("utf-16")
    data = text.encode("utf-8")
    if encoding == "utf-8 with BOM":
        return b"\xef\xbb\xbf" + data
    if encoding == "invalid utf-8":
        return data + b"\xff\xfe\n"
    return data


def _load_hostile(data: bytes, suffix: str, fmt: str) -> tuple[str | None, list[Any]]:
    """Load ``data`` as a data file: (the error naming the file, or None; the cases)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"input{suffix}"
        path.write_bytes(data)
        try:
            cases = load_cases(path, fmt=fmt)  # type: ignore[arg-type]
        except TunegateError as exc:
            assert_names_the_file(exc, path)
            return str(exc), []
    return None, cases


def _usable(cases: list[Any]) -> None:
    """What sending and storing a case needs: JSON, valid UTF-8."""
    import dataclasses

    json.dumps([dataclasses.asdict(c) for c in cases], ensure_ascii=False).encode("utf-8")


@settings(max_examples=300, deadline=None, database=None)
@given(
    shape=st.sampled_from(["jsonl", "json array", "chat"]),
    slot=st.sampled_from(RECORD_SLOTS),
    hostile=HOSTILE_JSON,
    at=st.integers(0, 2),
    encoding=DATA_ENCODINGS,
)
def test_hostile_values_in_json_records(
    shape: str, slot: str, hostile: tuple[str, str, bool], at: int, encoding: str
) -> None:
    category, value, refuse = hostile
    event(category)
    event(encoding)
    event(shape)
    if shape == "chat":
        records = [_chat(value if i == at else f'"q{i}"') for i in range(3)]
    else:
        records = [
            _record(slot, value, i) if i == at else _record("id", f'"r{i}"', i) for i in range(3)
        ]
    if shape == "json array":
        text, suffix, fmt = "[\n" + ",\n".join(records) + "\n]\n", ".json", "json"
    else:
        text, suffix = "".join(r + "\n" for r in records), ".jsonl"
        fmt = "chat" if shape == "chat" else "jsonl"
    error, cases = _load_hostile(_encode(text, encoding), suffix, fmt)
    if encoding in ("utf-16", "invalid utf-8") or refuse:
        assert error is not None, (category, encoding, [c.text[:40] for c in cases])
    if error is None:
        _usable(cases)


CSV_FIELDS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(['"unclosed', 'a "quoted" b', "line\nbreak", "nul\x00byte", "\ufeff", ""]),
    st.integers(131_073, 200_000).map(lambda n: "x" * n),
    st.integers(1_000, 131_000).map(lambda n: "y" * n),
)


@HOSTILE
@given(
    header=st.lists(st.sampled_from(["id", "category", "x", "", "", "text"]), max_size=5),
    rows=st.lists(st.lists(CSV_FIELDS, min_size=1, max_size=6), max_size=4),
    encoding=DATA_ENCODINGS,
)
def test_hostile_csv(header: list[str], rows: list[list[str]], encoding: str) -> None:
    header = ["text", "label", *header]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    named = [h for h in header if h]
    huge = any(len(field) > 131_072 for row in rows for field in row)
    event("duplicate column" if len(set(named)) < len(named) else "distinct columns")
    event("a field over 131,072 characters" if huge else "fields within the limit")
    event(encoding)
    error, cases = _load_hostile(_encode(buffer.getvalue(), encoding), ".csv", "csv")
    if len(set(named)) < len(named) or encoding in ("utf-16", "invalid utf-8"):
        assert error is not None
    if huge and error is None:
        raise AssertionError("a field over the limit was read")
    if error is None:
        _usable(cases)
