"""Batched commits: responses are committed every BATCH_SIZE answers or FLUSH_SECONDS."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tunegate.store import BATCH_SIZE, FLUSH_SECONDS, Response, Store


def committed(path: Path) -> int:
    with sqlite3.connect(path) as con:  # another connection sees only committed rows
        return int(con.execute("SELECT COUNT(*) FROM responses").fetchone()[0])


def response(i: int) -> Response:
    return Response(case_id=f"c{i}", model="m", key=f"k{i}", text="positive", latency_ms=1.0)


def test_wal_and_synchronous_normal(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_a_full_batch_is_committed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    run = store.start_run("r", {}, 0)
    for i in range(BATCH_SIZE - 1):
        store.record_soon(run, response(i), {"i": i})
    assert committed(path) == 0  # queued, not yet written
    store.record_soon(run, response(BATCH_SIZE), {})
    assert committed(path) == BATCH_SIZE
    store.record_soon(run, response(BATCH_SIZE + 1), {})
    assert committed(path) == BATCH_SIZE
    store.close()  # close writes what is pending
    assert committed(path) == BATCH_SIZE + 1


def test_an_old_batch_is_committed_with_the_next_answer(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        run = store.start_run("r", {}, 0)
        store.record_soon(run, response(0), {})
        time.sleep(FLUSH_SECONDS * 1.5)
        store.record_soon(run, response(1), {})
        assert committed(path) == 2
        store.record_soon(run, response(2), {})
        store.finish_run(run)  # finishing a run writes what is pending
        assert committed(path) == 3


def test_runs_started_in_the_same_second_list_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run ids carry a random suffix: within one second, the order they were started
    (not their ids) says which is newest (`tunegate diff` compares the latest two)."""
    import tunegate.store

    monkeypatch.setattr(tunegate.store, "_now", lambda: "2026-12-02T19:00:00+00:00")
    with Store(tmp_path / "t.db") as store:
        started = [store.start_run(f"run{i}", {}, None) for i in range(12)]
        assert [r.id for r in store.runs()] == started[::-1]
