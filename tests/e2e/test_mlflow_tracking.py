"""MLflow tracking against a real ``mlflow server`` (issue 25): started on loopback with
a SQLite backend and an artifacts folder in a temporary directory, telemetry and job
execution off; the real ``tunegate run`` logs to it and ``MlflowClient`` reads back.

Every logged metric equals the JSON report's number (and every number of the report's
models and comparisons is logged); params, tags, artifacts and the dataset inputs are
the run's. A tracking server that does not answer is a warning: exit code, JSON report
and store are the same as without tracking.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient  # the dev extra installs mlflow (server and client)

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TUNEGATE = BIN / "tunegate"
QUIET_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real tracking server on loopback (its URI and its folder); always stopped (its
    whole process group)."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    env = {**os.environ, **QUIET_ENV, "HOME": str(folder)}
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "mlflow server did not start:\n" + (folder / "server.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield uri, folder
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
        log.close()


CONFIG = """\
name: tracked-gate
seed: 7
suites:
  - name: main
    dataset: {{path: main.jsonl}}
    task: {{type: classification, labels: [positive, negative]}}
  - name: extra
    dataset: {{path: extra.jsonl}}
    task: {{type: classification, labels: [positive, negative]}}
models:
  finetuned: {{type: python, function: models:tuned}}
  base: {{type: python, function: models:base}}
compare: {{candidate: finetuned}}
gate:
  criteria:
    - {{metric: accuracy, vs: base, min_delta: 0.1}}
    - {{metric: error_rate, max: 0.01}}
    - {{suite: extra, metric: accuracy, vs: base, min_delta: 0.45}}
{tracking}"""

MODELS = """\
def tuned(text):
    if text.startswith("item 1 "):
        raise RuntimeError("backend down")
    return 'positive' if 'good' in text else 'negative'

def base(text):
    return 'positive'
"""


def _project(folder: Path, tracking: str = "") -> None:
    for name, n in (("main", 40), ("extra", 30)):
        rows = [
            {"id": f"{name}{i}", "text": f"item {i} is {'good' if i % 2 else 'bad'}", "label": lab}
            for i, lab in enumerate(["negative", "positive"] * (n // 2))
        ]
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "models.py").write_text(MODELS)
    (folder / "tunegate.yaml").write_text(CONFIG.format(tracking=tracking))


def _tunegate(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml", "-q", "--store", "t.db", *args],
        cwd=folder,
        env={**os.environ, **QUIET_ENV, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _expected_metrics(report: dict[str, Any]) -> dict[str, float]:
    """The report's numbers under the documented keys (docs/tracking.md), derived here
    from the JSON report independently of tunegate's code; ``null`` is not logged."""
    out: dict[str, float] = {}

    def put(key: str, value: Any) -> None:
        if value is not None:
            out[key] = float(value)

    def put_ci(key: str, ci: Any) -> None:
        if ci is not None:
            put(f"{key}_ci_low", ci[0])
            put(f"{key}_ci_high", ci[1])

    for suite in report["suites"]:
        for model, m in suite["models"].items():
            base = f"{suite['name']}.{model}"
            for metric, est in m["metrics"].items():
                put(f"{base}.{metric}", est["value"])
                put_ci(f"{base}.{metric}", est["ci"])
            for count in ("n", "errors", "unparseable", "cached"):
                put(f"{base}.{count}", m[count])
            for stat, ms in m["latency_ms"].items():
                put(f"{base}.latency_{stat}_ms", ms)
        for c in suite["comparisons"]:
            key = f"{suite['name']}.{c['candidate']}_vs_{c['baseline']}.{c['metric']}_delta"
            put(key, c["delta"])
            put_ci(key, c["ci"])
            if c.get("p_value_of") in (None, c["metric"]):  # beside the metric it tests
                put(f"{key}_p_value", c["p_value"])
    put("gate.exit_code", report["gate"]["exit_code"])
    return out


