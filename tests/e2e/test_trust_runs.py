"""Issue 14, items 1-3: stale answers are said to be stale, the exit code follows the printed
verdict (default gate included), and the default gate blocks leakage and stopped models.

Every test runs the real ``tunegate`` command in a subprocess on python models written into
the test's folder (and, for the unreachable endpoint, a closed loopback port).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from servers import openai_app, serve

TUNEGATE = Path(sys.executable).parent / "tunegate"
LABELS = ["positive", "negative", "neutral"]
WORDS = {"positive": "great", "negative": "awful", "neutral": "okay"}


def records(n: int, prefix: str = "t") -> list[dict[str, str]]:
    return [
        {"id": f"{prefix}{i:02d}", "text": f"Item {prefix}{i}: it is {WORDS[lab]}.", "label": lab}
        for i, lab in ((i, LABELS[i % 3]) for i in range(n))
    ]


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


# The "fine-tuned" model: a function whose answers come from a rule table in a sibling
# module. Editing the table (not the function) changes the model.
MODEL_PY = """\
from rules import TABLE


def classify(text):
    for word, label in TABLE.items():
        if word in text:
            return label
    return "neutral"
"""
RULES_PY = 'TABLE = {{"great": "positive", "awful": "{awful}"}}\n'
BASELINE_PY = """\
def classify(text):
    return "positive"
"""

CONFIG = """\
name: trust
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: python
    function: model:classify
{version}  baseline:
    type: python
    function: baseline:classify
compare:
  candidate: finetuned
"""


def cli(folder: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=folder,
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def setup_project(folder: Path, version: str | None = None, awful: str = "negative") -> None:
    write_jsonl(folder / "test.jsonl", records(12))
    (folder / "model.py").write_text(MODEL_PY)
    (folder / "rules.py").write_text(RULES_PY.format(awful=awful))
    (folder / "baseline.py").write_text(BASELINE_PY)
    line = f"    version: {version}\n" if version else ""
    (folder / "tunegate.yaml").write_text(CONFIG.format(version=line))


def model_json(report: dict[str, Any], name: str) -> dict[str, Any]:
    model: dict[str, Any] = report["suites"][0]["models"][name]
    return model


def run_json(folder: Path, name: str, *flags: str) -> tuple[Any, dict[str, Any]]:
    proc = cli(
        folder, "run", "tunegate.yaml", "-q", "--json", name, "--markdown", f"{name}.md", *flags
    )
    assert proc.returncode in (0, 1, 3), proc.stderr
    return proc, json.loads((folder / name).read_text())


def test_reused_answers_are_reported_with_their_run_and_age(tmp_path: Path) -> None:
    setup_project(tmp_path)
    first, report1 = run_json(tmp_path, "one.json")
    assert model_json(report1, "finetuned")["cache"] == {"reused": 0, "fresh": 12, "from_runs": []}
    assert "reused" not in first.stdout

    second, report2 = run_json(tmp_path, "two.json")
    cache = model_json(report2, "finetuned")["cache"]
    assert (cache["reused"], cache["fresh"]) == (12, 0)
    [origin] = cache["from_runs"]
    assert origin["run_id"] == report1["run_id"]
    assert origin["answers"] == 12
    assert origin["started_at"] == report1["facts"]["started_at"]
    assert 0 <= origin["age_s"] < 120
    line = next(x for x in second.stdout.splitlines() if "finetuned: 12 of 12" in x)
    assert f"answers reused from run {report1['run_id']}," in line
    assert re.search(r", \d+ s ago; --no-cache finetuned to ask again", line)
    markdown = (tmp_path / "two.json.md").read_text()
    assert "### Answers reused from earlier runs" in markdown
    assert f"finetuned: 12 of 12 answers reused from run {report1['run_id']}" in markdown
    assert report2["reused_answers"][0].startswith("finetuned: 12 of 12 answers reused")

    # A third run reuses the same answers: their origin is still the first run.
    _, report3 = run_json(tmp_path, "three.json")
    [origin3] = model_json(report3, "finetuned")["cache"]["from_runs"]
    assert origin3["run_id"] == report1["run_id"]


def test_an_edited_module_next_to_the_function_is_asked_again(tmp_path: Path) -> None:
    setup_project(tmp_path)
    _, before = run_json(tmp_path, "one.json")
    assert model_json(before, "finetuned")["metrics"]["accuracy"]["value"] == 1.0
    # The function's source is unchanged; the rule table it imports now says otherwise.
    (tmp_path / "rules.py").write_text(RULES_PY.format(awful="positive"))
    _, after = run_json(tmp_path, "two.json")
    tuned = model_json(after, "finetuned")
    assert tuned["cache"]["reused"] == 0
    assert tuned["cache"]["fresh"] == 12
    assert tuned["metrics"]["accuracy"]["value"] == 8 / 12  # the new table, not the old answers
    assert model_json(after, "baseline")["cache"]["reused"] == 12


def test_a_new_version_is_asked_again(tmp_path: Path) -> None:
    setup_project(tmp_path, version="ckpt-1")
    run_json(tmp_path, "one.json")
    _, same = run_json(tmp_path, "two.json")
    assert model_json(same, "finetuned")["cache"]["reused"] == 12
    setup_project(tmp_path, version="ckpt-2")
    _, bumped = run_json(tmp_path, "three.json")
    assert model_json(bumped, "finetuned")["cache"]["reused"] == 0
    assert model_json(bumped, "baseline")["cache"]["reused"] == 12


def test_no_cache_model_asks_one_model_again(tmp_path: Path) -> None:
    setup_project(tmp_path)
    run_json(tmp_path, "one.json")
    _, report = run_json(tmp_path, "two.json", "--no-cache", "baseline")
    assert model_json(report, "baseline")["cache"]["reused"] == 0
    assert model_json(report, "finetuned")["cache"]["reused"] == 12
    _, everything = run_json(tmp_path, "three.json", "--no-cache")
    assert model_json(everything, "finetuned")["cache"]["reused"] == 0
    bad = cli(tmp_path, "run", "tunegate.yaml", "-q", "--no-cache", "basline")
    assert bad.returncode == 2
    assert "--no-cache basline: no model named 'basline'" in bad.stderr
    assert "did you mean 'baseline'?" in bad.stderr


UNREACHABLE = """\
name: unreachable
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: openai
    model: toy
    base_url: http://127.0.0.1:9/v1
    max_retries: 0
    timeout: 5
  baseline:
    type: python
    function: baseline:classify
