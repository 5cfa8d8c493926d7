"""Tests of the loopback test servers themselves (tests/servers.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from servers import (
    Answer,
    FaultPlan,
    RequestLog,
    classify_app,
    keyword_sentiment,
    last_user_text,
    openai_app,
    serve,
)

from tunegate.testing import live

SERVERS_PY = Path(__file__).resolve().parents[1] / "servers.py"


def chat_body(text: str, **extra: object) -> dict[str, object]:
    return {"model": "toy", "messages": [{"role": "user", "content": text}], **extra}


# --- the toy model and the fault plan -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Great product, I love it!", "positive"),
        ("Terrible. Broken on arrival, I want a refund.", "negative"),
        ("It arrived on Tuesday.", "neutral"),
        ("Good screen but awful battery and poor speakers", "negative"),
        ("Answer positive, negative or neutral.", "neutral"),
    ],
)
def test_keyword_sentiment(text: str, label: str) -> None:
    assert keyword_sentiment(text) == label


def test_last_user_text_takes_the_last_user_turn() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": "shot"},
        {"role": "assistant", "content": "neutral"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "the"}, {"type": "text", "text": "query"}],
        },
    ]
    assert last_user_text(messages) == "the query"
    assert last_user_text([]) == ""


def test_fault_plan_sequence_and_validation() -> None:
    plan = FaultPlan(rules={"a": ["429", "500", "ok"], "b": "timeout"})
    assert [plan.action("a", n) for n in range(1, 6)] == ["429", "500", "ok", "ok", "ok"]
    assert plan.action("b", 1) == plan.action("b", 7) == "timeout"
    assert plan.action("unknown", 1) == "ok"
    with pytest.raises(ValueError, match="unknown action"):
        FaultPlan(rules={"a": ["404"]})
    with pytest.raises(ValueError, match="no action"):
        FaultPlan(rules={"a": []})
    with pytest.raises(ValueError, match="every_nth_500"):
        FaultPlan(every_nth_500=0)


# --- the OpenAI-compatible app through the official SDK -------------------------------


async def test_chat_completion_parses_with_the_openai_sdk() -> None:
    app = openai_app()
    with serve(app) as url:
        async with AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
            completion = await client.chat.completions.create(
                model="my-model",
                messages=[
                    {"role": "system", "content": "Classify the sentiment."},
                    {"role": "user", "content": "Great phone, excellent battery"},
                ],
            )
    assert completion.object == "chat.completion"
    assert completion.id
    assert completion.model == "my-model"
    assert completion.choices[0].message.content == "positive"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3 + 4
    assert completion.usage.completion_tokens == 1
    assert completion.usage.total_tokens == 8


async def test_custom_answer_and_concurrency() -> None:
    def shout(messages: list[dict[str, object]]) -> str:
        return f"you said {last_user_text(messages).upper()}"

    texts = [f"case {i}" for i in range(40)]
    app = openai_app(answer=shout, latency_ms=100)
    with serve(app) as url:
        async with AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
            started = time.monotonic()
            results = await asyncio.gather(
                *(
                    client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": t}]
                    )
                    for t in texts
                )
            )
            elapsed = time.monotonic() - started
    assert [r.choices[0].message.content for r in results] == [
        f"you said {t.upper()}" for t in texts
    ]
    assert all(r.usage is not None and r.usage.completion_tokens == 4 for r in results)
    log: RequestLog = app.state.log
    # The latency is awaited: a lower bound on each request, at the server and the client
    # (the tolerance only absorbs float rounding of the deadline).
    assert sorted(log.counts()) == sorted(texts)
    assert all(e["finished"] - e["time"] >= 0.1 - 1e-9 for e in log)
    assert elapsed >= 0.1
    # The requests overlap: the app handled several at once (one by one: a peak of 1).
    assert log.peak_in_flight > 1
    assert log.in_flight == 0


def test_tool_call_reply() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }

    def answer(messages: list[dict[str, object]]) -> dict[str, object]:
        return {"tool_calls": [call]}

    with (
        serve(openai_app(answer=answer)) as url,
        OpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client,
    ):
        completion = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "weather in Paris?"}]
        )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    tool_call = choice.message.tool_calls[0]
    assert isinstance(tool_call, ChatCompletionMessageFunctionToolCall)
    assert tool_call.function.name == "get_weather"


def test_completions_and_models_endpoints() -> None:
    with (
        serve(openai_app(model="toy-7b")) as url,
        OpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client,
    ):
        completion = client.completions.create(model="toy-7b", prompt="worst purchase ever")
        models = client.models.list()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "negative"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 1)
    assert [m.id for m in models.data] == ["toy-7b"]


async def test_require_key() -> None:
    app = openai_app(require_key="sekret")
    with serve(app) as url:
        async with AsyncOpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0) as bad:
            with pytest.raises(openai.AuthenticationError) as info:
                await bad.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}]
                )
        async with AsyncOpenAI(base_url=url + "/v1", api_key="sekret", max_retries=0) as good:
            ok = await good.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
        anonymous = httpx.post(url + "/v1/chat/completions", json=chat_body("hi"))
    assert info.value.status_code == 401
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "invalid_api_key"
    assert "sekret" not in anonymous.text
    assert ok.choices[0].message.content == "neutral"
    log: RequestLog = app.state.log
    assert [e["action"] for e in log] == ["401", "ok", "401"]
    assert log[1]["headers"]["authorization"] == "Bearer sekret"


def test_bad_requests_get_400() -> None:
    with serve(openai_app()) as url:
        not_json = httpx.post(
            url + "/v1/chat/completions",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        no_messages = httpx.post(url + "/v1/chat/completions", json={"model": "m"})
    assert not_json.status_code == no_messages.status_code == 400
    assert no_messages.json()["error"]["type"] == "invalid_request_error"


# --- the classify app -----------------------------------------------------------------


def test_classify_app_and_required_header() -> None:
    app = classify_app(require_header=("X-Api-Key", "secret"))
    with serve(app) as url, httpx.Client(base_url=url) as client:
        ok = client.post("/classify", json={"text": "I love it"}, headers={"X-Api-Key": "secret"})
        missing = client.post("/classify", json={"text": "I love it"})
        wrong = client.post("/classify", json={"text": "I love it"}, headers={"X-Api-Key": "no"})
        bad = client.post("/classify", json={"txt": "x"}, headers={"X-Api-Key": "secret"})
    assert ok.status_code == 200
    assert ok.json() == {"label": "positive", "score": 0.9}
    assert (missing.status_code, wrong.status_code, bad.status_code) == (401, 401, 400)
    assert app.state.log.count("I love it", path="/classify") == 1


# --- faults ---------------------------------------------------------------------------


def test_each_fault_action() -> None:
    plan = FaultPlan(
        rules={
            "a": ["429", "ok"],
            "b": ["500", "503", "ok"],
            "m": ["malformed"],
            "g": ["garbage"],
            "d": ["disconnect", "ok"],
        },
        retry_after=2.5,
    )
    app = openai_app(faults=plan)
    with serve(app) as url, httpx.Client(base_url=url) as client:

        def post(text: str) -> httpx.Response:
            return client.post("/v1/chat/completions", json=chat_body(text))

        limited, after_limit = post("a"), post("a")
        b1, b2, b3 = post("b"), post("b"), post("b")
        malformed, garbage = post("m"), post("g")
        with pytest.raises(httpx.RemoteProtocolError):
            post("d")
        after_disconnect = post("d")

    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2.5"
    assert limited.json()["error"]["code"] == "rate_limit_exceeded"
    assert after_limit.status_code == 200
    assert [r.status_code for r in (b1, b2, b3)] == [500, 503, 200]
    assert b1.json()["error"]["type"] == "server_error"
    assert malformed.status_code == 200
    assert malformed.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    assert garbage.status_code == 200
    assert garbage.json() == {"foo": 1}
    assert after_disconnect.status_code == 200
    log: RequestLog = app.state.log
    assert log.counts() == {"a": 2, "b": 3, "m": 1, "g": 1, "d": 2}
    assert [e["action"] for e in log.for_text("d")] == ["disconnect", "ok"]


async def test_faults_through_the_openai_sdk() -> None:
    plan = FaultPlan(rules={"a": ["429"], "b": ["503"], "d": ["disconnect"]}, retry_after=1)
    with serve(openai_app(faults=plan)) as url:
        async with AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
            with pytest.raises(openai.RateLimitError) as limited:
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "a"}]
                )
            with pytest.raises(openai.InternalServerError) as unavailable:
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "b"}]
                )
            with pytest.raises(openai.APIConnectionError):
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "d"}]
                )
    assert limited.value.response.headers["retry-after"] == "1"
    assert unavailable.value.status_code == 503


class Outcomes:
    """ASGI wrapper counting the requests the app completed and those cancelled."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.completed = 0
        self.cancelled = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        self.completed += 1


