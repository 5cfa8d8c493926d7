"""Prompt log-probs over both clients a chat model uses: the lean transport (spread over
replicas) and the openai SDK (``transport: sdk``). The same requests, the same floats,
the same errors (kind, retryable, fatal, status, Retry-After and message) over real
loopback servers; replicas share the requests and a stopped one loses no case.

The loopback server here echoes made-up log-probs (one per whitespace token, the first
``None``, then one generated token), as vLLM and llama-cpp-python's server do.
"""

from __future__ import annotations

import asyncio
import math
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from servers import FaultPlan, serve

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.models.base import Completion, TransportError
from tunegate.models.logprobs import (
    Client,
    completion_request,
    completions_status_detail,
    endpoint_perplexity,
    prompt_logprobs,
)
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.models.transport import Transport
from tunegate.runner import RetryPolicy, run_models
from tunegate.store import Store
from tunegate.testing.faults import RequestLog
from tunegate.testing.handler import _bearer_check, _Handler, _new_app

PATHS = ["transport", "sdk"]
KEY = "sk-tunegate-paths-0123456789abcdef"
TEXTS = [
    "the quick brown fox jumps over the lazy dog",
    "a great product, would buy again",
    "Ünïcödé words — and punctuation!",
    "two words",
]


# ---------------------------------------------------------------------------
# A completions server that echoes prompt log-probs
# ---------------------------------------------------------------------------


def token_logprob(token: str) -> float:
    """A made-up, deterministic log-prob in (-8, -0.05): no short decimal, so any loss of
    precision on the way would show."""
    return -(0.05 + (zlib.crc32(token.encode()) % 7919) / 1000.0)


def echoed(prompt: str, logprob: Callable[[str], float] = token_logprob) -> dict[str, Any]:
    """The ``logprobs`` object and the echoed text of ``prompt`` plus one generated token."""
    tokens, offsets, values = [], [], []
    position = 0
    for i, word in enumerate(prompt.split(" ")):
        token = word if i == 0 else " " + word
        tokens.append(token)
        offsets.append(position)
        values.append(None if i == 0 else logprob(token))
        position += len(token)
    tokens.append(" ok")
    offsets.append(len(prompt))
    values.append(-0.25)
    logprobs = {"tokens": tokens, "text_offset": offsets, "token_logprobs": values}
    return {"text": prompt + " ok", "logprobs": {**logprobs, "top_logprobs": None}}


def echo_app(
    faults: FaultPlan | None = None,
    latency_ms: float = 0.0,
    require_key: str | None = None,
    logprob: Callable[[str], float] = token_logprob,
) -> FastAPI:
    """``POST /v1/completions`` answering every prompt with its echoed log-probs; faults
    (see :class:`FaultPlan`) keyed by the prompt; what it received in ``app.state.log``."""
    log = RequestLog()
    app = _new_app("echo log-probs", log)
    handle = _Handler(
        log=log,
        plan=faults or FaultPlan(),
        latency_ms=latency_ms,
        authorized=_bearer_check(require_key),
    )

    def respond(body: dict[str, Any]) -> Response:
        prompt = str(body["prompt"])
        choice = {"index": 0, "finish_reason": "length", **echoed(prompt, logprob)}
        n = len(prompt.split(" "))
        return JSONResponse(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": 0,
                "model": body.get("model"),
                "choices": [choice],
                "usage": {"prompt_tokens": n, "completion_tokens": 1, "total_tokens": n + 1},
            }
        )

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await handle(request, lambda body: str(body["prompt"]), respond)

    return app


def status_app() -> FastAPI:
    """Answers a prompt ``status:N[:header=value]:body`` with status N, the headers and a
    body of the named shape: ``openai`` (``error.message``), ``fastapi`` (``detail``),
    ``bare`` (a JSON object without a message) or ``html``."""
    app = FastAPI()

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        _, status, *rest, shape = str((await request.json())["prompt"]).split(":")
        code = int(status)
        headers = dict(part.split("=", 1) for part in rest)
        token = request.headers.get("authorization", "")
        message = f"echo refused with {status} (request from {token})"
        if shape == "html":
            return Response(b"<html>busy</html>", code, headers, media_type="text/html")
        body = {
            "openai": {"error": {"message": message, "type": "invalid_request_error"}},
            "fastapi": {"detail": message},
            "bare": {"object": "error"},
        }[shape]
        return JSONResponse(body, status_code=code, headers=headers)

    return app


# ---------------------------------------------------------------------------
# The two clients
# ---------------------------------------------------------------------------