"""


def test_an_unreachable_endpoint_without_a_gate_section_exits_with_its_verdict(
    tmp_path: Path,
) -> None:
    setup_project(tmp_path)
    (tmp_path / "tunegate.yaml").write_text(UNREACHABLE)
    proc = cli(tmp_path, "run", "tunegate.yaml", "-q", "--json", "out.json")
    assert "VERDICT: ITERATE" in proc.stdout
    assert proc.returncode == 1, proc.stderr
    gate = json.loads((tmp_path / "out.json").read_text())["gate"]
    assert gate["default"] is True
    assert gate["exit_code"] == 1
    by_name = {c["description"]: c for c in gate["criteria"]}
    stopped = by_name["no model stopped (unreachable, fatal error, no successful request)"]
    assert stopped["status"] == "FAIL"
    assert stopped["reason"].startswith("finetuned: unreachable after 10 failed cases")
    assert by_name["error_rate <= 0.01"]["status"] == "FAIL"

    no_gate = cli(tmp_path, "run", "tunegate.yaml", "-q", "--no-gate", "--json", "ng.json")
    assert no_gate.returncode == 0, no_gate.stderr
    assert "VERDICT" not in no_gate.stdout
    assert json.loads((tmp_path / "ng.json").read_text())["gate"] is None


LEAKY = """\
name: leaky
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: python
    function: model:classify
  two-shot:
    type: openai
    model: toy
    base_url: {url}/v1
    shots: {{path: train.jsonl, k: 2}}
