"""``tunegate runs`` lists runs under a header with each run's verdict (SHIP / ITERATE /
INCONCLUSIVE, a dash without a gate or before the end), as a terminal table and piped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tunegate.store import Store

TUNEGATE = Path(sys.executable).parent / "tunegate"
COLUMNS = ["run", "name", "started", "status", "verdict", "cases", "models"]


def _store(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    db = tmp_path / "t.db"
    ids = {}
    with Store(db) as store:
        for name, verdict in (("shipped", "SHIP"), ("iterated", "ITERATE"), ("ungated", None)):
            run_id = store.start_run(name, {"models": {"ft": {}, "base": {}}}, 0, {"n_cases": 12})
            gate = None if verdict is None else {"verdict": verdict, "criteria": []}
            store.update_run_meta(run_id, {"result": {"run_id": run_id, "gate": gate}})
            store.finish_run(run_id)
            ids[name] = run_id
        # Still running (this process started it): no verdict yet.
        ids["running"] = store.start_run("[bold]running[/]", {"models": {"ft": {}}}, 0)
    return db, ids


def _runs(db: Path, **env: str) -> str:
    done = subprocess.run(
        [str(TUNEGATE), "runs", "--store", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_piped_listing_has_a_header_and_the_verdict(tmp_path: Path) -> None:
    db, ids = _store(tmp_path)
    header, *lines = _runs(db).splitlines()
    assert header.split("\t") == COLUMNS
    rows = {
        line.split("\t")[0]: dict(zip(COLUMNS, line.split("\t"), strict=True)) for line in lines
    }
    assert set(rows) == set(ids.values())
    assert rows[ids["shipped"]]["verdict"] == "SHIP"
    assert rows[ids["iterated"]]["verdict"] == "ITERATE"
    assert rows[ids["ungated"]]["verdict"] == "-"
    assert rows[ids["running"]]["verdict"] == "-"
    assert rows[ids["running"]]["status"] == "running"
    assert rows[ids["shipped"]]["cases"] == "12"
    assert rows[ids["shipped"]]["models"] == "ft, base"


def test_terminal_table_has_a_header_and_the_verdict(tmp_path: Path) -> None:
    db, ids = _store(tmp_path)
    text = re.sub(r"\x1b\[[0-9;]*m", "", _runs(db, TTY_COMPATIBLE="1", COLUMNS="200"))
    header = next(line for line in text.splitlines() if "verdict" in line)
    assert [cell.strip() for cell in header.strip("┃│ ").split("┃")] == COLUMNS
    row = {
        name: next(line for line in text.splitlines() if run_id in line)
        for name, run_id in ids.items()
    }
    assert "│ SHIP " in row["shipped"]
    assert "│ ITERATE " in row["iterated"]
    assert "│ — " in row["ungated"]
    assert "[bold]running[/]" in row["running"]  # a name is shown as written, not as markup
