"""``tunegate.yaml``: loading, defaults, path resolution, and errors naming the file and key."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunegate.config import (
    MODEL_TYPES,
    Config,
    HFModel,
    HTTPModel,
    OpenAIModel,
    load_config,
    parse_config,
)
from tunegate.errors import ConfigError, TunegateError

SYSTEM = (
    "Classify the sentiment of the following product review. "
    "Respond with exactly one word: positive, negative, or neutral."
)

# The example of the product's core issue, as a user would write it.
CORE_EXAMPLE = """\
name: sentiment
seed: 0
dataset:
  path: data/test.jsonl            # chat format: reference = the assistant turn
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: http
    url: http://localhost:8000/classify
    body: {text: "{{ input }}"}
    response: label                # where the answer is in the JSON reply
  zero-shot:
    type: openai
    model: gpt-4o-mini
    base_url: https://api.openai.com/v1   # optional: vLLM, Ollama, llama.cpp, TGI...
    api_key_env: OPENAI_API_KEY           # the variable's name, never the key
    system: "Classify the sentiment of the following product review. Respond with exactly one word: positive, negative, or neutral."
    params: {temperature: 0, max_tokens: 5}
    concurrency: 16
  five-shot:
    type: openai
    model: gpt-4o-mini
    api_key_env: OPENAI_API_KEY
    system: "Classify the sentiment of the following product review. Respond with exactly one word: positive, negative, or neutral."
    shots: {path: data/train.jsonl, k: 5}
compare:
  candidate: finetuned
  baselines: [zero-shot, five-shot]
"""

LABELS = ["positive", "negative", "neutral"]


def minimal() -> dict[str, Any]:
    """A small valid config as a mapping (two models, no compare section)."""
    return {
        "dataset": {"path": "data/test.jsonl"},
        "task": {"labels": list(LABELS)},
        "models": {
            "finetuned": {"type": "http", "url": "http://localhost:8000/classify"},
            "zero-shot": {"type": "openai", "model": "gpt-4o-mini"},
        },
    }


def set_key(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return data


def del_key(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        node = node[part]
    del node[last]
    return data


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from ``tmp_path`` so that messages name ``tunegate.yaml`` as a user types it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(folder: Path, content: str | dict[str, Any], name: str = "tunegate.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def assert_user_facing(exc: BaseException, source: str) -> str:
    """The message of a clean user error: every line names ``source``, no traceback, no chain."""
    assert isinstance(exc, ConfigError)
    assert isinstance(exc, TunegateError)
    assert exc.exit_code == 2
    message = str(exc)
    assert message
    assert "Traceback" not in message
    assert "errors.pydantic.dev" not in message  # pydantic's own help links
    assert "validation error" not in message.lower()  # pydantic's own summary line
    for line in message.splitlines():
        assert line.startswith(f"{source}:") or line.startswith(f"{source} "), line
    # "from None": the user never sees "During handling of the above exception ..."
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    return message


def config_error(content: str | dict[str, Any], name: str = "tunegate.yaml") -> str:
    """Write ``content`` to ``name`` in the current folder and return the loader's error."""
    write(Path.cwd(), content, name)
    with pytest.raises(ConfigError) as info:
        load_config(name)
    return assert_user_facing(info.value, name)


# --------------------------------------------------------------------------- the core example


