"""Real loopback HTTP servers for the test-suite and the benchmarks.

Small FastAPI apps served by a real uvicorn server on 127.0.0.1, so clients are
exercised over real sockets, real HTTP and real timeouts:

- :func:`openai_app`: an OpenAI-compatible endpoint (``/v1/chat/completions``,
  ``/v1/completions``, ``/v1/models``) that the official ``openai`` SDK parses;
- :func:`classify_app`: a custom service, ``POST /classify {"text": ...}``;
- :class:`FaultPlan`: deterministic fault injection keyed by the input text;
- :class:`RequestLog`: what each app received, as ``app.state.log``;
- :func:`serve`: a context manager running an app in a background thread and
  yielding its base URL.

Both apps answer with a deterministic toy "model", :func:`keyword_sentiment`
applied to the last user message, unless another ``answer`` is given.

Command line (foreground, for benchmarks and subprocess tests)::

    python -m tunegate.testing.servers openai --port 8123 --latency-ms 50
    python -m tunegate.testing.servers classify --port 0    # prints the URL it listens on

The test-suite imports it through ``tests/servers.py`` (as ``servers``); the
benchmarks import it from here.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

__all__ = [
    "ACTIONS",
    "GOOD_ACTIONS",
    "NEGATIVE_WORDS",
    "POSITIVE_WORDS",
    "Answer",
    "FaultPlan",
    "RequestLog",
    "classify_app",
    "keyword_sentiment",
    "last_user_text",
    "main",
    "openai_app",
    "sentiment_answer",
    "serve",
]

Message = dict[str, Any]
Reply = str | dict[str, Any]
Answer = Callable[[list[Message]], Reply]
"""Chat messages -> reply text (or, for chat completions, a whole assistant message dict)."""

ACTIONS: Final = frozenset(
    {
        "ok",
        "429",
        "503",
        "500",
        "timeout",
        "malformed",
        "garbage",
        "disconnect",
        "reset",
        "nonjson",
        "wrongtype",
        "empty",
        "big",
    }
)
GOOD_ACTIONS: Final = frozenset({"ok", "wrongtype", "big"})
"""Actions after which the client holds a usable answer (``timeout`` only when it waits)."""
NON_JSON_BODY: Final = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
MALFORMED_BODY: Final = b'{"id": "chatcmpl-broken", "choices": [{"message": '
GARBAGE_BODY: Final = {"foo": 1}

# ---------------------------------------------------------------------------
# The toy model
# ---------------------------------------------------------------------------

POSITIVE_WORDS: Final = frozenset(
    {
        "amazing",
        "awesome",
        "best",
        "excellent",
        "fantastic",
        "good",
        "great",
        "happy",
        "love",
        "loved",
        "perfect",
        "recommend",
        "wonderful",
    }
)
NEGATIVE_WORDS: Final = frozenset(
    {
        "awful",
        "bad",
        "broken",
        "disappointed",
        "disappointing",
        "hate",
        "horrible",
        "poor",
        "refund",
        "terrible",
        "waste",
        "worst",
    }
)
_WORD = re.compile(r"[a-z]+")


def keyword_sentiment(text: str) -> str:
    """``"positive"``, ``"negative"`` or ``"neutral"`` by counting keywords.

    score = #words in :data:`POSITIVE_WORDS` - #words in :data:`NEGATIVE_WORDS`
    (lower-cased, letters only, no negation handling); > 0 is positive, < 0 is
    negative, 0 is neutral. The label words themselves are not keywords, so a
    prompt listing the labels does not move the answer.
    """
    words = _WORD.findall(text.lower())
    score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
    if score > 0:
        return "positive"
    if score < 0:
        return "negative"
    return "neutral"


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: Sequence[Message]) -> str:
    """Content of the last ``user`` message (``""`` when there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def sentiment_answer(messages: list[Message]) -> str:
    """The default answer: :func:`keyword_sentiment` of the last user message."""
    return keyword_sentiment(last_user_text(messages))


def _tokens(text: str) -> int:
    return len(text.split())


# ---------------------------------------------------------------------------
# Request log and fault plan
# ---------------------------------------------------------------------------


class RequestLog:
    """Thread-safe record of the requests an app received, in arrival order.

    Each entry is a dict with ``method``, ``path``, ``headers`` (lower-cased
    names), ``json`` (parsed body or None), ``text`` (the input text faults are
    keyed by, or None), ``action`` (what the app did: a :data:`ACTIONS` member,
    ``"401"`` or ``"400"``) and ``time`` (``time.monotonic()`` at arrival).
    Requests to unknown paths are not recorded.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """A snapshot of all entries."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        with self._lock:
            return self._entries[index]

    def for_text(self, text: str) -> list[dict[str, Any]]:
        """Entries whose input text is ``text``."""
        return [e for e in self.entries if e["text"] == text]

    def count(self, text: str | None = None, *, path: str | None = None) -> int:
        """Number of requests, optionally only those for ``text`` and/or to ``path``."""
        return sum(
            1
            for e in self.entries
            if (text is None or e["text"] == text) and (path is None or e["path"] == path)
        )

    def counts(self, *, path: str | None = None) -> Counter[str]:
        """Requests per input text (entries without a text are left out)."""
        return Counter(
            e["text"]
            for e in self.entries
            if e["text"] is not None and (path is None or e["path"] == path)
        )

    def times(self, text: str) -> list[float]:
        """Arrival times (``time.monotonic()``) of the requests for ``text``."""
        return [e["time"] for e in self.for_text(text)]

    def clear(self) -> None:
        """Forget the entries (fault counters are not reset)."""
        with self._lock:
            self._entries.clear()


@dataclass
class FaultPlan:
    """Deterministic fault injection, keyed by the request's input text.

    The n-th request carrying a text in ``rules`` gets the n-th action of its
    list; the last action repeats. Texts without a rule get ``"ok"``. Actions:

    - ``"ok"``: a normal answer;
    - ``"429"``: status 429, ``Retry-After: <retry_after>``, OpenAI error JSON;
    - ``"500"`` / ``"503"``: that status with OpenAI error JSON;
    - ``"timeout"``: wait ``hang_seconds``, then answer normally;
    - ``"malformed"``: status 200, ``application/json``, a body that is not JSON;
    - ``"garbage"``: status 200, valid JSON without the expected fields (``{"foo": 1}``);
    - ``"disconnect"``: close the connection without sending any response byte;
    - ``"reset"``: the same with a TCP reset (RST, ``SO_LINGER`` 0) instead of a FIN;
    - ``"nonjson"``: status 200, ``text/html``, an HTML error page (a proxy's);
    - ``"wrongtype"``: the normal answer sent as ``text/plain`` (a usable answer);
    - ``"empty"``: status 200, the normal answer with ``choices: []`` (chat/completions)
      or ``{}`` (classify);
    - ``"big"``: the normal answer padded with ``big_bytes`` spaces (a usable answer).

    ``every_nth_500`` additionally turns every n-th request to the app (counting
    all requests with an input text) into a 500, unless its rule already
    injected another fault. ``random_rate`` gives each request without a rule
    that probability of getting one of ``random_actions`` (duplicates weigh
    more), drawn from ``(seed, text, n-th request for the text)`` so that the
    same requests get the same faults whatever their arrival order.
    """

    rules: Mapping[str, Sequence[str]] = field(default_factory=dict)
    retry_after: float = 1.0
    hang_seconds: float = 30.0
    every_nth_500: int | None = None
    random_rate: float = 0.0
    random_actions: Sequence[str] = ()
    seed: int = 0
    big_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        rules = {
            text: (actions,) if isinstance(actions, str) else tuple(actions)
            for text, actions in self.rules.items()
        }
        for text, actions in rules.items():
            if not actions:
                raise ValueError(f"FaultPlan rule for {text!r} has no action")
            unknown = [a for a in actions if a not in ACTIONS]
            if unknown:
                raise ValueError(
                    f"FaultPlan rule for {text!r}: unknown action(s) {unknown}; "
                    f"expected some of {sorted(ACTIONS)}"
                )
        if self.every_nth_500 is not None and self.every_nth_500 < 1:
            raise ValueError("FaultPlan.every_nth_500 must be >= 1")
        if self.retry_after < 0 or self.hang_seconds < 0:
            raise ValueError("FaultPlan.retry_after and hang_seconds must be >= 0")
        if not 0.0 <= self.random_rate <= 1.0:
            raise ValueError("FaultPlan.random_rate must be within [0, 1]")
        unknown_random = [a for a in self.random_actions if a not in ACTIONS]
        if unknown_random or (self.random_rate and not self.random_actions):
            raise ValueError(f"FaultPlan.random_actions: unknown or none {unknown_random}")
        self.random_actions = tuple(self.random_actions)
        self.rules = rules

    def action(self, text: str, seen: int) -> str:
        """The rule's action for the ``seen``-th (1-based) request carrying ``text``."""
        actions = self.rules.get(text)
        if not actions:
            if self.random_rate:
                draw = random.Random(f"{self.seed}\0{text}\0{seen}")
                if draw.random() < self.random_rate:
                    return draw.choice(self.random_actions)
            return "ok"
        return actions[min(max(seen, 1), len(actions)) - 1]


# ---------------------------------------------------------------------------
# Live servers: lets a handler end a hang early and drop its own connection
# ---------------------------------------------------------------------------

_LIVE_LOCK = threading.Lock()
_LIVE: dict[tuple[str, int], uvicorn.Server] = {}


def _register(host: str, port: int, server: uvicorn.Server) -> None:
    with _LIVE_LOCK:
        _LIVE[(host, port)] = server


def _unregister(host: str, port: int) -> None:
    with _LIVE_LOCK:
        _LIVE.pop((host, port), None)


def _server_for(request: Request) -> uvicorn.Server | None:
    address = request.scope.get("server")
    if not address or address[1] is None:
        return None
    with _LIVE_LOCK:
        return _LIVE.get((str(address[0]), int(address[1])))


async def _sleep(seconds: float, request: Request) -> None:
    """Sleep ``seconds``, returning early when the serving server is shutting down."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    server = _server_for(request)
    while (remaining := deadline - loop.time()) > 0:
        if server is not None and server.should_exit:
            return
        await asyncio.sleep(min(remaining, 0.05))


async def _drop_connection(request: Request, *, reset: bool = False) -> None:
    """Close this request's TCP connection before any response byte is written.

    ASGI has no "abort" message, so this finds uvicorn's protocol object for the
    client's address among the server's open connections and closes its
    transport, then waits until uvicorn has seen the connection go (after which
    uvicorn discards anything the app sends). Works only for apps run by
    :func:`serve` or the command line.
    """
    server = _server_for(request)
    client = request.scope.get("client")
    if server is None or client is None:
        raise RuntimeError("the 'disconnect' fault needs a server started by serve() or the CLI")
    connections = server.server_state.connections
    for connection in list(connections):
        if getattr(connection, "client", None) == tuple(client):
            sock = connection.transport.get_extra_info("socket")
            if reset and sock is not None:  # close with RST: "connection reset by peer"
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.transport.close()
            for _ in range(400):
                if connection not in connections:
                    return
                await asyncio.sleep(0.005)
            raise RuntimeError("the connection did not close")
    raise RuntimeError(f"no open connection from {client}")


# ---------------------------------------------------------------------------
# Shared request handling
# ---------------------------------------------------------------------------


def _error(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    """An error in OpenAI's JSON shape."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return JSONResponse(body, status_code=status)


class _BadRequest(Exception):
    pass


class _Handler:
    """Logging, authentication, latency and faults around an endpoint's answer."""

    def __init__(
        self,
        *,
        log: RequestLog,
        plan: FaultPlan,
        latency_ms: float,
        authorized: Callable[[Request], bool],
    ) -> None:
        self.log = log
        self.plan = plan
        self.latency_s = max(0.0, latency_ms) / 1000.0
        self.authorized = authorized
        self._lock = threading.Lock()
        self._seen: Counter[str] = Counter()
        self._total = 0

    def _decide(self, text: str) -> str:
        with self._lock:
            self._seen[text] += 1
            self._total += 1
            seen, total = self._seen[text], self._total
        action = self.plan.action(text, seen)
        nth = self.plan.every_nth_500
        if action == "ok" and nth is not None and total % nth == 0:
            action = "500"
        return action

    async def __call__(
        self,
        request: Request,
        text_of: Callable[[Any], str] | None,
        respond: Callable[[Any], Response],
    ) -> Response:
        """Handle ``request``; ``text_of`` extracts the fault key (None: no faults)."""
        entry: dict[str, Any] = {
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "json": None,
            "text": None,
            "action": None,
            "time": time.monotonic(),
        }
        try:
            raw = await request.body()
        except ClientDisconnect:  # the client went away (killed) before sending its body
            return Response(status_code=499)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body, bad_json = None, True
        else:
            bad_json = False
        entry["json"] = body

        if not self.authorized(request):
            entry["action"] = "401"
            self.log.append(entry)
            return _error(
                401, "Incorrect or missing API key.", "invalid_request_error", "invalid_api_key"
            )
        try:
            if bad_json:
                raise _BadRequest("the request body is not valid JSON")
            text = text_of(body) if text_of is not None else None
        except _BadRequest as exc:
            entry["action"] = "400"
            self.log.append(entry)
            return _error(400, str(exc), "invalid_request_error")

        action = "ok" if text is None else self._decide(text)
        entry["text"], entry["action"] = text, action
        self.log.append(entry)

        if self.latency_s:
            await _sleep(self.latency_s, request)
        if action == "429":
            response = _error(
                429, "Rate limit reached (injected).", "requests", "rate_limit_exceeded"
            )
            response.headers["Retry-After"] = f"{self.plan.retry_after:g}"
            return response
        if action == "500":
            return _error(500, "The server had an error (injected).", "server_error")
        if action == "503":
            return _error(503, "The server is overloaded (injected).", "server_error")
        if action == "malformed":
            return Response(MALFORMED_BODY, status_code=200, media_type="application/json")
        if action == "garbage":
            return JSONResponse(GARBAGE_BODY)
        if action in ("disconnect", "reset"):
            await _drop_connection(request, reset=action == "reset")
            return Response(status_code=500)  # discarded: the connection is gone
        if action == "nonjson":
            return Response(NON_JSON_BODY, status_code=200, media_type="text/html")
        if action == "timeout":
            await _sleep(self.plan.hang_seconds, request)
        if action in ("wrongtype", "empty", "big"):
            return _altered(respond(body), action, self.plan.big_bytes)
        return respond(body)


def _altered(response: Response, action: str, big_bytes: int) -> Response:
    """The normal answer sent as text/plain, emptied of its choices, or padded."""
    if action == "wrongtype":
        return Response(bytes(response.body), status_code=200, media_type="text/plain")
    data = json.loads(bytes(response.body))
    if action == "empty":
        data = {**data, "choices": []} if "choices" in data else {}
        return JSONResponse(data)
    pad = " " * big_bytes
    for choice in data.get("choices", []):
        message = choice.get("message")
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            message["content"] += pad
        if isinstance(choice.get("text"), str):
            choice["text"] += pad
    if isinstance(data.get("label"), str):
        data["label"] += pad
    return JSONResponse(data)


def _bearer_check(key: str | None) -> Callable[[Request], bool]:
    def authorized(request: Request) -> bool:
        return key is None or request.headers.get("authorization") == f"Bearer {key}"

    return authorized


def _header_check(required: tuple[str, str] | None) -> Callable[[Request], bool]:
    def authorized(request: Request) -> bool:
        return required is None or request.headers.get(required[0]) == required[1]

    return authorized


def _new_app(title: str, log: RequestLog) -> FastAPI:
    app = FastAPI(title=title, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.log = log
    return app


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
        return JSONResponse(
            {
                "id": f"chatcmpl-{next(ids):06d}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or model,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
                "system_fingerprint": None,
            }
        )

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
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
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


# ---------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn's server, checking ``should_exit`` every 10 ms instead of 100 ms."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            await asyncio.sleep(0.01)


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="asyncio",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=5,
    )


def _bind(host: str, port: int) -> socket.socket:
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto is TCP, and without it Nagle + delayed ACK add ~40 ms to keep-alive requests.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except BaseException:
        sock.close()
        raise
    return sock


@contextmanager
def serve(
    app: Any, host: str = "127.0.0.1", *, startup_timeout: float = 10.0, port: int = 0
) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn server in a daemon thread; yield its base URL.

    The socket is bound to an OS-chosen free port before the server starts, so
    the URL (``"http://127.0.0.1:PORT"``) is known up front and nothing races
    for the port (``port`` picks one, e.g. a replica that comes up late). On exit the server stops accepting, pending hangs and
    latencies end early, in-flight requests finish, and the thread is joined.
    """
    sock = _bind(host, port)
    port = int(sock.getsockname()[1])
    server = _Server(_config(app, host, port))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on startup failure included
            failure.append(exc)

    _register(host, port, server)
    thread = threading.Thread(target=run, name=f"uvicorn-{host}:{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the test server failed to start: {failure!r}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not start within {startup_timeout} s")
            time.sleep(0.005)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5.0)
        _unregister(host, port)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"the test server on port {port} did not stop")


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    """Serve an app in the foreground until interrupted (see the module docstring)."""
    parser = argparse.ArgumentParser(description="tunegate loopback test servers")
    parser.add_argument("app", choices=["openai", "classify"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--every-nth-500", type=int, default=None)
    parser.add_argument("--require-key", default=None, help="openai: required bearer key")
    parser.add_argument(
        "--require-header", default=None, metavar="NAME=VALUE", help="classify: required header"
    )
    args = parser.parse_args(argv)

    faults = FaultPlan(every_nth_500=args.every_nth_500)
    app: FastAPI
    if args.app == "openai":
        app = openai_app(latency_ms=args.latency_ms, faults=faults, require_key=args.require_key)
    else:
        header = None
        if args.require_header:
            name, _, value = args.require_header.partition("=")
            header = (name, value)
        app = classify_app(latency_ms=args.latency_ms, faults=faults, require_header=header)

    sock = _bind(args.host, args.port)
    port: int = sock.getsockname()[1]
    server = _Server(_config(app, args.host, port))
    _register(args.host, port, server)
    print(f"serving {args.app} on http://{args.host}:{port}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        _unregister(args.host, port)
        sock.close()


if __name__ == "__main__":
    main()
