"""YAML as users write it: YAML 1.2 core-schema scalars in every YAML the tool reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.config import load_config
from tunegate.errors import ConfigError
from tunegate.yamlio import load_yaml, load_yaml_file

YES_NO = ["yes", "NO", "On", "off", "y", "N"]


def write_config(tmp_path: Path, labels: str, model_names: tuple[str, str] = ("a", "b")) -> Path:
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": lab}]}
        for i, lab in enumerate(["yes", "no", "on", "off"])
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    first, second = model_names
    path = tmp_path / "tunegate.yaml"
    path.write_text(
        f"dataset: {{path: test.jsonl}}\n"
        f"task:\n  type: classification\n  labels: {labels}\n"
        f"models:\n"
        f"  {first}: {{type: http, url: 'http://127.0.0.1:9/classify'}}\n"
        f"  {second}: {{type: openai, model: m, base_url: 'http://127.0.0.1:9/v1'}}\n"
        f"compare: {{candidate: {first}, baselines: [{second}]}}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("pair", [("yes", "no"), ("on", "off"), ("y", "n"), ("Yes", "NO")])
def test_yes_no_labels_stay_strings(tmp_path: Path, pair: tuple[str, str]) -> None:
    cfg = load_config(write_config(tmp_path, f"[{pair[0]}, {pair[1]}]"))
    assert cfg.main_task.labels == list(pair)


def test_all_yaml11_booleans_are_text_in_a_block_list(tmp_path: Path) -> None:
    block = "\n" + "".join(f"    - {word}\n" for word in YES_NO)
    cfg = load_config(write_config(tmp_path, block.rstrip("\n")))
    assert cfg.main_task.labels == YES_NO


def test_ids_that_yaml11_turns_into_numbers_stay_as_typed(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, "[0123, 1e3, '1:30', 1:30x]", ("0123", "1e3")))
    assert cfg.main_task.labels == ["0123", "1e3", "1:30", "1:30x"]
    assert list(cfg.models) == ["0123", "1e3"]
    assert cfg.candidate == "0123"


def test_sexagesimal_and_dates_are_strings() -> None:
    assert load_yaml("[1:30, 2024-01-01, 0x1F, +5, .5, 1.]") == [
        "1:30",
        "2024-01-01",
        "0x1F",
        "+5",
        ".5",
        "1.",
    ]


def test_numbers_written_plainly_are_numbers() -> None:
    data = load_yaml("a: 42\nb: -7\nc: 0.5\nd: -12.25\ne: 0\nf: .inf\ng: -.inf\nh: .nan\n")
    nan = data.pop("h")
    assert math.isnan(nan)
    assert data == {"a": 42, "b": -7, "c": 0.5, "d": -12.25, "e": 0, "f": math.inf, "g": -math.inf}
    assert [type(data[k]) for k in "abcd"] == [int, int, float, float]


def test_only_true_false_are_booleans_and_null_forms() -> None:
    assert load_yaml("[true, True, TRUE, false, False, FALSE, yes, off]") == [
        True,
        True,
        True,
        False,
        False,
        False,
        "yes",
        "off",
    ]
    assert load_yaml("[~, null, Null, NULL, nul, 'null']") == [
        None,
        None,
        None,
        None,
        "nul",
        "null",
    ]
    assert load_yaml("a:\n") == {"a": None}


def test_schema_numbers_from_text_still_become_numbers(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[yes, no]")
    text = path.read_text().replace("url: 'http", "concurrency: 04, timeout: 1e1, url: 'http", 1)
    path.write_text(text)
    model = load_config(path).models["a"]
    assert model.concurrency == 4
    assert model.timeout == 10.0


def test_quoted_scalars_are_always_strings() -> None:
    assert load_yaml("['true', \"42\", '0.5', '~']") == ["true", "42", "0.5", "~"]


def test_duplicate_keys_rejected_with_line(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\nb:\n  c: 1\n  c: 2\n")
    with pytest.raises(ConfigError) as info:
        load_yaml_file(path)
    assert str(info.value) == f"{path}:4:3: invalid YAML: duplicate key 'c' (first on line 3)"


def test_merge_keys_still_work() -> None:
    assert load_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")["m"] == {"x": 1, "y": 3}


def test_unhashable_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:1:\d+: invalid YAML: "):
        load_yaml("? [a, b]\n: 1\n", "f.yaml")


def test_python_tags_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:1:\d+: invalid YAML: "):
        load_yaml("!!python/object/apply:os.system ['true']\n", "f.yaml")


def test_cli_validate_accepts_yes_no_labels(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[yes, no, on, off]")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "4 cases, 4 labels" in result.output


def test_no_yaml_read_bypasses_yamlio() -> None:
    src = Path(__file__).resolve().parents[2] / "src" / "tunegate"
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if p.name != "yamlio.py"
        and any(
            call in p.read_text(encoding="utf-8")
            for call in ("yaml.load(", "yaml.safe_load(", "yaml.full_load(", "yaml.unsafe_load(")
        )
    ]
    assert offenders == []


def test_alias_bombs_are_refused(tmp_path: Path) -> None:
    rows = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    path = tmp_path / "tunegate.yaml"
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: the document expands to more than 1,000,000")


def test_a_few_aliases_are_fine() -> None:
    assert load_yaml("d: &d {x: 1}\nm: [*d, *d]\n") == {"d": {"x": 1}, "m": [{"x": 1}, {"x": 1}]}


def test_deep_nesting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^deep\.yaml"):
        load_yaml("[" * 20000 + "]" * 20000, "deep.yaml")
