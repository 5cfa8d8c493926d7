"""Issue 14, item 4: ``tunegate validate`` catches what ``tunegate run`` would reject, each as a
clear message naming the key, exit 2, and ``run`` itself never shows a traceback for them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TUNEGATE = Path(sys.executable).parent / "tunegate"
LABELS = ["positive", "negative", "neutral"]

BASE = """\
name: validate
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  tuned:
    type: python
    function: model:classify
"""


def cli(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=folder,
        env={**os.environ, "COLUMNS": "250", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rows = [{"id": f"c{i}", "text": f"text {i}", "label": LABELS[i % 3]} for i in range(6)]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "model.py").write_text("def classify(text):\n    return 'positive'\n")
    return tmp_path


def check(folder: Path, extra: str, expected: str, env: dict[str, str] | None = None) -> None:
    (folder / "tunegate.yaml").write_text(BASE + extra)
    proc = cli(folder, "validate", "tunegate.yaml", env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in " ".join(proc.stderr.split()), proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_base_project_is_valid(project: Path) -> None:
    (project / "tunegate.yaml").write_text(BASE)
    proc = cli(project, "validate", "tunegate.yaml")
    assert proc.returncode == 0, proc.stderr
    assert "tunegate.yaml: OK — 6 cases, 3 labels, 1 models" in proc.stdout


def test_an_undefined_template_name_fails_validate_and_run_with_the_key(project: Path) -> None:
    extra = """\
  http:
    type: http
    url: http://127.0.0.1:9/classify
    body: {text: "{{ inptu }}"}
"""
    check(
        project,
        extra,
        "tunegate.yaml: models.http.body.text: 'inptu' is undefined when rendered for case "
        "'c0' of suite main (a template can use: input, id, category",
    )
    proc = cli(project, "run", "tunegate.yaml", "-q")
    assert proc.returncode == 2
    assert "models.http.body.text: 'inptu' is undefined" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_prompt_naming_a_field_some_cases_lack(project: Path) -> None:
    rows = [{"id": "a", "text": "t", "label": "positive", "product": "lamp"}]
    rows.append({"id": "b", "text": "u", "label": "neutral"})
    (project / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    extra = """\
  chat:
    type: openai
    model: toy
    base_url: http://127.0.0.1:9/v1
    prompt: "Review of {{ product }}: {{ input }}"
"""
    check(project, extra, "models.chat.prompt: 'product' is undefined when rendered for case 'b'")


def test_missing_environment_variables(project: Path) -> None:
    extra = """\
  chat:
    type: openai
    model: toy
    base_url: http://127.0.0.1:9/v1
    api_key_env: TG_TRUST_NO_SUCH_KEY
    headers: {X-Team: "${TG_TRUST_NO_SUCH_TEAM}"}
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TG_TRUST_")}
    check(
        project,
        extra,
        "models.chat.api_key_env: environment variable TG_TRUST_NO_SUCH_KEY is not set",
        env,
    )
    check(
        project,
        extra,
        "models.chat.headers.X-Team: environment variable TG_TRUST_NO_SUCH_TEAM is not set",
        env,
    )


def test_a_python_function_that_does_not_import(project: Path) -> None:
    check(
        project,
        "  other:\n    type: python\n    function: no_such_module:classify\n",
        "models.other.function: cannot import module 'no_such_module'",
    )
    check(
        project,
        "  other:\n    type: python\n    function: model:clasify\n",
        "models.other.function: module 'model' has no function 'clasify'",
    )


def test_a_custom_scorer_that_does_not_import(project: Path) -> None:
    (project / "gen.jsonl").write_text(json.dumps({"id": "g", "text": "q", "label": "a"}) + "\n")
    extra = """\
suites:
  - name: gen
    dataset: {path: gen.jsonl}
    task:
      type: generation
      scorers: [{type: custom, function: "scorers:no_such_scorer"}]
"""
    (project / "scorers.py").write_text("def other(output, reference):\n    return 1.0\n")
    check(project, extra, "custom scorer 'scorers:no_such_scorer': 'scorers' has no attribute")


def test_shots_with_labels_outside_the_task(project: Path) -> None:
    rows = [{"id": f"s{i}", "text": f"shot {i}", "label": "mixed"} for i in range(3)]
    (project / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    extra = """\
  chat:
    type: openai
    model: toy
    base_url: http://127.0.0.1:9/v1
    shots: {path: train.jsonl, k: 2}
"""
    check(project, extra, "train.jsonl")
    (project / "tunegate.yaml").write_text(BASE + extra)
    proc = cli(project, "validate", "tunegate.yaml")
    assert "'mixed'" in proc.stderr


def test_a_suite_dataset_that_does_not_load(project: Path) -> None:
    extra = """\
suites:
  - name: extra
    dataset: {path: missing.jsonl}
    task: {type: classification, labels: [positive, negative, neutral]}
"""
    check(project, extra, "missing.jsonl")


def test_unknown_chat_parameters_are_warned_about_with_a_did_you_mean(project: Path) -> None:
    extra = """\
  chat:
    type: openai
    model: toy
    base_url: http://127.0.0.1:9/v1
    params: {temprature: 0, top_k: 5}
    extra_body: {top_k: 5}
"""
    (project / "tunegate.yaml").write_text(BASE + extra)
    proc = cli(project, "validate", "tunegate.yaml")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stderr.split())
    assert (
        "models.chat.params.temprature: not a chat-completions parameter "
        "(did you mean 'temperature'?); not sent" in text
    )
    assert "top_k" not in text  # listed under extra_body: sent as it is, no warning
