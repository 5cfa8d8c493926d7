"""The only place that schedules model I/O.

For each model: render every case, reuse stored answers (cache), send the rest
with bounded concurrency, retry transport failures with exponential backoff that
honours ``Retry-After``, and write every response to the store as it arrives
(committed in batches: :meth:`tunegate.store.Store.record_soon`).
All models run at the same time; each has its own concurrency limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Awaitable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from tunegate.data import Case
from tunegate.models.base import (
    Backend,
    BatchBackend,
    BatchOrder,
    Completion,
    TransportError,
    cache_keyer,
    render_request,
)
from tunegate.secrets import redact
from tunegate.store import FLUSH_SECONDS, Response, Store

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))`` with ±25% jitter,
    or the server's ``Retry-After`` when it sent one (capped at ``max_retry_after``).
    Malformed bodies are retried at most ``malformed_retries`` times. After
    ``max_consecutive_failures`` cases in a row fail to connect or time out with no
    success in between, the model is declared unreachable and the rest is not sent.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    malformed_retries: int = 1
    max_consecutive_failures: int = 10


class Observer(Protocol):
    """Receives progress events (the CLI draws progress bars from them)."""

    def model_loading(self, model: str) -> None:
        """``model`` is being started (a local model loads its weights)."""

    def model_started(self, model: str, total: int, cached: int) -> None:
        """``total`` cases, of which ``cached`` were answered from the store."""

    def response(self, model: str, response: Response) -> None:
        """One fresh response arrived (answer or error)."""

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        """Every case of ``model`` has a response."""


class PrefixedObserver:
    """Another observer's events with every model name prefixed (``suite/model``,
    ``suite/judge/judge:model``), so several suites and judges share one progress display."""

    def __init__(self, observer: Observer, prefix: str) -> None:
        self.observer = observer
        self.prefix = prefix

    def model_loading(self, model: str) -> None:
        loading = getattr(self.observer, "model_loading", None)
        if loading is not None:
            loading(self.prefix + model)

    def model_started(self, model: str, total: int, cached: int) -> None:
        self.observer.model_started(self.prefix + model, total, cached)

    def response(self, model: str, response: Response) -> None:
        self.observer.response(self.prefix + model, response)

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        self.observer.model_finished(self.prefix + model, stats)


@dataclass
class ModelRunStats:
    """What it took to run one model."""

    total: int = 0
    cached: int = 0
    sent: int = 0
    errors: int = 0
    retries: int = 0
    wall_s: float = 0.0
    stopped: str | None = None
    from_runs: dict[str, int] = field(default_factory=dict)  # run id -> answers reused from it
    # replica URL -> requests, errors, latency (models served by several replicas)
    replicas: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``replicas`` only when the model has more than one)."""
        out = {**self.__dict__, "from_runs": dict(self.from_runs)}
        if len(self.replicas) < 2:
            del out["replicas"]
        return out


@dataclass
class _Item:
    case: Case
    request: dict[str, Any]
    key: str


@dataclass
class ModelRun:
    """The responses of one model, in case order, and how the run went."""

    name: str
    responses: list[Response]
    stats: ModelRunStats = field(default_factory=ModelRunStats)


#: What scoring and statistics import next: loaded in a background thread while
#: requests are in flight, so that neither the first request nor the end waits on them.
#: (The metrics, intervals and tests of a run are numpy and the standard library:
#: scikit-learn, scipy and statsmodels are not imported by a run, only checked against.)
PRELOAD = (
    "tunegate.evaluate",
    "tunegate.compare",
    "tunegate.judging",
)


def preload(modules: Sequence[str] = PRELOAD) -> threading.Thread | None:
    """Import ``modules`` (those not imported yet) in a daemon thread; None if none is left."""
    missing = [m for m in modules if m not in sys.modules]
    if not missing:
        return None

    def load() -> None:
        for module in missing:
            # A failure shows again where the module is used, with its message.
            with contextlib.suppress(Exception):
                importlib.import_module(module)

    thread = threading.Thread(target=load, name="tunegate-preload", daemon=True)
    thread.start()
    return thread


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
        self.results[item.case.id] = response
        self.store.record_soon(self.run_id, response, item.request)
        if response.error is not None:
            self.stats.errors += 1
        if self.observer is not None:
            self.observer.response(self.backend.name, response)

    def _response(self, item: _Item, **fields: Any) -> Response:
        return Response(case_id=item.case.id, model=self.backend.name, key=item.key, **fields)

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


def model_identity(backend: Backend) -> dict[str, Any]:
    """The backend's identity, with the model's ``version:`` when the config gives one."""
    identity = backend.identity()
    version = backend.version
    return identity if version is None else {**identity, "version": str(version)}