@asynccontextmanager
async def client_for(
    path: str, urls: list[str], key: str = KEY, timeout: float = 2.0
) -> AsyncIterator[Client]:
    """A client of the completions endpoint at ``urls`` (``.../v1``): the transport the
    chat backend builds (bearer key, replicas) or the SDK client (first URL)."""
    if path == "transport":
        transport = Transport(
            urls,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            timeout=timeout,
            status_detail=completions_status_detail,
        )
        await transport.start()
        try:
            yield transport
        finally:
            await transport.aclose()
    else:
        sdk = openai.AsyncOpenAI(base_url=urls[0], api_key=key, max_retries=0, timeout=timeout)
        try:
            yield sdk
        finally:
            await sdk.close()


async def outcome(path: str, url: str, text: str, **kwargs: Any) -> Any:
    async with client_for(path, [url], **kwargs) as client:
        try:
            return await prompt_logprobs(client, "toy", text)
        except TransportError as exc:
            return exc


def shape(result: Any) -> tuple[Any, ...]:
    if isinstance(result, TransportError):
        after = None if result.retry_after is None else round(result.retry_after, 3)
        return ("error", result.kind, result.retryable, result.fatal, result.status, after)
    return ("answer", result)


def expected_logprobs(text: str) -> list[float | None]:
    """What the echo server's log-probs for ``text`` are (without the generated token)."""
    values: list[float | None] = echoed(text)["logprobs"]["token_logprobs"]
    return values[:-1]


# ---------------------------------------------------------------------------
# Same answers
# ---------------------------------------------------------------------------


async def test_same_request_and_identical_values_on_both_paths() -> None:
    app = echo_app(require_key=KEY)
    got: dict[str, dict[str, Any]] = {}
    with serve(app) as url:
        for path in PATHS:
            async with client_for(path, [url + "/v1"]) as client:
                got[path] = {
                    t: (
                        await prompt_logprobs(client, "toy", t),
                        await endpoint_perplexity(client, "toy", t),
                    )
                    for t in TEXTS
                }
    sent = [entry["json"] for entry in app.state.log.entries]
    assert len(sent) == 2 * 2 * len(TEXTS)
    assert all(body == completion_request("toy", body["prompt"]) for body in sent)
    assert sent[0] == {
        "model": "toy",
        "prompt": TEXTS[0],
        "echo": True,
        "max_tokens": 1,
        "logprobs": 0,
    }
    assert got["transport"] == got["sdk"]  # the very same floats, not approximately
    for text in TEXTS:
        values, (ppl, n) = got["transport"][text]
        assert values == expected_logprobs(text)
        scored = np.array([v for v in values if v is not None])
        assert n == scored.size == len(text.split(" ")) - 1
        # numpy's exp of the mean negative log-likelihood (the formula's own tests are in
        # tests/scoring/test_perplexity.py)
        assert ppl == pytest.approx(float(np.exp(-scored.mean())), rel=1e-12)


# ---------------------------------------------------------------------------
# Same errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status:429:retry-after=2:openai", ("error", "rate_limit", True, False, 429, 2.0)),
        ("status:429:retry-after-ms=1500:openai", ("error", "rate_limit", True, False, 429, 1.5)),
        ("status:401:openai", ("error", "auth", False, True, 401, None)),
        ("status:403:fastapi", ("error", "auth", False, True, 403, None)),
        ("status:409:bare", ("error", "client", True, False, 409, None)),
        ("status:418:openai", ("error", "client", False, False, 418, None)),
        ("status:500:html", ("error", "server", True, False, 500, None)),
        ("status:503:retry-after=1:openai", ("error", "server", True, False, 503, 1.0)),
        # the statuses with which servers refuse echo
        ("status:400:openai", ("error", "unsupported", False, False, 400, None)),
        ("status:422:fastapi", ("error", "unsupported", False, False, 422, None)),
        ("status:404:fastapi", ("error", "unsupported", False, True, 404, None)),
        ("status:405:bare", ("error", "unsupported", False, True, 405, None)),
        ("status:501:html", ("error", "unsupported", False, True, 501, None)),
    ],
)
async def test_status_errors_are_the_same_on_both_paths(
    text: str, expected: tuple[Any, ...]
) -> None:
    with serve(status_app()) as url:
        results = {p: await outcome(p, url + "/v1", text) for p in PATHS}
    assert shape(results["transport"]) == shape(results["sdk"]) == expected
    lean, sdk = results["transport"], results["sdk"]
    assert lean.message == sdk.message
    assert KEY not in lean.message
    if expected[1] == "unsupported":
        assert lean.message.startswith(f"{url}/v1 does not return prompt log-probs")
        if text.endswith((":openai", ":fastapi")):  # the server's own words
            assert (
                f"(HTTP {expected[4]}: echo refused with {expected[4]} (request from Bearer ***))"
                in lean.message
            )
        else:
            assert lean.message.endswith(f"(HTTP {expected[4]}: Error code: {expected[4]})")


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("malformed", "malformed"),
        ("garbage", "malformed"),
        ("nonjson", "malformed"),
        ("empty", "malformed"),
        ("disconnect", "connection"),
        ("reset", "connection"),
        ("timeout", "timeout"),
    ],
)
async def test_faults_are_the_same_on_both_paths(action: str, kind: str) -> None:
    text = f"fault {action}"
    app = echo_app(faults=FaultPlan(rules={text: [action]}, hang_seconds=5.0))
    with serve(app) as url:
        results = {p: await outcome(p, url + "/v1", text, timeout=1.0) for p in PATHS}
    for result in results.values():
        assert isinstance(result, TransportError)
        assert (result.kind, result.retryable, result.fatal) == (kind, True, False)
    if kind != "connection":  # the connection errors quote each client's own exception
        assert results["transport"].message == results["sdk"].message
    assert app.state.log.count(text) == 2


