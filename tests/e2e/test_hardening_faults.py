"""Fault soak: 5,000 cases against a loopback server failing 30% of requests at random (429
with Retry-After, 500, 503, connection reset, read timeout, truncated JSON, a non-JSON body,
a wrong content type, ``choices: []``, a 1 MB answer), for the ``openai`` and ``http``
backends. The run completes; every case is answered or stored as an error with its reason;
the report's error count equals the server's count of cases that never got a good answer;
no error is scored as a prediction; retries are counted."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from servers import GOOD_ACTIONS, FaultPlan, classify_app, keyword_sentiment, openai_app, serve

from tunegate.config import parse_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.runner import RetryPolicy

N = 5000
FAULTS = (
    "429",
    "500",
    "503",
    "reset",
    "disconnect",
    "timeout",
    "malformed",
    "nonjson",
    "wrongtype",
    "empty",
    "garbage",
)
WORDS = ["great", "awful", "okay", "love", "terrible", "fine"]


def write_data(folder: Path, n: int) -> None:
    rows = []
    for i in range(n):
        text = f"case {i}: the product is {WORDS[i % len(WORDS)]}"
        rows.append({"id": f"c{i:05d}", "text": text, "label": keyword_sentiment(text)})
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def plan(seed: int, with_big: bool = True) -> FaultPlan:
    # "big" (a 1 MB answer) weighs 1/(10*len) of the faults: enough of them, not gigabytes.
    actions = [a for a in FAULTS for _ in range(10)] + (["big"] if with_big else [])
    return FaultPlan(
        random_rate=0.3, random_actions=actions, seed=seed, retry_after=0.01, hang_seconds=8.0
    )


def soak(tmp_path: Path, kind: str, seed: int, n: int = N) -> dict[str, Any]:
    """Run ``n`` cases through one faulty server; return what both sides counted."""
    write_data(tmp_path, n)
    faults = plan(seed)
    app = openai_app(faults=faults) if kind == "openai" else classify_app(faults=faults)
    path = "/v1/chat/completions" if kind == "openai" else "/classify"
    with serve(app) as url:
        spec: dict[str, Any] = {"type": kind, "timeout": 5.0, "concurrency": 64, "max_retries": 4}
        if kind == "openai":
            spec.update(model="toy", base_url=f"{url}/v1")
        else:
            spec.update(url=f"{url}/classify")
        config = parse_config(
            {
                "dataset": {"path": "test.jsonl"},
                "task": {"labels": ["positive", "negative", "neutral"]},
                "models": {"m": spec},
            },
            source=tmp_path / "tunegate.yaml",
        )
        policy = RetryPolicy(base_delay=0.01, max_delay=0.05, max_retry_after=0.05)
        options = RunOptions(store_path=tmp_path / "t.db", policy=policy, gate=False)
        result = run(config, options, config_dir=tmp_path)
    entries = [e for e in app.state.log.entries if e["path"] == path]
    actions_by_text: dict[str, list[str]] = {}
    for entry in entries:
        actions_by_text.setdefault(entry["text"], []).append(entry["action"])
    never_good = {t for t, acts in actions_by_text.items() if not GOOD_ACTIONS & set(acts)}
    return {
        "model": result.main.models["m"],
        "entries": entries,
        "actions_by_text": actions_by_text,
        "never_good": never_good,
        "db": tmp_path / "t.db",
    }


def check(outcome: dict[str, Any], n: int) -> dict[str, Any]:
    model = outcome["model"]
    entries = outcome["entries"]
    by_text = outcome["actions_by_text"]
    # Every case reached the server; the run completed without giving up on the model.
    assert len(by_text) == n
    assert model.run.get("stopped") is None
    assert model.n == n
    # The report's errors are exactly the cases the server never answered well.
    assert model.errors == len(outcome["never_good"])
    assert sum(model.error_kinds.values()) == model.errors
    # Each case is stored once: an answer, or an error with its reason and kind.
    with sqlite3.connect(outcome["db"]) as con:
        rows = con.execute("SELECT case_id, text, error, error_kind, attempts FROM responses")
        rows = rows.fetchall()
    assert len(rows) == n
    assert len({r[0] for r in rows}) == n
    errors = [r for r in rows if r[2] is not None]
    assert len(errors) == model.errors
    assert all(r[2].strip() and r[3] for r in errors)
    assert all(r[1] is None for r in errors)  # an error carries no answer text
    # No error is scored as a prediction: every answer is right (the server's model is the
    # reference), every error is wrong, nothing is unparseable.
    assert model.unparseable == 0
    diagonal = sum(model.confusion[i][i] for i in range(len(model.confusion)))
    assert diagonal == n - model.errors
    # Retries are counted: every attempt beyond a case's first is one. The server saw all
    # of them except the rare attempt lost on a connection it had just closed (a stale
    # keep-alive connection fails before the request reaches the app).
    attempts = sum(r[4] for r in rows)
    assert model.run["retries"] == attempts - n
    unseen = attempts - len(entries)
    assert 0 <= unseen <= 0.01 * len(entries)
    server = Counter(e["action"] for e in entries)
    big_answers = [r for r in rows if r[1] is not None and len(r[1]) >= 1_000_000]
    assert len(big_answers) == sum(
        1 for acts in by_text.values() if acts[-1] == "big"
    )  # a 1 MB answer is an answer
    return {
        "sent": len(entries),
        "cases": n,
        "retried": attempts - n,
        "attempts_the_server_never_saw": unseen,
        "answered": n - model.errors,
        "errors": model.errors,
        "errors_by_kind": dict(model.error_kinds),
        "server_actions": dict(sorted(server.items())),
        "server_never_good": len(outcome["never_good"]),
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "http"])
def test_fault_soak(tmp_path: Path, kind: str) -> None:
    figures = check(soak(tmp_path, kind, seed=12 if kind == "openai" else 13), N)
    print(f"\nfault soak ({kind}): {json.dumps(figures)}")
    assert figures["errors"] > 0
    assert figures["retried"] > 0.2 * N


@pytest.mark.slow
def test_fault_soak_small(tmp_path: Path) -> None:
    """The same checks on 300 cases (a quicker variant, ~15 s: read timeouts wait 5 s)."""
    check(soak(tmp_path, "openai", seed=3, n=300), 300)
