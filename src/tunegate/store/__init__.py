"""One SQLite file (WAL) holding runs and every model response.

Responses are committed in batches (every :data:`BATCH_SIZE` responses or
:data:`FLUSH_SECONDS`, whichever comes first), so a killed process loses at most
the requests in flight plus the last unflushed batch. A later run reuses stored answers through the cache key (a
hash of the backend identity and the rendered request, never secrets); stored
errors are never reused as answers, so they are retried.

Modules: ``sqlite`` (schema, guarded connection, lock retries), ``records`` (Response,
RunInfo, rows), ``processes`` (is a run's process gone), ``lookup`` (run references);
the :class:`Store` (runs, batched responses, the answer cache, housekeeping) is here.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunegate.data.response import MAX_ANSWER_CHARS, Response
from tunegate.errors import TunegateError
from tunegate.store.batches import BATCH_COLUMNS, BatchRecord, batch_record
from tunegate.store.lookup import SPECIAL_REFS, load_run_result, resolve_run
from tunegate.store.processes import _is_zombie, _process_gone
from tunegate.store.records import (
    _COLUMNS,
    _INSERT_RESPONSE,
    RunInfo,
    _response,
    _response_row,
    _safe_dump,
    _secret_free_config,
)
from tunegate.store.sqlite import (
    _SCHEMA,
    SCHEMA_VERSION,
    _dump,
    _GuardedConnection,
    _load,
    _retry_locked,
    _schema_message,
    _store_error,
)

__all__ = [
    "BATCH_SIZE",
    "FLUSH_SECONDS",
    "MAX_ANSWER_CHARS",
    "SCHEMA_VERSION",
    "SPECIAL_REFS",
    "BatchRecord",
    "Response",
    "RunInfo",
    "Store",
    "_is_zombie",
    "_now",
    "_process_gone",
    "load_run_result",
    "resolve_run",
]

#: Responses committed together (see :meth:`Store.record_soon`): a SIGKILL loses at most
#: this many answered responses besides those in flight.
BATCH_SIZE = 64
#: ... or the responses answered in the last this many seconds, whichever is fewer.
FLUSH_SECONDS = 0.1


def _now() -> str:
    """The time runs are stamped with (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """Access to the SQLite file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._pending: list[tuple[str, Response, dict[str, Any]]] = []
        self._pending_since = 0.0
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, factory=_GuardedConnection
            )
            self._db.store_path = self.path
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._add_missing_columns()
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif not str(row[0]).isdigit() or int(row[0]) != SCHEMA_VERSION:
                raise TunegateError(_schema_message(self.path, str(row[0])))
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, exc, "cannot open the store") from None
        except OSError as exc:
            raise TunegateError(f"{self.path}: cannot create the store ({exc.strerror})") from None

    def _add_missing_columns(self) -> None:
        """Stores written before answers carried their origin get the two columns (NULL)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
        for column, kind in (("origin_run", "TEXT"), ("origin_at", "REAL")):
            if column not in have:
                try:
                    self._db.execute(f"ALTER TABLE responses ADD COLUMN {column} {kind}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process just added it
                        raise

    def _write(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """Run one writing statement: retried while another process holds the lock, and
        a read-only, full or broken store becomes a :class:`TunegateError`."""
        try:
            cursor: sqlite3.Cursor = _retry_locked(lambda: self._db.execute(sql, args))
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, exc, "cannot write to the store") from None
        return cursor

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write what is pending and close the connection."""
        try:
            self.flush()
        finally:
            self._db.close()

    # ------------------------------------------------------------------ runs

    def start_run(
        self,
        name: str,
        config: dict[str, Any],
        seed: int | None,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Create a run and return its id (time-ordered, unique)."""
        run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        # Who runs it: a run left 'running' by a process that is gone was interrupted.
        meta = {**(meta or {}), "process": {"pid": os.getpid(), "host": socket.gethostname()}}
        self._write(
            "INSERT INTO runs(id, name, started_at, status, seed, config, meta)"
            " VALUES (?, ?, ?, 'running', ?, ?, ?)",
            # No secret reaches the file: URL credentials in the config, known values anywhere.
            (run_id, name, _now(), seed, _secret_free_config(config), _safe_dump(meta)),
        )
        return run_id

    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        """Merge ``meta`` into the run's metadata."""
        current = self.get_run(run_id).meta
        current.update(meta)
        self._write("UPDATE runs SET meta=? WHERE id=?", (_safe_dump(current), run_id))

    def finish_run(self, run_id: str, status: str = "completed") -> None:
        """Mark a run finished (after writing what is pending)."""
        self.flush()
        self._write("UPDATE runs SET status=?, finished_at=? WHERE id=?", (status, _now(), run_id))

    def get_run(self, run_id: str) -> RunInfo:
        """One run; raises :class:`TunegateError` if unknown."""
        row = self._db.execute(
            "SELECT id, name, started_at, finished_at, status, seed, config, meta FROM runs"
            " WHERE id=?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise TunegateError(f"{self.path}: no run {run_id!r}")
        meta = _load(row[7])
        status = "interrupted" if row[4] == "running" and _process_gone(meta) else row[4]
        return RunInfo(row[0], row[1], row[2], row[3], status, row[5], _load(row[6]), meta)

    def runs(self) -> list[RunInfo]:
        """All runs, newest first."""
        ids = [
            r[0]
            for r in self._db.execute("SELECT id FROM runs ORDER BY started_at DESC, rowid DESC")
        ]
        return [self.get_run(i) for i in ids]

    # ------------------------------------------------------------- responses

    def record(self, run_id: str, response: Response, request: dict[str, Any]) -> None:
        """Write one response now (autocommit), replacing an earlier one for the same case.

        An answer longer than :data:`MAX_ANSWER_CHARS` is stored cut, with a note."""
        self._write(_INSERT_RESPONSE, _response_row(run_id, response, request))

    def record_soon(self, run_id: str, response: Response, request: dict[str, Any]) -> None:
        """Queue one response; the queue is committed in one transaction once it holds
        :data:`BATCH_SIZE` responses or its oldest waited :data:`FLUSH_SECONDS`
        (:meth:`flush` writes it now)."""
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append((run_id, response, request))
        waited = time.monotonic() - self._pending_since
        if len(self._pending) >= BATCH_SIZE or waited >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the responses queued by :meth:`record_soon`."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        rows = [_response_row(run_id, response, request) for run_id, response, request in batch]
        self._write("BEGIN IMMEDIATE")
        try:
            try:
                self._db.executemany(_INSERT_RESPONSE, rows)
            except sqlite3.DatabaseError as exc:
                raise _store_error(self.path, exc, "cannot write to the store") from None
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record_many(self, run_id: str, items: Iterable[tuple[Response, dict[str, Any]]]) -> None:
        """Write several responses in one transaction."""
        self._write("BEGIN IMMEDIATE")
        try:
            for response, request in items:
                self.record(run_id, response, request)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def cached_answers(self, keys: Iterable[str], run: str | None = None) -> dict[str, Response]:
        """The newest stored answer (never an error) for each of ``keys`` that has one
        (only among the answers stored with the run ``run`` when given: those it received
        and those it reused).

        Each carries its origin: the run that first received it and when (a reused
        answer keeps the origin of the answer it copies).
        """
        found: dict[str, Response] = {}
        unique = list(dict.fromkeys(keys))
        only = "" if run is None else " AND run_id=?"
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_COLUMNS}, run_id, created_at FROM responses"
                f" WHERE error IS NULL AND key IN ({marks}){only} ORDER BY created_at",
                chunk if run is None else [*chunk, run],
            )
            for row in rows:
                response = _response(row)
                if response.origin_run is None:  # received in that run, not reused there
                    response.origin_run, response.origin_at = row[-2], row[-1]
                response.cached = True
                found[response.key] = response
        return found

    def responses(self, run_id: str, model: str | None = None) -> Iterator[Response]:
        """The responses stored for a run (optionally one model's), in insertion order."""
        sql = f"SELECT {_COLUMNS} FROM responses WHERE run_id=?"
        args: tuple[str, ...] = (run_id,)
        if model is not None:
            sql += " AND model=?"
            args += (model,)
        for row in self._db.execute(sql + " ORDER BY rowid", args):
            yield _response(row)

    # --------------------------------------------------------------- batches

    def save_batch(self, record: BatchRecord) -> None:
        """Keep a provider batch the moment it is created (before anything is polled)."""
        now = _now()
        self._write(
            f"INSERT OR REPLACE INTO batches({BATCH_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.run_id,
                record.model,
                record.endpoint,
                record.input_file_id,
                _dump(record.requests),
                record.status,
                _dump(record.counts),
                int(record.collected),
                record.created_at or now,
                now,
            ),
        )

    def update_batch(
        self, batch_id: str, status: str, counts: dict[str, Any], *, collected: bool = False
    ) -> None:
        """The batch's last status and ``request_counts``; ``collected`` once its results
        are stored."""
        self.flush()  # its answers are written before the batch is marked collected
        self._write(
            "UPDATE batches SET status=?, counts=?, collected=MAX(collected, ?), updated_at=?"
            " WHERE id=?",
            (status, _dump(counts), int(collected), _now(), batch_id),
        )

    def drop_batch(self, batch_id: str) -> None:
        """Forget a stored batch (a placeholder kept while it was created)."""
        self._write("DELETE FROM batches WHERE id=?", (batch_id,))

    def batches(self, *, in_progress: bool = False) -> list[BatchRecord]:
        """The stored provider batches, oldest first (only those not collected yet with
        ``in_progress``)."""
        where = " WHERE collected=0" if in_progress else ""
        rows = self._db.execute(
            f"SELECT {BATCH_COLUMNS} FROM batches{where} ORDER BY created_at, rowid"
        )
        return [batch_record(row) for row in rows]

    # ---------------------------------------------------------- housekeeping

    def delete_run(self, run_id: str) -> int:
        """Delete a run and its responses; return how many responses went with it."""
        self.get_run(run_id)
        self._write("BEGIN IMMEDIATE")
        try:
            removed = self._db.execute("DELETE FROM responses WHERE run_id=?", (run_id,)).rowcount
            self._db.execute("DELETE FROM runs WHERE id=?", (run_id,))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._write("COMMIT")
        return int(removed)

    def cache_counts(self, model: str | None = None) -> dict[str, int]:
        """Stored responses per model (only ``model``'s when given)."""
        sql = "SELECT model, COUNT(*) FROM responses"
        args: tuple[str, ...] = ()
        if model is not None:
            sql += " WHERE model=?"
            args = (model,)
        return {row[0]: int(row[1]) for row in self._db.execute(sql + " GROUP BY model", args)}

    def clear_cache(self, model: str | None = None) -> dict[str, int]:
        """Delete the stored responses (of every model, or of ``model``) so that the next
        run asks again; runs and their stored results stay. Returns the count per model.

        Refused (:class:`TunegateError`, naming the run) while a run that uses those
        models is in progress: it would report answers as stored that are gone. The check
        and the deletion are one transaction, so no run starts in between."""
        self._write("BEGIN IMMEDIATE")
        try:
            running = self._db.execute("SELECT id FROM runs WHERE status='running'").fetchall()
            for (run_id,) in running:
                info = self.get_run(run_id)
                models = info.config.get("models")
                uses = model is None or not isinstance(models, dict) or model in models
                if info.status == "running" and uses:
                    raise TunegateError(
                        f"{self.path}: run {info.id} ({info.name}, started {info.started_at})"
                        " is still running; clearing the cache now would remove answers it"
                        " has stored: stop it first (or wait for it)"
                    )
            counts = self.cache_counts(model)
            if model is None:
                self._db.execute("DELETE FROM responses")
            else:
                self._db.execute("DELETE FROM responses WHERE model=?", (model,))
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._write("COMMIT")
        return counts

    def vacuum(self) -> None:
        """Give the space of deleted rows back to the file system (``VACUUM``)."""
        self._write("VACUUM")
        self._write("PRAGMA wal_checkpoint(TRUNCATE)")
