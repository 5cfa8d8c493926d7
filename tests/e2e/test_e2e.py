"""End to end: the ``tunegate`` command in a subprocess against loopback model servers."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from servers import classify_app, keyword_sentiment, last_user_text, openai_app, serve
from sklearn.metrics import f1_score

TUNEGATE = Path(sys.executable).parent / "tunegate"
LABELS = ["positive", "negative", "neutral"]
SYSTEM = "Classify the sentiment of the review: positive, negative or neutral."
API_KEY = "e2e-test-key-31415926"
NONE = "__no_prediction__"

PRODUCTS = ["kettle", "drone", "lamp", "headset", "backpack", "blender", "mouse", "tent"]
TEMPLATES = {
    "positive": ["I love this {p}, it is great", "Excellent {p}, I would recommend it"],
    "negative": ["Terrible {p}, it broke after a week", "Awful {p}, I want a refund"],
    "neutral": ["The {p} arrived on Tuesday", "The {p} comes in a blue box"],
}
# The keyword "model" gets these wrong: negation and sarcasm.
TRICKY = [
    ("Not good at all, this {p} is not great", "negative"),
    ("I expected the worst but this {p} is fine", "positive"),
]


def chat_record(case_id: str, text: str, label: str) -> dict[str, Any]:
    return {
        "id": case_id,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": text},
            {"role": "assistant", "content": label},
        ],
    }


def make_records(n: int, prefix: str, tricky: bool = True) -> list[dict[str, Any]]:
    """``n`` chat records cycling labels and products; a few the keyword rule gets wrong."""
    records = []
    for i in range(n):
        product = f"{PRODUCTS[i % len(PRODUCTS)]} #{prefix}{i}"
        if tricky and i % 7 == 6:
            template, label = TRICKY[i % 2]
        else:
            label = LABELS[i % 3]
            template = TEMPLATES[label][(i // 3) % 2]
        records.append(chat_record(f"{prefix}-{i:03d}", template.format(p=product), label))
    return records


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def weaker_answer(messages: list[dict[str, Any]]) -> str:
    """The prompted baselines: zero-shot never says neutral; 5-shot hedges on neutral cases."""
    label = keyword_sentiment(last_user_text(messages))
    k_shot = sum(m["role"] == "user" for m in messages) > 1
    if k_shot:
        return "I am not sure" if label == "neutral" else label
    return "Negative." if label == "negative" else "Positive"


CONFIG = """\
name: e2e-sentiment
seed: 0
dataset:
  path: data/test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: http
    url: {classify_url}/classify
    body: {{text: "{{{{ input }}}}"}}
    response: label
  zero-shot:
    type: openai
    model: gpt-4o-mini
    base_url: {openai_url}/v1
    api_key_env: TG_E2E_KEY
  five-shot:
    type: openai
    model: gpt-4o-mini
    base_url: {openai_url}/v1
    api_key_env: TG_E2E_KEY
    shots: {{path: data/train.jsonl, k: 5}}
compare:
  candidate: {candidate}
  baselines: [zero-shot, five-shot]
