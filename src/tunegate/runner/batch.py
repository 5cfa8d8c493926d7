"""A model's requests through a provider's batch API (``batch: true``, the OpenAI Batch API).

What one call of :func:`run_provider_batch` does with the requests the store could not
answer:

1. **Resume.** A batch stored by an earlier run and not collected yet (the store's
   ``batches`` table) whose requests are among these (by cache key) is polled again:
   nothing is uploaded and nothing paid twice.
2. **Send the rest** as one new batch (several beyond a batch's limits, 50,000 requests
   or 190 MB): one line per distinct request (``custom_id``: the
   stored case id, ``c17`` or ``c17#r2`` for a repeat), uploaded, the batch created and
   kept in the store before it is polled (its input file before the batch is created, so
   that a batch whose creation was not answered is found, not created twice).
3. **Poll** every batch with backoff (``batch_poll_interval``, growing to ten times it),
   keeping its status and ``request_counts`` in the store and telling the observer.
4. **Collect** the output and error files once the batch is final: each answered line is
   stored as the case's answer; a failed line, a line missing from the files, and every
   request of a failed, expired or cancelled batch are stored as errors (counted like
   any failed request, never an answer). Then the batch is marked collected.

A batch that cannot be polled (after the retry policy's attempts) or is still running
after ``batch_wait`` seconds is not collected: its cases are errors in this run and a
re-run resumes it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, runtime_checkable

from tunegate.models.base import Completion, TransportError
from tunegate.runner.records import _Item
from tunegate.runner.worker import _ModelWorker, retry_delay, retry_limit
from tunegate.secrets import redact
from tunegate.store import BatchRecord

T = TypeVar("T")

#: The most requests, and bytes of JSONL, one batch takes (OpenAI's limits: 50,000
#: requests and a 200 MB input file); more are sent as several batches.
MAX_BATCH_LINES = 50_000
MAX_BATCH_BYTES = 190 * 1024 * 1024

#: The status of a batch kept while it is being created (its id: the prefix and the
#: input file's id), until the provider names it.
CREATING = "creating"
CREATING_PREFIX = "creating:"

#: How the runner waits between polls (a test records the delays).
poll_sleep = asyncio.sleep


@runtime_checkable
class ProviderBatch(Protocol):
    """A backend answered through a provider's batch API
    (:class:`~tunegate.models.openai_batch.OpenAIBatchBackend`)."""

    provider_batch: bool
    endpoint: str
    poll_interval: float
    wait: float | None

    async def upload(self, lines: list[bytes]) -> str: ...

    async def create(self, input_file_id: str, metadata: dict[str, str]) -> Any: ...

    async def find(self, input_file_id: str) -> Any: ...

    async def retrieve(self, batch_id: str) -> Any: ...

    async def results(self, status: Any) -> dict[str, Completion | TransportError]: ...


def batch_summary(stats: Any) -> dict[str, Any]:
    """The batch part of a model's run statistics (created on first use)."""
    if stats.batch is None:
        stats.batch = {"batches": [], "resumed": [], "requests": 0, "failed": 0}
    summary: dict[str, Any] = stats.batch
    return summary