def test_core_example_loads_with_every_value(tmp_path: Path) -> None:
    path = write(tmp_path, CORE_EXAMPLE)
    cfg = load_config(path)

    assert isinstance(cfg, Config)
    assert cfg.name == "sentiment"
    assert cfg.seed == 0
    assert cfg.task.type == "classification"
    assert cfg.task.labels == LABELS
    assert list(cfg.models) == ["finetuned", "zero-shot", "five-shot"]

    finetuned = cfg.models["finetuned"]
    assert isinstance(finetuned, HTTPModel)
    assert finetuned.url == "http://localhost:8000/classify"
    assert finetuned.body == {"text": "{{ input }}"}
    assert finetuned.response == "label"

    zero = cfg.models["zero-shot"]
    assert isinstance(zero, OpenAIModel)
    assert zero.model == "gpt-4o-mini"
    assert zero.base_url == "https://api.openai.com/v1"
    assert zero.api_key_env == "OPENAI_API_KEY"
    assert zero.system == SYSTEM
    assert zero.params == {"temperature": 0, "max_tokens": 5}
    assert zero.concurrency == 16
    assert zero.shots is None

    five = cfg.models["five-shot"]
    assert isinstance(five, OpenAIModel)
    assert five.model == "gpt-4o-mini"
    assert five.api_key_env == "OPENAI_API_KEY"
    assert five.system == SYSTEM
    assert five.base_url is None
    assert five.params == {}
    assert five.shots is not None
    assert five.shots.k == 5

    assert cfg.compare is not None
    assert cfg.candidate == "finetuned"
    assert cfg.baselines == ["zero-shot", "five-shot"]


def test_core_example_documented_defaults(tmp_path: Path) -> None:
    """What the example leaves out takes the defaults of docs/configuration.md."""
    cfg = load_config(write(tmp_path, CORE_EXAMPLE))
    assert cfg.dataset.format == "auto"
    assert (cfg.dataset.input_field, cfg.dataset.label_field) == ("text", "label")
    assert (cfg.dataset.category_field, cfg.dataset.id_field) == ("category", "id")
    assert cfg.dataset.limit is None
    assert cfg.confidence == 0.95
    assert cfg.bootstrap == 10_000
    five = cfg.models["five-shot"]
    assert isinstance(five, OpenAIModel)
    assert (five.concurrency, five.timeout, five.max_retries) == (8, 60.0, 4)
    assert five.headers == {}
    finetuned = cfg.models["finetuned"]
    assert isinstance(finetuned, HTTPModel)
    assert finetuned.method == "POST"


