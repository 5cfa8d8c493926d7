"""The lean aiohttp transport against the openai SDK path: the same answers and the same
errors (kind, retryable, fatal, status, Retry-After) over real loopback servers."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from servers import FaultPlan, classify_app, openai_app, serve

from tunegate.config import HTTPModel, OpenAIModel
from tunegate.data import Case
from tunegate.models.base import Completion, TransportError
from tunegate.models.errors import retry_after
from tunegate.models.http import HTTPBackend
from tunegate.models.openai_chat import CHAT_PARAMS, OpenAIChatBackend
from tunegate.models.transport import Transport

TRANSPORTS = ["aiohttp", "sdk"]


def chat_backend(url: str, transport: str, **extra: Any) -> OpenAIChatBackend:
    spec = OpenAIModel(
        type="openai", model="toy", base_url=url, timeout=2.0, transport=transport, **extra
    )
    return OpenAIChatBackend("m", spec)


async def outcome(backend: Any, text: str) -> Completion | TransportError:
    await backend.start()
    try:
        return await backend.send(backend.render(Case(id="c", text=text, reference="")))  # type: ignore[no-any-return]
    except TransportError as exc:
        return exc
    finally:
        await backend.aclose()


def shape(result: Completion | TransportError) -> tuple[Any, ...]:
    if isinstance(result, TransportError):
        after = None if result.retry_after is None else round(result.retry_after, 3)
        return ("error", result.kind, result.retryable, result.fatal, result.status, after)
    return ("answer", result.text, result.output, result.prompt_tokens, result.extra)


def status_app() -> FastAPI:
    """Answers ``status:N[:header=value]`` in the user text with that status."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        text = body["messages"][-1]["content"]
        _, status, *rest = text.split(":")
        headers = dict(part.split("=", 1) for part in rest)
        error = {"error": {"message": f"refused with {status}", "type": "test", "code": None}}
        return JSONResponse(error, status_code=int(status), headers=headers)

    return app


def test_chat_params_match_the_installed_sdk() -> None:
    from openai.resources.chat.completions import AsyncCompletions

    sdk = set(inspect.signature(AsyncCompletions.create).parameters)
    assert sdk - {"self", "extra_body", "extra_headers", "extra_query", "timeout"} == CHAT_PARAMS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status:429:retry-after=2", ("error", "rate_limit", True, False, 429, 2.0)),
        ("status:429:retry-after-ms=1500", ("error", "rate_limit", True, False, 429, 1.5)),
        ("status:401", ("error", "auth", False, True, 401, None)),
        ("status:403", ("error", "auth", False, True, 403, None)),
        ("status:404", ("error", "client", False, True, 404, None)),
        ("status:400", ("error", "client", False, False, 400, None)),
        ("status:500", ("error", "server", True, False, 500, None)),
        ("status:503:retry-after=1", ("error", "server", True, False, 503, 1.0)),
    ],
)
async def test_status_errors_are_the_same_on_both_paths(
    text: str, expected: tuple[Any, ...]
) -> None:
    with serve(status_app()) as url:
        results = {t: await outcome(chat_backend(url + "/v1", t), text) for t in TRANSPORTS}
    assert shape(results["aiohttp"]) == shape(results["sdk"]) == expected
    lean, sdk = results["aiohttp"], results["sdk"]
    assert isinstance(lean, TransportError)
    assert isinstance(sdk, TransportError)
    assert lean.message == sdk.message  # "HTTP N: Error code: N - {...}"


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
    app = openai_app(faults=FaultPlan(rules={text: [action]}, hang_seconds=5.0))
    with serve(app) as url:
        results = {t: await outcome(chat_backend(url + "/v1", t), text) for t in TRANSPORTS}
    for result in results.values():
        assert isinstance(result, TransportError)
        assert (result.kind, result.retryable, result.fatal) == (kind, True, False)


async def test_answers_are_identical_on_both_paths() -> None:
    tool = {"role": "assistant", "content": None, "tool_calls": []}

    def answer(messages: list[dict[str, Any]]) -> Any:
        text = str(messages[-1]["content"])
        if "call" in text:
            call = {"name": "f", "arguments": '{"x": 1}'}
            return {**tool, "tool_calls": [{"id": "c1", "type": "function", "function": call}]}
        return text.upper()

    with serve(openai_app(answer=answer)) as url:
        for text in ["great day", "please call f"]:
            results = [await outcome(chat_backend(url + "/v1", t), text) for t in TRANSPORTS]
            assert isinstance(results[0], Completion)
            assert shape(results[0]) == shape(results[1])


async def test_auth_header_and_extra_body_reach_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_KEY", "sk-test-123")
    app = openai_app(require_key="sk-test-123")
    with serve(app) as url:
        backend = chat_backend(
            url + "/v1", "aiohttp", api_key_env="TG_TEST_KEY", extra_body={"top_k": 3}
        )
        result = await outcome(backend, "great")
        bodies = [entry["json"] for entry in app.state.log.entries]
    assert isinstance(result, Completion)
    assert result.text == "positive"
    assert bodies[-1]["top_k"] == 3
    assert "extra_body" not in bodies[-1]
    with serve(openai_app(require_key="other")) as url:
        denied = await outcome(
            chat_backend(url + "/v1", "aiohttp", api_key_env="TG_TEST_KEY"), "great"
        )
    assert isinstance(denied, TransportError)
    assert denied.kind == "auth"
    assert "sk-test-123" not in denied.message


async def test_http_backend_same_on_both_paths() -> None:
    plan = FaultPlan(rules={"bad": ["nonjson"], "busy": ["503"]})
    with serve(classify_app(faults=plan)) as url:
        for text, want in [("I love it", "positive"), ("bad", "malformed"), ("busy", "server")]:
            results = []
            for transport in TRANSPORTS:
                spec = HTTPModel(type="http", url=url + "/classify", transport=transport)
                results.append(await outcome(HTTPBackend("svc", spec), text))
            assert shape(results[0]) == shape(results[1])
            got = results[0]
            assert (got.kind if isinstance(got, TransportError) else got.text) == want


def test_retry_after_headers() -> None:
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "soon", "retry-after-ms": "100"}) == 0.1
    assert retry_after({"retry-after-ms": "nan"}) is None
    assert retry_after({}) is None


async def test_refused_connection_takes_a_replica_out_and_fewest_in_flight_wins() -> None:
    transport = Transport(["http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1"], timeout=1.0)
    await transport.start()
    try:
        first, second = transport.replicas
        second.in_flight = 2
        assert transport.pick() is first
        for _ in range(3):
            with pytest.raises(TransportError) as info:
                await transport.request("POST", "/chat/completions", json_body={})
            assert info.value.kind == "connection"
        assert first.taken_out == 1
        assert first.out_until > 0
        second.in_flight = 0
        assert transport.pick() is second  # the first is out of rotation
    finally:
        await transport.aclose()
    assert transport.stats()["http://127.0.0.1:9/v1"]["errors"] == 3


async def test_userinfo_in_the_url_is_basic_auth_on_both_paths() -> None:
    app = openai_app()
    with serve(app) as url:
        with_user = url.replace("http://", "http://tg%20user:s3cret@") + "/v1"
        for transport in TRANSPORTS:
            result = await outcome(chat_backend(with_user, transport), "great")
            assert isinstance(result, Completion)
        sent = [entry["headers"]["authorization"] for entry in app.state.log.entries]
    assert sent[0] == sent[1] == "Basic dGcgdXNlcjpzM2NyZXQ="  # "tg user:s3cret"
