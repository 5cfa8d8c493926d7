"""``tunegate cache clear`` while a run is in progress on the same store is refused (exit 2,
naming the run), so the run keeps every answer it reports; once the run is over, or when
the process that started it is gone, the cache clears as before."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from servers import openai_app, serve
from test_hardening_concurrent import N, write_project

from tunegate.store import Response, Store

TUNEGATE = Path(sys.executable).parent / "tunegate"


def _tunegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), *args], capture_output=True, text=True, timeout=120, check=False
    )


def _answers(store: Path, run_id: str) -> int:
    with sqlite3.connect(store, timeout=30) as con:
        return int(
            con.execute("SELECT COUNT(*) FROM responses WHERE run_id=?", (run_id,)).fetchone()[0]
        )


def test_cache_clear_is_refused_while_a_run_is_in_progress(tmp_path: Path) -> None:
    store = tmp_path / "t.db"
    with serve(openai_app(latency_ms=600)) as url:  # 2 x 150 answers, 8 at a time: ~11 s
        config = write_project(tmp_path / "p", url, "slow", ("alpha", "beta"))
        proc = subprocess.Popen(
            [str(TUNEGATE), "run", str(config), "--store", str(store), "-q", "--no-gate"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            run_id = None
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # until the run has stored some answers
                if store.exists():
                    with Store(store) as db:
                        runs = db.runs()
                    if runs and _answers(store, runs[0].id) > 0:
                        run_id = runs[0].id
                        break
                time.sleep(0.05)
            assert run_id is not None, "the run stored no answer in time"
            refused = _tunegate("cache", "clear", "--store", str(store))
            one = _tunegate("cache", "clear", "--store", str(store), "--model", "alpha")
            stored_meanwhile = _answers(store, run_id)
            _, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert stored_meanwhile < 2 * N, "the run was over before cache clear: the test proves nothing"
    for answer in (refused, one):
        assert answer.returncode == 2, (answer.returncode, answer.stdout, answer.stderr)
        assert f"run {run_id} (slow, started" in answer.stderr
        assert "is still running" in answer.stderr
        assert "Traceback" not in answer.stderr
    assert proc.returncode == 0, err
    # The run kept every answer it received: 150 per model, none removed under it.
    with sqlite3.connect(store) as con:
        rows = con.execute(
            "SELECT model, COUNT(DISTINCT case_id) FROM responses WHERE run_id=? GROUP BY model",
            (run_id,),
        ).fetchall()
    assert dict(rows) == {"alpha": N, "beta": N}
    # Once the run is over, the cache clears.
    done = _tunegate("cache", "clear", "--store", str(store))
    assert done.returncode == 0, done.stderr
    assert f"removed {2 * N} stored responses" in done.stdout


def test_a_run_whose_process_is_gone_does_not_block_cache_clear(tmp_path: Path) -> None:
    store = tmp_path / "t.db"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    with Store(store) as db:
        dead = db.start_run("dead", {"models": {"m": {}}}, 0)
        db.record(dead, Response(case_id="c1", model="m", key="k1", text="positive"), {})
        meta = db.get_run(dead).meta
    meta["process"]["pid"] = gone.pid  # as if that process had started it, then died
    with sqlite3.connect(store) as con:
        con.execute("UPDATE runs SET meta=? WHERE id=?", (json.dumps(meta), dead))
    listing = _tunegate("runs", "--store", str(store))
    assert "interrupted" in listing.stdout
    cleared = _tunegate("cache", "clear", "--store", str(store))
    assert cleared.returncode == 0, cleared.stderr
    assert "removed 1 stored responses" in cleared.stdout
