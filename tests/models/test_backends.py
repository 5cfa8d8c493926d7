"""The model backends against real loopback servers (tests/servers.py)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request
from servers import classify_app, keyword_sentiment, openai_app, serve

from tunegate.config import HTTPModel, OpenAIModel, PythonModel
from tunegate.data import Case
from tunegate.errors import BackendError
from tunegate.models.base import Completion, TransportError
from tunegate.models.http import HTTPBackend
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.models.python_fn import PythonBackend
from tunegate.runner import RetryPolicy, run_models
from tunegate.store import Store

CASE = Case(
    id="c1",
    text="Great battery, I love it",
    reference="positive",
    messages=(
        {"role": "system", "content": "the dataset's own system prompt"},
        {"role": "user", "content": "Great battery, I love it"},
    ),
    category="simple",
    metadata={"product": "phone"},
)
SHOTS = [
    Case(id="s1", text="Awful, it broke", reference="negative"),
    Case(id="s2", text="It arrived on Monday", reference="neutral"),
]


def openai_backend(url: str, name: str = "zs", shots: list[Case] | None = None, **kw: Any) -> Any:
    config = OpenAIModel(type="openai", model="toy-model", base_url=f"{url}/v1", **kw)
    return OpenAIChatBackend(name, config, shots or [])


async def send_one(backend: Any, case: Case = CASE) -> Completion:
    await backend.start()
    try:
        completion: Completion = await backend.send(backend.render(case))
    finally:
        await backend.aclose()
    return completion


# --- OpenAI-compatible chat -----------------------------------------------------------


async def test_openai_zero_shot_replaces_system_and_forwards_params() -> None:
    app = openai_app()
    with serve(app) as url:
        backend = openai_backend(
            url,
            system="You are a sentiment classifier.",
            params={"temperature": 0, "max_tokens": 3, "seed": 7},
            extra_body={"top_k": 5, "repetition": 1.1},
        )
        completion = await send_one(backend)
    assert completion.text == "positive"
    [entry] = app.state.log.entries
    body = entry["json"]
    assert body["messages"] == [
        {"role": "system", "content": "You are a sentiment classifier."},
        {"role": "user", "content": "Great battery, I love it"},
    ]
    assert body["model"] == "toy-model"
    assert (body["temperature"], body["max_tokens"], body["seed"]) == (0, 3, 7)
    # Server-specific parameters listed under extra_body reach the server as-is.
    assert (body["top_k"], body["repetition"]) == (5, 1.1)
    assert "extra_body" not in body
    request = backend.render(CASE)
    assert request["extra_body"] == {"top_k": 5, "repetition": 1.1}


async def test_openai_keeps_the_case_system_prompt_without_config_system() -> None:
    app = openai_app()
    with serve(app) as url:
        await send_one(openai_backend(url))
    assert app.state.log[0]["json"]["messages"] == list(CASE.messages)


async def test_openai_k_shot_layout() -> None:
    app = openai_app()
    with serve(app) as url:
        backend = openai_backend(url, shots=SHOTS, system="Classify.")
        completion = await send_one(backend)
    assert completion.text == "positive"
    assert app.state.log[0]["json"]["messages"] == [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": "Awful, it broke"},
        {"role": "assistant", "content": "negative"},
        {"role": "user", "content": "It arrived on Monday"},
        {"role": "assistant", "content": "neutral"},
        {"role": "user", "content": "Great battery, I love it"},
    ]


async def test_openai_k_shot_with_prompt_template_renders_shots_and_case() -> None:
    app = openai_app()
    with serve(app) as url:
        backend = openai_backend(url, shots=SHOTS[:1], prompt="Review: {{ input }}\nSentiment:")
        await send_one(backend)
    messages = app.state.log[0]["json"]["messages"]
    assert messages[1:] == [
        {"role": "user", "content": "Review: Awful, it broke\nSentiment:"},
        {"role": "assistant", "content": "negative"},
        {"role": "user", "content": "Review: Great battery, I love it\nSentiment:"},
    ]


async def test_openai_api_key_from_env_is_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_OPENAI_KEY", "test-key-0123456789")
    app = openai_app(require_key="test-key-0123456789")
    with serve(app) as url:
        completion = await send_one(openai_backend(url, api_key_env="TG_TEST_OPENAI_KEY"))
    assert completion.text == "positive"
    assert app.state.log[0]["headers"]["authorization"] == "Bearer test-key-0123456789"
    assert app.state.log[0]["action"] == "ok"


async def test_openai_identity_and_request_hold_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_OPENAI_KEY", "test-key-abcdefghij")
    backend = openai_backend("http://127.0.0.1:9", api_key_env="TG_TEST_OPENAI_KEY")
    await backend.start()
    blob = repr(backend.identity()) + repr(backend.render(CASE))
    await backend.aclose()
    assert "test-key-abcdefghij" not in blob


async def test_openai_missing_env_var_names_the_config_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TG_TEST_ABSENT_KEY", raising=False)
    backend = openai_backend(
        "http://127.0.0.1:9", name="zero-shot", api_key_env="TG_TEST_ABSENT_KEY"
    )
    with pytest.raises(BackendError) as info:
        await backend.start()
    assert "models.zero-shot.api_key_env" in str(info.value)
    assert "TG_TEST_ABSENT_KEY" in str(info.value)


async def test_openai_header_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_TEAM", "team-42")
    app = openai_app()
    with serve(app) as url:
        await send_one(openai_backend(url, headers={"X-Team": "t=${TG_TEST_TEAM}"}))
    assert app.state.log[0]["headers"]["x-team"] == "t=team-42"


async def test_openai_tokens_and_finish_reason() -> None:
    app = openai_app()
    with serve(app) as url:
        completion = await send_one(openai_backend(url, system="Be brief"))
    # The server counts whitespace tokens over every message content.
    assert completion.prompt_tokens == 2 + 5
    assert completion.completion_tokens == 1
    assert completion.extra["finish_reason"] == "stop"


async def test_openai_401_is_fatal_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_OPENAI_KEY", "wrong-key-000000")
    app = openai_app(require_key="right-key")
    with serve(app) as url, pytest.raises(TransportError) as info:
        await send_one(openai_backend(url, api_key_env="TG_TEST_OPENAI_KEY"))
    assert (info.value.kind, info.value.status, info.value.fatal) == ("auth", 401, True)
    assert not info.value.retryable


# --- custom HTTP service --------------------------------------------------------------


async def test_http_body_template_dotted_response_and_env_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TG_TEST_SERVICE_TOKEN", "svc-token-77")

    def nested(messages: list[dict[str, Any]]) -> dict[str, Any]:
        label = keyword_sentiment(messages[-1]["content"])
        return {"result": {"labels": [{"name": label, "p": 0.8}, {"name": "other"}]}}

    app = classify_app(answer=nested, require_header=("x-service-token", "Bearer svc-token-77"))
    with serve(app) as url:
        config = HTTPModel(
            type="http",
            url=f"{url}/classify",
            body={"text": "{{ input }}", "meta": {"id": "{{ id }}", "product": "{{ product }}"}},
            response="result.labels.0.name",
            headers={"X-Service-Token": "Bearer ${TG_TEST_SERVICE_TOKEN}"},
        )
        backend = HTTPBackend("svc", config)
        completion = await send_one(backend)
    assert completion.text == "positive"
    entry = app.state.log[0]
    assert entry["action"] == "ok"
    assert entry["headers"]["x-service-token"] == "Bearer svc-token-77"
    assert entry["json"] == {
        "text": "Great battery, I love it",
        "meta": {"id": "c1", "product": "phone"},
    }
    assert "svc-token-77" not in repr(backend.render(CASE))


async def test_http_wrong_header_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TEST_SERVICE_TOKEN", "nope")
    app = classify_app(require_header=("x-service-token", "yes"))
    with serve(app) as url:
        config = HTTPModel(
            type="http",
            url=f"{url}/classify",
            headers={"X-Service-Token": "${TG_TEST_SERVICE_TOKEN}"},
        )
        with pytest.raises(TransportError) as info:
            await send_one(HTTPBackend("svc", config))
    assert (info.value.kind, info.value.status, info.value.fatal) == ("auth", 401, True)


async def test_http_missing_header_env_var_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TG_TEST_ABSENT", raising=False)
    config = HTTPModel(
        type="http", url="http://127.0.0.1:9/x", headers={"X-Token": "${TG_TEST_ABSENT}"}
    )
    with pytest.raises(BackendError, match=r"models\.svc\.headers\.X-Token.*TG_TEST_ABSENT"):
        await HTTPBackend("svc", config).start()


async def test_http_get_sends_the_body_as_query_parameters() -> None:
    seen: list[dict[str, str]] = []
    app = FastAPI()

    @app.get("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        seen.append(dict(request.query_params))
        return {"prediction": {"label": keyword_sentiment(request.query_params["q"])}}

    with serve(app) as url:
        config = HTTPModel(
            type="http",
            url=f"{url}/predict",
            method="GET",
            body={"q": "{{ input }}", "lang": "en"},
            response="prediction.label",
        )
        completion = await send_one(HTTPBackend("svc", config))
    assert completion.text == "positive"
    assert seen == [{"q": "Great battery, I love it", "lang": "en"}]


async def test_http_structured_answer_kept_as_output() -> None:
    app = classify_app(answer=lambda m: {"label": {"name": "positive", "score": 0.5}})
    with serve(app) as url:
        completion = await send_one(
            HTTPBackend("svc", HTTPModel(type="http", url=f"{url}/classify"))
        )
    assert completion.output == {"name": "positive", "score": 0.5}
    assert completion.text == '{"name": "positive", "score": 0.5}'


async def test_http_missing_response_path_is_malformed() -> None:
    app = classify_app()
    with serve(app) as url:
        config = HTTPModel(type="http", url=f"{url}/classify", response="result.label")
        with pytest.raises(TransportError) as info:
            await send_one(HTTPBackend("svc", config))
    assert info.value.kind == "malformed"
    assert "'result.label'" in info.value.message
    assert "'label'" in info.value.message  # says what the document holds instead


# --- Python functions -----------------------------------------------------------------

FUNCTIONS = """
import asyncio
import threading