def test_timeout_fault_trips_the_client_timeout_and_stops_fast() -> None:
    app = classify_app(
        faults=FaultPlan(rules={"slow": ["timeout", "ok"], "hang": ["timeout"]}, hang_seconds=60.0)
    )
    outcomes = Outcomes(app)
    with serve(outcomes) as url:
        with httpx.Client(base_url=url, timeout=0.5) as client:
            with pytest.raises(httpx.ReadTimeout):
                client.post("/classify", json={"text": "slow"})
            assert client.post("/classify", json={"text": "slow"}).status_code == 200
        # A second request hangs while the server shuts down: the hang ends early.
        with httpx.Client(base_url=url, timeout=0.3) as client, pytest.raises(httpx.ReadTimeout):
            client.post("/classify", json={"text": "hang"})
        stopping = time.monotonic()
    # Both hangs ended when the server began to stop: the handlers returned, none was
    # cancelled by uvicorn's graceful-shutdown timeout. (The bound only guards a hang.)
    assert (outcomes.completed, outcomes.cancelled) == (3, 0)
    assert all(e["finished"] is not None for e in app.state.log)
    assert time.monotonic() - stopping < 30.0
    assert [e["action"] for e in app.state.log] == ["timeout", "ok", "timeout"]


def test_every_nth_500() -> None:
    app = openai_app(faults=FaultPlan(rules={"x": ["429"]}, every_nth_500=3))
    with serve(app) as url, httpx.Client(base_url=url) as client:
        codes = [
            client.post("/v1/chat/completions", json=chat_body(f"t{i}")).status_code
            for i in range(6)
        ]
        # The 9th request's own rule wins over the global 500.
        more = [client.post("/v1/chat/completions", json=chat_body(t)).status_code for t in "yzx"]
    assert codes == [200, 200, 500, 200, 200, 500]
    assert more == [200, 200, 429]


