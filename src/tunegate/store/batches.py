"""Provider batches (the OpenAI Batch API) kept with the run that created them, so that an
interrupted run's re-run polls the same batch instead of sending (and paying for) it again.

A row per batch: the provider's batch id, the run and model, the endpoint (redacted), the
input file, ``requests`` (``custom_id`` -> the cache key of the request it carries), the
last status and ``request_counts`` seen, and ``collected`` once its results are stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunegate.store.sqlite import _load

#: The statuses after which a batch changes no more.
FINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class BatchRecord:
    """One provider batch as the store keeps it."""

    id: str
    run_id: str
    model: str
    endpoint: str
    input_file_id: str | None
    requests: dict[str, str]  # custom_id -> cache key
    status: str
    counts: dict[str, Any] = field(default_factory=dict)
    collected: bool = False
    created_at: str = ""
    updated_at: str = ""

    @property
    def in_progress(self) -> bool:
        """Not collected yet: its results are still to be read (and paid for already)."""
        return not self.collected


BATCH_COLUMNS = (
    "id, run_id, model, endpoint, input_file_id, requests, status, counts, collected,"
    " created_at, updated_at"
)


def batch_record(row: tuple[Any, ...]) -> BatchRecord:
    """A :class:`BatchRecord` from a row selected with :data:`BATCH_COLUMNS`."""
    requests = _load(row[5])
    counts = _load(row[7])
    return BatchRecord(
        id=row[0],
        run_id=row[1],
        model=row[2],
        endpoint=row[3],
        input_file_id=row[4],
        requests=dict(requests) if isinstance(requests, dict) else {},
        status=row[6],
        counts=dict(counts) if isinstance(counts, dict) else {},
        collected=bool(row[8]),
        created_at=row[9],
        updated_at=row[10],
    )