class _Batches:
    def __init__(self, worker: _ModelWorker, backend: ProviderBatch) -> None:
        self.worker = worker
        self.backend = backend
        self.name = worker.backend.name

    async def _retried(self, call: Callable[[], Awaitable[T]]) -> T:
        """``call()`` retried like a request (raises the last :class:`TransportError`)."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await call()
            except TransportError as exc:
                if attempt > retry_limit(self.worker.policy, self.worker.max_retries, exc):
                    exc.attempts = attempt
                    raise
                await asyncio.sleep(retry_delay(self.worker.policy, exc, attempt))

    def _progress(self, batch_id: str, status: str, counts: dict[str, Any]) -> None:
        observer = self.worker.observer
        report = getattr(observer, "batch_progress", None) if observer is not None else None
        if report is not None:
            report(self.name, batch_id, status, dict(counts))

    def _fail_all(self, groups: dict[str, list[_Item]], message: str, kind: str) -> None:
        summary = batch_summary(self.worker.stats)
        for items in groups.values():
            for item in items:
                summary["failed"] += 1
                self.worker.stats.sent += 1
                self.worker._finish(
                    item, self.worker._response(item, error=message, error_kind=kind)
                )

    async def submit(self, groups: dict[str, list[_Item]]) -> str | None:
        """Upload and create one batch of ``groups`` (custom_id -> its items); its id, or
        None when it could not be created (the items are then errors)."""
        from tunegate.models.openai_batch import request_line

        worker = self.worker
        lines = [request_line(cid, items[0].request) for cid, items in groups.items()]
        record = BatchRecord(
            id="",
            run_id=worker.run_id,
            model=self.name,
            endpoint=self.backend.endpoint,
            input_file_id=None,
            requests={cid: items[0].key for cid, items in groups.items()},
            status=CREATING,
        )
        try:
            record.input_file_id = file_id = await self._retried(lambda: self.backend.upload(lines))
            # Kept before the batch is created: if the answer to the create call is lost
            # (a dropped connection, Ctrl-C), the batch is found by its input file.
            record.id = CREATING_PREFIX + file_id
            worker.store.save_batch(record)
            status = await self._create(file_id)
        except TransportError as exc:
            message = redact(exc.message)
            if exc.fatal and worker.stats.stopped is None:
                worker.stats.stopped = f"stopped after a fatal error: {message}"
            self._fail_all(groups, f"batch not created: {message}", exc.kind)
            return None
        self._adopt(record, status)
        summary = batch_summary(worker.stats)
        summary["batches"].append(status.id)
        self._progress(status.id, status.status, status.counts)
        return str(status.id)

    async def _create(self, file_id: str) -> Any:
        """Create the batch of ``file_id``; before creating it again after a failure,
        look for it (a create whose answer was lost must not be paid twice)."""
        backend, run_id = self.backend, self.worker.run_id
        attempt = 0
        while True:
            attempt += 1
            found = await backend.find(file_id) if attempt > 1 else None
            if found is not None:
                return found
            try:
                return await backend.create(file_id, {"tunegate_run": run_id})
            except TransportError as exc:
                if attempt > retry_limit(self.worker.policy, self.worker.max_retries, exc):
                    raise
                await asyncio.sleep(retry_delay(self.worker.policy, exc, attempt))

    def _adopt(self, record: BatchRecord, status: Any) -> None:
        """``record`` (kept while the batch was created) as the batch ``status`` names."""
        store = self.worker.store
        placeholder = record.id
        record.id, record.status, record.counts = status.id, status.status, status.counts
        store.save_batch(record)
        store.drop_batch(placeholder)

    async def recover(self, record: BatchRecord) -> BatchRecord | None:
        """A batch whose creation an earlier run did not see answered: the batch made of
        its input file (kept as ``record.id``), or None when there is none (the requests
        are then sent again). Raises :class:`TransportError` when the provider cannot say."""
        found = None
        if record.input_file_id is not None:
            file_id = record.input_file_id
            found = await self._retried(lambda: self.backend.find(file_id))
        if found is None:
            self.worker.store.drop_batch(record.id)
            return None
        self._adopt(record, found)
        return record

    async def collect(self, batch_id: str, groups: dict[str, list[_Item]]) -> None:
        """Poll ``batch_id`` until it is final, then store every request's outcome."""
        worker, backend = self.worker, self.backend
        delay, started, failures = backend.poll_interval, time.monotonic(), 0
        while True:
            try:
                status = await backend.retrieve(batch_id)
            except TransportError as exc:
                failures += 1
                if failures > retry_limit(worker.policy, worker.max_retries, exc):
                    self._fail_all(
                        groups,
                        f"batch {batch_id} could not be polled ({redact(exc.message)}); "
                        "not collected: a re-run resumes it",
                        exc.kind,
                    )
                    return
                await asyncio.sleep(retry_delay(worker.policy, exc, failures))
                continue
            failures = 0
            worker.store.update_batch(batch_id, status.status, status.counts)
            self._progress(batch_id, status.status, status.counts)
            if status.final:
                break
            waited = time.monotonic() - started
            if backend.wait is not None and waited >= backend.wait:
                self._fail_all(
                    groups,
                    f"batch {batch_id} still {status.status} after {waited:.0f} s "
                    "(batch_wait); not collected: a re-run resumes it",
                    "batch_pending",
                )
                return
            await poll_sleep(delay)
            delay = min(delay * 1.5, backend.poll_interval * 10)
        try:
            outcomes = await self._retried(lambda: backend.results(status))
        except TransportError as exc:
            self._fail_all(
                groups,
                f"batch {batch_id}: its results could not be read ({redact(exc.message)}); "
                "not collected: a re-run reads them",
                exc.kind,
            )
            return
        self._store_outcomes(batch_id, status, groups, outcomes)
        worker.store.update_batch(batch_id, status.status, status.counts, collected=True)

    def _store_outcomes(
        self,
        batch_id: str,
        status: Any,
        groups: dict[str, list[_Item]],
        outcomes: dict[str, Completion | TransportError],
    ) -> None:
        worker = self.worker
        summary = batch_summary(worker.stats)
        why = "; ".join(status.errors[:3])
        for cid, items in groups.items():
            outcome = outcomes.get(cid)
            if outcome is None:
                outcome = TransportError(
                    f"batch {batch_id} ({status.status}): no result for this request"
                    + (f" ({redact(why)})" if why else ""),
                    retryable=False,
                    kind="batch",
                )
            for item in items:
                worker.stats.sent += 1
                if isinstance(outcome, TransportError):
                    summary["failed"] += 1
                    response = worker._response(
                        item, error=redact(outcome.message), error_kind=outcome.kind
                    )
                else:
                    response = worker._from_completion(item, outcome, 0.0, 1)
                    response.latency_ms = None  # a batch answers within hours: no latency
                    response.extra = {**(response.extra or {}), "batch_id": batch_id}
                worker._finish(item, response)


