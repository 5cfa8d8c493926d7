"""Where a run's answers came from: fresh from the model, or reused from earlier runs.

A reused answer describes the model as it was when that earlier run asked it. The
summary says per model how many answers were reused, from which run(s) and how
long ago, so that a verdict on a changed model never passes for a fresh one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tunegate.data.response import Response
from tunegate.store import Store


def _age_s(started_at: str, now: datetime) -> float | None:
    try:
        then = datetime.fromisoformat(started_at)
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


def cache_summary(
    reused: int, fresh: int, from_runs: dict[str, int], store: Store, now: datetime
) -> dict[str, Any]:
    """``{reused, fresh, from_runs: [{run_id, started_at, answers, age_s}]}`` (newest first)."""
    runs = []
    for run_id, answers in from_runs.items():
        try:
            started_at: str | None = store.get_run(run_id).started_at
        except Exception:  # the origin run is gone (another store, a deleted row)
            started_at = None
        age = _age_s(started_at, now) if started_at else None
        runs.append({"run_id": run_id, "started_at": started_at, "answers": answers, "age_s": age})
    runs.sort(key=lambda r: (r["started_at"] or "", r["run_id"]), reverse=True)
    return {"reused": reused, "fresh": fresh, "from_runs": runs}


def served_by_change(model: str, responses: Sequence[Response]) -> str | None:
    """A warning when reused answers were served by another model or system fingerprint
    (as the OpenAI-compatible endpoint reported them) than this run's fresh answers."""

    def served(r: Response) -> tuple[str | None, str | None] | None:
        extra = r.extra or {}
        if "served_model" not in extra and "system_fingerprint" not in extra:
            return None
        return extra.get("served_model"), extra.get("system_fingerprint")

    old = {s for r in responses if r.ok and r.cached and (s := served(r)) is not None}
    new = {s for r in responses if r.ok and not r.cached and (s := served(r)) is not None}
    if not old or not new or old == new:
        return None

    def show(pairs: set[tuple[str | None, str | None]]) -> str:
        return ", ".join(sorted(f"{m or '?'}" + (f" ({fp})" if fp else "") for m, fp in pairs))

    return (
        f"{model}: the endpoint now serves {show(new)}, but the reused answers came from "
        f"{show(old)}; run with --no-cache {model} to ask every case again"
    )
