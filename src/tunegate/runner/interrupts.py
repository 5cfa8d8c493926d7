"""Running a whole run's coroutine from synchronous code, interruptible at any moment.

A run is one asyncio task that waits for answers (the runner's I/O) and does long
synchronous work in between (scoring, statistics, the reports a caller writes before the
run is marked completed). ``asyncio.run`` turns Ctrl-C into a cancellation of its task,
which only lands at the task's next ``await``: during scoring that is after scoring, and
a run interrupted there went on to its verdict. :func:`run_sync` handles SIGINT itself:

* while the run's task waits (requests in flight), it is cancelled, as ``asyncio.run``
  does: every worker stops sending, answers received so far are written, backends close;
* while the run's task is running synchronous code, ``KeyboardInterrupt`` is raised right
  there, as Python does outside asyncio;
* a second signal raises ``KeyboardInterrupt`` at once.

Either way the exception reaches the caller as ``KeyboardInterrupt``, and
:func:`raise_if_interrupted` lets code that must not complete after a signal check for one
that a cancellation did not deliver.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable
from types import FrameType
from typing import TypeVar

__all__ = ["raise_if_interrupted", "run_sync"]

T = TypeVar("T")


class _Watch:
    """SIGINT while one :func:`run_sync` call runs (on the main thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task[None] | None = None
        self.signals = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        task = self.task
        if self.signals > 1 or task is None or task.done():
            raise KeyboardInterrupt
        if asyncio.current_task(self.loop) is task:
            # The run's own synchronous work (scoring, statistics, reports): stop it now.
            raise KeyboardInterrupt
        # The run waits for I/O: cancel it (the cancellation stops every worker cleanly),
        # and wake the loop if it sleeps in select().
        task.cancel()
        self.loop.call_soon_threadsafe(lambda: None)


#: The watch of the run_sync call running on the main thread, if any.
_ACTIVE: list[_Watch] = []


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT arrived during the current :func:`run_sync`
    (for a step that must not complete after one, such as marking a run completed)."""
    if _ACTIVE and _ACTIVE[-1].signals:
        raise KeyboardInterrupt


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` on a new event loop and return its value; SIGINT (on the main
    thread, when nobody else handles it) interrupts it at any moment with
    ``KeyboardInterrupt`` (see the module docstring).

    The value is not the result of the loop's main task: Python's ``signal.signal``
    formats the handler it replaces into an error message it discards, and asyncio's
    handler holds the main task, whose repr includes its result (the repr of a whole
    run's result took ~0.1 s at 5,000 cases)."""
    box: list[T] = []
    with asyncio.Runner() as runner:
        watch = _Watch(runner.get_loop())

        async def main() -> None:
            watch.task = asyncio.current_task()
            box.append(await awaitable)

        install = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if install:
            try:
                signal.signal(signal.SIGINT, watch.handle)
            except ValueError:  # an interpreter without signals on this thread
                install = False
        if install:
            _ACTIVE.append(watch)
        try:
            runner.run(main())
        except asyncio.CancelledError:
            if watch.signals:
                raise KeyboardInterrupt from None
            raise
        finally:
            if install:
                _ACTIVE.remove(watch)
                if signal.getsignal(signal.SIGINT) == watch.handle:
                    signal.signal(signal.SIGINT, signal.default_int_handler)
    if watch.signals:  # a cancellation swallowed on the way: the run did not finish
        raise KeyboardInterrupt
    return box[0]