"""


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    full_env = {**os.environ, "COLUMNS": "250", **(env or {})}
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class E2ERun:
    folder: Path
    proc: subprocess.CompletedProcess[str]
    report: dict[str, Any]
    test: list[dict[str, Any]]
    classify_log: Any
    openai_log: Any


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory) -> E2ERun:
    folder = tmp_path_factory.mktemp("e2e")
    test = make_records(42, "t")
    write_jsonl(folder / "data" / "test.jsonl", test)
    write_jsonl(folder / "data" / "train.jsonl", make_records(20, "tr", tricky=False))
    classify, chat = classify_app(), openai_app(answer=weaker_answer, require_key=API_KEY)
    with serve(classify) as classify_url, serve(chat) as openai_url:
        (folder / "tunegate.yaml").write_text(
            CONFIG.format(classify_url=classify_url, openai_url=openai_url, candidate="finetuned"),
            encoding="utf-8",
        )
        proc = cli(
            "run", "tunegate.yaml", "--json", "out.json", cwd=folder, env={"TG_E2E_KEY": API_KEY}
        )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((folder / "out.json").read_text(encoding="utf-8"))
    return E2ERun(folder, proc, report, test, classify.state.log, chat.state.log)


def test_run_report_shape(e2e: E2ERun) -> None:
    report = e2e.report
    assert isinstance(report["run_id"], str)
    assert report["run_id"]
    assert set(report["suites"][0]["models"]) == {"finetuned", "zero-shot", "five-shot"}
    for model in report["suites"][0]["models"].values():
        assert model["n"] == 42
        assert model["errors"] == 0
        macro = model["metrics"]["macro_f1"]
        assert 0 <= macro["ci"][0] <= macro["value"] <= macro["ci"][1] <= 1
        latency = model["latency_ms"]
        assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"]
    assert report["suites"][0]["models"]["finetuned"]["unparseable"] == 0
    assert report["suites"][0]["models"]["zero-shot"]["unparseable"] == 0
    n_neutral_said = sum(
        keyword_sentiment(r["messages"][1]["content"]) == "neutral" for r in e2e.test
    )
    assert report["suites"][0]["models"]["five-shot"]["unparseable"] == n_neutral_said > 0

    comparisons = report["suites"][0]["comparisons"]
    keys = {"candidate", "baseline", "metric", "delta", "ci", "p_value", "wins", "ties", "losses"}
    assert {(c["baseline"], c["metric"]) for c in comparisons} >= {
        ("zero-shot", "macro_f1"),
        ("five-shot", "macro_f1"),
    }
    for comp in comparisons:
        assert keys <= set(comp)
        assert comp["candidate"] == "finetuned"
        assert comp["wins"] + comp["ties"] + comp["losses"] == 42
        assert comp["ci"][0] <= comp["delta"] <= comp["ci"][1]
        assert 0 <= comp["p_value"] <= 1
    zero = next(c for c in comparisons if (c["baseline"], c["metric"]) == ("zero-shot", "macro_f1"))
    assert zero["delta"] > 0  # the keyword model beats the one that never says neutral
    assert zero["wins"] > 0

    rows = report["suites"][0]["cases"]
    assert len(rows) == 3 * 42
    row_keys = {"case_id", "model", "prediction", "reference", "correct", "latency_ms", "error"}
    assert all(row_keys <= set(r) for r in rows)


def test_predictions_follow_the_servers(e2e: E2ERun) -> None:
    texts = {r["id"]: r["messages"][1]["content"] for r in e2e.test}
    refs = {r["id"]: r["messages"][2]["content"] for r in e2e.test}
    rows = {(r["model"], r["case_id"]): r for r in e2e.report["suites"][0]["cases"]}
    for case_id, text in texts.items():
        said = keyword_sentiment(text)
        assert rows["finetuned", case_id]["prediction"] == said
        assert rows["zero-shot", case_id]["prediction"] == (
            "negative" if said == "negative" else "positive"
        )
        assert rows["five-shot", case_id]["prediction"] == (None if said == "neutral" else said)
        for model in ("finetuned", "zero-shot", "five-shot"):
            row = rows[model, case_id]
            assert row["reference"] == refs[case_id]
            assert row["correct"] == (row["prediction"] == refs[case_id])
            assert row["error"] is None
            assert row["latency_ms"] > 0
    # Every case went to each server exactly once per model.
    assert len(e2e.classify_log) == 42
    assert len(e2e.openai_log) == 84


def test_five_shot_prompt_layout(e2e: E2ERun) -> None:
    train_texts = {r["messages"][1]["content"] for r in make_records(20, "tr", tricky=False)}
    five = [e for e in e2e.openai_log if len(e["json"]["messages"]) > 2]
    zero = [e for e in e2e.openai_log if len(e["json"]["messages"]) == 2]
    assert len(five) == len(zero) == 42
    messages = five[0]["json"]["messages"]
    assert messages[0] == {"role": "system", "content": SYSTEM}
    assert [m["role"] for m in messages[1:]] == ["user", "assistant"] * 5 + ["user"]
    assert {m["content"] for m in messages[1:-1:2]} <= train_texts
    assert all(e["headers"]["authorization"] == f"Bearer {API_KEY}" for e in e2e.openai_log)
    shot_sets = {json.dumps(e["json"]["messages"][1:-1]) for e in five}
    assert len(shot_sets) == 1  # the same seeded shots for every case


def test_macro_f1_matches_sklearn_from_the_rows(e2e: E2ERun) -> None:
    values = set()
    for name, model in e2e.report["suites"][0]["models"].items():
        rows = [r for r in e2e.report["suites"][0]["cases"] if r["model"] == name]
        y_true = [r["reference"] for r in rows]
        y_pred = [NONE if r["prediction"] is None else r["prediction"] for r in rows]
        expected = f1_score(y_true, y_pred, labels=LABELS, average="macro", zero_division=0)
        assert model["metrics"]["macro_f1"]["value"] == pytest.approx(expected, abs=1e-12)
        values.add(round(expected, 9))
    assert len(values) == 3  # the three toy models really differ


def test_summary_on_stdout(e2e: E2ERun) -> None:
    stdout = e2e.proc.stdout
    for comp in e2e.report["suites"][0]["comparisons"]:
        if comp["metric"] == "macro_f1":
            assert comp["conclusion"] in stdout
    assert "finetuned beats zero-shot on macro-F1" in stdout
    assert "JSON report: out.json" in stdout
    assert e2e.report["run_id"] in stdout


def test_config_error_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "test.jsonl", make_records(6, "t"))
    write_jsonl(tmp_path / "data" / "train.jsonl", make_records(6, "tr"))
    (tmp_path / "tunegate.yaml").write_text(
        CONFIG.format(
            classify_url="http://127.0.0.1:9", openai_url="http://127.0.0.1:9", candidate="finetund"
        ),
        encoding="utf-8",
    )
    proc = cli("run", "tunegate.yaml", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "tunegate.yaml: compare.candidate: no model named 'finetund'" in proc.stderr
    assert "did you mean 'finetuned'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_api_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "data" / "test.jsonl", make_records(6, "t"))
    write_jsonl(tmp_path / "data" / "train.jsonl", make_records(12, "tr"))
    (tmp_path / "tunegate.yaml").write_text(
        CONFIG.format(
            classify_url="http://127.0.0.1:9",
            openai_url="http://127.0.0.1:9",
            candidate="finetuned",
        ),
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k != "TG_E2E_KEY"}
    proc = subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "models.zero-shot.api_key_env: environment variable TG_E2E_KEY is not set" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- killed mid-run, then resumed -----------------------------------------------------

RESUME_CONFIG = """\
name: resume
dataset:
  path: data/test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  chat:
    type: openai
    model: toy
    base_url: {openai_url}/v1
    concurrency: 4
