"""``repeats: k``: every case asked k times (its own cache entry per repeat), per-case
pass shares, pass@k / pass^k / flakiness with case-level intervals, gate criteria."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tunegate.cli import main

MODELS = """\
import collections
from pathlib import Path

CALLS = collections.Counter()


def tuned(text):
    # item 0, 4, 8, ...: right on every other call (flaky); 1, 5, 9, ...: always wrong
    i = int(text.split()[1])
    CALLS[text] += 1
    with open(Path(__file__).with_name("calls.txt"), "a") as log:
        log.write(text + "\\n")
    right = "positive" if i % 2 else "negative"
    wrong = "negative" if i % 2 else "positive"
    if i % 4 == 0:
        return right if CALLS[text] % 2 else wrong
    return wrong if i % 4 == 1 else right


def base(text):
    return "positive"


def broken(text):
    # always right, except that item 3 fails on its second call
    i = int(text.split()[1])
    CALLS["broken " + text] += 1
    if i == 3 and CALLS["broken " + text] == 2:
        raise RuntimeError("server fell over")
    return "positive" if i % 2 else "negative"
"""


def _project(tmp_path: Path, models: str, extra: str = "") -> None:
    rows = [
        {"id": f"c{i}", "text": f"item {i} here", "label": "positive" if i % 2 else "negative"}
        for i in range(40)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "tunegate.yaml").write_text(
        "name: rep\n"
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative]}\n"
        "bootstrap: 2000\n"
        f"models:\n{models}"
        "compare: {candidate: tuned}\n" + extra
    )


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *flags: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    monkeypatch.chdir(tmp_path)
    argv = ["tunegate", "run", "tunegate.yaml", "-q", "--store", "t.db", "--json", "r.json"]
    monkeypatch.setattr("sys.argv", [*argv, *flags])
    with pytest.raises(SystemExit) as done:
        main()
    code = done.value.code
    assert isinstance(code, int)
    return code, json.loads((tmp_path / "r.json").read_text())


MODELS_K4 = (
    "  tuned: {type: python, function: models:tuned, repeats: 4, concurrency: 1}\n"
    "  base: {type: python, function: models:base}\n"
)


def test_each_case_is_asked_k_times_and_summarised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(tmp_path, MODELS_K4)
    code, doc = _run(tmp_path, monkeypatch, "--no-gate", "--markdown", "r.md")
    assert code == 0
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 160  # 40 cases x 4
    md = (tmp_path / "r.md").read_text()
    assert "#### Repeated answers" in md
    [row] = [line for line in md.splitlines() if line.startswith("| tuned | 4 |")]
    assert "| 40 | 0.625 [" in row
    assert "| 0.250 [" in row
    from rich.console import Console

    from tunegate.report.terminal import print_summary
    from tunegate.results import read_result

    console = Console(record=True, width=200)
    print_summary(read_result(doc), console)
    shown = console.export_text()
    assert "Repeated answers" in shown
    assert "pass@k" in shown
    assert "cluster bootstrap" in shown
    tuned = doc["suites"][0]["models"]["tuned"]
    rep = tuned["repeats"]
    assert rep["k"] == 4
    assert rep["complete_cases"] == 40
    assert rep["missing_cases"] == 0
    m = rep["metrics"]
    assert m["mean"]["value"] == pytest.approx(0.625)  # (10 x 2/4 + 20 x 1) / 40
    assert m["pass_at_k"]["value"] == pytest.approx(0.75)
    assert m["pass_all_k"]["value"] == pytest.approx(0.5)
    assert m["flakiness"]["value"] == pytest.approx(0.25)
    assert rep["passed"]["c0"] == 2
    assert rep["passed"]["c1"] == 0
    assert rep["passed"]["c2"] == 4
    assert rep["flaky_cases"] == [f"c{i}" for i in range(0, 40, 4)]
    lo, hi = m["mean"]["ci"]
    assert lo < 0.625 < hi
    assert doc["suites"][0]["models"]["base"].get("repeats") is None  # asked once
    with sqlite3.connect(tmp_path / "t.db") as db:
        ids = {r[0] for r in db.execute("SELECT case_id FROM responses WHERE model='tuned'")}
        keys = {r[0] for r in db.execute("SELECT key FROM responses WHERE model='tuned'")}
    assert len(ids) == 160
    assert {"c0", "c0#r2", "c0#r4"} <= ids
    assert len(keys) == 160  # a distinct cache entry per repeat

    # Run again: every repeat's answer comes from the store, none is asked again.
    code, again = _run(tmp_path, monkeypatch, "--no-gate")
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 160
    assert again["suites"][0]["models"]["tuned"]["repeats"]["metrics"] == rep["metrics"]


def test_one_repeat_keeps_the_cache_of_runs_before_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        tmp_path,
        "  tuned: {type: python, function: models:tuned}\n"
        "  base: {type: python, function: models:base}\n",
    )
    _run(tmp_path, monkeypatch, "--no-gate")
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 40
    _project(
        tmp_path,
        "  tuned: {type: python, function: models:tuned, repeats: 1}\n"
        "  base: {type: python, function: models:base}\n",
    )
    _, doc = _run(tmp_path, monkeypatch, "--no-gate")
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 40  # all reused
    assert doc["suites"][0]["models"]["tuned"].get("repeats") is None


GATE = """\
gate:
  criteria:
    - {metric: pass_at_k, min: 0.5}
    - {metric: flakiness, max: 0.05}
