"""Perplexity of a text measured by an OpenAI-compatible *completions* endpoint.

The legacy ``POST /v1/completions`` with ``echo: true`` and ``logprobs`` returns the
log-probability of every prompt token under the model (vLLM, llama.cpp's server via
llama-cpp-python, OpenAI's older completion models). :func:`prompt_logprobs` asks for
them and :func:`endpoint_perplexity` turns them into ``exp(-mean log p)``.

The request is ``echo=True, max_tokens=1, logprobs=0``:

- ``max_tokens=1``, not 0: llama-cpp-python's server accepts 0 but reads it as
  "generate until the context is full" (a 7-token prompt had no answer after 120 s
  here). The one generated token is dropped again (see :func:`_prompt_length`).
- ``logprobs=0``: the chosen token's log-prob only, no alternatives to send back.

Errors are :class:`~tunegate.models.base.TransportError`. An endpoint that cannot echo
prompt log-probs raises one with ``kind="unsupported"``, not retryable: it refuses the
request (HTTP 400/404/405/422/501), answers without ``logprobs.token_logprobs``, or
answers without echoing the prompt (llama.cpp's own ``llama-server`` returns the
generated token's log-prob only). API keys never appear in messages (``redact``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, TypeGuard

import openai

from tunegate.models.base import TransportError
from tunegate.models.errors import sdk_error, status_error
from tunegate.secrets import redact

__all__ = ["endpoint_perplexity", "prompt_logprobs"]

# Statuses with which servers refuse echo/logprobs on completions (or have no such route).
_UNSUPPORTED_STATUS = {400, 404, 405, 422, 501}
# Of those, the ones that say no request to this endpoint can work (400/422 may be
# about this one text, e.g. longer than the context).
_FATAL_UNSUPPORTED = {404, 405, 501}


def _base_url(client: openai.AsyncOpenAI) -> str:
    return redact(str(client.base_url).rstrip("/"))


def _unsupported(client: openai.AsyncOpenAI, detail: str) -> str:
    return redact(
        f"{_base_url(client)} does not return prompt log-probs (completions with "
        f"echo=true); perplexity needs an endpoint that does, e.g. vLLM or llama.cpp's "
        f"server ({detail})"
    )


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own error message (OpenAI's ``error.message``, FastAPI's ``detail``)."""
    body = exc.body
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])
    return exc.message if isinstance(exc.message, str) else str(exc)


def _malformed(message: str) -> TransportError:
    return TransportError(f"malformed response: {message}", retryable=True, kind="malformed")


async def _request(client: openai.AsyncOpenAI, model: str, text: str) -> Any:
    """The raw completion for ``text``, with SDK exceptions mapped to TransportError."""
    try:
        return await client.completions.create(
            model=model, prompt=text, echo=True, max_tokens=1, logprobs=0
        )
    except openai.APIStatusError as exc:
        status = exc.status_code
        if status in _UNSUPPORTED_STATUS:
            raise TransportError(
                _unsupported(client, f"HTTP {status}: {_detail(exc)}"),
                retryable=False,
                kind="unsupported",
                status=status,
                fatal=status in _FATAL_UNSUPPORTED,
            ) from None
        raise status_error(exc) from None
    except (openai.OpenAIError, json.JSONDecodeError) as exc:
        raise sdk_error(exc, _base_url(client), None) from None


def _prompt_length(values: Sequence[Any], logprobs: Any, usage: Any, text: str) -> int:
    """How many leading entries of the echoed log-probs belong to the prompt.

    The echo lists the prompt's tokens, then the generated ones (at most one here, none
    when the model stopped at once). ``usage.completion_tokens`` counts the generated
    ones; it is used first because ``usage.prompt_tokens`` is not comparable across
    servers (llama-cpp-python counts a BOS it leaves out of the echo, vLLM lists it).
    Without usage, a generated token is one whose ``text_offset`` in the echoed text
    (prompt + answer) is at or past ``len(text)``; without either, the last entry.
    """
    generated = getattr(usage, "completion_tokens", None)
    if _is_int(generated) and 0 <= generated <= len(values):
        return len(values) - generated
    offsets = getattr(logprobs, "text_offset", None)
    if isinstance(offsets, list) and len(offsets) == len(values) and all(map(_is_int, offsets)):
        n = sum(1 for o in offsets if o < len(text))
        if all(o >= len(text) for o in offsets[n:]):
            return n
    return len(values) - 1


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


async def prompt_logprobs(client: openai.AsyncOpenAI, model: str, text: str) -> list[float | None]:
    """Per token of ``text``, ``log P(token_i | tokens_<i)`` as the endpoint computes it.

    One entry per prompt token in the endpoint's tokenization, in order. The first
    entry is ``None`` (the API gives the first echoed token no log-prob); the others
    are natural-log probabilities. What the first entry is depends on the server:
    vLLM echoes BOS, so every token of ``text`` gets a log-prob; llama-cpp-python
    leaves BOS out of the echo, so the first token of ``text`` is the ``None`` one.

    Raises :class:`ValueError` for an empty ``text`` and :class:`TransportError`,
    with ``kind="unsupported"`` when the endpoint does not echo prompt log-probs
    (it refuses the request, answers without ``logprobs.token_logprobs``, or does not
    echo the prompt, as llama.cpp's own ``llama-server`` does).
    """
    if not text:
        raise ValueError("text is empty: there is nothing to score")
    response = await _request(client, model, text)
    try:
        choice = response.choices[0]
        logprobs = choice.logprobs
        echoed = choice.text
    except (AttributeError, IndexError, TypeError) as exc:
        raise _malformed(f"no choices[0] ({type(exc).__name__})") from None
    values = getattr(logprobs, "token_logprobs", None)
    if not values:
        raise TransportError(
            _unsupported(client, "the reply has no logprobs.token_logprobs"),
            retryable=False,
            kind="unsupported",
            fatal=True,
        )
    if not isinstance(values, list):
        raise _malformed("logprobs.token_logprobs is not a list")
    for value in values:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _malformed(f"token_logprobs holds {value!r}, not a number")
    usage = getattr(response, "usage", None)
    n = _prompt_length(values, logprobs, usage, text)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    problem = None
    if not isinstance(echoed, str) or not echoed.startswith(text) or n == 0:
        problem = "the reply does not echo the prompt"
    elif _is_int(prompt_tokens) and n < prompt_tokens - 1:
        # One short is fine: llama-cpp-python counts a BOS that it does not echo.
        problem = f"log-probs for {n} of {prompt_tokens} prompt tokens"
    if problem is not None:
        raise TransportError(
            _unsupported(client, problem), retryable=False, kind="unsupported", fatal=True
        )
    return [None if v is None else float(v) for v in values[:n]]


async def endpoint_perplexity(
    client: openai.AsyncOpenAI, model: str, text: str
) -> tuple[float, int]:
    """``(exp(-mean(log p_i)), N)`` over the ``N`` scored tokens of ``text``.

    The scored tokens are those :func:`prompt_logprobs` gives a log-prob (all but
    the first). A text of a single token has ``N = 0`` and perplexity NaN, as
    :func:`tunegate.models.hf.perplexity` returns for local models.
    """
    scored = [v for v in await prompt_logprobs(client, model, text) if v is not None]
    if not scored:
        return math.nan, 0
    from tunegate.scoring.text import calculate_perplexity  # keeps this import cheap

    try:
        return calculate_perplexity(scored), len(scored)
    except ValueError as exc:  # NaN or positive log-probs
        raise _malformed(str(exc)) from None
