"""YAML as users write it: YAML 1.2 core-schema scalars in every YAML the tool reads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.config import HTTPModel, load_config
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
    assert isinstance(model, HTTPModel)
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


# ------------------------------------------------------------ fuzzing hostile values (issue 21)
#
# A valid config with one hostile value put at one key. ``load_config`` either accepts it or
# raises a ConfigError naming the file; the values that would crash a run later (NaN, .inf,
# a lone surrogate, nesting past the limit, a number too long to convert, true for a number)
# are always refused. A sample also goes through ``validate`` and, when that passes, ``run``:
# validate must refuse whatever run would.

CONFIG_TEMPLATE = """\
name: <<name>>
seed: <<seed>>
bootstrap: <<bootstrap>>
confidence: <<confidence>>
dataset: {path: data.jsonl, limit: <<limit>>}
task:
  type: classification
  labels: [pos, <<label>>]
  prompt: <<prompt>>
models:
  a: {type: python, function: 'fuzzfns:positive', concurrency: <<concurrency>>,
      timeout: <<timeout>>, max_retries: <<max_retries>>, price: {per_hour: <<per_hour>>}}
  b: {type: python, function: 'fuzzfns:negative', version: <<version>>}
  c: {type: openai, model: m, base_url: 'http://127.0.0.1:9/v1',
      params: {temperature: <<temperature>>, extra: <<extra>>}}
compare: {candidate: a, baselines: [b]}
gate:
  criteria:
    - {metric: accuracy, min: <<min>>}
"""
DEFAULTS = {
    "name": "fuzz",
    "seed": "0",
    "bootstrap": "200",
    "confidence": "0.9",
    "limit": "10",
    "label": "neg",
    "prompt": "'Classify: {{ input }}'",
    "concurrency": "2",
    "timeout": "5.0",
    "max_retries": "0",
    "per_hour": "1.5",
    "version": "v1",
    "temperature": "0.0",
    "extra": "[1, {k: v}]",
    "min": "0.0",
}
NUMERIC = {
    "seed",
    "bootstrap",
    "confidence",
    "limit",
    "concurrency",
    "timeout",
    "max_retries",
    "per_hour",
    "min",
}
INTEGER = {"seed", "bootstrap", "limit", "concurrency", "max_retries"}


def _nest(depth: int, mapping: bool) -> str:
    return ("{k: " * depth + "1" + "}" * depth) if mapping else ("[" * depth + "]" * depth)


# (category, YAML text, must it be refused wherever it is put?)
HOSTILE = st.one_of(
    st.integers(4301, 6000).map(lambda n: ("huge integer", "9" * n, True)),
    st.integers(4301, 5000).map(lambda n: ("huge integer", "-" + "1" * n, True)),
    st.integers(2**63, 2**80).map(lambda n: ("64-bit overflow", str(n), False)),
    st.integers(-(2**80), -1).map(lambda n: ("negative", str(n), False)),
    st.sampled_from([".nan", ".NaN", ".inf", "-.inf", ".INF", "1" * 400 + ".0"]).map(
        lambda t: ("NaN/inf", t, True)
    ),
    st.sampled_from(["'nan'", "'inf'", "'-Infinity'", "1e999", "'1e400'"]).map(
        lambda t: ("NaN/inf as text", t, False)
    ),
    st.sampled_from(["true", "false", "True", "FALSE"]).map(lambda t: ("boolean", t, False)),
    # (PyYAML takes seconds past ~1,000 levels; 400 is already past its recursion limit.)
    st.tuples(st.integers(101, 400), st.booleans()).map(
        lambda d: ("deep nesting", _nest(*d), True)
    ),
    st.tuples(st.integers(1, 99), st.booleans()).map(
        lambda d: ("nesting within the limit", _nest(*d), False)
    ),
    st.sampled_from(["\\ud800", "x\\udfff", "\\udbff\\udbff", "ok \\ud83d"]).map(
        lambda t: ("lone surrogate", f'"{t}"', True)
    ),
    st.just(("surrogate pair", '"\\ud83d\\ude00"', False)),
    st.integers(100_000, 150_000).map(lambda n: ("huge string", "'" + "x" * n + "'", False)),
    st.text(max_size=20).map(lambda t: ("any text", json.dumps(t), False)),
)
# Values a run may well accept, so that validate's OK is put to the test by run.
PLAUSIBLE = st.sampled_from(
    ["0", "1", "3", "0.25", "0.95", "100", "1000", str(2**63 - 1), "'text'", "'{{ input }}'"]
).map(lambda t: ("plausible", t, False))
ENCODINGS = st.sampled_from(["utf-8", "utf-8 with BOM", "utf-16", "invalid utf-8"])


OPENAI_MODEL = """\
  c: {type: openai, model: m, base_url: 'http://127.0.0.1:9/v1',
      params: {temperature: <<temperature>>, extra: <<extra>>}}
