"""Prompt log-probs and perplexity through an OpenAI-compatible completions endpoint.

Marked ``llamacpp``: llama-cpp-python's real server (the ``llama_server`` fixture of
``test_llamacpp.py``, Gemma 3 270M) echoes prompt log-probs; they are checked against
what ``llama_cpp.Llama(logits_all=True)`` computes for the same tokens in this process.

Unmarked: endpoints that cannot echo prompt log-probs. The loopback OpenAI server of
``servers.py`` answers completions without ``logprobs``; small FastAPI apps refuse
the request (400 / 422 / 501, no route: 404) or answer without echoing the prompt,
as real servers do. Other failures keep the kinds the chat backend gives them.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
import test_llamacpp
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from servers import FaultPlan, openai_app, serve
from test_llamacpp import LlamaServer

from tunegate.models.base import TransportError
from tunegate.models.logprobs import endpoint_perplexity, prompt_logprobs

# The same module-scoped fixture as test_llamacpp.py (one server per test module).
llama_server = test_llamacpp.llama_server
ALIAS = test_llamacpp.ALIAS

KEY = "sk-tunegate-test-0123456789abcdef"
# The server scores about one prompt token per second here: few, short texts.
SENTENCES = ["Paris is the capital of France, and Berlin is the capital of Germany."]
FLUENT = "The quick brown fox jumps over the lazy dog near the river bank."
# The same words in a fixed scrambled order.
SHUFFLED = "bank. lazy the fox river jumps The near brown dog over quick the"
TEXTS = [*SENTENCES, FLUENT, SHUFFLED]
WARM_UP = "Hello there."
TOLERANCE = 1e-3


def client_for(url: str, key: str = "not-needed") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


# ---------------------------------------------------------------------------
# A real server: llama-cpp-python
# ---------------------------------------------------------------------------


@dataclass
class Served:
    """What the server answered for :data:`TEXTS` (each request takes seconds here)."""

    logprobs: dict[str, list[float | None]]
    perplexity: dict[str, tuple[float, int]]
    raw: Any  # the SDK's Completion for WARM_UP


@pytest.fixture(scope="module")
def served(llama_server: LlamaServer) -> Served:
    """Asks for WARM_UP, then each text's log-probs, then each text's perplexity.

    The server keeps the previous prompt's KV cache and decodes only what follows
    the shared prefix; consecutive prompts here share just BOS, so after the first
    request every text is decoded as ``[BOS]`` then the rest in one batch.
    """

    async def ask() -> Served:
        client = client_for(llama_server.url)
        try:
            raw = await client.completions.create(
                model=ALIAS, prompt=WARM_UP, echo=True, max_tokens=1, logprobs=0
            )
            logprobs = {t: await prompt_logprobs(client, ALIAS, t) for t in TEXTS}
            perplexity = {t: await endpoint_perplexity(client, ALIAS, t) for t in TEXTS}
        finally:
            await client.close()
        return Served(logprobs, perplexity, raw)

    return asyncio.run(ask())


@pytest.fixture(scope="module")
def direct_llama(llama_server: LlamaServer) -> Any:
    """The server's GGUF loaded in this process by llama-cpp-python, logits for every token."""
    import llama_cpp

    from tunegate.models.hf import resolve_gguf

    return llama_cpp.Llama(
        model_path=str(resolve_gguf("gemma3-270m")),
        n_ctx=256,
        n_threads=1,
        logits_all=True,
        verbose=False,
    )


def direct_logprobs(
    llm: Any, text: str, *, split: int | None = None
) -> tuple[list[int], np.ndarray]:
    """``log P(t_i | t_<i)`` for every token after BOS, from the raw logits (numpy log-softmax).

    Tokenized as the server tokenizes a prompt: BOS, then the text with special tokens.
    ``split``: decode the first ``split`` tokens, then the rest, as two batches.
    """
    tokens: list[int] = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
    llm.reset()
    if split is None:
        llm.eval(tokens)
    else:
        llm.eval(tokens[:split])
        llm.eval(tokens[split:])
    logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return tokens, logp[np.arange(len(tokens) - 1), tokens[1:]]


