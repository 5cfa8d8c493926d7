"""llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) on loopback.

The tests marked ``llamacpp`` and ``benchmarks/llamacpp.py`` start it the same way:
:func:`start_llama_server` runs it on a free port of 127.0.0.1 with one thread, logs
its output to a file and returns once ``GET /v1/models`` answers 200. Needs
llama-cpp-python with its server extra (``bash scripts/install-llamacpp.sh``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

#: Seconds :func:`start_llama_server` waits for ``/v1/models`` by default.
STARTUP_TIMEOUT = 120.0


class LlamaServerError(RuntimeError):
    """The server exited or did not answer in time; the message ends with its log's tail."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LlamaServer:
    """A running ``llama_cpp.server``: its base URL (no ``/v1``), process and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def completions_served(self) -> int:
        """How many ``POST /v1/chat/completions`` the server logged (uvicorn's access log)."""
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return text.count('"POST /v1/chat/completions HTTP/1.1" 200')

    def log_tail(self, n: int = 40) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """Terminate the server (kill it after 15 s) and wait for it."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)


def server_command(
    gguf: Path, port: int, *, alias: str, n_ctx: int = 2048, n_threads: int = 1
) -> list[str]:
    """The command line of ``llama_cpp.server`` serving ``gguf`` as ``alias`` on ``port``.

    One thread by default: llama.cpp's threads spin while they wait, and on two cores
    shared with tunegate and pytest two of them made runs 2-5 times slower.

    No ``--chat_format``: the packaged Gemma GGUF has no ``tokenizer.chat_template``, so
    the server logs "Using fallback chat format: llama-2" and serves chat completions in
    that format, system prompt included. ``--chat_format gemma`` would use Gemma's turn
    markers but drops system messages (llama-cpp-python's ``format_gemma``), so a
    zero-shot model would never see the instruction.
    """
    return [
        *(sys.executable, "-m", "llama_cpp.server"),
        *("--model", str(gguf), "--model_alias", alias),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--n_ctx", str(n_ctx), "--n_threads", str(n_threads)),
    ]


def start_llama_server(
    gguf: Path,
    log: Path,
    *,
    alias: str,
    n_ctx: int = 2048,
    n_threads: int = 1,
    timeout: float = STARTUP_TIMEOUT,
) -> LlamaServer:
    """Start ``llama_cpp.server`` on a free loopback port and wait for ``/v1/models``.

    Its output (uvicorn's access log included) goes to ``log``. Raises
    :class:`LlamaServerError` (after stopping the process) when it exits or does not
    answer within ``timeout`` seconds.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = server_command(gguf, port, alias=alias, n_ctx=n_ctx, n_threads=n_threads)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    server = LlamaServer(url, proc, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise LlamaServerError(
                    f"llama_cpp.server exited with {proc.returncode}:\n{server.log_tail()}"
                )
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise LlamaServerError(
                    f"llama_cpp.server not up within {timeout:g} s:\n{server.log_tail()}"
                )
            time.sleep(0.25)
    except BaseException:
        server.stop()
        raise


@contextmanager
def llama_server(
    gguf: Path,
    log: Path,
    *,
    alias: str,
    n_ctx: int = 2048,
    n_threads: int = 1,
    timeout: float = STARTUP_TIMEOUT,
) -> Iterator[LlamaServer]:
    """:func:`start_llama_server` as a context manager: the server stops on exit."""
    server = start_llama_server(
        gguf, log, alias=alias, n_ctx=n_ctx, n_threads=n_threads, timeout=timeout
    )
    try:
        yield server
    finally:
        server.stop()