"""


def count_answers(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return int(
                con.execute("SELECT count(*) FROM responses WHERE error IS NULL").fetchone()[0]
            )
        finally:
            con.close()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def test_sigkill_then_resume(tmp_path: Path) -> None:
    records = make_records(200, "k")
    write_jsonl(tmp_path / "data" / "test.jsonl", records)
    texts = {r["id"]: r["messages"][1]["content"] for r in records}
    db = tmp_path / ".tunegate" / "tunegate.db"
    app = openai_app(latency_ms=100)
    with serve(app) as url:
        (tmp_path / "tunegate.yaml").write_text(RESUME_CONFIG.format(openai_url=url))
        proc = subprocess.Popen(
            [str(TUNEGATE), "run", "tunegate.yaml", "--quiet"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while count_answers(db) < 20:
                assert proc.poll() is None, "the run ended before it was killed"
                assert time.monotonic() < deadline, "no answers stored within 60 s"
                time.sleep(0.05)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        sent_before = app.state.log.counts()

        # Whatever was stored before the kill is intact.
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute(
            "SELECT case_id, key, request, text, error, latency_ms FROM responses"
        ).fetchall()
        [(status,)] = con.execute("SELECT status FROM runs").fetchall()
        con.close()
        assert status == "running"  # killed: never finished
        assert 20 <= len(rows) < 200
        answered = set()
        for case_id, key, request, text, error, latency in rows:
            assert error is None
            assert text == keyword_sentiment(texts[case_id])
            assert json.loads(request)["messages"][-1]["content"] == texts[case_id]
            assert len(key) == 64
            assert latency >= 100
            answered.add(case_id)
        assert sum(sent_before.values()) >= len(answered)

        done = cli("run", "tunegate.yaml", "--json", "out.json", "--quiet", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        sent_after = app.state.log.counts()

    for case_id, text in texts.items():
        resent = sent_after[text] - sent_before[text]
        assert resent == (0 if case_id in answered else 1), case_id
    assert sum(sent_after.values()) - sum(sent_before.values()) == 200 - len(answered)

    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    model = report["suites"][0]["models"]["chat"]
    assert (model["n"], model["errors"], model["cached"]) == (200, 0, len(answered))
    rows_out = report["suites"][0]["cases"]
    assert sorted(r["case_id"] for r in rows_out) == sorted(texts)
    assert {r["case_id"] for r in rows_out if r["cached"]} == answered
    assert all(r["prediction"] == keyword_sentiment(texts[r["case_id"]]) for r in rows_out)
