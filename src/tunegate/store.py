"""One SQLite file (WAL) holding runs and every model response.

Responses are committed in batches (every :data:`BATCH_SIZE` responses or
:data:`FLUSH_SECONDS`, whichever comes first), so a killed process loses at most
the requests in flight plus the last unflushed batch. A later run reuses stored answers through the cache key (a
hash of the backend identity and the rendered request, never secrets); stored
errors are never reused as answers, so they are retried.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tunegate.errors import DataError, TunegateError
from tunegate.secrets import redact, redact_known, redact_urls, remember_urls_in

SCHEMA_VERSION = 1
#: Responses committed together (see :meth:`Store.record_soon`): a SIGKILL loses at most
#: this many answered responses besides those in flight.
BATCH_SIZE = 64
#: ... or the responses answered in the last this many seconds, whichever is fewer.
FLUSH_SECONDS = 0.1
MAX_ANSWER_CHARS = 10_000_000
"""A stored answer text longer than this is cut here; ``extra["truncated_from"]`` keeps the length."""
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
    # Where a reused answer was first received: that run's id and the time (epoch seconds).
    origin_run: str | None = None
    origin_at: float | None = None

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
            r[0] for r in self._db.execute("SELECT id FROM runs ORDER BY started_at DESC, id DESC")
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

    def cached_answers(self, keys: Iterable[str]) -> dict[str, Response]:
        """The newest stored answer (never an error) for each of ``keys`` that has one.

        Each carries its origin: the run that first received it and when (a reused
        answer keeps the origin of the answer it copies).
        """
        found: dict[str, Response] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT {_COLUMNS}, run_id, created_at FROM responses"
                f" WHERE error IS NULL AND key IN ({marks}) ORDER BY created_at",
                chunk,
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
        run asks again; runs and their stored results stay. Returns the count per model."""
        self._write("BEGIN IMMEDIATE")
        try:
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


def _safe_dump(value: Any) -> str | None:
    text = _dump(value)
    return None if text is None else redact_known(text)


def _secret_free_config(config: dict[str, Any]) -> str | None:
    remember_urls_in(config)  # so that their secrets are scrubbed from every later message too
    text = _dump(config)
    return None if text is None else redact_urls(text)


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


_INSERT_RESPONSE = (
    "INSERT OR REPLACE INTO responses(run_id, model, case_id, key, request, text, output,"
    " extra, error, error_kind, latency_ms, prompt_tokens, completion_tokens, attempts,"
    " cached, created_at, origin_run, origin_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _response_row(run_id: str, response: Response, request: dict[str, Any]) -> tuple[Any, ...]:
    """The values of one ``responses`` row (answers cut, secrets redacted)."""
    response = _truncated(response)
    return (
        run_id,
        response.model,
        response.case_id,
        response.key,
        _safe_dump(request),
        response.text,
        _dump(response.output),
        _dump(response.extra),
        None if response.error is None else redact(response.error),
        response.error_kind,
        response.latency_ms,
        response.prompt_tokens,
        response.completion_tokens,
        response.attempts,
        int(response.cached),
        time.time(),
        response.origin_run,
        response.origin_at,
    )


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


def _truncated(response: Response) -> Response:
    """``response`` with an answer over :data:`MAX_ANSWER_CHARS` cut, noting the length.

    Cut in place: the caller's copy (scored in this run) then matches what the store keeps
    (scored on a re-run from the cache), and the whole answer is not held on to."""
    text = response.text
    if text is None or len(text) <= MAX_ANSWER_CHARS:
        return response
    response.extra = {**(response.extra or {}), "truncated_from": len(text)}
    if isinstance(response.output, str) and len(response.output) > MAX_ANSWER_CHARS:
        response.output = response.output[:MAX_ANSWER_CHARS]
    response.text = text[:MAX_ANSWER_CHARS]
    return response


def _process_gone(meta: dict[str, Any]) -> bool:
    """True when the run's process (on this host) no longer exists."""
    process = meta.get("process") if isinstance(meta, dict) else None
    if not isinstance(process, dict) or process.get("host") != socket.gethostname():
        return False
    pid = process.get("pid")
    if not isinstance(pid, int) or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but another user's
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed child its parent has not reaped yet (Linux /proc; False elsewhere)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


_COLUMNS = (
    "case_id, model, key, text, output, extra, error, error_kind, latency_ms,"
    " prompt_tokens, completion_tokens, attempts, cached, origin_run, origin_at"
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
        origin_run=row[13],
        origin_at=row[14],
    )


# --------------------------------------------------------------------------- run lookup

#: Run references with a meaning of their own (besides ids and id prefixes).
SPECIAL_REFS = ("latest", "previous")


def _runs_hint(store: Store) -> str:
    return f"`tunegate runs --store {store.path}` lists them"


def resolve_run(store: Store, run_ref: str) -> RunInfo:
    """The run that ``run_ref`` names in ``store``.

    ``run_ref`` is a full run id, a prefix of exactly one run id, ``latest`` (the
    newest completed run) or ``previous`` (the newest completed run before
    ``latest`` that has the same name). Raises :class:`TunegateError` when nothing
    or several runs match.
    """
    ref = run_ref.strip()
    if not ref:
        raise TunegateError(
            "empty run reference: pass a run id, a unique id prefix, `latest` or `previous`"
        )
    runs = store.runs()
    if ref in SPECIAL_REFS:
        completed = [r for r in runs if r.status == "completed"]
        if not completed:
            raise TunegateError(
                f"{store.path}: no completed run, so there is no `{ref}` run "
                "(run `tunegate run` first)"
            )
        latest = completed[0]
        if ref == "latest":
            return latest
        earlier = [r for r in completed[1:] if r.name == latest.name]
        if not earlier:
            raise TunegateError(
                f"{store.path}: no completed run named {latest.name!r} before the latest "
                f"run {latest.id}, so there is no `previous` run; pass two run ids "
                f"({_runs_hint(store)})"
            )
        return earlier[0]
    exact = [r for r in runs if r.id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(ref)]
    if not matches:
        raise TunegateError(f"{store.path}: no run matches {ref!r} ({_runs_hint(store)})")
    if len(matches) > 1:
        shown = ", ".join(r.id for r in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise TunegateError(
            f"{store.path}: {ref!r} is ambiguous: it matches {len(matches)} runs "
            f"({shown}{more}); give more of the id"
        )
    return matches[0]


def load_run_result(store: Store, run_ref: str) -> dict[str, Any]:
    """The stored result (``meta["result"]``) of the run ``run_ref`` names.

    See :func:`resolve_run` for the references. Raises :class:`TunegateError` when
    the run is unknown, ambiguous or not finished, and :class:`DataError` when it
    was stored without a result. The returned dict is a shallow copy whose
    ``run_id`` and ``name`` default to the store's when the result lacks them.
    """
    info = resolve_run(store, run_ref)
    if info.status == "running":
        raise TunegateError(f"run {info.id} has not finished yet (status running)")
    if info.status != "completed":
        raise TunegateError(
            f"run {info.id} did not finish (status {info.status}): it has no result to compare"
        )
    result = info.meta.get("result")
    if result is None:
        raise DataError(
            f"run {info.id} has no stored result (it ran with an older tunegate or did not finish)"
        )
    if not isinstance(result, dict):
        raise DataError(
            f"run {info.id}: the stored result is a {type(result).__name__}, not an object"
        )
    copy = dict(result)
    copy.setdefault("run_id", info.id)
    copy.setdefault("name", info.name)
    return copy