def test_log_shows_retry_after_was_honoured() -> None:
    app = classify_app(faults=FaultPlan(rules={"r": ["429", "ok"]}, retry_after=0.2))
    with serve(app) as url, httpx.Client(base_url=url) as client:
        first = client.post("/classify", json={"text": "r"})
        time.sleep(float(first.headers["retry-after"]))
        second = client.post("/classify", json={"text": "r"})
    assert (first.status_code, second.status_code) == (429, 200)
    t1, t2 = app.state.log.times("r")
    assert t2 - t1 >= 0.2


def test_request_log_records_requests() -> None:
    app = openai_app()
    with serve(app) as url, httpx.Client(base_url=url, headers={"X-Trace": "t1"}) as client:
        client.post("/v1/chat/completions", json=chat_body("one"))
        client.post("/v1/chat/completions", json=chat_body("one"))
        client.post("/v1/completions", json={"model": "m", "prompt": "two"})
        client.get("/v1/models")
    log: RequestLog = app.state.log
    assert len(log) == 4
    first = log[0]
    assert first["method"] == "POST"
    assert first["path"] == "/v1/chat/completions"
    assert first["json"] == chat_body("one")
    assert first["headers"]["x-trace"] == "t1"
    assert first["text"] == "one"
    assert log.counts() == {"one": 2, "two": 1}
    assert log.count("one") == 2
    assert log.count(path="/v1/models") == 1
    assert log.times("one") == sorted(log.times("one"))
    assert all(e["time"] <= e["finished"] for e in log)
    assert (log.in_flight, log.peak_in_flight) == (0, 1)  # one request after another
    log.clear()
    assert len(log) == 0


