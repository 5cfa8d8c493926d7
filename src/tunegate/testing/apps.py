"""The loopback apps: an OpenAI-compatible endpoint and a custom ``/classify`` service."""

from __future__ import annotations

import itertools
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tunegate.testing.faults import (
    FaultPlan,
    RequestLog,
)
from tunegate.testing.handler import (
    _BadRequest,
    _bearer_check,
    _Handler,
    _header_check,
    _new_app,
)
from tunegate.testing.toy_model import (
    Answer,
    Message,
    _content_text,
    _tokens,
    last_user_text,
    sentiment_answer,
)

# ---------------------------------------------------------------------------
# The apps
# ---------------------------------------------------------------------------


def _chat_text(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise _BadRequest("'messages' must be a list of messages")
    if body.get("stream"):
        raise _BadRequest("this test server does not stream")
    return last_user_text(body["messages"])


def _prompts(body: Any) -> list[str]:
    prompt = body.get("prompt") if isinstance(body, dict) else None
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    raise _BadRequest("'prompt' must be a string or a list of strings")


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def chat_completion_body(
    body: dict[str, Any], answer: Answer, completion_id: str, model: str
) -> dict[str, Any]:
    """The ``chat.completion`` answering ``body`` (its ``messages`` and ``n``) with ``answer``."""
    messages: list[Message] = body["messages"]
    choices = []
    completion_tokens = 0
    for index in range(max(1, int(body.get("n") or 1))):
        reply = answer(messages)
        if isinstance(reply, str):
            message: dict[str, Any] = {"role": "assistant", "content": reply, "refusal": None}
        else:
            message = {"role": "assistant", "content": None, "refusal": None, **reply}
        completion_tokens += _tokens(message.get("content") or "")
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        choices.append(
            {"index": index, "message": message, "finish_reason": finish, "logprobs": None}
        )
    prompt_tokens = sum(_tokens(_content_text(m.get("content"))) for m in messages)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or model,
        "choices": choices,
        "usage": _usage(prompt_tokens, completion_tokens),
        "system_fingerprint": None,
    }


def openai_app(
    answer: Answer = sentiment_answer,
    latency_ms: float = 0.0,
    faults: FaultPlan | None = None,
    require_key: str | None = None,
    *,
    model: str = "toy",
) -> FastAPI:
    """An OpenAI-compatible server answering with ``answer(messages)``.

    ``POST /v1/chat/completions`` returns a ``chat.completion`` (``n`` choices,
    ``finish_reason`` ``"stop"``, or ``"tool_calls"`` when ``answer`` returns a
    message dict with ``tool_calls``); ``POST /v1/completions`` a
    ``text_completion`` with one choice per prompt (the prompt is the user
    message); ``GET /v1/models`` lists ``model``. Usage counts whitespace
    tokens: prompt_tokens over all message contents, completion_tokens over the
    replies. ``require_key`` demands ``Authorization: Bearer <key>`` (else 401);
    ``latency_ms`` is awaited before answering; faults are keyed by the last
    user message (chat) or the first prompt (completions).
    """
    log = RequestLog()
    app = _new_app("tunegate test OpenAI server", log)
    handle = _Handler(
        log=log,
        plan=faults or FaultPlan(),
        latency_ms=latency_ms,
        authorized=_bearer_check(require_key),
    )
    ids = itertools.count(1)

    def chat_completion(body: dict[str, Any]) -> Response:
        return JSONResponse(chat_completion_body(body, answer, f"chatcmpl-{next(ids):06d}", model))

    def text_completion(body: dict[str, Any]) -> Response:
        prompts = _prompts(body)
        choices = []
        completion_tokens = 0
        for index, prompt in enumerate(prompts):
            reply = answer([{"role": "user", "content": prompt}])
            text = reply if isinstance(reply, str) else str(reply.get("content") or "")
            completion_tokens += _tokens(text)
            choices.append(
                {"index": index, "text": text, "finish_reason": "stop", "logprobs": None}
            )
        prompt_tokens = sum(_tokens(p) for p in prompts)
        return JSONResponse(
            {
                "id": f"cmpl-{next(ids):06d}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": body.get("model") or model,
                "choices": choices,
                "usage": _usage(prompt_tokens, completion_tokens),
            }
        )

    def model_list(_body: Any) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": model, "object": "model", "created": 0, "owned_by": "tunegate"}],
            }
        )

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await handle(request, _chat_text, chat_completion)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await handle(request, lambda body: _prompts(body)[0], text_completion)

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        return await handle(request, None, model_list)

    return app


def _classify_text(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise _BadRequest("the body must be a JSON object with a string 'text'")
    text: str = body["text"]
    return text


def classify_app(
    answer: Answer = sentiment_answer,
    latency_ms: float = 0.0,
    faults: FaultPlan | None = None,
    require_header: tuple[str, str] | None = None,
) -> FastAPI:
    """A custom classification service: ``POST /classify {"text": ...}``.

    Answers ``{"label": answer([{"role": "user", "content": text}]), "score": 0.9}``
    (a dict returned by ``answer`` is sent as the whole body). With
    ``require_header=(name, value)`` a missing or wrong header gets 401. Faults
    are keyed by ``text``; errors use OpenAI's error JSON shape.
    """
    log = RequestLog()
    app = _new_app("tunegate test classify server", log)
    handle = _Handler(
        log=log,
        plan=faults or FaultPlan(),
        latency_ms=latency_ms,
        authorized=_header_check(require_header),
    )

    def respond(body: dict[str, Any]) -> Response:
        reply = answer([{"role": "user", "content": body["text"]}])
        if isinstance(reply, dict):
            return JSONResponse(reply)
        return JSONResponse({"label": reply, "score": 0.9})

    @app.post("/classify")
    async def classify(request: Request) -> Response:
        return await handle(request, _classify_text, respond)

    return app