"""


def test_the_default_gate_fails_a_leaked_test_case_and_every_report_says_so(
    tmp_path: Path,
) -> None:
    setup_project(tmp_path)
    test = records(12)
    write_jsonl(tmp_path / "train.jsonl", records(6, "tr"))
    with serve(openai_app()) as url:
        (tmp_path / "tunegate.yaml").write_text(LEAKY.format(url=url))
        clean = cli(tmp_path, "run", "tunegate.yaml", "-q", "--json", "clean.json")
        assert "VERDICT: SHIP" in clean.stdout, clean.stdout
        assert clean.returncode == 0
        gate = json.loads((tmp_path / "clean.json").read_text())["gate"]
        assert [c["description"] for c in gate["criteria"]][-1] == "leakage <= 0"

        write_jsonl(tmp_path / "train.jsonl", [*records(6, "tr"), test[4]])  # a leaked case
        args = ["run", "tunegate.yaml", "-q", "--json", "out.json", "--markdown", "out.md"]
        proc = cli(tmp_path, *args)
    report = json.loads((tmp_path / "out.json").read_text())
    gate = report["gate"]
    leak = next(c for c in gate["criteria"] if c["description"] == "leakage <= 0")
    assert leak["status"] == "FAIL"
    assert leak["estimate"] == 1 / 12
    assert [c["status"] for c in gate["criteria"] if c is not leak] == ["PASS"] * 4
    assert gate["verdict"] == "ITERATE"
    assert "VERDICT: ITERATE" in proc.stdout
    assert proc.returncode == 1
    note = f"leakage: 1 test case(s) duplicate the train file (first: {test[4]['id']})"
    assert note in proc.stdout
    assert note in (tmp_path / "out.md").read_text()
    assert note in report["warnings"]


def test_a_changed_system_fingerprint_between_reused_and_fresh_answers_is_warned_about(
    tmp_path: Path,
) -> None:
    from tunegate.config import parse_config
    from tunegate.pipeline.flow import RunOptions, run
    from tunegate.report.json_report import to_json

    served = {"fingerprint": "fp_1"}
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "toy-2026",
            "system_fingerprint": served["fingerprint"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "positive"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            "echo": len(body["messages"]),
        }

    write_jsonl(tmp_path / "test.jsonl", records(6))
    with serve(app) as url:
        config = parse_config(
            {
                "dataset": {"path": "test.jsonl"},
                "task": {"labels": LABELS},
                "models": {"chat": {"type": "openai", "model": "toy", "base_url": f"{url}/v1"}},
            },
            tmp_path / "tunegate.yaml",
        )
        store = tmp_path / "t.db"
        first = run(config, RunOptions(limit=3, store_path=store))
        assert not [w for w in to_json(first)["warnings"] if "fingerprint" in w or "serves" in w]
        served["fingerprint"] = "fp_2"
        second = run(config, RunOptions(limit=6, store_path=store))
    assert second.models["chat"].errors == 0, second.models["chat"].first_errors
    assert second.models["chat"].cache == {
        "reused": 3,
        "fresh": 3,
        "from_runs": [
            {
                "run_id": first.run_id,
                "started_at": first.facts["started_at"],
                "answers": 3,
                "age_s": second.models["chat"].cache["from_runs"][0]["age_s"],  # type: ignore[index]
            }
        ],
    }
    assert (
        "chat: the endpoint now serves toy-2026 (fp_2), but the reused answers came from "
        "toy-2026 (fp_1); run with --no-cache chat to ask every case again"
    ) in to_json(second)["warnings"]


def test_a_python_models_identity_covers_its_module_and_local_imports(tmp_path: Path) -> None:
    from tunegate.models.python_fn import local_sources, source_hash

    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "rules.py").write_text("TABLE = {}\n")
    (pkg / "util.py").write_text("from pkg import rules\n")
    (pkg / "model.py").write_text(
        "import json\nimport outside\nfrom . import util\n\n\ndef f(x):\n    return x\n"
    )
    (tmp_path / "outside.py").write_text("X = 1\n")
    assert local_sources(pkg / "model.py") == sorted(
        p.resolve()
        for p in (pkg / "model.py", pkg / "util.py", pkg / "rules.py", pkg / "__init__.py")
    )  # not json (not a file here), not outside.py (another folder)
    sys.path.insert(0, str(tmp_path))
    try:
        import pkg.model as module  # type: ignore[import-not-found]

        before = source_hash(module.f)
        (pkg / "rules.py").write_text("TABLE = {'great': 'positive'}\n")  # two imports away
        assert source_hash(module.f) != before
        (pkg / "rules.py").write_text("TABLE = {}\n")
        assert source_hash(module.f) == before
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m == "pkg" or m.startswith("pkg.")]:
            del sys.modules[name]
