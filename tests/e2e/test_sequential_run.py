"""``tunegate run --sequential``: looks every look_every cases, stops when settled, says
where and why; the unsent cases are sent by a later run without --sequential."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tunegate.cli import main

MODELS = """\
from pathlib import Path


def _log(name, text):
    with open(Path(__file__).with_name("calls.txt"), "a") as log:
        log.write(name + " " + text + "\\n")


def _truth(text):
    return "positive" if int(text.split()[1]) % 2 else "negative"


def _other(label):
    return "negative" if label == "positive" else "positive"


def good(text):
    _log("good", text)
    i = int(text.split()[1])
    return _truth(text) if i % 20 else _other(_truth(text))  # 95% right


def coin(text):
    _log("coin", text)
    i = int(text.split()[1])
    return _truth(text) if (i * 7919) % 10 < 5 else _other(_truth(text))  # 50% right
"""


def _project(tmp_path: Path, candidate: str, baseline: str, extra: str = "") -> None:
    rows = [
        {
            "id": f"c{i}",
            "text": f"item {i} here",
            "label": "positive" if i % 2 else "negative",
            "category": "a" if i % 3 else "b",
        }
        for i in range(400)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "tunegate.yaml").write_text(
        "name: seq\n"
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative]}\n"
        "bootstrap: 1000\n"
        "models:\n"
        f"  tuned: {{type: python, function: models:{candidate}}}\n"
        f"  base: {{type: python, function: models:{baseline}}}\n"
        "compare: {candidate: tuned, metric: accuracy}\n" + extra
    )


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> tuple[int, Any]:
    monkeypatch.chdir(tmp_path)
    argv = ["tunegate", "run", "tunegate.yaml", "-q", "--store", "t.db", "--json", "r.json"]
    monkeypatch.setattr("sys.argv", [*argv, *flags])
    with pytest.raises(SystemExit) as done:
        main()
    code = done.value.code
    assert isinstance(code, int)
    return code, json.loads((tmp_path / "r.json").read_text())


def _calls(tmp_path: Path, model: str) -> int:
    path = tmp_path / "calls.txt"
    lines = path.read_text().splitlines() if path.exists() else []
    return sum(1 for line in lines if line.startswith(model + " "))


def test_a_clear_win_stops_early_and_the_rest_is_sent_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, "good", "coin", "sequential: {look_every: 40}\n")
    code, doc = _run(tmp_path, monkeypatch, "--markdown", "r.md")
    seq = doc["sequential"]
    assert code == 0
    assert doc["gate"]["verdict"] == "SHIP"
    assert seq["decision"] == "SHIP"
    assert seq["cases_total"] == 400
    assert seq["looks_planned"] == 10
    assert seq["cases_used"] == 40 * seq["looks"] < 400
    assert "pass" in seq["stopped_because"]
    assert _calls(tmp_path, "good") == seq["cases_used"]  # the rest was not sent
    assert doc["suites"][0]["n_cases"] == seq["cases_used"]
    # the interval judged is the look's widened one, not the fixed-size 95% interval
    [comp] = [c for c in doc["suites"][0]["comparisons"] if c["metric"] == "accuracy"]
    assert seq["boundary"] > 1.96
    md = (tmp_path / "r.md").read_text()
    assert f"decided after {seq['cases_used']} of 400 cases (look {seq['looks']} of 10): SHIP" in md
    assert f"{400 - seq['cases_used']} cases not sent" in md

    # Without --sequential the run goes on from the store: only the unsent cases are sent.
    used = seq["cases_used"]
    code, full = _run(tmp_path, monkeypatch, "--no-sequential")
    assert full.get("sequential") is None
    assert full["suites"][0]["n_cases"] == 400
    assert _calls(tmp_path, "good") == 400
    assert full["suites"][0]["models"]["tuned"]["cache"]["reused"] == used
    assert comp["ci"][0] > 0


def test_a_clear_loss_stops_early_with_iterate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, "coin", "good")
    code, doc = _run(tmp_path, monkeypatch, "--sequential")
    seq = doc["sequential"]
    assert code == 1
    assert seq["decision"] == "ITERATE"
    assert seq["cases_used"] < 400
    assert seq["look_every"] == 50  # the default
    assert "cannot undo" in seq["stopped_because"]


def test_macro_f1_is_decided_only_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        tmp_path,
        "good",
        "coin",
        "sequential: {look_every: 100}\n"
        "gate:\n  criteria:\n    - {metric: macro_f1, vs: base, min_delta: 0}\n",
    )
    code, doc = _run(tmp_path, monkeypatch)
    seq = doc["sequential"]
    assert seq["cases_used"] == 400
    assert seq["looks"] == 4
    assert "whole test set" in seq["stopped_because"]
    assert code == 0


def test_the_order_is_stratified_and_stored_answers_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, "good", "coin", "sequential: {look_every: 40, enabled: false}\n")
    code, doc = _run(tmp_path, monkeypatch)  # enabled: false: the whole set
    assert doc.get("sequential") is None
    code, doc = _run(tmp_path, monkeypatch, "--sequential")
    assert code == 0
    seq = doc["sequential"]
    assert seq["cases_used"] < 400
    assert _calls(tmp_path, "good") == 400  # everything was answered from the store
    with sqlite3.connect(tmp_path / "t.db") as db:
        (n,) = db.execute("SELECT COUNT(*) FROM runs").fetchone()
    assert n == 2
