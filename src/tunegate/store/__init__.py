"""One SQLite file (WAL) holding runs and every model response.

Responses are committed in batches (every :data:`BATCH_SIZE` responses or
:data:`FLUSH_SECONDS`, whichever comes first), so a killed process loses at most
the requests in flight plus the last unflushed batch. A later run reuses stored answers through the cache key (a
hash of the backend identity and the rendered request, never secrets); stored
errors are never reused as answers, so they are retried.

Modules: ``sqlite`` (schema, guarded connection, lock retries), ``records`` (Response,
RunInfo, rows), ``db`` (the Store), ``lookup`` (run references).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tunegate.store.db import BATCH_SIZE, FLUSH_SECONDS, Store, _is_zombie, _process_gone
from tunegate.store.lookup import SPECIAL_REFS, load_run_result, resolve_run
from tunegate.store.records import MAX_ANSWER_CHARS, Response, RunInfo
from tunegate.store.sqlite import SCHEMA_VERSION

__all__ = [
    "BATCH_SIZE",
    "FLUSH_SECONDS",
    "MAX_ANSWER_CHARS",
    "SCHEMA_VERSION",
    "SPECIAL_REFS",
    "Response",
    "RunInfo",
    "Store",
    "_is_zombie",
    "_now",
    "_process_gone",
    "load_run_result",
    "resolve_run",
]


def _now() -> str:
    """The time runs are stamped with (UTC, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")
