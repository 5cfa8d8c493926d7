"""The only place that schedules model I/O.

For each model: render every case, reuse stored answers (cache), send the rest
with bounded concurrency, retry transport failures with exponential backoff that
honours ``Retry-After``, and write every response to the store as it arrives
(committed in batches: :meth:`tunegate.store.Store.record_soon`).
All models run at the same time; each has its own concurrency limit.

Modules: ``records`` (retry policy, observer, a model's run and its stats), ``worker``
(one model's requests, retries and answers), ``interrupts`` (running a run's coroutine so
that SIGINT stops it at any moment); the run of every model at once is here.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.models.base import Backend, BatchBackend, cache_keyer, render_request
from tunegate.runner.interrupts import raise_if_interrupted, run_sync
from tunegate.runner.records import (
    ModelRun,
    ModelRunStats,
    Observer,
    PrefixedObserver,
    RetryPolicy,
    _Item,
    repeat_id,
)
from tunegate.runner.worker import _ModelWorker
from tunegate.store import FLUSH_SECONDS, Store

__all__ = [
    "PRELOAD",
    "ModelJob",
    "ModelRun",
    "ModelRunStats",
    "Observer",
    "PrefixedObserver",
    "RetryPolicy",
    "model_identity",
    "preload",
    "raise_if_interrupted",
    "repeat_items",
    "run_models",
    "run_sync",
]

#: What scoring and statistics import next: loaded in a background thread while
#: requests are in flight, so that neither the first request nor the end waits on them.
#: (The metrics, intervals and tests of a run are numpy and the standard library:
#: scikit-learn, scipy and statsmodels are not imported by a run, only checked against.)
PRELOAD = (
    "tunegate.evaluation.scores",
    "tunegate.evaluation.compare",
    "tunegate.evaluation.judging",
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


def model_identity(backend: Backend) -> dict[str, Any]:
    """The backend's identity, with the model's ``version:`` when the config gives one."""
    identity = backend.identity()
    version = backend.version
    return identity if version is None else {**identity, "version": str(version)}


def repeat_items(
    backend: Backend,
    case: Case,
    request: dict[str, Any],
    key: Callable[[dict[str, Any]], str],
    repeats: int,
    seed: int,
) -> list[_Item]:
    """The ``repeats`` requests of one case: each with the repeat's index in its cache key
    (distinct stored answers; with one repeat the key is the plain request's, so stores
    written before repeats existed stay valid), and ``seed + repeat`` in the request when
    the endpoint takes a seed."""
    items = []
    for r in range(repeats):
        sent = {**request, "seed": seed + r} if getattr(backend, "takes_seed", False) else request
        items.append(_Item(case, sent, key({**sent, "tunegate_repeat": r}), r))
    return items


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
        resume: str | None = None,
        repeats: int = 1,
        seed: int = 0,
    ) -> None:
        self.backend = backend
        self.cases = cases
        self.repeats = repeats
        # A batch sent earlier and not collected is polled again unless the model is
        # asked afresh (then only the batches of the run being resumed are).
        self.batch_runs: set[str] | None = (
            None if use_cache else ({resume} if resume is not None else set())
        )
        self.worker = _ModelWorker(backend, store, run_id, policy, observer)
        self.started = time.perf_counter()
        key = cache_keyer(model_identity(backend))
        items = []
        for case in cases:
            request = render_request(backend, case)
            if repeats == 1:
                items.append(_Item(case, request, key(request)))
                continue
            items += repeat_items(backend, case, request, key, repeats, seed)
        keys = (i.key for i in items)
        if use_cache:
            cached = store.cached_answers(keys)
        else:  # asked again: only what the run being resumed received is reused
            cached = store.cached_answers(keys, run=resume) if resume is not None else {}
        reused: list[tuple[Response, dict[str, Any]]] = []
        self.pending: deque[_Item] = deque()
        for item in items:
            hit = cached.get(item.key)
            if hit is None:
                self.pending.append(item)
                continue
            # One stored answer may serve several cases with the same request: a copy each.
            hit = replace(hit, case_id=item.rid, model=backend.name, attempts=0)
            if hit.origin_run is not None:
                runs = self.worker.stats.from_runs
                runs[hit.origin_run] = runs.get(hit.origin_run, 0) + 1
            self.worker.results[item.rid] = hit
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
                elif getattr(backend, "provider_batch", False):
                    from tunegate.runner.batch import ProviderBatch, run_provider_batch

                    assert isinstance(backend, ProviderBatch)
                    await run_provider_batch(worker, backend, pending, runs=self.batch_runs)
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
        results = worker.results
        repeated = (
            [[results[repeat_id(c.id, r)] for r in range(self.repeats)] for c in self.cases]
            if self.repeats > 1
            else []
        )
        return ModelRun(backend.name, [results[c.id] for c in self.cases], worker.stats, repeated)


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
    resume: str | None = None,
    repeats: Mapping[str, int] | None = None,
    seed: int = 0,
) -> dict[str, ModelRun]:
    """Run every model on every case, all models at once.

    Every backend with something to send is started before anything is sent,
    so a missing API key or an unloadable model fails the run up front. Local
    (batch) models run one after another, next to the remote ones. The models
    named in ``fresh`` (all of them without ``use_cache``) are asked again even when
    the store has their answers, except those that the run ``resume`` (an interrupted
    run this one resumes) received or reused: a resumed ``--no-cache`` run does not pay
    twice. ``repeats`` gives the models asked each case several times (by name; others
    once): every repeat is its own request with its own cache entry, and a model whose
    endpoint takes a ``seed`` gets ``seed + repeat``.
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
            resume=resume,
            repeats=(repeats or {}).get(b.name, 1),
            seed=seed,
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
