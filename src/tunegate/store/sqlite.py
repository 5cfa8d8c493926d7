"""The SQLite layer of the store: schema, JSON columns, a connection whose every
statement turns a damaged file into a clear error, lock retries and error messages."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.errors import TunegateError

SCHEMA_VERSION = 1
_LOCK_RETRIES = 5

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    seed INTEGER,
    config TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS responses (
    run_id TEXT NOT NULL REFERENCES runs(id),
    model TEXT NOT NULL,
    case_id TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT,
    output TEXT,
    extra TEXT,
    error TEXT,
    error_kind TEXT,
    latency_ms REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    cached INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    origin_run TEXT,
    origin_at REAL,
    PRIMARY KEY (run_id, model, case_id)
);
CREATE INDEX IF NOT EXISTS responses_answers ON responses(key, created_at) WHERE error IS NULL;
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    input_file_id TEXT,
    requests TEXT NOT NULL,
    status TEXT NOT NULL,
    counts TEXT,
    collected INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
"""


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _load(value: str | None) -> Any:
    try:
        return None if value is None else json.loads(value)
    except ValueError as exc:  # only a damaged file holds text tunegate did not write
        raise TunegateError(
            f"the store is damaged: a stored value is not JSON ({exc}); move the store"
            " aside or restore a copy"
        ) from None


_DAMAGED = ("malformed", "not a database", "disk image", "Could not decode")


class _GuardedCursor(sqlite3.Cursor):
    """A cursor whose every step turns "the file is damaged" into a :class:`TunegateError`
    naming the store (reads happen everywhere; a traceback must not). Lock, read-only and
    full-disk errors pass through for :meth:`Store._write` to retry or explain."""

    def _guard(self, exc: sqlite3.DatabaseError) -> BaseException:
        if not any(word in str(exc) for word in _DAMAGED):
            return exc
        path = getattr(self.connection, "store_path", "the store")
        return _store_error(Path(path), exc, "cannot use the store")

    def execute(self, sql: str, parameters: Any = (), /) -> _GuardedCursor:
        try:
            super().execute(sql, parameters)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None
        return self

    def executescript(self, sql_script: str, /) -> _GuardedCursor:
        try:
            super().executescript(sql_script)
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None
        return self

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._guard(exc) from None


class _GuardedConnection(sqlite3.Connection):
    """A connection whose cursors (also those of ``execute``) are :class:`_GuardedCursor`
    (CPython's own ``execute`` would make a plain cursor)."""

    store_path: Path

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _GuardedCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def executescript(self, sql_script: str, /) -> Any:
        return self.cursor().executescript(sql_script)


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _retry_locked(action: Callable[[], Any]) -> Any:
    """``action()``, tried again when SQLite still says "database is locked" after its own
    busy timeout (another process writing for long, or a lock upgrade that cannot wait)."""
    for attempt in range(_LOCK_RETRIES):
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _locked(exc) or attempt == _LOCK_RETRIES - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def _schema_message(path: Path, found: str) -> str:
    if found.isdigit() and int(found) > SCHEMA_VERSION:
        return (
            f"{path}: this store was written by a newer tunegate (store schema {found}; this"
            f" version reads schema {SCHEMA_VERSION}): upgrade tunegate or pass another --store"
        )
    return f"{path}: store schema {found!r} is not supported (expected {SCHEMA_VERSION})"


def _store_error(path: Path, exc: sqlite3.DatabaseError, doing: str) -> TunegateError:
    """A clear message for what SQLite reports about the file or its folder."""
    text = str(exc)
    if "not a database" in text:
        why = "the file is not a tunegate store (not an SQLite database)"
    elif "malformed" in text or "disk image" in text or "Could not decode" in text:
        why = f"the store file is damaged ({text}): move it aside or restore a copy"
    elif "readonly" in text or "read-only" in text:
        why = "the file or its folder is read-only"
    elif "disk is full" in text or "disk I/O" in text:
        why = f"no space left on the device or a disk error ({text})"
    elif "unable to open" in text:
        why = "cannot open the file (is its folder writable?)"
    elif _locked(exc):
        why = "another process kept the store locked for too long; try again"
    else:
        why = text
    return TunegateError(f"{path}: {doing}: {why}")
