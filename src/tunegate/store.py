"""One SQLite file (WAL) holding runs and every model response.

Every response is committed as it arrives, so a killed process loses nothing
already answered. A later run reuses stored answers through the cache key (a
hash of the backend identity and the rendered request, never secrets); stored
errors are never reused as answers, so they are retried.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunegate.errors import TunegateError

SCHEMA_VERSION = 1

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
    PRIMARY KEY (run_id, model, case_id)
);
CREATE INDEX IF NOT EXISTS responses_answers ON responses(key, created_at) WHERE error IS NULL;
"""


@dataclass
class Response:
    """One model's answer (or error) for one case."""

    case_id: str
    model: str
    key: str
    text: str | None = None
    output: Any = None
    extra: dict[str, Any] | None = None
    error: str | None = None
    error_kind: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 1
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True when the model answered (the answer may still be wrong or unparseable)."""
        return self.error is None


@dataclass
class RunInfo:
    """A stored run."""

    id: str
    name: str
    started_at: str
    finished_at: str | None
    status: str
    seed: int | None
    config: dict[str, Any]
    meta: dict[str, Any]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


class Store:
    """Access to the SQLite file. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
                )
            elif int(row[0]) != SCHEMA_VERSION:
                raise TunegateError(
                    f"{self.path}: store schema {row[0]} is not supported (expected {SCHEMA_VERSION})"
                )
        except sqlite3.DatabaseError as exc:
            raise TunegateError(f"{self.path}: cannot open the store ({exc})") from None
        except OSError as exc:
            raise TunegateError(f"{self.path}: cannot create the store ({exc.strerror})") from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
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
        self._db.execute(
            "INSERT INTO runs(id, name, started_at, status, seed, config, meta)"
            " VALUES (?, ?, ?, 'running', ?, ?, ?)",
            (run_id, name, _now(), seed, _dump(config), _dump(meta or {})),
        )
        return run_id

    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        """Merge ``meta`` into the run's metadata."""
        current = self.get_run(run_id).meta
        current.update(meta)
        self._db.execute("UPDATE runs SET meta=? WHERE id=?", (_dump(current), run_id))

    def finish_run(self, run_id: str, status: str = "completed") -> None:
        """Mark a run finished."""
        self._db.execute(
            "UPDATE runs SET status=?, finished_at=? WHERE id=?", (status, _now(), run_id)
        )

    def get_run(self, run_id: str) -> RunInfo:
        """One run; raises :class:`TunegateError` if unknown."""
        row = self._db.execute(
            "SELECT id, name, started_at, finished_at, status, seed, config, meta FROM runs"
            " WHERE id=?",
            (run_id,),
        ).fetchone()
        if row is None:
            raise TunegateError(f"{self.path}: no run {run_id!r}")
        return RunInfo(row[0], row[1], row[2], row[3], row[4], row[5], _load(row[6]), _load(row[7]))

    def runs(self) -> list[RunInfo]:
        """All runs, newest first."""
        ids = [
            r[0] for r in self._db.execute("SELECT id FROM runs ORDER BY started_at DESC, id DESC")
        ]
        return [self.get_run(i) for i in ids]

    # ------------------------------------------------------------- responses

    def record(self, run_id: str, response: Response, request: dict[str, Any]) -> None:
        """Write one response now (autocommit), replacing an earlier one for the same case."""
        self._db.execute(
            "INSERT OR REPLACE INTO responses(run_id, model, case_id, key, request, text, output,"
            " extra, error, error_kind, latency_ms, prompt_tokens, completion_tokens, attempts,"
            " cached, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                response.model,
                response.case_id,
                response.key,
                _dump(request),
                response.text,
                _dump(response.output),
                _dump(response.extra),
                response.error,
                response.error_kind,
                response.latency_ms,
                response.prompt_tokens,
                response.completion_tokens,
                response.attempts,
                int(response.cached),
                time.time(),
            ),
        )

    def record_many(self, run_id: str, items: Iterable[tuple[Response, dict[str, Any]]]) -> None:
        """Write several responses in one transaction."""
        self._db.execute("BEGIN")
        try:
            for response, request in items:
                self.record(run_id, response, request)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def cached_answers(self, keys: Iterable[str]) -> dict[str, Response]:
        """The newest stored answer (never an error) for each of ``keys`` that has one."""
        found: dict[str, Response] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM responses"
                f" WHERE error IS NULL AND key IN ({marks}) ORDER BY created_at",
                chunk,
            )
            for row in rows:
                response = _response(row)
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


_COLUMNS = (
    "case_id, model, key, text, output, extra, error, error_kind, latency_ms,"
    " prompt_tokens, completion_tokens, attempts, cached"
)


def _response(row: tuple[Any, ...]) -> Response:
    """A :class:`Response` from a row selected with ``_COLUMNS``."""
    return Response(
        case_id=row[0],
        model=row[1],
        key=row[2],
        text=row[3],
        output=_load(row[4]),
        extra=_load(row[5]),
        error=row[6],
        error_kind=row[7],
        latency_ms=row[8],
        prompt_tokens=row[9],
        completion_tokens=row[10],
        attempts=row[11],
        cached=bool(row[12]),
    )
