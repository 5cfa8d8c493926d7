"""`tunegate run --json/--html` writes the document the run stored (built once), which is
also what the result read back from the store reports."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tunegate.cli import main
from tunegate.report.json_report import to_json
from tunegate.results import read_result

CONFIG = """\
name: once
dataset: {path: test.jsonl}
task: {type: classification, labels: [positive, negative]}
models:
  tuned: {type: python, function: models:tuned}
  base: {type: python, function: models:base}
compare: {candidate: tuned}
"""


def test_the_written_report_is_the_stored_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"id": f"c{i}", "text": f"item {i} is {'good' if i % 2 else 'bad'}", "label": label}
        for i, label in enumerate(["negative", "positive"] * 20)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "models.py").write_text(
        "def tuned(text):\n    return 'positive' if 'good' in text else 'negative'\n\n"
        "def base(text):\n    return 'positive'\n"
    )
    (tmp_path / "tunegate.yaml").write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    argv = ["tunegate", "run", "tunegate.yaml", "-q", "--no-gate", "--store", "t.db"]
    monkeypatch.setattr("sys.argv", [*argv, "--json", "r.json", "--html", "r.html"])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 0
    written = json.loads((tmp_path / "r.json").read_text())
    with sqlite3.connect(tmp_path / "t.db") as db:
        (meta,) = db.execute("SELECT meta FROM runs").fetchone()
    assert written == json.loads(meta)["result"]
    assert to_json(read_result(written)) == written  # what `tunegate report` would write
    assert written["suites"][0]["models"]["tuned"]["metrics"]["accuracy"]["value"] == 1.0
    assert "tuned" in (tmp_path / "r.html").read_text()
