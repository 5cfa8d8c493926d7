"""The ``tunegate`` command: thin typer commands over the library.

One module per command group: ``run`` (run, demo, validate, check-data), ``stored``
(runs, cache, diff, plan, report), ``tunegate.human.cli`` (human); ``base`` holds
what they share. Heavy imports stay inside the commands so ``tunegate --help`` is fast.
"""

from __future__ import annotations

import gc
import os
import sys

from tunegate.cli.base import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    _fail,
    _load,
    _Sigterm,
    app,
    err,
    out,
    split_no_cache,
)
from tunegate.human.cli import human_app  # light: heavy imports inside commands

app.add_typer(human_app, name="human")

from tunegate.cli import run as _run_commands  # noqa: E402  (registers its commands)
from tunegate.cli import stored as _stored_commands  # noqa: E402  (registers its commands)
from tunegate.cli.progress import ProgressBars  # noqa: E402
from tunegate.cli.run import check_data, demo, run_cmd, validate  # noqa: E402
from tunegate.cli.stored import cache_app, cache_clear, diff_cmd, plan, report, runs  # noqa: E402

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "ProgressBars",
    "_Sigterm",
    "_fail",
    "_load",
    "_run_commands",
    "_stored_commands",
    "app",
    "cache_app",
    "cache_clear",
    "check_data",
    "demo",
    "diff_cmd",
    "err",
    "main",
    "out",
    "plan",
    "report",
    "run_cmd",
    "runs",
    "split_no_cache",
    "validate",
]


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        app(args=split_no_cache(sys.argv[1:]), prog_name="tunegate")
    except KeyboardInterrupt:
        err.print(_Sigterm.message())
        sys.exit(_Sigterm.exit_code())
    finally:
        # The work is done and written: exempt everything alive from the garbage
        # collector, whose passes over a big run's objects made interpreter shutdown
        # take up to a second (reference counting still frees what it can).
        gc.freeze()
