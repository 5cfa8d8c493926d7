"""A Python callable given directly (the Python API's ``model_fn``), as a backend.

The YAML path imports ``package.module:function`` (:mod:`tunegate.models.python_fn`);
the Python API receives the function object itself. Both go through the runner,
so a callable gets the same bounded concurrency and latency measurement as any
other model. The callable takes the prompt text and returns the answer text, or
is an ``async def`` function doing the same.

A callable is not retried (``max_retries = 0``): an exception in user code would
usually happen again. Its failure is kept as the case's error,
``"model error: <Type>: <message>"``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Callable
from typing import Any

from tunegate.data import Case
from tunegate.models.base import BackendDefaults, Completion, TransportError


def _describe(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class CallableBackend(BackendDefaults):
    """Calls ``fn(prompt)``; sync functions run on a private pool of ``concurrency`` threads."""

    max_retries: int | None = 0

    def __init__(
        self, name: str, fn: Callable[[str], Any], *, concurrency: int = 8, timeout: float | None
    ) -> None:
        super().__init__()
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.name = name
        self.fn = fn
        self.concurrency = concurrency
        self.timeout = timeout
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self.concurrency, thread_name_prefix=f"tunegate-{self.name}"
        )

    def identity(self) -> dict[str, Any]:
        # Never used for caching (the API runs without a cache), but the protocol asks.
        return {"type": "callable", "function": getattr(self.fn, "__qualname__", repr(self.fn))}

    def render(self, case: Case) -> dict[str, Any]:
        return {"input": case.text}

    async def send(self, request: dict[str, Any]) -> Completion:
        prompt = request["input"]
        try:
            if inspect.iscoroutinefunction(self.fn):
                value = await self.fn(prompt)
            else:
                loop = asyncio.get_running_loop()
                value = await loop.run_in_executor(self._pool, self.fn, prompt)
                if inspect.isawaitable(value):  # a lambda returning a coroutine
                    value = await value
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise
        except BaseException as exc:  # a SystemExit too: the function failed, not the run
            raise TransportError(
                f"model error: {_describe(exc)}", retryable=False, kind="model"
            ) from None
        if value is not None and not isinstance(value, str):
            raise TransportError(
                f"model error: returned {type(value).__name__}, not str",
                retryable=False,
                kind="malformed",
            )
        return Completion(text=value)

    async def aclose(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
