"""A run's history: what changed since an earlier run (:mod:`~tunegate.history.diff`) and
what sample size a stored run's gate would need (:mod:`~tunegate.history.plan`).

Both read the result a finished run stores (``meta["result"]``; look runs up with
:func:`tunegate.store.resolve_run` / :func:`tunegate.store.load_run_result`).
"""

from __future__ import annotations

from tunegate.history.changes import (
    CaseChanges,
    CaseExample,
    CategoryChange,
    MetricChange,
    ModelDiff,
    RunDiff,
    RunSide,
    SuiteDiff,
)
from tunegate.history.diff import diff_results
from tunegate.history.plan import PlanRow, plan_from_result

__all__ = [
    "CaseChanges",
    "CaseExample",
    "CategoryChange",
    "MetricChange",
    "ModelDiff",
    "PlanRow",
    "RunDiff",
    "RunSide",
    "SuiteDiff",
    "diff_results",
    "plan_from_result",
]