"""


def _document(slot: str, value: str, encoding: str, openai: bool = True) -> bytes:
    text = CONFIG_TEMPLATE if openai else CONFIG_TEMPLATE.replace(OPENAI_MODEL, "")
    for key, default in DEFAULTS.items():
        text = text.replace(f"<<{key}>>", value if key == slot else default)
    if encoding == "utf-16":
        return text.encode("utf-16")
    data = text.encode("utf-8")
    if encoding == "utf-8 with BOM":
        return b"\xef\xbb\xbf" + data
    if encoding == "invalid utf-8":
        return data.replace(b"fuzz", b"fu\xff\xfez", 1)
    return data


def _must_refuse(slot: str, category: str, refuse_anywhere: bool, encoding: str) -> bool:
    if encoding in ("utf-16", "invalid utf-8") or refuse_anywhere:
        return True
    if slot in NUMERIC and category in ("boolean", "NaN/inf as text", "deep nesting"):
        return True
    return slot in INTEGER and category == "64-bit overflow"


FUZZ_CONFIG = settings(max_examples=150, deadline=None, database=None)


@FUZZ_CONFIG
@given(slot=st.sampled_from(sorted(DEFAULTS)), hostile=HOSTILE, encoding=ENCODINGS)
def test_hostile_values_anywhere_in_the_config(
    tmp_path_factory: pytest.TempPathFactory,
    slot: str,
    hostile: tuple[str, str, bool],
    encoding: str,
) -> None:
    category, value, refuse_anywhere = hostile
    event(category)
    event(encoding)
    path = tmp_path_factory.mktemp("fuzz") / "tunegate.yaml"
    path.write_bytes(_document(slot, value, encoding))
    try:
        config = load_config(path)
    except ConfigError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert refused.startswith(str(path)), refused
        return
    assert not _must_refuse(slot, category, refuse_anywhere, encoding), (slot, category)
    # What was accepted can be stored and sent: JSON, valid UTF-8, no deep recursion.
    config.model_dump_json().encode("utf-8")


def _project(folder: Path, document: bytes) -> Path:
    (folder / "fuzzfns.py").write_text(
        "def positive(text):\n    return 'pos'\n\ndef negative(text):\n    return 'neg'\n"
    )
    rows = [{"id": str(i), "text": f"t{i}", "label": ["pos", "neg"][i % 2]} for i in range(4)]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = folder / "tunegate.yaml"
    path.write_bytes(document)
    return path


@settings(max_examples=30, deadline=None, database=None)
@given(
    slot=st.sampled_from(sorted(set(DEFAULTS) - {"limit", "temperature", "extra"})),
    hostile=st.one_of(HOSTILE, PLAUSIBLE),
    encoding=st.sampled_from(["utf-8", "utf-8", "utf-8 with BOM", "invalid utf-8"]),
)
def test_validate_refuses_what_run_would(
    tmp_path_factory: pytest.TempPathFactory,
    slot: str,
    hostile: tuple[str, str, bool],
    encoding: str,
) -> None:
    event(hostile[0])
    folder = tmp_path_factory.mktemp("cli")
    path = _project(folder, _document(slot, hostile[1], encoding, openai=False))
    checked = CliRunner().invoke(app, ["validate", str(path)])
    assert isinstance(checked.exception, SystemExit | None), repr(checked.exception)
    assert checked.exit_code in (0, 2), checked.output
    assert "Traceback" not in checked.output
    if checked.exit_code == 2:
        assert str(path) in "".join(checked.output.split()), checked.output
        return
    event("validate said OK: run too")
    ran = CliRunner().invoke(
        app, ["run", str(path), "-q", "--store", str(folder / "s.db"), "--no-gate"]
    )
    assert isinstance(ran.exception, SystemExit | None), repr(ran.exception)
    assert ran.exit_code == 0, ran.output
