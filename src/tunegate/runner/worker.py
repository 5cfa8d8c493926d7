"""One model's requests: sent with bounded concurrency (or in batches for local
models), retried with backoff that honours ``Retry-After``, and every answer recorded
in the store as it arrives."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from tunegate.data.response import Response
from tunegate.models.base import (
    Backend,
    BatchBackend,
    BatchOrder,
    Completion,
    TransportError,
)
from tunegate.runner.records import ModelRunStats, Observer, RetryPolicy, _Item
from tunegate.secrets import redact
from tunegate.store import Store


def retry_delay(policy: RetryPolicy, exc: TransportError, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if exc.retry_after is not None:
        return min(exc.retry_after, policy.max_retry_after)
    delay = min(policy.max_delay, policy.base_delay * 2 ** (attempt - 1))
    return float(delay * random.uniform(0.75, 1.25))


def retry_limit(policy: RetryPolicy, max_retries: int, exc: TransportError) -> int:
    """How many retries ``exc`` allows (0 for failures that would fail again)."""
    if not exc.retryable:
        return 0
    if exc.kind == "malformed":
        return min(max_retries, policy.malformed_retries)
    return max_retries


class _ModelWorker:
    def __init__(
        self,
        backend: Backend,
        store: Store,
        run_id: str,
        policy: RetryPolicy,
        observer: Observer | None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.run_id = run_id
        self.policy = policy
        self.observer = observer
        self.stats = ModelRunStats()
        self.results: dict[str, Response] = {}
        self.consecutive_failures = 0
        self.any_success = False
        self.max_retries = (
            policy.max_retries if backend.max_retries is None else backend.max_retries
        )
        timeout = backend.timeout
        # A guard over the whole attempt: clients time out per phase, a drip-feeding
        # server or a hung Python function must not stall the run.
        self.guard = float(timeout) + 5.0 if timeout else None

    def _finish(self, item: _Item, response: Response) -> None:
        self.results[item.rid] = response
        self.store.record_soon(self.run_id, response, item.request)
        if response.error is not None:
            self.stats.errors += 1
        if self.observer is not None:
            self.observer.response(self.backend.name, response)

    def _response(self, item: _Item, **fields: Any) -> Response:
        return Response(case_id=item.rid, model=self.backend.name, key=item.key, **fields)

    def _from_completion(
        self, item: _Item, completion: Completion, latency_ms: float, attempts: int
    ) -> Response:
        return self._response(
            item,
            text=completion.text,
            output=completion.output,
            extra=completion.extra or None,
            latency_ms=latency_ms,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            attempts=attempts,
        )

    async def _attempt(self, request: dict[str, Any]) -> tuple[Completion, float]:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.guard):
                completion = await self.backend.send(request)
        except TimeoutError:
            raise TransportError(
                f"no answer within {self.guard:g} s", retryable=True, kind="timeout"
            ) from None
        return completion, (time.perf_counter() - started) * 1000.0

    async def _send_with_retries(self, request: dict[str, Any]) -> tuple[Completion, float, int]:
        """Attempt until success or until the failure allows no more retries.

        Raises the last :class:`TransportError` with its ``attempts`` recorded.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                completion, latency = await self._attempt(request)
                return completion, latency, attempt
            except TransportError as exc:
                if attempt > retry_limit(self.policy, self.max_retries, exc):
                    exc.attempts = attempt
                    raise
                await asyncio.sleep(retry_delay(self.policy, exc, attempt))

    async def send_one(self, item: _Item) -> Response:
        attempts = 0
        try:
            completion, latency, attempts = await self._send_with_retries(item.request)
        except TransportError as exc:
            attempts = exc.attempts
            self.stats.retries += attempts - 1
            if exc.kind in {"connection", "timeout"}:
                self.consecutive_failures += 1
            message = redact(exc.message)
            if exc.fatal and self.stats.stopped is None:
                self.stats.stopped = f"stopped after a fatal error: {message}"
            elif (
                not self.any_success
                and self.consecutive_failures >= self.policy.max_consecutive_failures
                and self.stats.stopped is None
            ):
                self.stats.stopped = (
                    f"unreachable after {self.consecutive_failures} failed cases: {message}"
                )
            return self._response(item, error=message, error_kind=exc.kind, attempts=attempts)
        except Exception as exc:  # a backend bug must not lose the run
            return self._response(
                item,
                error=redact(f"{type(exc).__name__}: {exc}"),
                error_kind="internal",
                attempts=attempts,
            )
        self.stats.retries += attempts - 1
        self.consecutive_failures = 0
        self.any_success = True
        return self._from_completion(item, completion, latency, attempts)

    async def run_single(self, pending: deque[_Item]) -> None:
        async def worker() -> None:
            while pending and self.stats.stopped is None:
                item = pending.popleft()
                response = await self.send_one(item)
                self.stats.sent += 1
                self._finish(item, response)

        n_workers = min(self.backend.concurrency, len(pending))
        await asyncio.gather(*(worker() for _ in range(n_workers)))

    async def run_batched(self, backend: BatchBackend, pending: deque[_Item]) -> None:
        if isinstance(backend, BatchOrder) and len(pending) > backend.batch_size:
            try:
                order = await backend.batch_order([item.request for item in pending])
            except Exception:  # only an optimisation: a model that fails says so per batch
                order = []
            if sorted(order) == list(range(len(pending))):
                items = list(pending)
                pending.clear()
                pending.extend(items[i] for i in order)
        while pending:
            batch = [pending.popleft() for _ in range(min(backend.batch_size, len(pending)))]
            started = time.perf_counter()
            try:
                outcomes: Sequence[Completion | TransportError] = await backend.send_batch(
                    [item.request for item in batch]
                )
            except Exception as exc:
                outcomes = [
                    TransportError(
                        redact(f"{type(exc).__name__}: {exc}"), retryable=False, kind="model"
                    )
                ] * len(batch)
            per_case = (time.perf_counter() - started) * 1000.0 / len(batch)
            self.stats.sent += len(batch)
            for item, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, TransportError):
                    response = self._response(
                        item, error=redact(outcome.message), error_kind=outcome.kind
                    )
                else:
                    response = self._from_completion(item, outcome, per_case, 1)
                    response.extra = {**(response.extra or {}), "batch_size": len(batch)}
                self._finish(item, response)
