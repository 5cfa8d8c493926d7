"""tunegate.models.callable_fn: a Python callable as a backend (sync on a private thread pool,
async awaited), its errors kept as the case's error, never retried."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tunegate.data import Case
from tunegate.models.base import TransportError
from tunegate.models.callable_fn import CallableBackend


async def _send(backend: CallableBackend, text: str) -> str | None:
    request = backend.render(Case(id="c", text=text, reference="r"))
    assert request == {"input": text}
    return (await backend.send(request)).text


async def test_a_sync_function_runs_on_the_backends_own_threads() -> None:
    seen: list[str] = []

    def upper(prompt: str) -> str:
        seen.append(threading.current_thread().name)
        return prompt.upper()

    backend = CallableBackend("m", upper, concurrency=2, timeout=None)
    await backend.start()
    try:
        answers = await asyncio.gather(*(_send(backend, f"x{i}") for i in range(6)))
    finally:
        await backend.aclose()
    assert answers == [f"X{i}" for i in range(6)]
    assert all(name.startswith("tunegate-m") for name in seen)
    assert len(set(seen)) <= 2
    assert backend.max_retries == 0
    assert backend.identity() == {
        "type": "callable",
        "function": "test_a_sync_function_runs_on_the_backends_own_threads.<locals>.upper",
    }


async def test_async_functions_and_lambdas_returning_coroutines() -> None:
    async def echo(prompt: str) -> str:
        await asyncio.sleep(0)
        return prompt + "!"

    for fn in (echo, lambda p: echo(p)):
        backend = CallableBackend("m", fn, timeout=None)
        await backend.start()
        try:
            assert await _send(backend, "hi") == "hi!"
        finally:
            await backend.aclose()


async def test_errors_and_wrong_return_types_are_not_retryable() -> None:
    def boom(prompt: str) -> str:
        raise KeyError("missing")

    backend = CallableBackend("m", boom, timeout=None)
    await backend.start()
    with pytest.raises(TransportError) as info:
        await _send(backend, "x")
    assert str(info.value) == "model error: KeyError: 'missing'"
    assert (info.value.retryable, info.value.kind) == (False, "model")
    number = CallableBackend("m", lambda p: 3, timeout=None)
    await number.start()
    with pytest.raises(TransportError, match="returned int, not str") as info:
        await _send(number, "x")
    assert info.value.kind == "malformed"
    await backend.aclose()
    await number.aclose()

    def quits(prompt: str) -> str:
        raise SystemExit(0)  # a failed request, never the end of the run

    leaving = CallableBackend("m", quits, timeout=None)
    await leaving.start()
    with pytest.raises(TransportError) as info:
        await _send(leaving, "x")
    assert str(info.value) == "model error: SystemExit: 0"
    assert info.value.kind == "model"
    await leaving.aclose()
    none = CallableBackend("m", lambda p: None, timeout=None)
    await none.start()
    assert await _send(none, "x") is None
    await none.aclose()


def test_concurrency_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="concurrency must be at least 1, got 0"):
        CallableBackend("m", str, concurrency=0, timeout=None)