@pytest.mark.llamacpp
def test_what_llamacpp_answers(served: Served) -> None:
    """echo + max_tokens=1 + logprobs=0: the prompt's tokens without BOS, then the answer's.

    (``max_tokens=0`` is accepted too but means "until the context is full".)
    """
    choice = served.raw.choices[0]
    assert choice.text.startswith(WARM_UP)
    values = choice.logprobs.token_logprobs
    assert values[0] is None
    assert all(isinstance(v, float) for v in values[1:])
    # logprobs=0: the "top" log-probs hold the chosen token only.
    assert [len(d) for d in choice.logprobs.top_logprobs[1:]] == [1] * (len(values) - 1)
    usage = served.raw.usage
    generated = usage.completion_tokens
    assert generated in (0, 1)
    # BOS is counted in usage.prompt_tokens but left out of the echo.
    assert len(values) == usage.prompt_tokens - 1 + generated
    offsets = choice.logprobs.text_offset
    assert offsets == sorted(offsets)
    assert all(o < len(WARM_UP) for o in offsets[: len(values) - generated])
    assert all(o >= len(WARM_UP) for o in offsets[len(values) - generated :])


@pytest.mark.llamacpp
def test_logprobs_match_llama_cpp_directly(served: Served, direct_llama: Any) -> None:
    """Same tokens, same log-probs as llama.cpp decoding them the way the server did.

    llama.cpp's logits depend on how the prompt is cut into decode batches: for these
    texts, one batch vs ``[BOS]`` + the rest moved single log-probs by up to 0.18
    (as far as the Q4_K GGUF in llama.cpp is from the same weights in transformers,
    0.1-0.4 here). The server decoded ``[BOS]`` + the rest (see ``served``), so that
    is the reference, to 1e-3. One batch is only checked to 0.5: a misaligned token
    would be off by nats.
    """
    worst = worst_one_batch = 0.0
    for text in TEXTS:
        got = served.logprobs[text]
        tokens, direct = direct_logprobs(direct_llama, text, split=1)
        # The echo is the tokens after BOS; the first of them has no log-prob.
        assert len(got) == len(tokens) - 1
        assert got[0] is None
        assert all(isinstance(v, float) for v in got[1:])
        values = np.asarray(got[1:], dtype=np.float64)
        np.testing.assert_allclose(values, direct[1:], rtol=0, atol=TOLERANCE)
        assert np.all(values <= 0)
        _, one_batch = direct_logprobs(direct_llama, text)
        np.testing.assert_allclose(values, one_batch[1:], rtol=0, atol=0.5)
        worst = max(worst, float(np.abs(values - direct[1:]).max()))
        worst_one_batch = max(worst_one_batch, float(np.abs(values - one_batch[1:]).max()))
    print(
        f"largest |served - direct| log-prob difference: {worst:.2e} "
        f"(decoded as one batch: {worst_one_batch:.2e})"
    )


@pytest.mark.llamacpp
def test_perplexity_finite_and_above_one(served: Served) -> None:
    for text in TEXTS:
        ppl, n = served.perplexity[text]
        scored = [v for v in served.logprobs[text] if v is not None]
        assert n == len(scored) == len(served.logprobs[text]) - 1 > 5
        assert math.isfinite(ppl)
        assert ppl > 1
        assert ppl == pytest.approx(math.exp(-sum(scored) / n), rel=1e-9)


@pytest.mark.llamacpp
def test_fluent_text_has_lower_perplexity_than_shuffled(served: Served) -> None:
    assert sorted(FLUENT.split()) == sorted(SHUFFLED.split())
    fluent, _ = served.perplexity[FLUENT]
    shuffled, _ = served.perplexity[SHUFFLED]
    print(f"perplexity: fluent {fluent:.1f}, shuffled {shuffled:.1f}")
    assert fluent * 3 < shuffled


