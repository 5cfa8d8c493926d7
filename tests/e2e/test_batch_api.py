"""``batch: true`` on an ``openai`` model: the cases sent through the Batch API (against a
loopback stand-in for the provider, tests/batch_provider.py), failed, missing and expired
lines stored as errors, an interrupted run's batch resumed instead of sent again, one
batch per look of a sequential run, the batch price in the cost."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from batch_provider import BatchFaults, Provider, batch_provider_app
from servers import serve

from tunegate.cli import main

KEY = "sk-test"
MODELS = """\
LABELS = ["positive", "negative", "neutral"]


def base(text):
    return "neutral"


def fair(text):
    i = int(text.split()[1])
    return LABELS[i % 3] if i % 10 < 7 else LABELS[(i + 1) % 3]  # 70% right
"""
WORDS = ("great", "awful", "fine")


def _rows(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        word = WORDS[i % 3]
        label = {"great": "positive", "awful": "negative", "fine": "neutral"}[word]
        # the toy model answers by keywords: right on every case but every 10th
        text = f"item {i} was {word}" if i % 10 else f"item {i} was great and awful and bad"
        rows.append({"id": f"c{i}", "text": text, "label": label})
    return rows


@pytest.fixture
def provider_url() -> Iterator[tuple[str, Provider]]:
    app = batch_provider_app()
    with serve(app) as url:
        yield url, app.state.provider


def _project(
    tmp_path: Path,
    url: str,
    *,
    batch: bool = True,
    n: int = 60,
    extra: str = "",
    model: str = "",
    base: str = "base",
) -> None:
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(n)))
    (tmp_path / "models.py").write_text(MODELS)
    tuned = model or (
        f"{{type: openai, model: toy, base_url: '{url}/v1', api_key_env: BATCH_KEY, "
        f"batch: {str(batch).lower()}, batch_poll_interval: 0.01, max_retries: 0, "
        "price: {input_per_1m: 1.0, output_per_1m: 2.0}}"
    )
    (tmp_path / "tunegate.yaml").write_text(
        "name: batch\n"
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative, neutral]}\n"
        "bootstrap: 500\n"
        "models:\n"
        f"  tuned: {tuned}\n"
        f"  base: {{type: python, function: models:{base}}}\n"
        "compare: {candidate: tuned, metric: accuracy}\n" + extra
    )


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *flags: str, store: str = "t.db"
) -> tuple[int, dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCH_KEY", KEY)
    argv = ["tunegate", "run", "tunegate.yaml", "-q", "--store", store, "--json", "r.json"]
    monkeypatch.setattr("sys.argv", [*argv, *flags])
    with pytest.raises(SystemExit) as done:
        main()
    code = done.value.code
    assert isinstance(code, int)
    return code, json.loads((tmp_path / "r.json").read_text())


def _tuned(doc: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = doc["suites"][0]["models"]["tuned"]
    return model


def _answers(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        row["case_id"]: (row.get("answer"), row.get("error"))
        for row in doc["suites"][0]["cases"]
        if row["model"] == "tuned"
    }


def test_a_batched_run_equals_the_direct_run_at_half_the_price(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider_url: tuple[str, Provider],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, provider = provider_url
    _project(tmp_path, url)
    code, batched = _run(tmp_path, monkeypatch, "--markdown", "r.md", "--html", "r.html")
    assert code == 0
    assert "tuned: batched: 1 batch, 60 requests, 50% price" in capsys.readouterr().out
    assert (provider.uploads, provider.created, provider.direct) == (1, 1, 0)
    tuned = _tuned(batched)
    [batch_id] = provider.batches
    assert tuned["batch"] == {
        "batches": [batch_id],
        "resumed": [],
        "requests": 60,
        "failed": 0,
        "price": "50% of the token rates",
    }
    assert provider.batches[batch_id]["status"] == "completed"

    _project(tmp_path, url, batch=False)
    code, direct = _run(tmp_path, monkeypatch, store="direct.db")
    assert code == 0
    assert provider.direct == 60
    assert provider.created == 1
    assert _answers(batched) == _answers(direct)
    assert _answers(batched)["c0"] == ("negative", None)  # the toy model's own answer
    for metric in ("accuracy", "macro_f1"):
        assert tuned["metrics"][metric] == _tuned(direct)["metrics"][metric]
    assert tuned["tokens"] == _tuned(direct)["tokens"]
    assert _tuned(direct).get("batch") is None
    # the batch price: half the token rates
    assert tuned["cost"]["total"] == pytest.approx(_tuned(direct)["cost"]["total"] / 2)
    assert "batch price" in tuned["cost"]["basis"]
    for report in ("r.md", "r.html"):
        assert "tuned: batched: 1 batch, 60 requests, 50% price" in (tmp_path / report).read_text()
    # the batch is collected: `tunegate runs` lists no batch in progress
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("SELECT collected, status FROM batches").fetchall() == [(1, "completed")]


def test_batch_rates_given_in_the_price_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    url, _provider = provider_url
    model = (
        f"{{type: openai, model: toy, base_url: '{url}/v1', api_key_env: BATCH_KEY, "
        "batch: true, batch_poll_interval: 0.01, price: {input_per_1m: 1.0, "
        "output_per_1m: 2.0, batch_input_per_1m: 0.1, batch_output_per_1m: 0.0}}"
    )
    _project(tmp_path, url, model=model, n=30)
    _code, doc = _run(tmp_path, monkeypatch)
    tuned = _tuned(doc)
    assert tuned["cost"]["total"] == pytest.approx(tuned["tokens"]["prompt"] / 1e6 * 0.1)
    assert tuned["batch"]["price"] == "batch rates given"


def test_failed_and_missing_lines_are_errors_and_do_not_ship(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    url, provider = provider_url
    provider.faults.error_lines.update({"c1": 400, "c2": 500})
    provider.faults.missing_lines.add("c4")
    _project(tmp_path, url)
    code, doc = _run(tmp_path, monkeypatch)
    tuned = _tuned(doc)
    answers = _answers(doc)
    assert tuned["errors"] == 3
    assert tuned["batch"]["failed"] == 3
    assert answers["c1"][0] is None
    assert "HTTP 400" in answers["c1"][1]
    assert answers["c2"][0] is None
    assert "HTTP 500" in answers["c2"][1]
    assert "no result for this request" in answers["c4"][1]
    assert answers["c3"] == ("positive", None)
    assert tuned["metrics"]["error_rate"]["value"] == pytest.approx(3 / 60)
    assert doc["gate"]["verdict"] != "SHIP"
    assert code != 0
    # a re-run sends the three failed requests again (a new batch of three)
    provider.faults = BatchFaults()
    code, doc = _run(tmp_path, monkeypatch)
    assert code == 0
    assert provider.created == 2
    assert _tuned(doc)["batch"]["requests"] == 3
    assert _tuned(doc)["errors"] == 0


@pytest.mark.parametrize("final", ["expired", "failed"])
def test_an_expired_or_failed_batch_leaves_its_unanswered_cases_as_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider], final: str
) -> None:
    url, provider = provider_url
    provider.faults.final = final
    provider.faults.expired_answered = 20
    _project(tmp_path, url)
    code, doc = _run(tmp_path, monkeypatch)
    tuned = _tuned(doc)
    answered = 20 if final == "expired" else 0
    assert tuned["errors"] == 60 - answered
    errors = [e for _, e in _answers(doc).values() if e is not None]
    assert all(f"({final})" in e for e in errors)
    if final == "failed":
        assert all("bad input" in e for e in errors)  # the batch's own error, said per case
    assert doc["gate"]["verdict"] != "SHIP"
    assert code != 0


def test_an_interrupted_run_resumes_its_batch_without_sending_it_again(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider_url: tuple[str, Provider],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tunegate.config import load_config
    from tunegate.pipeline import RunOptions, arun

    url, provider = provider_url
    provider.faults.hold = True  # stays in_progress until released
    _project(tmp_path, url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BATCH_KEY", KEY)
    config = load_config(tmp_path / "tunegate.yaml")

    async def interrupted() -> None:
        task = asyncio.ensure_future(arun(config, RunOptions(store_path=tmp_path / "t.db")))
        while provider.polls < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    assert provider.created == 1
    [batch_id] = provider.batches
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
        assert db.execute("SELECT id, collected FROM batches").fetchall() == [(batch_id, 0)]

    capsys.readouterr()
    monkeypatch.setattr("sys.argv", ["tunegate", "runs", "--store", "t.db"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code in (0, None)
    listed = capsys.readouterr().out
    assert "batches in progress" in listed
    [row] = [line for line in listed.splitlines() if line.startswith(batch_id)]
    assert "\tin_progress\t30/60 done, 0 failed\t" in row  # the provider's request counts

    provider.faults.hold = False
    code, doc = _run(tmp_path, monkeypatch)
    assert code == 0
    assert (provider.uploads, provider.created) == (1, 1)  # polled again, not sent again
    assert _tuned(doc)["batch"]["resumed"] == [batch_id]
    assert _tuned(doc)["errors"] == 0
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("SELECT collected FROM batches").fetchall() == [(1,)]


def test_sequential_sends_one_batch_per_look_and_stops_when_decided(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    url, provider = provider_url
    _project(tmp_path, url, n=300, extra="sequential: {look_every: 30}\n", base="fair")
    code, doc = _run(tmp_path, monkeypatch)
    seq = doc["sequential"]
    assert code == 0
    assert seq["decision"] == "SHIP"
    assert 1 < seq["looks"] < seq["looks_planned"]
    assert provider.created == seq["looks"]  # a batch per look, none after the decision
    sizes = [b["request_counts"]["total"] for b in provider.batches.values()]
    assert sizes == [30] * seq["looks"]
    assert len(_tuned(doc)["batch"]["batches"]) == seq["looks"]
    assert _tuned(doc)["batch"]["requests"] == seq["cases_used"]


def test_batch_is_refused_on_other_model_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _project(
        tmp_path, "http://127.0.0.1:9", model="{type: python, function: models:base, batch: true}"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["tunegate", "validate", "tunegate.yaml"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "models.tuned" in err
    assert "batch" in err


def test_the_python_api_runs_a_batched_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    from tunegate.config import parse_config
    from tunegate.pipeline import RunOptions, run

    url, provider = provider_url
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(20)))
    monkeypatch.setenv("BATCH_KEY", KEY)
    config = parse_config(
        {
            "dataset": {"path": str(tmp_path / "test.jsonl")},
            "task": {"labels": ["positive", "negative", "neutral"]},
            "models": {
                "tuned": {
                    "type": "openai",
                    "model": "toy",
                    "base_url": f"{url}/v1",
                    "api_key_env": "BATCH_KEY",
                    "batch": True,
                    "batch_poll_interval": 0.01,
                }
            },
        }
    )
    result = run(config, RunOptions(store_path=tmp_path / "api.db"))
    model = result.main.models["tuned"]
    assert provider.created == 1
    assert model.errors == 0
    assert model.n == 20
    assert model.batch is not None
    assert model.batch["requests"] == 20


def test_a_batch_still_running_after_batch_wait_is_collected_by_a_later_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    url, provider = provider_url
    provider.faults.hold = True
    model = (
        f"{{type: openai, model: toy, base_url: '{url}/v1', api_key_env: BATCH_KEY, "
        "batch: true, batch_poll_interval: 0.01, batch_wait: 0.3}"
    )
    _project(tmp_path, url, model=model, n=30)
    code, doc = _run(tmp_path, monkeypatch)
    tuned = _tuned(doc)
    assert tuned["errors"] == 30
    assert tuned["error_kinds"] == {"batch_pending": 30}
    assert "a re-run resumes it" in tuned["first_errors"][0]
    assert doc["gate"]["verdict"] != "SHIP"
    assert code != 0
    [first] = provider.batches

    # asked afresh (--no-cache), a run does not take over another run's batch
    code, doc = _run(tmp_path, monkeypatch, "--no-cache")
    assert provider.created == 2
    assert _tuned(doc)["batch"]["resumed"] == []

    provider.faults.hold = False
    code, doc = _run(tmp_path, monkeypatch)
    assert code == 0
    assert provider.created == 2  # nothing sent again
    assert _tuned(doc)["batch"]["resumed"] == [first]
    assert _tuned(doc)["errors"] == 0


def test_repeats_are_lines_of_one_batch_mapped_back_to_their_case_and_repeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    url, provider = provider_url
    _project(tmp_path, url, n=20, extra="repeats: 2\n")
    code, doc = _run(tmp_path, monkeypatch)
    assert code == 0
    [batch] = provider.batches.values()
    lines = [json.loads(x) for x in provider.files[batch["input_file_id"]].splitlines()]
    assert [line["custom_id"] for line in lines[:2]] == ["c0", "c0#r2"]
    assert [line["body"]["seed"] for line in lines[:2]] == [0, 1]
    assert _tuned(doc)["batch"]["requests"] == 40
    assert _tuned(doc)["repeats"]["complete_cases"] == 20


def test_polls_back_off_and_a_batch_over_its_limits_is_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    import tunegate.runner.batch as runner_batch

    url, provider = provider_url
    waits: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded(delay: float) -> None:
        waits.append(delay)
        await real_sleep(0)

    monkeypatch.setattr(runner_batch, "poll_sleep", recorded)
    monkeypatch.setattr(runner_batch, "MAX_BATCH_LINES", 25)
    model = (
        f"{{type: openai, model: toy, base_url: '{url}/v1', api_key_env: BATCH_KEY, "
        "batch: true, batch_poll_interval: 2}"
    )
    _project(tmp_path, url, model=model)
    code, doc = _run(tmp_path, monkeypatch)
    assert code == 0
    sizes = [b["request_counts"]["total"] for b in provider.batches.values()]
    assert sizes == [25, 25, 10]
    assert _tuned(doc)["batch"]["requests"] == 60
    assert _tuned(doc)["errors"] == 0
    # each batch: polled after 2 s, then 1.5 times longer each time
    assert sorted(waits) == sorted([2.0, 3.0, 4.5] * 3)


def test_ctrl_c_while_a_batch_runs_then_the_next_run_collects_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider_url: tuple[str, Provider]
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    url, provider = provider_url
    provider.faults.hold = True
    _project(tmp_path, url)
    tunegate = [str(Path(sys.executable).parent / "tunegate"), "run", "tunegate.yaml"]
    env = {**os.environ, "BATCH_KEY": KEY, "COLUMNS": "200"}
    args = [*tunegate, "-q", "--store", "t.db"]
    proc = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while provider.polls < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 130, stderr
    [batch_id] = provider.batches
    listed = subprocess.run(
        [tunegate[0], "runs", "--store", "t.db"], cwd=tmp_path, capture_output=True, text=True
    )
    assert "batches in progress" in listed.stdout
    assert f"{batch_id}\ttuned\t" in listed.stdout

    provider.faults.hold = False
    done = subprocess.run(
        [*args, "--json", "r.json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (provider.uploads, provider.created) == (1, 1)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert _tuned(doc)["batch"]["resumed"] == [batch_id]


@pytest.mark.parametrize("retries", [1, 0])
def test_a_batch_whose_creation_was_not_answered_is_found_not_paid_twice(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider_url: tuple[str, Provider],
    retries: int,
) -> None:
    url, provider = provider_url
    provider.faults.lost_creates = 1
    model = (
        f"{{type: openai, model: toy, base_url: '{url}/v1', api_key_env: BATCH_KEY, "
        f"batch: true, batch_poll_interval: 0.01, max_retries: {retries}}}"
    )
    _project(tmp_path, url, model=model, n=30)
    code, doc = _run(tmp_path, monkeypatch)
    [batch_id] = provider.batches
    if retries == 0:  # not retried: this run's cases fail, the next run finds the batch
        assert _tuned(doc)["errors"] == 30
        assert "batch not created: HTTP 502" in _tuned(doc)["first_errors"][0]
        code, doc = _run(tmp_path, monkeypatch)
        assert _tuned(doc)["batch"]["resumed"] == [batch_id]
    assert code == 0
    assert provider.created == 1
    assert _tuned(doc)["batch"]["batches"] == [batch_id]
    assert _tuned(doc)["errors"] == 0
    with sqlite3.connect(tmp_path / "t.db") as db:
        assert db.execute("SELECT id, collected FROM batches").fetchall() == [(batch_id, 1)]