def test_core_example_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    path = write(project, CORE_EXAMPLE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working folder must not matter

    cfg = load_config(path)
    five = cfg.models["five-shot"]
    assert isinstance(five, OpenAIModel)
    assert five.shots is not None

    assert cfg.dataset.path.is_absolute()
    assert cfg.dataset.path == project / "data" / "test.jsonl"
    assert five.shots.path.is_absolute()
    assert five.shots.path == project / "data" / "train.jsonl"
    assert cfg.store.is_absolute()
    assert cfg.store == project / ".tunegate" / "tunegate.db"


def test_relative_config_path_resolves_against_its_folder_not_the_cwd(workdir: Path) -> None:
    write(workdir / "sub", CORE_EXAMPLE)
    cfg = load_config(Path("sub") / "tunegate.yaml")
    five = cfg.models["five-shot"]
    assert isinstance(five, OpenAIModel)
    assert five.shots is not None
    assert cfg.dataset.path.resolve() == workdir / "sub" / "data" / "test.jsonl"
    assert five.shots.path.resolve() == workdir / "sub" / "data" / "train.jsonl"
    assert cfg.store.resolve() == workdir / "sub" / ".tunegate" / "tunegate.db"


def test_absolute_paths_are_kept_and_store_is_configurable(tmp_path: Path) -> None:
    data_file = tmp_path / "shared" / "cases.csv"
    data = minimal()
    data["dataset"]["path"] = str(data_file)
    data["store"] = "runs/evals.db"
    cfg = load_config(write(tmp_path / "conf", data))
    assert cfg.dataset.path == data_file
    assert cfg.store == tmp_path / "conf" / "runs" / "evals.db"


def test_hf_model_paths_resolve_and_expand_home(tmp_path: Path) -> None:
    data = minimal()
    data["models"]["local"] = {
        "type": "hf",
        "path": "~/checkpoints/qwen",
        "adapter": "adapters/lora",
    }
    cfg = load_config(write(tmp_path, data))
    local = cfg.models["local"]
    assert isinstance(local, HFModel)
    assert local.path == Path.home() / "checkpoints" / "qwen"
    assert local.adapter == tmp_path / "adapters" / "lora"


def test_parse_config_resolves_against_the_source_folder(tmp_path: Path) -> None:
    cfg = parse_config(minimal(), source=tmp_path / "conf" / "x.yaml")
    assert cfg.dataset.path == tmp_path / "conf" / "data" / "test.jsonl"


# --------------------------------------------------------------------------- candidate / baselines


def test_without_compare_the_first_model_is_the_candidate(tmp_path: Path) -> None:
    data = minimal()
    # YAML order, not alphabetical order, decides.
    data["models"] = {
        "zeta": {"type": "http", "url": "http://localhost:1/a"},
        "alpha": {"type": "openai", "model": "m1"},
        "mid": {"type": "openai", "model": "m2"},
    }
    cfg = load_config(write(tmp_path, data))
    assert cfg.compare is None
    assert cfg.candidate == "zeta"
    assert cfg.baselines == ["alpha", "mid"]


def test_compare_with_only_a_candidate_uses_every_other_model(tmp_path: Path) -> None:
    data = minimal()
    data["models"]["five-shot"] = {"type": "openai", "model": "gpt-4o-mini"}
    data["compare"] = {"candidate": "zero-shot"}
    cfg = load_config(write(tmp_path, data))
    assert cfg.candidate == "zero-shot"
    assert cfg.baselines == ["finetuned", "five-shot"]


def test_compare_baselines_keep_their_order(tmp_path: Path) -> None:
    data = minimal()
    data["models"]["five-shot"] = {"type": "openai", "model": "gpt-4o-mini"}
    data["compare"] = {"candidate": "finetuned", "baselines": ["five-shot"]}
    cfg = load_config(write(tmp_path, data))
    assert cfg.baselines == ["five-shot"]


def test_single_model_has_no_baselines(tmp_path: Path) -> None:
    data = minimal()
    del data["models"]["zero-shot"]
    cfg = load_config(write(tmp_path, data))
    assert cfg.candidate == "finetuned"
    assert cfg.baselines == []


def test_header_with_env_reference_is_accepted(tmp_path: Path) -> None:
    data = minimal()
    data["models"]["finetuned"]["headers"] = {
        "Authorization": "Bearer ${SERVICE_TOKEN}",
        "X-Api-Key": "${OTHER_KEY}",
        "X-Team": "search",
    }
    cfg = load_config(write(tmp_path, data))
    finetuned = cfg.models["finetuned"]
    assert isinstance(finetuned, HTTPModel)
    assert finetuned.headers["Authorization"] == "Bearer ${SERVICE_TOKEN}"
    assert finetuned.headers["X-Team"] == "search"


def test_trailing_slash_of_base_url_is_dropped(tmp_path: Path) -> None:
    data = set_key(minimal(), "models.zero-shot.base_url", "http://127.0.0.1:8000/v1/")
    cfg = load_config(write(tmp_path, data))
    zero = cfg.models["zero-shot"]
    assert isinstance(zero, OpenAIModel)
    assert zero.base_url == "http://127.0.0.1:8000/v1"


# --------------------------------------------------------------------------- schema errors


@dataclass(frozen=True)
class Bad:
    """A change to :func:`minimal` and the error line it must produce."""

    id: str
    change: tuple[str, str, Any]  # ("set" | "del", dotted key, value)
    key: str
    exact: str | None = None  # the whole message after "tunegate.yaml: <key>: "
    contains: tuple[str, ...] = ()


SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"

BAD = [
    Bad(
        "bad-base-url",
        ("set", "models.zero-shot.base_url", "localhost:8000/v1"),
        "models.zero-shot.base_url",
        contains=("not a URL", "'localhost:8000/v1'"),
    ),
    Bad(
        "bad-http-url",
        ("set", "models.finetuned.url", "ftp://example.org/classify"),
        "models.finetuned.url",
        contains=("not a URL", "'ftp://example.org/classify'"),
    ),
    Bad(
        "typo-concurrency",
        ("set", "models.zero-shot.concurency", 16),
        "models.zero-shot.concurency",
        exact="unknown key (did you mean 'concurrency'?)",
    ),
    Bad(
        "typo-top-level",
        ("set", "modles", {}),
        "modles",
        exact="unknown key (did you mean 'models'?)",
    ),
    Bad(
        "unknown-top-level",
        ("set", "colour", "red"),
        "colour",
        contains=("unknown key (known: ", "dataset", "task", "models", "compare"),
    ),
    Bad(
        "typo-dataset-key",
        ("set", "dataset.input_feild", "review"),
        "dataset.input_feild",
        exact="unknown key (did you mean 'input_field'?)",
    ),
    Bad(
        "typo-compare-key",
        ("set", "compare", {"candidate": "finetuned", "baseline": ["zero-shot"]}),
        "compare.baseline",
        exact="unknown key (did you mean 'baselines'?)",
    ),
    Bad(
        "typo-shots-key",
        ("set", "models.zero-shot.shots", {"path": "train.jsonl", "k": 5, "kk": 2}),
        "models.zero-shot.shots.kk",
        exact="unknown key (did you mean 'k'?)",
    ),
    Bad("missing-dataset", ("del", "dataset", None), "dataset", exact="required key is missing"),
    Bad("missing-task", ("del", "task", None), "task", exact="required key is missing"),
    Bad(
        "missing-labels",
        ("del", "task.labels", None),
        "task",
        exact="a classification task needs labels: [...]",
    ),
    Bad(
        "missing-dataset-path",
        ("del", "dataset.path", None),
        "dataset.path",
        exact="required key is missing",
    ),
    Bad(
        "missing-model-name",
        ("del", "models.zero-shot.model", None),
        "models.zero-shot.model",
        exact="required key is missing",
    ),
    Bad(
        "missing-http-url",
        ("del", "models.finetuned.url", None),
        "models.finetuned.url",
        exact="required key is missing",
    ),
    Bad(
        "missing-shots-k",
        ("set", "models.zero-shot.shots", {"path": "train.jsonl"}),
        "models.zero-shot.shots.k",
        exact="required key is missing",
    ),
    Bad(
        "unknown-model-type",
        ("set", "models.zero-shot.type", "gemini"),
        "models.zero-shot.type",
        contains=("unknown model type 'gemini'", *MODEL_TYPES),
    ),
    Bad(
        "missing-model-type",
        ("del", "models.zero-shot.type", None),
        "models.zero-shot.type",
        contains=("model needs a 'type'", *MODEL_TYPES),
    ),
    Bad(
        "concurrency-not-a-number",
        ("set", "models.zero-shot.concurrency", "many"),
        "models.zero-shot.concurrency",
        contains=("integer", "'many'"),
    ),
    Bad(
        "concurrency-zero",
        ("set", "models.zero-shot.concurrency", 0),
        "models.zero-shot.concurrency",
        contains=("greater than or equal to 1", "got 0"),
    ),
    Bad(
        "labels-not-a-list",
        ("set", "task.labels", 3),
        "task.labels",
        contains=("valid list", "got 3"),
    ),
    Bad(
        "labels-duplicate-ignoring-case",
        ("set", "task.labels", ["Positive", "negative", "positive "]),
        "task.labels",
        contains=("duplicate labels", "'Positive'", "'positive '"),
    ),
    Bad(
        "one-label",
        ("set", "task.labels", ["positive"]),
        "task.labels",
        contains=("at least 2",),
    ),
    Bad(
        "empty-label",
        ("set", "task.labels", ["positive", "  "]),
        "task.labels",
        contains=("empty",),
    ),
    Bad(
        "unknown-task-type",
        ("set", "task.type", "regression"),
        "task.type",
        contains=("'classification'", "'regression'"),
    ),
    Bad(
        "dataset-format",
        ("set", "dataset.format", "xlsx"),
        "dataset.format",
        contains=("'xlsx'", "'chat'", "'jsonl'", "'csv'", "'parquet'"),
    ),
    Bad(
        "dataset-not-a-mapping",
        ("set", "dataset", "data/test.jsonl"),
        "dataset",
        contains=("dictionary",),
    ),
    Bad(
        "model-is-null",
        ("set", "models.zero-shot", None),
        "models.zero-shot",
        contains=("dictionary",),
    ),
    Bad("no-models", ("set", "models", {}), "models", contains=("at least 1",)),
    Bad(
        "confidence-out-of-range",
        ("set", "confidence", 1.5),
        "confidence",
        contains=("less than 1", "1.5"),
    ),
    Bad(
        "candidate-typo",
        ("set", "compare", {"candidate": "finetune"}),
        "compare.candidate",
        exact="no model named 'finetune' (did you mean 'finetuned'?)",
    ),
    Bad(
        "candidate-unknown",
        ("set", "compare", {"candidate": "gpt5"}),
        "compare.candidate",
        exact="no model named 'gpt5' (known: finetuned, zero-shot)",
    ),
    Bad(
        "baseline-unknown",
        ("set", "compare", {"candidate": "finetuned", "baselines": ["zero-shot", "zeroshot"]}),
        "compare.baselines[1]",
        exact="no model named 'zeroshot' (did you mean 'zero-shot'?)",
    ),
    Bad(
        "candidate-is-own-baseline",
        ("set", "compare", {"candidate": "finetuned", "baselines": ["zero-shot", "finetuned"]}),
        "compare.baselines",
        exact="the candidate cannot be its own baseline",
    ),
    Bad(
        "literal-authorization",
        ("set", "models.finetuned.headers", {"Authorization": f"Bearer {SECRET}"}),
        "models.finetuned.headers.Authorization",
        contains=("${VAR}", "environment variable"),
    ),
    Bad(
        "literal-x-api-key",
        ("set", "models.zero-shot.headers", {"x-api-key": SECRET}),
        "models.zero-shot.headers.x-api-key",
        contains=("${VAR}",),
    ),
    Bad(
        "key-in-api-key-env",
        ("set", "models.zero-shot.api_key_env", SECRET),
        "models.zero-shot.api_key_env",
        contains=("name of an environment variable",),
    ),
    Bad(
        "messages-in-params",
        ("set", "models.zero-shot.params", {"temperature": 0, "messages": []}),
        "models.zero-shot.params",
        exact="['messages'] cannot be set in params",
    ),
    Bad(
        "python-function-spec",
        ("set", "models.zero-shot", {"type": "python", "function": "mypkg.predict"}),
        "models.zero-shot.function",
        contains=("'mypkg.predict'",),
    ),
]


@pytest.mark.parametrize("bad", BAD, ids=[b.id for b in BAD])
def test_schema_error_names_file_and_key(workdir: Path, bad: Bad) -> None:
    op, dotted, value = bad.change
    data = minimal()
    data = set_key(data, dotted, value) if op == "set" else del_key(data, dotted)

    message = config_error(data)

    prefix = f"tunegate.yaml: {bad.key}: "
    lines = message.splitlines()
    assert len(lines) == 1, message
    assert lines[0].startswith(prefix), message
    detail = lines[0][len(prefix) :]
    if bad.exact is not None:
        assert detail == bad.exact
    for fragment in bad.contains:
        assert fragment in detail, (fragment, message)
    assert SECRET not in message  # a secret never appears in an error


def test_error_names_the_file_as_given(tmp_path: Path) -> None:
    data = set_key(minimal(), "models.zero-shot.base_url", "nope")
    path = write(tmp_path / "configs", data, "eval.yml")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = assert_user_facing(info.value, str(path))
    assert message.startswith(f"{path}: models.zero-shot.base_url: not a URL")


def test_several_problems_are_reported_together(workdir: Path) -> None:
    data = minimal()
    set_key(data, "models.zero-shot.concurency", 2)
    set_key(data, "models.finetuned.url", "not-a-url")
    del_key(data, "dataset.path")
    lines = config_error(data).splitlines()
    assert len(lines) == 3
    assert any(line.startswith("tunegate.yaml: dataset.path: required key") for line in lines)
    assert any(line.startswith("tunegate.yaml: models.finetuned.url: not a URL") for line in lines)
    assert any(
        line.startswith("tunegate.yaml: models.zero-shot.concurency: unknown") for line in lines
    )


def test_reference_problems_are_reported_together(workdir: Path) -> None:
    data = minimal()
    data["compare"] = {"candidate": "fine", "baselines": ["zero"]}
    data["models"]["finetuned"]["headers"] = {"Authorization": "token abc"}
    lines = config_error(data).splitlines()
    assert lines == [
        "tunegate.yaml: compare.candidate: no model named 'fine' (did you mean 'finetuned'?)",
        "tunegate.yaml: compare.baselines[0]: no model named 'zero' (did you mean 'zero-shot'?)",
        "tunegate.yaml: models.finetuned.headers.Authorization: put secrets in an environment "
        "variable and write it as ${VAR}, not in the config",
    ]


# --------------------------------------------------------------------------- file and YAML errors


def test_duplicate_top_level_key_names_both_lines(workdir: Path) -> None:
    lines = yaml.safe_dump(minimal(), sort_keys=False).splitlines()
    lines = ["name: first", "seed: 1", *lines, "name: second"]
    first, dup = lines.index("name: first") + 1, lines.index("name: second") + 1
    message = config_error("\n".join(lines) + "\n")
    assert (
        message
        == f"tunegate.yaml:{dup}:1: invalid YAML: duplicate key 'name' (first on line {first})"
    )


def test_duplicate_nested_key_has_line_and_column(workdir: Path) -> None:
    text = (
        "dataset: {path: data/test.jsonl}\n"
        "task: {labels: [positive, negative]}\n"
        "models:\n"
        "  zero-shot:\n"
        "    type: openai\n"
        "    model: gpt-4o-mini\n"
        "    model: gpt-4o\n"
    )
    rows = text.splitlines()
    first = rows.index("    model: gpt-4o-mini") + 1
    dup = rows.index("    model: gpt-4o") + 1
    column = rows[dup - 1].index("model") + 1
    message = config_error(text)
    assert message == (
        f"tunegate.yaml:{dup}:{column}: invalid YAML: duplicate key 'model' (first on line {first})"
    )


def test_duplicate_model_names_are_rejected(workdir: Path) -> None:
    text = (
        "dataset: {path: data/test.jsonl}\n"
        "task: {labels: [positive, negative]}\n"
        "models:\n"
        "  m: {type: openai, model: a}\n"
        "  m: {type: openai, model: b}\n"
    )
    message = config_error(text)
    assert re.fullmatch(
        r"tunegate\.yaml:5:3: invalid YAML: duplicate key 'm' \(first on line 4\)", message
    )


def test_yaml_syntax_error_has_file_line_column(workdir: Path) -> None:
    rows = ["name: demo", "seed: 0", "store: a: b", "dataset: {path: x.jsonl}"]
    bad_line = 3
    column = rows[bad_line - 1].rindex(":") + 1  # the second ':' on the line
    message = config_error("\n".join(rows) + "\n")
    assert message.startswith(f"tunegate.yaml:{bad_line}:{column}: invalid YAML: ")
    assert "mapping values are not allowed" in message


def test_unclosed_bracket_points_into_the_file(workdir: Path) -> None:
    rows = ["name: demo", "task: {labels: [a, b}", "models: {}"]
    match = re.match(r"tunegate\.yaml:(\d+):(\d+): invalid YAML: \S", config_error("\n".join(rows)))
    assert match is not None
    assert 2 <= int(match.group(1)) <= len(rows)


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing configured yet\n", "---\n"])
def test_empty_file(workdir: Path, text: str) -> None:
    assert config_error(text) == "tunegate.yaml: the file is empty"


@pytest.mark.parametrize("text", ["- name: a\n- name: b\n", "just some words\n", "42\n"])
def test_top_level_must_be_a_mapping(workdir: Path, text: str) -> None:
    assert config_error(text) == "tunegate.yaml: expected a mapping of keys at the top level"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "tunegate.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert assert_user_facing(info.value, str(path)) == f"{path}: file not found"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "tunegate.yaml"
    path.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert assert_user_facing(info.value, str(path)).startswith(f"{path}: cannot read")


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "tunegate.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert assert_user_facing(info.value, str(path)).startswith(f"{path}: cannot read")


def test_parse_config_rejects_empty_and_non_mapping() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(None, source="a/b.yaml")
    assert str(info.value) == f"{Path('a/b.yaml')}: the file is empty"
    with pytest.raises(ConfigError) as info:
        parse_config(["dataset"])
    assert str(info.value) == "tunegate.yaml: expected a mapping of keys at the top level"


# --------------------------------------------------------------------------- the real CLI


@dataclass
class CliCase:
    cwd: Path
    args: list[str]
    proc: subprocess.Popen[str] | None = None
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None


def cli_prefix(use_module: bool) -> list[str]:
    script = Path(sys.executable).parent / "tunegate"
    if use_module or not script.exists():
        return [sys.executable, "-m", "tunegate.cli"]
    return [str(script)]


def chat_line(text: str, label: str, case_id: str) -> str:
    return json.dumps(
        {
            "id": case_id,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": text},
                {"role": "assistant", "content": label},
            ],
        }
    )


