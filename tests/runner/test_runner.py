"""The runner and the store together, against real loopback servers.

Each test runs :func:`run_models` with a real SQLite :class:`Store` and checks what
the server received (``app.state.log``) next to what was stored.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from servers import FaultPlan, classify_app, keyword_sentiment, openai_app, serve

from tunegate.config import HTTPModel, OpenAIModel
from tunegate.data import Case
from tunegate.models.http import HTTPBackend
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.runner import ModelRun, ModelRunStats, RetryPolicy, run_models
from tunegate.store import Response, Store

MakeCases = Callable[..., list[Case]]


def openai_backend(url: str, name: str = "m", **kw: Any) -> OpenAIChatBackend:
    return OpenAIChatBackend(
        name, OpenAIModel(type="openai", model="toy", base_url=f"{url}/v1", **kw)
    )


def http_backend(url: str, name: str = "h", **kw: Any) -> HTTPBackend:
    return HTTPBackend(name, HTTPModel(type="http", url=f"{url}/classify", **kw))


async def run(
    backends: dict[str, Any],
    cases: list[Case],
    store: Store,
    policy: RetryPolicy,
    *,
    use_cache: bool = True,
) -> tuple[str, dict[str, ModelRun]]:
    run_id = store.start_run("test", {}, 0)
    runs = await run_models(backends, cases, store, run_id, use_cache=use_cache, policy=policy)
    return run_id, runs


def only(runs: dict[str, ModelRun]) -> ModelRun:
    [model_run] = runs.values()
    return model_run


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- storing and caching --------------------------------------------------------------


async def test_every_response_is_stored(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(12)
    app = openai_app()
    with serve(app) as url:
        run_id, runs = await run({"m": openai_backend(url)}, cases, store, fast_policy)
    assert len(app.state.log) == 12
    stored = {r.case_id: r for r in store.responses(run_id)}
    assert set(stored) == {c.id for c in cases}
    for case in cases:
        response = stored[case.id]
        assert response.error is None
        assert response.text == keyword_sentiment(case.text)
        assert response.model == "m"
        assert not response.cached
        assert response.attempts == 1
    assert [r.case_id for r in only(runs).responses] == [c.id for c in cases]
    stats = only(runs).stats
    assert (stats.total, stats.sent, stats.cached, stats.errors) == (12, 12, 0, 0)
    # The stored request is the rendered one.
    row = store._db.execute(
        "SELECT request FROM responses WHERE run_id=? AND case_id=?", (run_id, cases[0].id)
    ).fetchone()
    assert json.loads(row[0])["messages"][-1] == {"role": "user", "content": cases[0].text}


async def test_rerun_uses_the_cache_and_no_cache_sends_again(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(8)
    app = openai_app()
    with serve(app) as url:
        await run({"m": openai_backend(url)}, cases, store, fast_policy)
        assert len(app.state.log) == 8

        run2, runs2 = await run({"m": openai_backend(url)}, cases, store, fast_policy)
        assert len(app.state.log) == 8  # nothing sent
        assert only(runs2).stats.cached == 8
        assert only(runs2).stats.sent == 0
        stored = list(store.responses(run2))
        assert len(stored) == 8
        assert all(r.cached and r.attempts == 0 for r in stored)
        assert [r.text for r in only(runs2).responses] == [keyword_sentiment(c.text) for c in cases]

        run3, runs3 = await run(
            {"m": openai_backend(url)}, cases, store, fast_policy, use_cache=False
        )
        assert len(app.state.log) == 16
        assert only(runs3).stats.sent == 8
        assert not any(r.cached for r in store.responses(run3))


async def test_cache_key_depends_on_the_request(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(4)
    app = openai_app()
    with serve(app) as url:
        await run({"m": openai_backend(url)}, cases, store, fast_policy)
        await run({"m": openai_backend(url, system="Another prompt")}, cases, store, fast_policy)
        await run(
            {"m": openai_backend(url, params={"temperature": 0.5})}, cases, store, fast_policy
        )
    assert len(app.state.log) == 12


# --- retries --------------------------------------------------------------------------


async def test_429_honours_retry_after(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(3)
    target = cases[1].text
    app = openai_app(faults=FaultPlan({target: ["429", "ok"]}, retry_after=1))
    with serve(app) as url:
        _, runs = await run({"m": openai_backend(url)}, cases, store, fast_policy)
    times = app.state.log.times(target)
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95
    response = only(runs).responses[1]
    assert response.error is None
    assert response.text == keyword_sentiment(target)
    assert response.attempts == 2
    assert only(runs).stats.retries == 1


@pytest.mark.parametrize(
    "actions",
    [["500", "ok"], ["503", "503", "ok"], ["500", "503", "500", "ok"], ["disconnect", "ok"]],
)
async def test_server_errors_are_retried(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases, actions: list[str]
) -> None:
    cases = make_cases(3)
    target = cases[0].text
    app = openai_app(faults=FaultPlan({target: actions}))
    with serve(app) as url:
        _, runs = await run({"m": openai_backend(url)}, cases, store, fast_policy)
    assert app.state.log.count(target) == len(actions)
    response = only(runs).responses[0]
    assert response.error is None
    assert response.attempts == len(actions)


async def test_retries_are_bounded_by_the_model_config(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(2)
    target = cases[0].text
    app = openai_app(faults=FaultPlan({target: "500"}))
    with serve(app) as url:
        _, runs = await run({"m": openai_backend(url, max_retries=2)}, cases, store, fast_policy)
    assert app.state.log.count(target) == 3
    response = only(runs).responses[0]
    assert response.error_kind == "server"
    assert response.error is not None
    assert "HTTP 500" in response.error
    assert response.attempts == 3
    assert only(runs).responses[1].error is None


@pytest.mark.parametrize("kind", ["openai", "http"])
async def test_timeout_is_retried(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases, kind: str
) -> None:
    cases = make_cases(2)
    target = cases[0].text
    faults = FaultPlan({target: ["timeout", "ok"]}, hang_seconds=300)
    make: Callable[..., Any]
    if kind == "openai":
        app = openai_app(faults=faults)
        make = openai_backend
    else:
        app = classify_app(faults=faults)
        make = http_backend
    started = time.monotonic()
    with serve(app) as url:
        _, runs = await run({"m": make(url, timeout=0.5)}, cases, store, fast_policy)
    assert time.monotonic() - started < 60  # the client gave up long before the hang ended
    assert app.state.log.count(target) == 2
    response = only(runs).responses[0]
    assert response.error is None
    assert response.text == keyword_sentiment(target)
    assert response.attempts == 2
    assert response.latency_ms is not None
    # The latency of the attempt that answered: shorter than the time between the two
    # attempts' arrivals, which both attempts together would exceed.
    first, second = app.state.log.times(target)
    assert response.latency_ms < (second - first) * 1000


@pytest.mark.parametrize("kind", ["openai", "http"])
async def test_malformed_body_retried_once_then_stored_as_malformed(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases, kind: str
) -> None:
    cases = make_cases(2)
    target = cases[0].text
    faults = FaultPlan({target: "malformed"})
    app = openai_app(faults=faults) if kind == "openai" else classify_app(faults=faults)
    make = openai_backend if kind == "openai" else http_backend
    with serve(app) as url:
        run_id, runs = await run({"m": make(url)}, cases, store, fast_policy)
    assert app.state.log.count(target) == 2
    response = only(runs).responses[0]
    assert response.error_kind == "malformed"
    assert response.error is not None
    assert "malformed" in response.error
    [stored] = [r for r in store.responses(run_id) if r.case_id == cases[0].id]
    assert stored.error_kind == "malformed"
    assert only(runs).responses[1].error is None


@pytest.mark.parametrize("kind", ["openai", "http"])
async def test_garbage_json_is_an_error(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases, kind: str
) -> None:
    cases = make_cases(2)
    target = cases[1].text
    faults = FaultPlan({target: "garbage"})
    app = openai_app(faults=faults) if kind == "openai" else classify_app(faults=faults)
    make = openai_backend if kind == "openai" else http_backend
    with serve(app) as url:
        _, runs = await run({"m": make(url)}, cases, store, fast_policy)
    response = only(runs).responses[1]
    assert response.error is not None
    assert response.error_kind == "malformed"
    assert response.text is None
    assert app.state.log.count(target) <= 2


async def test_errors_are_not_cached_and_are_retried_next_run(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(5)
    target = cases[2].text
    app = openai_app(faults=FaultPlan({target: ["503", "503", "ok"]}))
    with serve(app) as url:
        _, runs1 = await run({"m": openai_backend(url, max_retries=1)}, cases, store, fast_policy)
        assert only(runs1).responses[2].error_kind == "server"
        assert app.state.log.count(target) == 2
        assert len(app.state.log) == 6

        _, runs2 = await run({"m": openai_backend(url, max_retries=1)}, cases, store, fast_policy)
    assert app.state.log.count(target) == 3  # sent again, and only this one
    assert len(app.state.log) == 7
    responses = only(runs2).responses
    assert responses[2].error is None
    assert responses[2].text == keyword_sentiment(target)
    assert not responses[2].cached
    assert [r.cached for r in responses] == [True, True, False, True, True]
    assert only(runs2).stats.cached == 4


# --- stopping early -------------------------------------------------------------------


async def test_401_is_fatal_and_the_rest_is_not_sent(
    store: Store,
    fast_policy: RetryPolicy,
    make_cases: MakeCases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_TEST_KEY", "wrong-key-123456")
    cases = make_cases(30)
    app = openai_app(require_key="right-key-654321")
    with serve(app) as url:
        backend = openai_backend(url, api_key_env="TG_TEST_KEY", concurrency=2)
        run_id, runs = await run({"m": backend}, cases, store, fast_policy)
    assert 1 <= len(app.state.log) <= 2  # one request per worker at most, never retried
    responses = only(runs).responses
    assert all(r.error is not None for r in responses)
    kinds = [r.error_kind for r in responses]
    assert kinds.count("auth") == len(app.state.log)
    assert kinds.count("not_sent") == 30 - len(app.state.log)
    not_sent = [r for r in responses if r.error_kind == "not_sent"]
    assert all(
        (r.error or "").startswith("not sent: stopped after a fatal error: HTTP 401")
        for r in not_sent
    )
    assert only(runs).stats.stopped is not None
    assert len(list(store.responses(run_id))) == 30


@pytest.mark.parametrize("kind", ["openai", "http"])
async def test_unreachable_endpoint_stops_quickly(
    store: Store, make_cases: MakeCases, kind: str
) -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    backend = (
        openai_backend(url, concurrency=2) if kind == "openai" else http_backend(url, concurrency=2)
    )
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05, max_consecutive_failures=3)
    cases = make_cases(40)
    started = time.monotonic()
    _, runs = await run({"m": backend}, cases, store, policy)
    assert time.monotonic() - started < 30  # guards a hang; the counts below are the check
    model_run = only(runs)
    stopped = model_run.stats.stopped or ""
    assert "unreachable after" in stopped
    assert f"127.0.0.1:{port}" in stopped
    kinds = [r.error_kind for r in model_run.responses]
    assert kinds.count("connection") <= 3 + 2  # the limit plus what was in flight
    assert kinds.count("not_sent") == 40 - kinds.count("connection")
    first_unsent = next(r for r in model_run.responses if r.error_kind == "not_sent")
    assert f"127.0.0.1:{port}" in (first_unsent.error or "")


# --- scheduling and measurements ------------------------------------------------------


async def test_concurrency_limit_per_model(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    app_a, app_b = openai_app(latency_ms=100), openai_app(latency_ms=100)
    cases = make_cases(18)
    with serve(app_a) as url_a, serve(app_b) as url_b:
        backends = {
            "a": openai_backend(url_a, name="a", concurrency=3),
            "b": openai_backend(url_b, name="b", concurrency=6),
        }
        _, runs = await run(backends, cases, store, fast_policy)
    log_a, log_b = app_a.state.log, app_b.state.log
    assert log_a.peak_in_flight == 3
    assert log_b.peak_in_flight == 6
    assert len(log_a) == len(log_b) == 18
    # Both models ran at the same time: some request of b was answered while one of a was.
    assert any(
        a["time"] < b["finished"] and b["time"] < a["finished"] for a in log_a for b in log_b
    )
    assert all(r.error is None for model_run in runs.values() for r in model_run.responses)


async def test_latency_and_tokens_are_recorded(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    cases = make_cases(4)
    app = openai_app(latency_ms=120)
    with serve(app) as url:
        started = time.perf_counter()
        run_id, _ = await run({"m": openai_backend(url)}, cases, store, fast_policy)
        elapsed_ms = (time.perf_counter() - started) * 1000
    by_id = {c.id: c for c in cases}
    for response in store.responses(run_id):
        assert response.latency_ms is not None
        assert 120 <= response.latency_ms <= elapsed_ms  # the server's latency, within the run
        messages = [{"role": "system", "content": "Classify the review."}]
        text = by_id[response.case_id].text
        expected_prompt = sum(len(m["content"].split()) for m in messages) + len(text.split())
        assert response.prompt_tokens == expected_prompt
        assert response.completion_tokens == 1
        assert response.extra == {"finish_reason": "stop", "served_model": "toy"}


async def test_observer_sees_every_response(
    store: Store, fast_policy: RetryPolicy, make_cases: MakeCases
) -> None:
    events: list[tuple[str, Any]] = []

    class Recorder:
        def model_loading(self, model: str) -> None:
            pass

        def model_started(self, model: str, total: int, cached: int) -> None:
            events.append(("started", (model, total, cached)))

        def response(self, model: str, response: Response) -> None:
            events.append(("response", response.case_id))

        def model_finished(self, model: str, stats: ModelRunStats) -> None:
            events.append(("finished", stats.sent))

    cases = make_cases(5)
    app = openai_app()
    with serve(app) as url:
        run_id = store.start_run("test", {}, 0)
        await run_models(
            {"m": openai_backend(url)},
            cases,
            store,
            run_id,
            policy=fast_policy,
            observer=Recorder(),
        )
    assert events[0] == ("started", ("m", 5, 0))
    assert sorted(e[1] for e in events[1:-1]) == [c.id for c in cases]
    assert events[-1] == ("finished", 5)


# --- secrets --------------------------------------------------------------------------

API_KEY = "Zq7rTunegateApiValue93"
HEADER_SECRET = "HdrSecretValue5521xyz"


def echoing_app() -> FastAPI:
    """Rejects every request with a 401 whose message echoes the credentials it got."""
    app = FastAPI()

    def reject(request: Request) -> JSONResponse:
        echoed = f"{request.headers.get('authorization')} / {request.headers.get('x-team')}"
        return JSONResponse(
            {"error": {"message": f"Incorrect API key provided: {echoed}", "type": "auth"}},
            status_code=401,
        )

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        return reject(request)

    @app.post("/classify")
    async def classify(request: Request) -> JSONResponse:
        return reject(request)

    return app


async def test_secrets_never_reach_the_store_file(
    tmp_path: Path,
    fast_policy: RetryPolicy,
    make_cases: MakeCases,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_SECRET_KEY", API_KEY)
    monkeypatch.setenv("TG_SECRET_HEADER", HEADER_SECRET)
    cases = make_cases(6)
    good = openai_app(require_key=API_KEY)
    path = tmp_path / "secrets.db"
    headers = {"X-Team": "team ${TG_SECRET_HEADER}"}
    with serve(good) as good_url, serve(echoing_app()) as bad_url, Store(path) as db:
        backends = {
            "good": openai_backend(
                good_url, name="good", api_key_env="TG_SECRET_KEY", headers=headers
            ),
            "echo": openai_backend(
                bad_url, name="echo", api_key_env="TG_SECRET_KEY", headers=headers
            ),
            "svc": http_backend(bad_url, name="svc", headers={"X-Team": "${TG_SECRET_HEADER}"}),
        }
        run_id, runs = await run(backends, cases, db, fast_policy)
        assert len(list(db.responses(run_id))) == 3 * 6

        assert good.state.log[0]["headers"]["authorization"] == f"Bearer {API_KEY}"
        assert good.state.log[0]["headers"]["x-team"] == f"team {HEADER_SECRET}"
        assert all(r.error is None for r in runs["good"].responses)
        for name in ("echo", "svc"):
            first = runs[name].responses[0]
            assert first.error_kind == "auth"
            # The server echoed the credentials; the stored message has them masked.
            assert "Incorrect API key provided" in (first.error or "")
            assert "***" in (first.error or "")
        raw_while_open = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
        assert b"Incorrect API key provided" in raw_while_open
    raw_after_close = b"".join(p.read_bytes() for p in tmp_path.glob("secrets.db*"))
    for raw in (raw_while_open, raw_after_close):
        for secret in (API_KEY, HEADER_SECRET):
            assert secret.encode() not in raw


def test_run_sync_returns_the_value_without_ever_formatting_it() -> None:
    """asyncio.run's SIGINT bookkeeping formats its main task, result included; a run's
    result is big, so run_sync keeps the value out of the task."""
    import asyncio

    from tunegate.runner import run_sync

    class Loud:
        reprs = 0

        def __repr__(self) -> str:
            Loud.reprs += 1
            return "Loud()"

    async def make() -> Loud:
        return Loud()

    assert isinstance(run_sync(make()), Loud)
    assert Loud.reprs == 0
    asyncio.run(make())  # what run_sync avoids (the check above can fail)
    assert Loud.reprs >= 1
