"""Perplexity of a text measured by an OpenAI-compatible *completions* endpoint.

The legacy ``POST /v1/completions`` with ``echo: true`` and ``logprobs`` returns the
log-probability of every prompt token under the model (vLLM, llama.cpp's server via
llama-cpp-python, OpenAI's older completion models). :func:`prompt_logprobs` asks for
them and :func:`endpoint_perplexity` turns them into ``exp(-mean log p)``.

The request is ``echo=True, max_tokens=1, logprobs=0`` (:func:`completion_request`):

- ``max_tokens=1``, not 0: llama-cpp-python's server accepts 0 but reads it as
  "generate until the context is full" (a 7-token prompt had no answer after 120 s
  here). The one generated token is dropped again (see :func:`_prompt_length`).
- ``logprobs=0``: the chosen token's log-prob only, no alternatives to send back.

It goes out through either client a chat model uses: the lean
:class:`~tunegate.models.transport.Transport` (spread over the model's replicas, the
one that answered named in messages) or the openai SDK (``transport: sdk``). Both
paths read the same JSON bytes with the same code, so they return the same floats,
and they map failures the same way: statuses as :func:`~tunegate.models.errors.http_status_error`
does (``Retry-After`` / ``retry-after-ms`` honoured), timeouts, connection resets and
bodies that are not JSON retryable.

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
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

from tunegate.models.base import TransportError
from tunegate.models.errors import http_status_error, sdk_error
from tunegate.models.transport import Reply, Transport, sdk_status_detail
from tunegate.secrets import redact

if TYPE_CHECKING:
    import openai

__all__ = [
    "COMPLETIONS_PATH",
    "Client",
    "completion_request",
    "completions_status_detail",
    "endpoint_perplexity",
    "prompt_logprobs",
]

#: What sends the request: a model's lean transport or an openai SDK client.
Client: TypeAlias = "Transport | openai.AsyncOpenAI"

#: The completions route, under a replica's base URL (``.../v1``).
COMPLETIONS_PATH = "/completions"

# Statuses with which servers refuse echo/logprobs on completions (or have no such route).
_UNSUPPORTED_STATUS = frozenset({400, 404, 405, 422, 501})
# Of those, the ones that say no request to this endpoint can work (400/422 may be
# about this one text, e.g. longer than the context).
_FATAL_UNSUPPORTED = frozenset({404, 405, 501})


def completion_request(model: str, text: str) -> dict[str, Any]:
    """The JSON body asking for the prompt's own log-probs (see the module docstring)."""
    return {"model": model, "prompt": text, "echo": True, "max_tokens": 1, "logprobs": 0}


def completions_status_detail(status: int, body: bytes) -> str:
    """What an error answer of the completions route says, for its message.

    For the statuses with which servers refuse echo (400/404/405/422/501), the server's
    own words: ``message``, ``detail`` or ``error`` (a non-empty string) of the body's
    ``error`` object, else of the body (OpenAI, vLLM, FastAPI's ``detail``). Otherwise,
    and when there are no such words, what the openai SDK says
    (:func:`~tunegate.models.transport.sdk_status_detail`). Pass it as a transport's
    ``status_detail`` so that a refusal reads the same on both paths.
    """
    if status in _UNSUPPORTED_STATUS:
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            parsed = None
        data = parsed.get("error", parsed) if isinstance(parsed, dict) else None
        if isinstance(data, dict):
            for key in ("message", "detail", "error"):
                value = data.get(key)
                if isinstance(value, str) and value:
                    return value
    return sdk_status_detail(status, body)


def _unsupported(where: str, detail: str) -> str:
    return redact(
        f"{where} does not return prompt log-probs (completions with "
        f"echo=true); perplexity needs an endpoint that does, e.g. vLLM or llama.cpp's "
        f"server ({detail})"
    )


def _malformed(message: str) -> TransportError:
    return TransportError(f"malformed response: {message}", retryable=True, kind="malformed")


def _refused(error: TransportError, where: str) -> TransportError:
    """``error`` as an ``unsupported`` one when its status is a refusal of echo, else itself."""
    status = error.status
    if status is None or status not in _UNSUPPORTED_STATUS:
        return error
    detail = error.message
    sdk_prefix = f"HTTP {status}: Error code: {status} - "
    if detail.startswith(sdk_prefix):  # a transport built with the SDK's status detail
        detail = f"HTTP {status}: " + detail[len(sdk_prefix) :]
    return TransportError(
        _unsupported(where, detail),
        retryable=False,
        kind="unsupported",
        status=status,
        fatal=status in _FATAL_UNSUPPORTED,
    )