def test_a_run_becomes_an_mlflow_run_equal_to_its_report(
    tmp_path: Path, mlflow_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = mlflow_server[0]
    for key, value in QUIET_ENV.items():
        monkeypatch.setenv(key, value)
    _project(tmp_path, f"tracking: {{mlflow: {{uri: '{uri}', experiment: gates}}}}\n")
    proc = _tunegate(tmp_path, "--json", "r.json")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["gate"]["verdict"] == "ITERATE", proc.stdout + proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert "warning" not in proc.stderr, proc.stderr

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("gates")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert f"MLflow run {run.info.run_id} (experiment gates)" in proc.stdout
    assert "View experiment at" not in proc.stdout  # MLflow prints nothing of its own
    assert run.info.status == "FINISHED"
    assert run.info.run_name == report["run_id"]

    # Every metric equals the report's; nothing of the report's models is left out.
    logged = run.data.metrics
    expected = _expected_metrics(report)
    assert logged == expected
    assert (
        logged["main.finetuned.accuracy"]
        == report["suites"][0]["models"]["finetuned"]["metrics"]["accuracy"]["value"]
    )
    assert "main.finetuned.accuracy_ci_low" in logged
    assert "extra.finetuned_vs_base.accuracy_delta" in logged
    # McNemar's p tests accuracy: it is logged beside accuracy's delta, not macro-F1's.
    assert "main.finetuned_vs_base.accuracy_delta_p_value" in logged
    assert "main.finetuned_vs_base.macro_f1_delta" in logged
    assert "main.finetuned_vs_base.macro_f1_delta_p_value" not in logged

    params = run.data.params
    assert params["seed"] == "7"
    assert params["config_sha256"] == report["facts"]["config_sha256"]
    assert json.loads(params["model.finetuned"]) == report["facts"]["models"]["finetuned"]
    assert params["dataset.main.n_cases"] == "40"
    assert len(params["dataset.extra.sha256"]) == 64

    tags = run.data.tags
    assert tags["tunegate.verdict"] == "ITERATE"
    assert tags["tunegate.run_id"] == report["run_id"]
    criteria = report["gate"]["criteria"]
    assert [tags[f"tunegate.criterion.{i:02d}"] for i in (1, 2, 3)] == [
        f"{c['status']}: {c['description']}" for c in criteria
    ]
    assert tags["tunegate.criterion.02.reason"] == criteria[1]["reason"]

    names = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert names == ["tunegate-report.html", "tunegate-report.json", "tunegate-report.md"]
    got = Path(client.download_artifacts(run.info.run_id, "tunegate-report.json", str(tmp_path)))
    assert json.loads(got.read_text()) == report

    inputs = run.inputs.dataset_inputs
    assert [d.dataset.name for d in inputs] == ["main", "extra"]
    assert [d.dataset.digest for d in inputs] == [
        params["dataset.main.sha256"][:32],
        params["dataset.extra.sha256"][:32],
    ]
    assert json.loads(inputs[0].dataset.source) == {"uri": str(tmp_path / "main.jsonl")}
    assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "eval")]

    # The same data gives the same digest in the next run; the flag overrides the URI.
    again = _tunegate(tmp_path, "--mlflow", uri)
    assert again.returncode == 1, again.stderr
    runs = client.search_runs([experiment.experiment_id], order_by=["attribute.start_time ASC"])
    assert len(runs) == 2
    assert runs[1].data.params["dataset.main.sha256"] == params["dataset.main.sha256"]


def test_a_dead_tracking_server_is_a_warning_and_loses_nothing(tmp_path: Path) -> None:
    _project(tmp_path)
    dead = f"http://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    proc = _tunegate(tmp_path, "--json", "r.json", "--mlflow", dead)
    took = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr  # the verdict's code (ITERATE), not a crash
    assert f"warning: MLflow tracking at {dead} failed" in " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
    assert "VERDICT: ITERATE" in proc.stdout
    report = json.loads((tmp_path / "r.json").read_text())
    with sqlite3.connect(tmp_path / "t.db") as db:
        rows = db.execute("SELECT id, status FROM runs").fetchall()
    assert rows == [(report["run_id"], "completed")]
    assert took < 120, took  # not MLflow's default of minutes of retries


def test_a_server_failing_half_way_marks_its_run_failed_and_keeps_the_verdict(
    tmp_path: Path, mlflow_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server takes the run, its params and metrics, then cannot store an artifact
    (its artifacts folder is a file now): a warning, the MLflow run is FAILED, and the
    exit code, JSON report and store are the run's."""
    for key, value in QUIET_ENV.items():
        monkeypatch.setenv(key, value)
    uri, folder = mlflow_server
    artifacts = folder / "artifacts"
    moved = folder / "artifacts.kept"
    if artifacts.exists():
        artifacts.rename(moved)
    artifacts.write_text("not a folder")
    try:
        _project(tmp_path, f"tracking: {{mlflow: {{uri: '{uri}', experiment: half-way}}}}\n")
        proc = _tunegate(tmp_path, "--json", "r.json")
    finally:
        artifacts.unlink()
        if moved.exists():
            moved.rename(artifacts)
    assert proc.returncode == 1, proc.stderr
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("half-way")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    text = " ".join(proc.stderr.split())
    assert (
        f"warning: MLflow tracking at {uri} failed (MLflow run {run.info.run_id}, marked FAILED)"
        in text
    )
    assert "Traceback" not in proc.stderr
    assert run.info.status == "FAILED"
    report = json.loads((tmp_path / "r.json").read_text())
    assert run.data.metrics == _expected_metrics(report)  # what was sent before the failure
    with sqlite3.connect(tmp_path / "t.db") as db:
        rows = db.execute("SELECT id, status FROM runs").fetchall()
    assert rows == [(report["run_id"], "completed")]