def _custom_ids(items: list[_Item]) -> dict[str, list[_Item]]:
    """The items by the line that carries them: one line per distinct request, its
    ``custom_id`` the first item's stored case id (``c17``, ``c17#r2``)."""
    by_key: dict[str, list[_Item]] = {}
    for item in items:
        by_key.setdefault(item.key, []).append(item)
    groups: dict[str, list[_Item]] = {}
    for same in by_key.values():
        cid, n = same[0].rid, 1
        while cid in groups:
            n += 1
            cid = f"{same[0].rid}~{n}"
        groups[cid] = same
    return groups


def _chunks(groups: dict[str, list[_Item]]) -> list[dict[str, list[_Item]]]:
    """``groups`` in batches within :data:`MAX_BATCH_LINES` and :data:`MAX_BATCH_BYTES`
    (one batch unless the requests exceed a batch's limits)."""
    from tunegate.models.openai_batch import request_line

    chunks: list[dict[str, list[_Item]]] = []
    size = 0
    for cid, items in groups.items():
        line = len(request_line(cid, items[0].request))
        if not chunks or len(chunks[-1]) >= MAX_BATCH_LINES or size + line > MAX_BATCH_BYTES:
            chunks.append({})
            size = 0
        chunks[-1][cid] = items
        size += line
    return chunks


async def run_provider_batch(
    worker: _ModelWorker,
    backend: ProviderBatch,
    pending: deque[_Item],
    *,
    runs: set[str] | None = None,
) -> None:
    """Answer ``pending`` through the provider's batch API (see the module docstring).
    Batches stored earlier and not collected are polled again: any run's (``runs``
    None), or only those created by the runs in ``runs``."""
    items = list(pending)
    pending.clear()
    by_key: dict[str, list[_Item]] = {}
    for item in items:
        by_key.setdefault(item.key, []).append(item)
    batches = _Batches(worker, backend)
    jobs: list[tuple[str, dict[str, list[_Item]]]] = []
    for record in worker.store.batches(in_progress=True):
        if record.endpoint != backend.endpoint or (runs is not None and record.run_id not in runs):
            continue
        if record.status == CREATING:
            if not any(key in by_key for key in record.requests.values()):
                continue
            try:
                recovered = await batches.recover(record)
            except TransportError as exc:
                message = f"cannot tell whether batch of {record.input_file_id} was created"
                unsure = {c: by_key.pop(k) for c, k in record.requests.items() if k in by_key}
                batches._fail_all(unsure, f"{message} ({redact(exc.message)})", exc.kind)
                continue
            if recovered is None:
                continue
        groups = {cid: by_key.pop(key) for cid, key in record.requests.items() if key in by_key}
        if groups:
            jobs.append((record.id, groups))
            summary = batch_summary(worker.stats)
            summary["batches"].append(record.id)
            summary["resumed"].append(record.id)
    rest = [item for item in items if item.key in by_key]
    for groups in _chunks(_custom_ids(rest)):
        batch_id = await batches.submit(groups)
        if batch_id is not None:
            jobs.append((batch_id, groups))
    if jobs:
        summary = batch_summary(worker.stats)
        summary["requests"] += sum(len(groups) for _, groups in jobs)
    await asyncio.gather(*(batches.collect(batch_id, groups) for batch_id, groups in jobs))