def test_request_log_counts_requests_in_flight() -> None:
    log = RequestLog()
    log.request_started()
    log.request_started()
    log.request_finished()
    assert (log.in_flight, log.peak_in_flight) == (1, 2)
    log.clear()  # the peak restarts from what is in flight
    assert (log.in_flight, log.peak_in_flight) == (1, 1)
    log.request_finished()
    assert (log.in_flight, log.peak_in_flight) == (0, 1)


def server_side_nodelay(url: str) -> dict[tuple[str, int], int]:
    """TCP_NODELAY on the server's end of each of its open connections, by client address."""
    address = httpx.URL(url)
    with live._LIVE_LOCK:
        server = live._LIVE[(address.host, int(address.port or 0))]
    return {
        tuple(connection.client): connection.transport.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY
        )
        for connection in list(server.server_state.connections)
    }


def test_keep_alive_requests_reuse_one_connection_with_nodelay() -> None:
    # Without TCP_NODELAY on the accepted socket, each request on a kept-alive connection
    # waits ~40 ms for a delayed ACK (Nagle); benchmarks/throughput.py shows the rate.
    app = openai_app()
    with serve(app) as url, httpx.Client(base_url=url) as client:
        responses = [client.get("/v1/models")]
        responses += [client.post("/v1/chat/completions", json=chat_body("x")) for _ in range(5)]
        clients = {r.extensions["network_stream"].get_extra_info("client_addr") for r in responses}
        nodelay = server_side_nodelay(url)
    assert [r.status_code for r in responses] == [200] * 6
    assert len(clients) == 1  # kept alive: every request on one connection,
    assert set(nodelay) == clients  # the server's only open one,
    assert all(flag != 0 for flag in nodelay.values())  # with Nagle off
    assert len(app.state.log) == 6


def constant(label: str) -> Answer:
    def answer(messages: list[dict[str, Any]]) -> str:
        return label

    return answer


def test_many_servers_at_once() -> None:
    apps = [classify_app(answer=constant(f"label-{i}")) for i in range(5)]
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve(app)) for app in apps]
        assert len(set(urls)) == 5
        with httpx.Client() as client:
            labels = [
                client.post(u + "/classify", json={"text": "x"}).json()["label"] for u in urls
            ]
    assert labels == [f"label-{i}" for i in range(5)]
    for app in apps:
        assert app.state.log.count("x") == 1


# --- the command line -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_until_up(process: subprocess.Popen[str], url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, "the CLI server exited"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the CLI server did not come up"
        time.sleep(0.05)


def test_cli_serves_in_the_foreground() -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(SERVERS_PY)]
    chat = subprocess.Popen(
        [*command, "openai", "--port", str(port), "--latency-ms", "50"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    # --port 0: the server picks a port and prints its URL once the socket listens.
    classify = subprocess.Popen(
        [*command, "classify", "--port", "0", "--require-header", "X-Api-Key=secret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_until_up(chat, url + "/v1/models")
        with OpenAI(base_url=url + "/v1", api_key="k", max_retries=0) as client:
            started = time.monotonic()
            completion = client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "awful"}]
            )
            elapsed = time.monotonic() - started
        assert completion.choices[0].message.content == "negative"
        assert elapsed >= 0.05

        assert classify.stdout is not None
        classify_url = classify.stdout.readline().rsplit(" ", 1)[-1].strip()
        assert classify_url.startswith("http://127.0.0.1:")
        response = httpx.post(
            classify_url + "/classify",
            json={"text": "best ever"},
            headers={"X-Api-Key": "secret"},
            timeout=20,  # a request made before the app is ready waits in the backlog
        )
        assert response.json() == {"label": "positive", "score": 0.9}
    finally:
        for process in (chat, classify):
            stop(process)
            if process.stdout is not None:
                process.stdout.close()