class ModelJob:
    """One model's share of a run: rendered requests, answers reused from the store, the rest."""

    def __init__(
        self,
        backend: Backend,
        cases: Sequence[Case],
        store: Store,
        run_id: str,
        *,
        use_cache: bool,
        policy: RetryPolicy,
        observer: Observer | None,
    ) -> None:
        self.backend = backend
        self.cases = cases
        self.worker = _ModelWorker(backend, store, run_id, policy, observer)
        self.started = time.perf_counter()
        key = cache_keyer(model_identity(backend))
        items = []
        for case in cases:
            request = render_request(backend, case)
            items.append(_Item(case, request, key(request)))
        cached = store.cached_answers(i.key for i in items) if use_cache else {}
        reused: list[tuple[Response, dict[str, Any]]] = []
        self.pending: deque[_Item] = deque()
        for item in items:
            hit = cached.get(item.key)
            if hit is None:
                self.pending.append(item)
                continue
            # One stored answer may serve several cases with the same request: a copy each.
            hit = replace(hit, case_id=item.case.id, model=backend.name, attempts=0)
            if hit.origin_run is not None:
                runs = self.worker.stats.from_runs
                runs[hit.origin_run] = runs.get(hit.origin_run, 0) + 1
            self.worker.results[item.case.id] = hit
            reused.append((hit, item.request))
        store.record_many(run_id, reused)
        self.worker.stats.total = len(items)
        self.worker.stats.cached = len(reused)

    async def execute(self) -> ModelRun:
        """Send what the store could not answer; the backend must already be started."""
        worker, backend, pending = self.worker, self.backend, self.pending
        # Timed from here: local models wait for each other, and that wait is not theirs.
        self.started = time.perf_counter()
        if worker.observer is not None:
            worker.observer.model_started(backend.name, worker.stats.total, worker.stats.cached)
        if pending:
            try:
                if isinstance(backend, BatchBackend) and backend.batch_size > 1:
                    await worker.run_batched(backend, pending)
                else:
                    await worker.run_single(pending)
            finally:
                await backend.aclose()
            for item in pending:  # left over after a stop
                worker._finish(
                    item,
                    worker._response(
                        item,
                        error=f"not sent: {worker.stats.stopped}",
                        error_kind="not_sent",
                        attempts=0,
                    ),
                )
        worker.stats.wall_s = time.perf_counter() - self.started
        worker.stats.replicas = backend.replica_stats()
        if worker.observer is not None:
            worker.observer.model_finished(backend.name, worker.stats)
        return ModelRun(backend.name, [worker.results[c.id] for c in self.cases], worker.stats)


def run_sync(awaitable: Awaitable[T]) -> T:
    """``asyncio.run`` of ``awaitable``, returning its value.

    The value is not the result of asyncio's main task: when ``asyncio.run`` ends it
    restores the SIGINT handler, and Python's ``signal.signal`` then formats the old
    handler (which holds the main task) into an error message it discards; a task's
    repr includes its result, and the repr of a whole run's result took ~0.1 s at
    5,000 cases."""
    box: list[T] = []

    async def main() -> None:
        box.append(await awaitable)

    asyncio.run(main())
    return box[0]


async def run_models(
    backends: dict[str, Backend],
    cases: Sequence[Case],
    store: Store,
    run_id: str,
    *,
    use_cache: bool = True,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
    fresh: Collection[str] = (),
) -> dict[str, ModelRun]:
    """Run every model on every case, all models at once.

    Every backend with something to send is started before anything is sent,
    so a missing API key or an unloadable model fails the run up front. Local
    (batch) models run one after another, next to the remote ones. The models
    named in ``fresh`` are asked again even when the store has their answers.
    """
    policy = policy or RetryPolicy()
    jobs = [
        ModelJob(
            b,
            cases,
            store,
            run_id,
            use_cache=use_cache and b.name not in fresh,
            policy=policy,
            observer=observer,
        )
        for b in backends.values()
    ]
    needed = [job.backend for job in jobs if job.pending]
    try:
        for backend in needed:
            if observer is not None:
                observer.model_loading(backend.name)
            await backend.start()
    except BaseException:
        for backend in needed:
            await backend.aclose()
        raise
    local = [j for j in jobs if isinstance(j.backend, BatchBackend)]
    remote = [j for j in jobs if not isinstance(j.backend, BatchBackend)]

    async def one_after_another() -> list[ModelRun]:
        # Local models share the same cores: one at a time keeps each model's
        # latency honest and the total time the same.
        return [await job.execute() for job in local]

    async def flush_every(seconds: float) -> None:
        # Answers that arrive slowly are committed within ``seconds`` all the same.
        while True:
            await asyncio.sleep(seconds)
            store.flush()

    flusher = asyncio.create_task(flush_every(FLUSH_SECONDS))
    if any(job.pending for job in remote):
        preload()
    try:
        remote_runs, local_runs = await asyncio.gather(
            asyncio.gather(*(job.execute() for job in remote)), one_after_another()
        )
    finally:
        flusher.cancel()
        store.flush()
    finished = {r.name: r for r in [*remote_runs, *local_runs]}
    return {job.backend.name: finished[job.backend.name] for job in jobs}