@pytest.mark.parametrize("action", ["wrongtype", "big"])
async def test_usable_answers_are_read_on_both_paths(action: str) -> None:
    text = "a usable answer"
    app = echo_app(faults=FaultPlan(rules={text: [action]}, big_bytes=1000))
    with serve(app) as url:
        results = {p: await outcome(p, url + "/v1", text) for p in PATHS}
    assert results["transport"] == results["sdk"] == expected_logprobs(text)


async def test_wrong_key_is_an_auth_error_without_the_key_on_both_paths() -> None:
    with serve(echo_app(require_key="another-key")) as url:
        results = {p: await outcome(p, url + "/v1", "some text") for p in PATHS}
    for result in results.values():
        assert shape(result) == ("error", "auth", False, True, 401, None)
        assert KEY not in result.message
    assert results["transport"].message == results["sdk"].message


async def test_one_token_and_impossible_log_probs_on_both_paths() -> None:
    """One token has no scored log-prob: perplexity NaN over 0 tokens, as for local models.
    A log-prob above 0 (a probability above 1) is a malformed answer, retried."""
    with serve(echo_app()) as url, serve(echo_app(logprob=lambda _: 2.5)) as above_one:
        for path in PATHS:
            async with client_for(path, [url + "/v1"]) as client:
                ppl, n = await endpoint_perplexity(client, "toy", "single")
            assert math.isnan(ppl)
            assert n == 0
            async with client_for(path, [above_one + "/v1"]) as client:
                with pytest.raises(TransportError) as info:
                    await endpoint_perplexity(client, "toy", "two words")
            assert (info.value.kind, info.value.retryable) == ("malformed", True)
            assert "pass log p, not the negative log-likelihood" in info.value.message


async def test_nothing_listening_is_a_connection_error_on_both_paths() -> None:
    with serve(echo_app()) as url:
        pass  # the port is free again
    for path in PATHS:
        result = await outcome(path, url + "/v1", "hello there")
        assert shape(result) == ("error", "connection", True, False, None, None)
        assert url in result.message


# ---------------------------------------------------------------------------
# Replicas
# ---------------------------------------------------------------------------


async def test_requests_spread_over_replicas_with_the_same_values() -> None:
    apps = [echo_app(latency_ms=20.0), echo_app(latency_ms=20.0)]
    texts = [f"review number {i} was great" for i in range(40)]
    with serve(apps[0]) as a, serve(apps[1]) as b:
        async with client_for("transport", [a + "/v1", b + "/v1"]) as client:
            assert isinstance(client, Transport)
            values = await asyncio.gather(*(prompt_logprobs(client, "toy", t) for t in texts))
            stats = client.stats()
    assert values == [expected_logprobs(t) for t in texts]
    counts = [len(app.state.log) for app in apps]
    assert sum(counts) == len(texts)
    assert min(counts) >= len(texts) // 4  # fewest in flight: both take a fair share
    assert [s["requests"] for s in stats.values()] == counts
    assert all(s["latency_ms_p50"] >= 20.0 for s in stats.values())


async def test_unsupported_reply_names_the_replica_that_gave_it() -> None:
    from servers import openai_app  # its completions carry no log-probs

    with serve(openai_app()) as url, serve(openai_app()) as other:
        async with client_for("transport", [url + "/v1", other + "/v1"]) as client:
            with pytest.raises(TransportError) as info:
                await prompt_logprobs(client, "toy", "a text")
    assert info.value.kind == "unsupported"
    assert info.value.message.startswith(f"{url}/v1 does not return prompt log-probs")
    assert info.value.message.endswith("(the reply has no logprobs.token_logprobs)")