# ---------------------------------------------------------------------------
# Endpoints without prompt log-probs
# ---------------------------------------------------------------------------


@pytest.fixture
def refusing_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server whose ``/v1/completions`` answers ``request.param`` (a status) with a
    message that repeats the caller's bearer token, as careless servers do."""
    status: int = request.param
    app = FastAPI()

    @app.post("/v1/completions")
    async def completions(req: Request) -> JSONResponse:
        token = req.headers.get("authorization", "")
        message = f"echo is not supported for this model (request from {token})"
        body = {"error": {"message": message, "type": "invalid_request_error"}}
        return JSONResponse(body, status_code=status)

    with serve(app) as url:
        yield url


def assert_unsupported(error: TransportError, url: str) -> None:
    assert error.kind == "unsupported"
    assert not error.retryable
    assert error.message.startswith(
        f"{url}/v1 does not return prompt log-probs (completions with echo=true); "
        "perplexity needs an endpoint that does, e.g. vLLM or llama.cpp's server"
    )
    assert KEY not in error.message
    assert KEY not in str(error)


async def test_reply_without_logprobs_is_unsupported() -> None:
    app = openai_app(require_key=KEY)
    with serve(app) as url:
        client = client_for(url, KEY)
        try:
            with pytest.raises(TransportError) as info:
                await endpoint_perplexity(client, "toy", "a great product")
        finally:
            await client.close()
    assert_unsupported(info.value, url)
    assert info.value.fatal
    assert "the reply has no logprobs.token_logprobs" in info.value.message
    [entry] = app.state.log.entries
    assert entry["path"] == "/v1/completions"
    sent = entry["json"]
    assert (sent["prompt"], sent["echo"], sent["max_tokens"], sent["logprobs"]) == (
        "a great product",
        True,
        1,
        0,
    )


