"""Two processes, one store: two ``tunegate run`` at once on the same SQLite file (the same
config, and two different ones) both complete, lose and duplicate no answer, and are both
listed by ``tunegate runs``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from servers import openai_app, serve

TUNEGATE = Path(sys.executable).parent / "tunegate"
N = 150


def write_project(folder: Path, url: str, name: str, models: tuple[str, ...]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    words = ["great", "awful", "okay"]
    labels = {"great": "positive", "awful": "negative", "okay": "neutral"}
    rows = [
        {
            "id": f"c{i:03d}",
            "text": f"{name} review {i}: {words[i % 3]}",
            "label": labels[words[i % 3]],
        }
        for i in range(N)
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = "".join(
        f"  {m}: {{type: openai, model: {m}, base_url: '{url}/v1', concurrency: 8}}\n"
        for m in models
    )
    path = folder / "tunegate.yaml"
    path.write_text(
        f"name: {name}\n"
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative, neutral]}\n"
        f"models:\n{spec}"
        f"compare: {{candidate: {models[0]}, baselines: [{models[1]}]}}\n"
    )
    return path


def run_both(configs: list[Path], store: Path) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [str(TUNEGATE), "run", str(c), "--store", str(store), "-q", "--no-gate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for c in configs
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def check_store(store: Path, expected: dict[str, tuple[str, ...]]) -> None:
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        runs = con.execute("SELECT id, name, status FROM runs").fetchall()
        assert sorted(name for _, name, _ in runs) == sorted(expected)
        assert {status for _, _, status in runs} == {"completed"}
        for run_id, name, _ in runs:
            rows = con.execute(
                "SELECT model, case_id, error FROM responses WHERE run_id=?", (run_id,)
            ).fetchall()
            per_model = {m: sorted(c for mm, c, _ in rows if mm == m) for m in expected[name]}
            for model, cases in per_model.items():
                assert cases == [f"c{i:03d}" for i in range(N)], (name, model)
            assert len(rows) == N * len(expected[name])  # nothing lost, nothing twice
            assert [e for _, _, e in rows if e is not None] == []


@pytest.mark.slow
def test_two_runs_of_the_same_config_at_once(tmp_path: Path) -> None:
    with serve(openai_app(latency_ms=2)) as url:
        config = write_project(tmp_path / "p", url, "same", ("alpha", "beta"))
        store = tmp_path / "t.db"
        results = run_both([config, config], store)
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "locked" not in result.stderr
        assert "Traceback" not in result.stderr
    with sqlite3.connect(store) as con:
        runs = con.execute("SELECT id FROM runs").fetchall()
    assert len(runs) == 2
    for (run_id,) in runs:
        with sqlite3.connect(store) as con:
            n = con.execute(
                "SELECT COUNT(DISTINCT model || '/' || case_id), COUNT(*) FROM responses"
                " WHERE run_id=?",
                (run_id,),
            ).fetchone()
        assert n == (2 * N, 2 * N)
    listing = subprocess.run(
        [str(TUNEGATE), "runs", "--store", str(store)], capture_output=True, text=True, check=True
    )
    for (run_id,) in runs:
        assert run_id in listing.stdout


@pytest.mark.slow
def test_two_different_configs_at_once(tmp_path: Path) -> None:
    app = openai_app(latency_ms=2)
    with serve(app) as url:
        first = write_project(tmp_path / "a", url, "first", ("alpha", "beta"))
        second = write_project(tmp_path / "b", url, "second", ("gamma", "delta"))
        store = tmp_path / "t.db"
        results = run_both([first, second], store)
    # Each of the 4 models' 150 requests reached the server exactly once.
    sent = app.state.log.counts(path="/v1/chat/completions")
    assert sum(sent.values()) == 4 * N
    assert set(sent.values()) == {2}  # a text is shared by the two models of one config
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "locked" not in result.stderr
    check_store(store, {"first": ("alpha", "beta"), "second": ("gamma", "delta")})
    listing = subprocess.run(
        [str(TUNEGATE), "runs", "--store", str(store)], capture_output=True, text=True, check=True
    )
    assert "first" in listing.stdout
    assert "second" in listing.stdout