async def test_refusal_from_replicas_names_them_without_secrets() -> None:
    with serve(status_app()) as url:
        secret = url.replace("http://", "http://user:hunter2@") + "/v1"
        async with client_for("transport", [secret, url + "/v1"]) as client:
            with pytest.raises(TransportError) as info:
                await prompt_logprobs(client, "toy", "status:404:fastapi")
    assert "hunter2" not in info.value.message
    assert info.value.message.startswith(
        f"{url.replace('http://', 'http://***@')}/v1 (or one of its 1 other replicas) "
        "does not return prompt log-probs"
    )


# ---------------------------------------------------------------------------
# Through the openai backend and the runner
# ---------------------------------------------------------------------------


def _backend(
    urls: list[str], transport: str = "aiohttp", concurrency: int = 4
) -> OpenAIChatBackend:
    spec = OpenAIModel(
        type="openai",
        model="toy",
        base_url=urls,
        concurrency=concurrency,
        timeout=5.0,
        transport=transport,
    )
    return OpenAIChatBackend("m", spec, mode="perplexity")


@contextmanager
def replicas(
    n: int, latency_ms: float
) -> Iterator[tuple[list[FastAPI], list[str], list[ExitStack]]]:
    """``n`` echo servers, each in its own stack (close one to stop that replica)."""
    apps = [echo_app(latency_ms=latency_ms) for _ in range(n)]
    stacks = [ExitStack() for _ in range(n)]
    try:
        urls = [
            stack.enter_context(serve(app)) + "/v1" for stack, app in zip(stacks, apps, strict=True)
        ]
        yield apps, urls, stacks
    finally:
        for stack in stacks:
            stack.close()


async def test_backend_values_are_identical_on_both_transports() -> None:
    with replicas(1, 0.0) as (apps, urls, _):
        answers: dict[str, list[Completion]] = {}
        for transport in ("aiohttp", "sdk"):
            backend = _backend(urls, transport)
            await backend.start()
            try:
                answers[transport] = [
                    await backend.send(backend.render(Case(id=str(i), text=t, reference="")))
                    for i, t in enumerate(TEXTS)
                ]
            finally:
                await backend.aclose()
        agents = [entry["headers"].get("user-agent", "") for entry in apps[0].state.log.entries]
    lean, sdk = answers["aiohttp"], answers["sdk"]
    assert [(c.text, c.output, c.prompt_tokens) for c in lean] == [
        (c.text, c.output, c.prompt_tokens) for c in sdk
    ]
    for text, completion in zip(TEXTS, lean, strict=True):
        assert completion.output is not None
        scored = np.array([v for v in expected_logprobs(text) if v is not None])
        assert completion.output["n_tokens"] == scored.size
        assert completion.output["perplexity"] == pytest.approx(
            float(np.exp(-scored.mean())), rel=1e-12
        )
    # The first half went through the lean transport, the second through the SDK.
    half = len(TEXTS)
    assert not any(a.startswith("AsyncOpenAI") for a in agents[:half])
    assert all(a.startswith("AsyncOpenAI") for a in agents[half:])


async def test_a_run_spreads_over_replicas_and_survives_losing_one(tmp_path: Path) -> None:
    n = 300
    cases = [Case(id=f"c{i}", text=f"text number {i} to score", reference="") for i in range(n)]
    policy = RetryPolicy(base_delay=0.02, max_delay=0.1, max_retries=8)
    store = Store(tmp_path / "store.db")
    run_id = store.start_run("perplexity replicas", {}, 0)
    with replicas(2, 20.0) as (apps, urls, stacks):
        task = asyncio.create_task(
            run_models({"m": _backend(urls)}, cases, store, run_id, policy=policy)
        )
        await asyncio.sleep(0.3)
        await asyncio.to_thread(stacks[1].close)  # the second replica goes away mid-run
        runs = await task
    store.close()
    run = runs["m"]
    assert [r.case_id for r in run.responses] == [c.id for c in cases]
    assert [r.error for r in run.responses if r.error is not None] == []  # no case lost
    for case, response in zip(cases, run.responses, strict=True):
        scored = np.array([v for v in expected_logprobs(case.text) if v is not None])
        assert response.output is not None
        assert response.output["perplexity"] == pytest.approx(
            float(np.exp(-scored.mean())), rel=1e-12
        )
    kept, lost = (len(app.state.log) for app in apps)
    assert kept > 0
    assert lost > 0  # both replicas answered
    stats = list(run.stats.as_dict()["replicas"].values())
    answered = [s["requests"] - s["errors"] for s in stats]
    assert sum(answered) == n
    assert answered[0] <= kept
    assert answered[1] <= lost
    assert stats[1]["errors"] > 0  # refused once it was gone
