"""One model served by several replicas: routing, a replica lost mid-run, one that comes
up late, per-replica stats and a cache identity that ignores which replica answered."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from servers import openai_app, serve

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.models import transport
from tunegate.models.base import cache_key
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.runner import RetryPolicy, run_models
from tunegate.store import Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def backend(urls: list[str], concurrency: int = 4, total: int | None = None) -> OpenAIChatBackend:
    spec = OpenAIModel(
        type="openai",
        model="toy",
        base_url=[u + "/v1" for u in urls],
        concurrency=concurrency,
        concurrency_total=total,
        timeout=5.0,
    )
    return OpenAIChatBackend("m", spec)


@contextmanager
def later(seconds: float, port: int, latency_ms: float) -> Iterator[None]:
    """A replica on ``port`` that starts after ``seconds`` and runs until the block ends."""
    stop = threading.Event()
    started = threading.Event()

    def run() -> None:
        time.sleep(seconds)
        with serve(openai_app(latency_ms=latency_ms), port=port):
            started.set()
            stop.wait(60)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=20)
    assert started.is_set()


def test_config_takes_a_list_of_urls_and_concurrency_total() -> None:
    b = backend(["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"], 4, 10)
    assert b.urls == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1", "http://127.0.0.1:3/v1"]
    assert b.concurrency == 10  # 3 x 4 capped by concurrency_total
    assert backend(["http://127.0.0.1:1", "http://127.0.0.1:2"], 4).concurrency == 8
    with pytest.raises(ValueError, match="twice"):
        OpenAIModel(type="openai", model="x", base_url=["http://a/v1", "http://a/v1"])
    with pytest.raises(ValueError, match="empty"):
        OpenAIModel(type="openai", model="x", base_url=[])


def test_cache_identity_does_not_depend_on_the_replica() -> None:
    a = backend(["http://127.0.0.1:1", "http://127.0.0.1:2"])
    b = backend(["http://127.0.0.1:2", "http://127.0.0.1:1"])
    case = Case(id="c", text="hello", reference="")
    assert cache_key(a.identity(), a.render(case)) == cache_key(b.identity(), b.render(case))
    single = OpenAIChatBackend(
        "m", OpenAIModel(type="openai", model="toy", base_url="http://127.0.0.1:1/v1")
    )
    assert single.identity()["base_url"] == "http://127.0.0.1:1/v1"  # unchanged for one URL


@pytest.mark.slow
async def test_replica_killed_mid_run_and_one_started_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Backoff capped at 1 s so that the late replica is probed back well before the end
    # of the run on a loaded machine (the run lasts 4 s or more).
    monkeypatch.setattr(transport, "MAX_BACKOFF", 1.0)
    n, latency = 1200, 30.0
    cases = [Case(id=f"c{i}", text=f"review {i} great", reference="") for i in range(n)]
    late_port = free_port()
    store = Store(tmp_path / "store.db")
    run_id = store.start_run("replicas", {}, 0)
    policy = RetryPolicy(base_delay=0.02, max_delay=0.1, max_retries=8)
    with ExitStack() as stack:
        first = stack.enter_context(serve(openai_app(latency_ms=latency)))
        doomed = ExitStack()
        second = doomed.enter_context(serve(openai_app(latency_ms=latency)))
        late = f"http://127.0.0.1:{late_port}"
        stack.enter_context(later(0.6, late_port, latency))
        model = backend([first, second, late], concurrency=4)
        task = asyncio.create_task(run_models({"m": model}, cases, store, run_id, policy=policy))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(doomed.close)  # the second replica goes away mid-run
        runs = await task
    store.close()
    run = runs["m"]
    assert [r.case_id for r in run.responses] == [c.id for c in cases]
    assert [r for r in run.responses if r.error is not None] == []  # no case lost
    assert all(r.text == "positive" for r in run.responses)
    stats = run.stats.as_dict()["replicas"]
    print(json.dumps(stats, indent=1))  # shown with -s
    by_url = {url.split(":")[-1].split("/")[0]: s for url, s in stats.items()}
    lost, came = by_url[second.split(":")[-1]], by_url[str(late_port)]
    kept = by_url[first.split(":")[-1]]
    assert came["requests"] - came["errors"] > 0  # traffic shifted to the late replica
    assert came["errors"] > 0  # it was tried (and refused) before it came up
    assert lost["errors"] > 0
    assert lost["taken_out"] >= 1  # taken out of rotation after it went away
    assert kept["errors"] == 0
    assert kept["latency_ms_mean"] >= latency
    answered = sum(s["requests"] - s["errors"] for s in stats.values())
    assert answered == n


def test_run_facts_list_every_replica_without_secrets() -> None:
    from tunegate.pipeline.facts import model_identity

    spec = OpenAIModel(
        type="openai", model="toy", base_url=["http://u:pw@127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    ).model_dump(mode="json")
    urls = model_identity(spec)["base_url"]
    assert urls == ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
