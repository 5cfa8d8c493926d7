"""Hostile configs and data files through the real CLI (issue 21, items 3 and 8).

Each input used to crash ``tunegate run`` with a traceback (exit 1), pass ``validate`` and
then crash ``run``, or be read loosely (``concurrency: true`` as 1). Now both commands
exit 2 with the same message, naming the file and the line or key, and no traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app

MODELS = (
    "  a: {type: python, function: '{a_fn}'{a_extra}}\n"
    "  b: {type: python, function: 'fns_{tag}:negative'}\n"
)
ROWS = [{"id": str(i), "text": f"review {i}", "label": ["pos", "neg"][i % 2]} for i in range(4)]


def jsonl(rows: Sequence[Mapping[str, object]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def project(
    folder: Path,
    *,
    data: str = jsonl(ROWS),
    data_name: str = "data.jsonl",
    top: str = "",
    a_extra: str = "",
    a_function: str | None = None,
    task: str = "",
) -> Path:
    """A config with two python models over ``data_name`` holding ``data``."""
    tag = folder.name.replace("-", "_").replace("[", "_").replace("]", "_")
    (folder / f"fns_{tag}.py").write_text(
        "def positive(text):\n    return 'pos'\n\ndef negative(text):\n    return 'neg'\n"
    )
    (folder / data_name).write_text(data, encoding="utf-8")
    a_fn = a_function or f"fns_{tag}:positive"
    models = MODELS.replace("{tag}", tag).replace("{a_extra}", a_extra).replace("{a_fn}", a_fn)
    path = folder / "tunegate.yaml"
    path.write_text(
        f"{top}dataset: {{path: {data_name}}}\n"
        f"task:\n  type: classification\n  labels: [pos, neg]\n{task}"
        f"models:\n{models}"
        "compare: {candidate: a, baselines: [b]}\n",
        encoding="utf-8",
    )
    return path


def flat(text: str) -> str:
    return " ".join(text.split())


def both_commands_refuse(config: Path, *expected: str) -> None:
    """``validate`` and ``run`` exit 2, print every ``expected`` piece, no traceback."""
    store = config.parent / "store.db"
    for args in (["validate", str(config)], ["run", str(config), "-q", "--store", str(store)]):
        result = CliRunner().invoke(app, args)
        out = flat(result.output)
        assert isinstance(result.exception, SystemExit), (args[0], repr(result.exception), out)
        assert result.exit_code == 2, (args[0], out)
        assert "Traceback" not in result.output
        for piece in expected:
            assert piece in out, (args[0], piece, out)


# ------------------------------------------------------------------ item 3: crashes


def test_a_5000_digit_integer_in_a_jsonl_line(tmp_path: Path) -> None:
    big = '{"id": "9", "text": "x", "label": "pos", "n": ' + "7" * 5000 + "}\n"
    config = project(tmp_path, data=jsonl(ROWS[:1]) + big)
    both_commands_refuse(config, "data.jsonl:2: a number longer than 4,300 digits")


@pytest.mark.parametrize("where", ["text", "metadata"])
def test_json_nested_100000_deep_in_a_jsonl_line(tmp_path: Path, where: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    line = (
        f'{{"id": "9", "text": {deep}, "label": "pos"}}\n'
        if where == "text"
        else f'{{"id": "9", "text": "x", "label": "pos", "n": {{"m": {deep}}}}}\n'
    )
    config = project(tmp_path, data=jsonl(ROWS[:2]) + line)
    both_commands_refuse(config, "data.jsonl:3: nested more than 100 levels deep")


def test_json_array_nested_100000_deep(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    text = "[\n" + json.dumps(ROWS[0]) + ',\n{"text": "x", "label": "pos", "n": ' + deep + "}]"
    config = project(tmp_path, data=text, data_name="data.json")
    both_commands_refuse(config, "data.json:3: nested more than 100 levels deep")


def test_json_nested_deeper_than_the_limit_but_parseable(tmp_path: Path) -> None:
    # 150 levels parse (Python's parser allows ~1000) but would break a later walk.
    deep = "[" * 150 + "]" * 150
    line = '{"id": "9", "text": "x", "label": "pos", "extra": ' + deep + "}\n"
    config = project(tmp_path, data=jsonl(ROWS[:1]) + line)
    both_commands_refuse(config, "data.jsonl:2: field 'extra' is nested more than 100 levels deep")
    array = json.dumps([ROWS[0], {**ROWS[1], "extra": json.loads(deep)}])
    config = project(tmp_path, data=array, data_name="data.json")
    both_commands_refuse(config, "data.json: item 2: field 'extra' is nested more than 100")


def test_a_csv_field_over_131072_characters(tmp_path: Path) -> None:
    text = "id,text,label\n1,short,pos\n2," + "x" * 140_000 + ",neg\n"
    config = project(tmp_path, data=text, data_name="data.csv")
    both_commands_refuse(config, "data.csv:3: invalid CSV (a field longer than 131,072 characters")


def test_an_unclosed_quote_is_named_where_its_record_starts(tmp_path: Path) -> None:
    text = 'id,text,label\n1,short,pos\n2,"open quote,neg\n' + "more text\n" * 20_000
    config = project(tmp_path, data=text, data_name="data.csv")
    both_commands_refuse(config, "data.csv:3: invalid CSV (a field longer than")


@pytest.mark.parametrize("seed", ["-1", str(2**64), "true"])
def test_seeds_that_numpy_or_the_store_cannot_take(tmp_path: Path, seed: str) -> None:
    config = project(tmp_path, top=f"seed: {seed}\n")
    both_commands_refuse(config, f"{config}: seed: ")


def test_a_shots_seed_beyond_64_bits(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(jsonl(ROWS))
    config = project(tmp_path)
    text = config.read_text().replace(
        "  b: {type: python",
        "  c: {type: openai, model: m, base_url: 'http://127.0.0.1:9/v1',\n"
        f"      shots: {{path: train.jsonl, k: 2, seed: {2**64}}}}}\n  b: {{type: python",
    )
    config.write_text(text)
    both_commands_refuse(config, f"{config}: models.c.shots.seed: Input should be less than")


@pytest.mark.parametrize("threshold", [".nan", ".inf", "-.inf", "'nan'"])
def test_a_non_finite_gate_threshold(tmp_path: Path, threshold: str) -> None:
    config = project(tmp_path)
    gate = f"gate:\n  criteria:\n    - {{metric: accuracy, min: {threshold}}}\n"
    config.write_text(config.read_text() + gate)
    both_commands_refuse(config, f"{config}: gate.criteria[0].min: ")


def test_a_lone_surrogate_in_a_jsonl_input(tmp_path: Path) -> None:
    line = '{"id": "9", "text": "broken \\ud800 text", "label": "pos"}\n'
    config = project(tmp_path, data=jsonl(ROWS[:1]) + line)
    both_commands_refuse(config, "data.jsonl:2: field 'text' holds an unpaired surrogate (\\ud800)")


def test_a_lone_surrogate_in_a_chat_message(tmp_path: Path) -> None:
    chat = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "pos"}]}
    bad = json.dumps(chat).replace('"x"', '"x\\udfff"')
    config = project(tmp_path, data=json.dumps(chat) + "\n" + bad + "\n")
    both_commands_refuse(
        config, "data.jsonl:2: field 'messages[0].content' holds an unpaired surrogate"
    )


def test_a_lone_surrogate_in_the_config(tmp_path: Path) -> None:
    config = project(tmp_path, task='  prompt: "Classify \\ud800 {{ input }}"\n')
    both_commands_refuse(config, f"{config}: task.prompt: holds an unpaired surrogate (\\ud800)")


def _module_raising(statement: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        config = project(folder, a_function="hostile:positive")
        (folder / "hostile.py").write_text(
            f"class Custom(BaseException):\n    pass\n\n{statement}\n\n"
            "def positive(text):\n    return 'pos'\n"
        )
        return config

    return make


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        ("raise SystemExit(7)", "raised SystemExit: 7"),
        ("raise SystemExit('bye')", "raised SystemExit: bye"),
        ("raise Custom('odd')", "raised Custom: odd"),
        ("raise GeneratorExit()", "raised GeneratorExit"),
    ],
)
def test_a_python_model_whose_module_raises_a_base_exception(
    tmp_path: Path, statement: str, shown: str
) -> None:
    config = _module_raising(statement)(tmp_path)
    both_commands_refuse(config, "models.a.function: importing 'hostile'", shown)


def test_a_python_function_that_raises_system_exit_is_an_error_answer(tmp_path: Path) -> None:
    config = project(tmp_path, a_function="quits:positive")
    (tmp_path / "quits.py").write_text("def positive(text):\n    raise SystemExit(3)\n")
    store = tmp_path / "store.db"
    result = CliRunner().invoke(app, ["run", str(config), "-q", "--store", str(store), "--no-gate"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    # Every answer of model a is a counted error, not an answer, and the run goes on.
    out = flat(result.output)
    assert "4 error(s)" in out, out
    assert "quits:positive raised SystemExit: 3" in out, out


# ------------------------------------------------------------------ item 8: loose types


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        (", concurrency: true", "models.a.concurrency"),
        (", max_retries: false", "models.a.max_retries"),
        (", timeout: true", "models.a.timeout"),
    ],
)
def test_booleans_are_not_numbers(tmp_path: Path, extra: str, key: str) -> None:
    config = project(tmp_path, a_extra=extra)
    both_commands_refuse(config, f"{config}: {key}: expected a number, not ")


@pytest.mark.parametrize(
    ("top", "key"),
    [
        ("bootstrap: true\n", "bootstrap"),
        ("confidence: true\n", "confidence"),
    ],
)
def test_booleans_are_not_numbers_at_the_top(tmp_path: Path, top: str, key: str) -> None:
    config = project(tmp_path, top=top)
    both_commands_refuse(config, f"{config}: {key}: expected a number, not true")


@pytest.mark.parametrize(
    ("extra", "key", "shown"),
    [
        (", timeout: .inf", "models.a.timeout", "inf"),
        (", price: {per_hour: .inf}", "models.a.price.per_hour", "inf"),
        (", price: {input_per_1m: .nan, output_per_1m: 1.0}", "models.a.price.input_per_1m", "nan"),
    ],
)
def test_non_finite_numbers_are_refused(tmp_path: Path, extra: str, key: str, shown: str) -> None:
    config = project(tmp_path, a_extra=extra)
    both_commands_refuse(config, f"{config}: {key}: not a finite number ({shown})")


def test_non_finite_numbers_are_refused_in_free_form_values(tmp_path: Path) -> None:
    config = project(tmp_path)
    config.write_text(
        config.read_text().replace(
            "  b: {type: python",
            "  c: {type: openai, model: m, base_url: 'http://127.0.0.1:9/v1',"
            " params: {temperature: .nan}}\n  b: {type: python",
        )
    )
    both_commands_refuse(config, f"{config}: models.c.params.temperature: not a finite number")


def test_a_huge_integer_in_the_config(tmp_path: Path) -> None:
    config = project(tmp_path, top="seed: " + "9" * 5000 + "\n")
    both_commands_refuse(config, f"{config}:1:7: invalid YAML: a number longer than 4,300 digits")


def test_a_duplicate_csv_header_column(tmp_path: Path) -> None:
    text = "id,text,label,text\n1,a,pos,shadow\n2,b,neg,shadow\n"
    config = project(tmp_path, data=text, data_name="data.csv")
    both_commands_refuse(config, "data.csv:1: column 'text' appears 2 times in the header")


@pytest.mark.parametrize(
    ("label", "said"),
    [("null", "field 'label' is null"), ('""', "field 'label' is empty")],
)
def test_a_null_or_empty_label(tmp_path: Path, label: str, said: str) -> None:
    line = '{"id": "9", "text": "x", "label": ' + label + "}\n"
    config = project(tmp_path, data=jsonl(ROWS[:3]) + line)
    both_commands_refuse(config, f"data.jsonl:4: {said}")
    out = flat(CliRunner().invoke(app, ["validate", str(config)]).output)
    assert "missing field" not in out


def test_a_utf16_data_file_says_so(tmp_path: Path) -> None:
    config = project(tmp_path)
    (tmp_path / "data.jsonl").write_bytes(jsonl(ROWS).encode("utf-16"))
    both_commands_refuse(config, "data.jsonl:1: UTF-16 text", "save the file as UTF-8")


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    config = project(tmp_path)
    (tmp_path / "data.jsonl").write_bytes(b"\xef\xbb\xbf" + jsonl(ROWS).encode())
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    result = CliRunner().invoke(app, ["validate", str(config)])
    assert result.exit_code == 0, result.output
    assert "4 cases" in result.output


@pytest.mark.parametrize("spec", ["hostile_scorer.py:score", "hostile_scorer:score"])
def test_a_custom_scorer_whose_module_raises_system_exit(tmp_path: Path, spec: str) -> None:
    config = project(tmp_path)
    (tmp_path / "hostile_scorer.py").write_text(
        "raise SystemExit(5)\n\ndef score(case, output):\n    return 1.0\n"
    )
    text = config.read_text().replace(
        "task:\n  type: classification\n  labels: [pos, neg]\n",
        f"task:\n  type: generation\n  scorers: [{{type: custom, function: '{spec}'}}]\n",
    )
    config.write_text(text)
    both_commands_refuse(config, f"custom scorer '{spec}': importing", "raised SystemExit: 5")
