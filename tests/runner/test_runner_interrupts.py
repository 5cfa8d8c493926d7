"""run_sync stops a run on SIGINT at once, whether the run waits for answers or computes
(issue 20, item 10): asyncio alone would only cancel it at its next ``await``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time

import pytest

from tunegate.runner import raise_if_interrupted, run_sync


def interrupt_in(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_sigint_during_synchronous_work_interrupts_it_there() -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    reached: list[str] = []

    async def scoring() -> str:
        await asyncio.sleep(0)
        started = time.monotonic()
        try:
            while time.monotonic() - started < 10:  # CPU work that never awaits
                sum(range(1000))
            reached.append("the end of scoring")
        finally:
            reached.append("cleanup")
        return "SHIP"

    timer = interrupt_in(0.2)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_sync(scoring())
    timer.join()
    assert time.monotonic() - started < 5  # asyncio.run: after the 10 s of work
    assert reached == ["cleanup"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_while_waiting_cancels_the_run_and_raises_keyboard_interrupt() -> None:
    cancelled: list[bool] = []

    async def sending() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    timer = interrupt_in(0.2)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_sync(sending())
    timer.join()
    assert time.monotonic() - started < 5
    assert cancelled == [True]  # the run's own cleanup ran (answers written, backends closed)


def test_a_swallowed_cancellation_still_ends_in_keyboard_interrupt() -> None:
    checked: list[str] = []

    async def stubborn() -> str:
        with contextlib.suppress(asyncio.CancelledError):  # a careless library
            await asyncio.sleep(10)
        try:
            raise_if_interrupted()  # what the pipeline checks before marking a run completed
        except KeyboardInterrupt:
            checked.append("interrupted")
            raise
        return "SHIP"

    timer = interrupt_in(0.2)
    with pytest.raises(KeyboardInterrupt):
        run_sync(stubborn())
    timer.join()
    assert checked == ["interrupted"]


def test_without_a_signal_the_value_comes_back() -> None:
    async def value() -> int:
        await asyncio.sleep(0)
        raise_if_interrupted()
        return 7

    assert run_sync(value()) == 7
