"""Issue 14, item 5: SIGTERM (CI cancellation, ``docker stop``) is handled like Ctrl-C, and a
run left ``running`` by a process that is gone is shown as ``interrupted``."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from servers import openai_app, serve

from tunegate.store import Store

TUNEGATE = Path(sys.executable).parent / "tunegate"

CONFIG = """\
name: slow
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  chat:
    type: openai
    model: toy
    base_url: {url}/v1
    concurrency: 2
"""


def answers(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            row = con.execute("SELECT count(*) FROM responses WHERE error IS NULL").fetchone()
            return int(row[0])
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def write_cases(folder: Path, n: int) -> None:
    labels = ["positive", "negative", "neutral"]
    rows = [{"id": f"c{i:03d}", "text": f"review {i}", "label": labels[i % 3]} for i in range(n)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_sigterm_stops_the_run_keeps_the_answers_and_exits_143(tmp_path: Path) -> None:
    write_cases(tmp_path, 120)
    db = tmp_path / ".tunegate" / "tunegate.db"
    app = openai_app(latency_ms=150)
    with serve(app) as url:
        (tmp_path / "tunegate.yaml").write_text(CONFIG.format(url=url))
        proc = subprocess.Popen(
            [str(TUNEGATE), "run", "tunegate.yaml", "--quiet"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while answers(db) < 6:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "no answers within 60 s"
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        sent = len(app.state.log)
    assert proc.returncode == 143, stderr
    assert "terminated (SIGTERM)" in stderr
    assert "the run is marked interrupted" in stderr
    assert "Traceback" not in stderr
    assert "VERDICT" not in stdout
    con = sqlite3.connect(db)
    [(status, finished)] = con.execute("SELECT status, finished_at FROM runs").fetchall()
    kept = con.execute("SELECT count(*) FROM responses WHERE error IS NULL").fetchone()[0]
    con.close()
    assert status == "interrupted"
    assert finished is not None
    assert 6 <= kept < 120  # stopped sending, kept what had arrived
    assert sent < 120


def test_a_running_run_whose_process_is_gone_is_shown_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    with Store(db) as store:
        alive = store.start_run("alive", {"models": {"m": {}}}, 0)
        dead = store.start_run("dead", {"models": {"m": {}}}, 0)
        meta = store.get_run(dead).meta
        meta["process"]["pid"] = gone.pid  # as if that process had started it
        con = sqlite3.connect(db)
        con.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(meta), dead))
        con.commit()
        con.close()
        assert store.get_run(alive).status == "running"  # this process: still running
        assert store.get_run(dead).status == "interrupted"
    listing = subprocess.run(
        [str(TUNEGATE), "runs", "--store", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "60"},
    )
    assert listing.returncode == 0, listing.stderr
    header, *rows = listing.stdout.splitlines()
    assert header.split("\t")[:4] == ["run", "name", "started", "status"]
    lines = {line.split("\t")[0]: line.split("\t") for line in rows}
    # Piped: whole run ids, one tab-separated line per run, even on a narrow terminal.
    assert set(lines) == {alive, dead}
    assert lines[dead][3] == "interrupted"
    # The process that started "alive" (this test) is still here, but the listing runs in
    # another process: it shows what the store says.
    assert lines[alive][3] == "running"