THREADS = []


def classify(text):
    THREADS.append(threading.current_thread().name)
    return "positive" if "love" in text else "negative"


async def aclassify(text):
    await asyncio.sleep(0)
    return {"label": text.split()[0].lower()}


def with_case(case):
    return f"{case.id}|{case.category}|{case.reference}|{case.metadata['product']}"


def broken(text):
    raise ValueError(f"cannot classify {len(text)} characters")


def not_a_function_value():
    return None


CONSTANT = 3
"""


@pytest.fixture
def functions_module(tmp_path: Path) -> str:
    """A fresh module of model functions in ``tmp_path``; returns its (unique) name."""
    name = f"tg_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(FUNCTIONS, encoding="utf-8")
    return name


def python_backend(module: str, fn: str, config_dir: Path, **kw: Any) -> PythonBackend:
    config = PythonModel(type="python", function=f"{module}:{fn}", **kw)
    return PythonBackend("fn", config, config_dir=config_dir)


async def test_python_sync_function_runs_in_a_worker_thread(
    functions_module: str, tmp_path: Path
) -> None:
    backend = python_backend(functions_module, "classify", tmp_path)
    assert backend.render(CASE) == {"input": "Great battery, I love it"}
    completion = await send_one(backend)
    assert completion.text == "positive"
    threads = backend.fn.__globals__["THREADS"]
    assert threads
    assert threads[0] != threading.main_thread().name


async def test_python_async_function_with_response_path(
    functions_module: str, tmp_path: Path
) -> None:
    backend = python_backend(functions_module, "aclassify", tmp_path, response="label")
    completion = await send_one(backend)
    assert completion.text == "great"


async def test_python_function_taking_the_case(functions_module: str, tmp_path: Path) -> None:
    backend = python_backend(functions_module, "with_case", tmp_path)
    request = backend.render(CASE)
    assert request["case"]["id"] == "c1"
    completion = await send_one(backend)
    assert completion.text == "c1|simple|positive|phone"


async def test_python_raising_function_is_stored_as_an_error(
    functions_module: str, tmp_path: Path, store: Store
) -> None:
    backend = python_backend(functions_module, "broken", tmp_path)
    run_id = store.start_run("t", {}, 0)
    runs = await run_models({"fn": backend}, [CASE], store, run_id, policy=RetryPolicy())
    [response] = runs["fn"].responses
    assert response.error_kind == "model"
    assert "ValueError: cannot classify 24 characters" in (response.error or "")
    [stored] = store.responses(run_id)
    assert stored.error == response.error
    assert stored.text is None


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("tg_no_such_module_xyz:fn", "cannot import module 'tg_no_such_module_xyz'"),
        ("{module}:missing", "has no function 'missing'"),
        ("{module}:CONSTANT", "has no function 'CONSTANT'"),
    ],
)
def test_python_import_errors_name_the_config_key(
    functions_module: str, tmp_path: Path, function: str, message: str
) -> None:
    config = PythonModel(type="python", function=function.format(module=functions_module))
    with pytest.raises(BackendError) as info:
        PythonBackend("my-fn", config, config_dir=tmp_path)
    assert str(info.value).startswith("models.my-fn.function: ")
    assert message in str(info.value)


def test_python_module_raising_on_import_names_the_key(tmp_path: Path) -> None:
    name = f"tg_bad_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("raise RuntimeError('no GPU here')\n", encoding="utf-8")
    config = PythonModel(type="python", function=f"{name}:fn")
    with pytest.raises(BackendError, match=r"models\.fn\.function: .*RuntimeError: no GPU here"):
        PythonBackend("fn", config, config_dir=tmp_path)
