"""``tunegate run --junit FILE --github-annotations`` with ``GITHUB_STEP_SUMMARY`` set
(issue 25): the real command on a project of Python-function models whose gate has a
passing, a failing and an undecided criterion, and a model whose requests fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from junitparser import Error, Failure, JUnitXml

TUNEGATE = Path(sys.executable).parent / "tunegate"

CONFIG = """\
name: ci-gate
dataset: {path: test.jsonl}
task: {type: classification, labels: [positive, negative]}
models:
  tuned: {type: python, function: models:tuned}
  base: {type: python, function: models:base}
compare: {candidate: tuned}
gate:
  criteria:
    - {metric: accuracy, vs: base, min_delta: 0.1}
    - {metric: error_rate, max: 0.01}
    - {metric: accuracy, vs: base, min_delta: 0.45}
"""

MODELS = """\
def tuned(text):
    if text.startswith("item 1 "):
        raise RuntimeError("backend down: 100% busy, retry at 10:30")
    return 'positive' if 'good' in text else 'negative'

def base(text):
    return 'positive'
"""


def _project(folder: Path) -> None:
    rows = [
        {"id": f"c{i}", "text": f"item {i} is {'good' if i % 2 else 'bad'}", "label": label}
        for i, label in enumerate(["negative", "positive"] * 30)
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "models.py").write_text(MODELS)
    (folder / "tunegate.yaml").write_text(CONFIG)


def test_junit_annotations_and_step_summary_of_a_real_run(tmp_path: Path) -> None:
    _project(tmp_path)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "COLUMNS": "200"}
    args = ["run", "tunegate.yaml", "-q", "--store", "t.db", "--json", "r.json"]
    proc = subprocess.run(
        [str(TUNEGATE), *args, "--junit", "out/junit.xml", "--github-annotations"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads((tmp_path / "r.json").read_text())
    statuses = [c["status"] for c in report["gate"]["criteria"]]
    assert statuses == ["PASS", "FAIL", "INCONCLUSIVE"], proc.stdout + proc.stderr
    assert proc.returncode == 1  # ITERATE: a criterion failed
    assert "JUnit report: out/junit.xml" in proc.stdout

    [suite] = JUnitXml.fromfile(str(tmp_path / "out" / "junit.xml"))
    assert suite.name == "main"
    assert (suite.tests, suite.failures, suite.errors) == (3, 1, 1)
    passed, failed, undecided = list(suite)
    assert passed.is_passed
    [failure] = failed.result
    assert isinstance(failure, Failure)
    assert failure.message is not None
    assert "error_rate <= 0.01" in failure.message
    assert f"estimate {report['gate']['criteria'][1]['estimate']:.3f}" in failure.message
    [error] = undecided.result
    assert isinstance(error, Error)
    assert error.type == "INCONCLUSIVE"
    assert report["gate"]["criteria"][2]["reason"] in (error.message or "")

    lines = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    assert [line.split(" ", 1)[0].split("::")[1] for line in lines] == [
        "error",  # the verdict
        "error",  # the failed criterion
        "warning",  # the undecided one
        "warning",  # the model's failed request
    ]
    assert lines[0].startswith("::error title=tunegate ci-gate%3A ITERATE::")
    assert "backend down%3A" not in lines[3]  # ':' is escaped in properties only
    assert "100%25 busy, retry at 10:30" in lines[3]

    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert "**❌ ITERATE**" in text
    assert "error\\_rate <= 0.01" in text or "error_rate <= 0.01" in text


def test_without_the_flags_there_is_no_annotation_and_no_junit(tmp_path: Path) -> None:
    _project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    proc = subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml", "-q", "--store", "t.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert not any(line.startswith("::") for line in proc.stdout.splitlines())
    assert not list(tmp_path.glob("**/*.xml"))


def test_an_unwritable_step_summary_is_a_warning_and_keeps_the_exit_code(tmp_path: Path) -> None:
    _project(tmp_path)
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "no" / "such" / "dir" / "s.md")}
    proc = subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml", "-q", "--store", "t.db"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "warning: GITHUB_STEP_SUMMARY" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_documented_workflow_parses_and_uses_flags_that_exist() -> None:
    """docs/ci.md's workflow is valid YAML whose tunegate command uses only real flags,
    gates on the exit code last and saves the store and the comment whatever the verdict."""
    import re

    import yaml

    doc = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```yaml\n(# \.github/workflows/tunegate\.yml\n.*?)```", doc, re.DOTALL)
    steps = yaml.safe_load(block)["jobs"]["gate"]["steps"]
    names = [s.get("name") for s in steps]
    gate = steps[names.index("Run the gate")]["run"]
    flags = set(re.findall(r"(--[a-z][a-z-]+)", gate))
    helped = subprocess.run(
        [str(TUNEGATE), "run", "--help"],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert flags, gate
    assert {f for f in flags if f not in helped} == set()
    assert steps[-1] == {
        "name": "Gate on the verdict",
        "run": "exit ${{ steps.gate.outputs.code }}",
    }
    for name in ("Save the tunegate store", "Comment the report on the pull request"):
        assert steps[names.index(name)]["if"].startswith("always()")