"""


def test_repeat_figures_are_gate_criteria(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(tmp_path, MODELS_K4, GATE)
    code, doc = _run(tmp_path, monkeypatch)
    statuses = {c["criterion"]["metric"]: c for c in doc["gate"]["criteria"]}
    assert statuses["pass_at_k"]["status"] == "PASS"
    assert statuses["flakiness"]["status"] == "FAIL"  # 10 of 40 cases flaky: lo > 0.05
    assert "x 4 repeats" in statuses["flakiness"]["reason"]
    assert doc["gate"]["verdict"] == "ITERATE"
    assert code == 1


def test_a_repeat_criterion_without_repeats_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        tmp_path,
        "  tuned: {type: python, function: models:tuned}\n"
        "  base: {type: python, function: models:base}\n",
        GATE,
    )
    code, doc = _run(tmp_path, monkeypatch)
    [first, _] = doc["gate"]["criteria"]
    assert first["status"] == "MISSING"
    assert "repeats" in first["reason"]
    assert code == 3


def test_suite_repeats_apply_to_every_model_unless_it_sets_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        tmp_path,
        "  tuned: {type: python, function: models:tuned, concurrency: 1}\n"
        "  base: {type: python, function: models:base, repeats: 1}\n",
        "repeats: 3\n",
    )
    _, doc = _run(tmp_path, monkeypatch, "--no-gate")
    models = doc["suites"][0]["models"]
    assert models["tuned"]["repeats"]["k"] == 3
    assert models["base"].get("repeats") is None


def test_a_missing_answer_is_counted_and_leaves_the_criterion_undecided(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(
        tmp_path,
        "  tuned: {type: python, function: models:broken, repeats: 3, concurrency: 1}\n"
        "  base: {type: python, function: models:base}\n",
        "gate:\n  criteria:\n    - {metric: pass_all_k, min: 0.5}\n",
    )
    code, doc = _run(tmp_path, monkeypatch)
    rep = doc["suites"][0]["models"]["tuned"]["repeats"]
    assert rep["missing_cases"] == 1
    assert rep["missing_answers"] == 1
    assert rep["complete_cases"] == 39
    assert rep["passed"]["c3"] is None
    assert rep["metrics"]["pass_all_k"]["value"] == 1.0  # the other 39 always pass
    [crit] = doc["gate"]["criteria"]
    assert crit["status"] == "INCONCLUSIVE"
    assert "1 cases lack an answer" in crit["reason"]
    assert code == 3
