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
    python -m tunegate.testing.servers openai-lean --latency-ms 50  # bare ASGI, benchmarks
    python -m tunegate.testing.servers classify --port 0    # prints the URL it listens on

The test-suite imports it through ``tests/servers.py`` (as ``servers``); the
benchmarks import it from here.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import uvicorn

from tunegate.testing.apps import classify_app, openai_app
from tunegate.testing.faults import (
    ACTIONS,
    GOOD_ACTIONS,
    FaultPlan,
    RequestLog,
)
from tunegate.testing.live import (
    _register,
    _unregister,
)
from tunegate.testing.toy_model import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    Answer,
    keyword_sentiment,
    last_user_text,
    sentiment_answer,
)

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


#: uvicorn's C parser when installed (a dev dependency), else its pure-Python one.
_HTTP = "httptools" if importlib.util.find_spec("httptools") else "h11"


def _config(app: Any, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="asyncio",
        http=_HTTP,
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
    parser.add_argument("app", choices=["openai", "openai-lean", "classify"])
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
    app: Any
    if args.app == "openai-lean":
        from tunegate.testing.lean import lean_openai_app

        app = lean_openai_app(latency_ms=args.latency_ms)
    elif args.app == "openai":
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