def _transport_where(transport: Transport) -> str:
    """The transport's server, for an error that does not say which replica answered."""
    first = redact(transport.replicas[0].url)
    more = len(transport.replicas) - 1
    return first if more == 0 else f"{first} (or one of its {more} other replicas)"


def _sdk_where(client: openai.AsyncOpenAI) -> str:
    return redact(str(client.base_url).rstrip("/"))


async def _post(client: Client, model: str, text: str) -> tuple[Any, str]:
    """The parsed JSON answer for ``text`` and the (redacted) URL of the server that gave
    it; failures as :class:`TransportError`."""
    body = completion_request(model, text)
    if isinstance(client, Transport):
        try:
            reply = await client.request("POST", COMPLETIONS_PATH, json_body=body)
        except TransportError as exc:
            raise _refused(exc, _transport_where(client)) from None
        return reply.json(), redact(reply.replica)
    return await _post_sdk(client, body)


async def _post_sdk(client: openai.AsyncOpenAI, body: dict[str, Any]) -> tuple[Any, str]:
    import openai

    where = _sdk_where(client)
    timeout = client.timeout if isinstance(client.timeout, int | float) else None
    try:
        raw = await client.completions.with_raw_response.create(**body)
    except openai.APIStatusError as exc:
        response = exc.response
        try:
            content = response.content
        except Exception:  # the body was never read (the SDK then has none either)
            content = b""
        detail = completions_status_detail(exc.status_code, content)
        error = http_status_error(exc.status_code, detail, response.headers)
        raise _refused(error, where) from None
    except (openai.OpenAIError, json.JSONDecodeError) as exc:
        raise sdk_error(exc, where, timeout) from None
    return Reply(raw.status_code, raw.content, where).json(), where


def _prompt_length(values: Sequence[Any], logprobs: dict[str, Any], usage: Any, text: str) -> int:
    """How many leading entries of the echoed log-probs belong to the prompt.

    The echo lists the prompt's tokens, then the generated ones (at most one here, none
    when the model stopped at once). ``usage.completion_tokens`` counts the generated
    ones; it is used first because ``usage.prompt_tokens`` is not comparable across
    servers (llama-cpp-python counts a BOS it leaves out of the echo, vLLM lists it).
    Without usage, a generated token is one whose ``text_offset`` in the echoed text
    (prompt + answer) is at or past ``len(text)``; without either, the last entry.
    """
    generated = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if _is_int(generated) and 0 <= generated <= len(values):
        return len(values) - generated
    offsets = logprobs.get("text_offset")
    if isinstance(offsets, list) and len(offsets) == len(values) and all(map(_is_int, offsets)):
        n = sum(1 for o in offsets if o < len(text))
        if all(o >= len(text) for o in offsets[n:]):
            return n
    return len(values) - 1


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _read(document: Any, text: str, where: str) -> list[float | None]:
    """The prompt's log-probs in a completions answer (parsed JSON)."""
    try:
        choice = document["choices"][0]
        logprobs = choice.get("logprobs")
        echoed = choice.get("text")
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise _malformed(f"no choices[0] ({type(exc).__name__})") from None
    if not isinstance(logprobs, dict):
        logprobs = {}
    values = logprobs.get("token_logprobs")
    if not values:
        raise TransportError(
            _unsupported(where, "the reply has no logprobs.token_logprobs"),
            retryable=False,
            kind="unsupported",
            fatal=True,
        )
    if not isinstance(values, list):
        raise _malformed("logprobs.token_logprobs is not a list")
    for value in values:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _malformed(f"token_logprobs holds {value!r}, not a number")
    usage = document.get("usage")
    n = _prompt_length(values, logprobs, usage, text)
    prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    problem = None
    if not isinstance(echoed, str) or not echoed.startswith(text) or n == 0:
        problem = "the reply does not echo the prompt"
    elif _is_int(prompt_tokens) and n < prompt_tokens - 1:
        # One short is fine: llama-cpp-python counts a BOS that it does not echo.
        problem = f"log-probs for {n} of {prompt_tokens} prompt tokens"
    if problem is not None:
        raise TransportError(
            _unsupported(where, problem), retryable=False, kind="unsupported", fatal=True
        )
    return [None if v is None else float(v) for v in values[:n]]


async def prompt_logprobs(client: Client, model: str, text: str) -> list[float | None]:
    """Per token of ``text``, ``log P(token_i | tokens_<i)`` as the endpoint computes it.

    ``client`` is the model's :class:`~tunegate.models.transport.Transport` (the request
    goes to the replica it picks, as a chat request would) or an openai SDK client.

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
    document, where = await _post(client, model, text)
    return _read(document, text, where)


async def endpoint_perplexity(client: Client, model: str, text: str) -> tuple[float, int]:
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
