"""A run from start to end: load -> send -> score -> evaluate -> gate -> store the result
(:mod:`~tunegate.pipeline.flow`), with the checks before anything is sent
(:mod:`~tunegate.pipeline.preflight`), the suites' data
(:mod:`~tunegate.pipeline.suites`), the run's facts (:mod:`~tunegate.pipeline.facts`) and
the link to a human study (:mod:`~tunegate.pipeline.human_link`).

``from tunegate.pipeline import RunOptions, run, arun`` keeps working; the names load
on first use, so importing one of the package's light modules does not import the run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunegate.pipeline.evaluating import evaluate_run, evaluate_suite
    from tunegate.pipeline.flow import RunOptions, arun, run

__all__ = ["RunOptions", "arun", "evaluate_run", "evaluate_suite", "run"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        home = "evaluating" if name.startswith("evaluate_") else "flow"
        value = getattr(importlib.import_module(f"tunegate.pipeline.{home}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tunegate.pipeline' has no attribute {name!r}")