GOOD_CASES = [
    ("I love this kettle", "positive"),
    ("The lamp broke in a week", "negative"),
    ("It arrived on Tuesday", "neutral"),
    ("Great drone, would buy again", "Positive "),
]


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, CliCase]]:
    """Start every CLI invocation at once (each pays the import time), then collect them."""
    root = tmp_path_factory.mktemp("cli")

    def project(name: str, config: str | dict[str, Any], cases: list[tuple[str, str]]) -> Path:
        folder = root / name
        write(folder, config)
        lines = [chat_line(t, lab, f"c{i}") for i, (t, lab) in enumerate(cases)]
        (folder / "data").mkdir()
        (folder / "data" / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / "data" / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return folder

    bad_url = CORE_EXAMPLE.replace(
        "base_url: https://api.openai.com/v1", "base_url: api.openai.com/v1"
    )
    assert bad_url != CORE_EXAMPLE
    typo = CORE_EXAMPLE.replace("concurrency: 16", "concurency: 16")
    assert typo != CORE_EXAMPLE

    runs = {
        "validate-bad-url": CliCase(
            project("validate-bad-url", bad_url, GOOD_CASES), ["validate", "tunegate.yaml"]
        ),
        "run-typo": CliCase(
            project("run-typo", typo, GOOD_CASES), ["run", "tunegate.yaml", "--quiet"]
        ),
    }
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "300"}
    env.pop("OPENAI_API_KEY", None)
    for i, case in enumerate(runs.values()):
        case.proc = subprocess.Popen(
            [*cli_prefix(use_module=i % 2 == 1), *case.args],
            cwd=case.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        for case in runs.values():
            assert case.proc is not None
            case.stdout, case.stderr = case.proc.communicate(timeout=180)
            case.returncode = case.proc.returncode
        yield runs
    finally:
        for case in runs.values():
            if case.proc is not None and case.proc.poll() is None:
                case.proc.kill()
                case.proc.communicate()


def test_cli_validate_bad_url_exits_2(cli: dict[str, CliCase]) -> None:
    case = cli["validate-bad-url"]
    assert case.returncode == 2, case.stderr
    assert "Traceback" not in case.stderr + case.stdout
    assert case.stderr.startswith("error: tunegate.yaml: models.zero-shot.base_url: not a URL"), (
        case.stderr
    )
    assert "'api.openai.com/v1'" in case.stderr
    assert case.stdout == ""


def test_cli_run_bad_config_exits_2_before_doing_anything(cli: dict[str, CliCase]) -> None:
    case = cli["run-typo"]
    assert case.returncode == 2, case.stderr
    assert "Traceback" not in case.stderr + case.stdout
    assert case.stderr.strip() == (
        "error: tunegate.yaml: models.zero-shot.concurency: unknown key "
        "(did you mean 'concurrency'?)"
    )
    assert case.stdout == ""
    assert not (case.cwd / ".tunegate").exists()  # no store was created
