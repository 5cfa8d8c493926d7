"""Batched (local) models in the runner: the order the backend asks for, answers per case.

The backend here is an in-process stand-in for a local model (what it fakes is the
model: it answers with the length of the text); the runner and the SQLite store are real.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tunegate.data import Case
from tunegate.models.base import (
    BackendDefaults,
    BatchBackend,
    BatchOrder,
    Completion,
    TransportError,
)
from tunegate.runner import RetryPolicy, run_models
from tunegate.store import Store


class LengthModel(BackendDefaults):
    """Answers each text's length; records every batch it was sent."""

    concurrency = 1

    def __init__(self, batch_size: int, order: Callable[[list[dict[str, Any]]], list[int]] | None):
        super().__init__()
        self.name = "local"
        self.batch_size = batch_size
        self.batches: list[list[str]] = []
        self._order = order

    async def start(self) -> None:
        return None

    def identity(self) -> dict[str, Any]:
        return {"type": "length-model"}

    def render(self, case: Case) -> dict[str, Any]:
        return {"prompt": case.text}

    async def send(self, request: dict[str, Any]) -> Completion:
        (answer,) = await self.send_batch([request])
        assert isinstance(answer, Completion)
        return answer

    async def send_batch(self, requests: list[dict[str, Any]]) -> list[Completion | TransportError]:
        self.batches.append([r["prompt"] for r in requests])
        return [Completion(text=str(len(r["prompt"]))) for r in requests]

    async def aclose(self) -> None:
        return None


class OrderedLengthModel(LengthModel):
    async def batch_order(self, requests: list[dict[str, Any]]) -> list[int]:
        assert self._order is not None
        return self._order(requests)


def cases_of(texts: list[str]) -> list[Case]:
    return [Case(id=f"c{i}", text=t, reference="x") for i, t in enumerate(texts)]


TEXTS = ["a" * k for k in (9, 1, 7, 3, 8, 2, 6, 4, 5, 10, 1)]


def shortest_first(requests: list[dict[str, Any]]) -> list[int]:
    return sorted(range(len(requests)), key=lambda i: len(requests[i]["prompt"]))


async def run(backend: LengthModel, store: Store, policy: RetryPolicy) -> dict[str, str]:
    run_id = store.start_run("test", {}, 0)
    runs = await run_models({"local": backend}, cases_of(TEXTS), store, run_id, policy=policy)
    answers = {r.case_id: r.text for r in runs["local"].responses}
    assert [r.case_id for r in runs["local"].responses] == [f"c{i}" for i in range(len(TEXTS))]
    stored = {r.case_id: r.text for r in store.responses(run_id)}
    assert stored == answers
    return answers


async def test_batches_follow_the_order_the_backend_asks_for(
    store: Store, fast_policy: RetryPolicy
) -> None:
    backend = OrderedLengthModel(batch_size=4, order=shortest_first)
    assert isinstance(backend, BatchBackend)
    assert isinstance(backend, BatchOrder)
    answers = await run(backend, store, fast_policy)
    sent = [len(p) for batch in backend.batches for p in batch]
    assert sent == sorted(len(t) for t in TEXTS)
    assert [len(b) for b in backend.batches] == [4, 4, 3]
    # every case keeps its own answer, whatever batch it went in
    assert answers == {f"c{i}": str(len(t)) for i, t in enumerate(TEXTS)}


async def test_without_an_order_batches_go_in_case_order(
    store: Store, fast_policy: RetryPolicy
) -> None:
    backend = LengthModel(batch_size=4, order=None)
    assert not isinstance(backend, BatchOrder)
    await run(backend, store, fast_policy)
    assert [p for batch in backend.batches for p in batch] == TEXTS


@pytest.mark.parametrize(
    "order",
    [
        lambda requests: [0, 0, 1],  # not a permutation
        lambda requests: list(range(len(requests) + 1)),
        lambda requests: 1 / 0,  # the backend fails to say
    ],
    ids=["repeats", "too-long", "raises"],
)
async def test_an_unusable_order_keeps_case_order(
    store: Store, fast_policy: RetryPolicy, order: Callable[[list[dict[str, Any]]], list[int]]
) -> None:
    backend = OrderedLengthModel(batch_size=4, order=order)
    answers = await run(backend, store, fast_policy)
    assert [p for batch in backend.batches for p in batch] == TEXTS
    assert answers == {f"c{i}": str(len(t)) for i, t in enumerate(TEXTS)}