async def test_reply_without_echo_is_unsupported() -> None:
    """llama.cpp's own ``llama-server`` takes ``echo`` but returns the answer's log-probs only."""
    app = FastAPI()

    @app.post("/v1/completions")
    async def completions() -> JSONResponse:
        logprobs = {"tokens": [" yes"], "text_offset": [0], "token_logprobs": [-0.5]}
        choice = {"index": 0, "text": " yes", "finish_reason": "length", "logprobs": logprobs}
        usage = {"prompt_tokens": 6, "completion_tokens": 1, "total_tokens": 7}
        return JSONResponse(
            {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": "toy"}
            | {"choices": [choice], "usage": usage}
        )

    with serve(app) as url:
        client = client_for(url, KEY)
        try:
            with pytest.raises(TransportError) as info:
                await endpoint_perplexity(client, "toy", "is this echoed at all")
        finally:
            await client.close()
    assert_unsupported(info.value, url)
    assert info.value.message.endswith("(the reply does not echo the prompt)")


@pytest.mark.parametrize("refusing_url", [400, 422, 501], indirect=True)
async def test_refused_request_is_unsupported(refusing_url: str) -> None:
    client = client_for(refusing_url, KEY)
    try:
        with pytest.raises(TransportError) as info:
            await prompt_logprobs(client, "toy", "some text")
    finally:
        await client.close()
    error = info.value
    assert_unsupported(error, refusing_url)
    assert error.status in (400, 422, 501)
    assert f"HTTP {error.status}: echo is not supported for this model" in error.message
    assert KEY not in error.message  # the echoed key is scrubbed
    assert "(request from Bearer ***)" in error.message
    assert error.fatal == (error.status == 501)  # a 400 may be about this one text


async def test_missing_route_is_unsupported() -> None:
    with serve(FastAPI()) as url:  # no /v1/completions at all: 404
        client = client_for(url, KEY)
        try:
            with pytest.raises(TransportError) as info:
                await prompt_logprobs(client, "toy", "some text")
        finally:
            await client.close()
    assert_unsupported(info.value, url)
    assert (info.value.status, info.value.fatal) == (404, True)


async def test_other_failures_keep_their_kind() -> None:
    faults = FaultPlan(rules={"overloaded": "503", "limited": "429"}, retry_after=2)
    with serve(openai_app(faults=faults)) as url:
        client = client_for(url)
        try:
            with pytest.raises(TransportError) as server_error:
                await prompt_logprobs(client, "toy", "overloaded")
            with pytest.raises(TransportError) as rate_error:
                await prompt_logprobs(client, "toy", "limited")
        finally:
            await client.close()
    assert (server_error.value.kind, server_error.value.retryable) == ("server", True)
    assert (rate_error.value.kind, rate_error.value.retry_after) == ("rate_limit", 2)
    # Nothing listens on the port any more.
    client = client_for(url)
    try:
        with pytest.raises(TransportError) as gone:
            await prompt_logprobs(client, "toy", "hello")
    finally:
        await client.close()
    assert (gone.value.kind, gone.value.retryable) == ("connection", True)
    assert url in gone.value.message


async def test_empty_text_is_rejected_before_sending() -> None:
    client = client_for("http://127.0.0.1:9")
    try:
        with pytest.raises(ValueError, match="empty"):
            await prompt_logprobs(client, "toy", "")
    finally:
        await client.close()


# ---------------------------------------------------------------------------
# Through a run: a perplexity suite on an `openai` model
# ---------------------------------------------------------------------------


def _perplexity_config(tmp_path: Path, url: str, texts: list[str]) -> Any:
    from tunegate.config import parse_config

    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": "-"}) + "\n" for t in texts))
    return parse_config(
        {
            "suites": [
                {"name": "ppl", "dataset": {"path": str(data)}, "task": {"type": "perplexity"}}
            ],
            "models": {
                "served": {
                    "type": "openai",
                    "model": ALIAS,
                    "base_url": f"{url}/v1",
                    "timeout": 300,
                }
            },
            "bootstrap": 500,
        },
        source=tmp_path / "tunegate.yaml",
    )


@pytest.mark.llamacpp
def test_perplexity_suite_on_an_openai_compatible_server(
    tmp_path: Path, llama_server: LlamaServer, served: Served
) -> None:
    from tunegate.pipeline.flow import RunOptions, run

    texts = [SENTENCES[0]]
    result = run(
        _perplexity_config(tmp_path, llama_server.url, texts),
        RunOptions(store_path=tmp_path / "t.db"),
    )
    [row] = [r for r in result.main.cases if r.model == "served"]
    expected, n = served.perplexity[texts[0]]
    assert n > 5
    # The server's batching may move a log-prob slightly (see the module docstring).
    assert row.scores["perplexity"] == pytest.approx(expected, rel=0.05)
    model = result.main.models["served"]
    assert model.metrics["perplexity"].value == pytest.approx(row.scores["perplexity"])


def test_perplexity_suite_on_an_endpoint_without_logprobs_says_why(tmp_path: Path) -> None:
    from tunegate.pipeline.flow import RunOptions, run

    with serve(openai_app()) as url:
        result = run(
            _perplexity_config(tmp_path, url, ["one text", "another text", "a third"]),
            RunOptions(store_path=tmp_path / "t.db"),
        )
    model = result.main.models["served"]
    assert model.errors == 3
    assert model.metrics["perplexity"].value is None
    assert model.first_errors[0].startswith(
        f"{url}/v1 does not return prompt log-probs (completions with echo=true)"
    )
    # Every request fails the same way, so the model stops at the first answer.
    assert set(model.error_kinds) <= {"unsupported", "not_sent"}
    assert model.error_kinds["unsupported"] >= 1
    assert any(n.startswith("served: stopped after a fatal error") for n in result.notes)
