"""Sequential evaluation: the order cases are sent in and the looks.

Cases go out in a seeded random order stratified by category (each category spread
evenly over the order, so per-category criteria fill at the same pace), in looks of
``look_every`` cases; after each look the pipeline asks the gate whether the verdict is
settled. :func:`merge_runs` joins a look's answers to those before it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from tunegate.data import Case
from tunegate.runner.records import ModelRun, ModelRunStats


def stratified_order(cases: Sequence[Case], seed: int) -> list[Case]:
    """``cases`` in a seeded random order where every category is spread evenly: the
    j-th of a category's ``m`` cases (shuffled) sits at ``(j + u) / m`` of the way, ``u``
    one random offset per category."""
    rng = random.Random(seed)
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.category or "", []).append(case)
    keyed: list[tuple[float, float, Case]] = []
    for name in sorted(groups):
        members = list(groups[name])
        rng.shuffle(members)
        offset = rng.random()
        keyed += [((j + offset) / len(members), rng.random(), c) for j, c in enumerate(members)]
    keyed.sort(key=lambda x: (x[0], x[1]))
    return [c for _, _, c in keyed]


def look_sizes(n: int, look_every: int) -> list[int]:
    """The case counts at the looks: every ``look_every`` cases, the last at ``n``."""
    if n <= 0:
        return []
    sizes = list(range(look_every, n, look_every))
    return [*sizes, n]


def merge_runs(before: dict[str, ModelRun], look: dict[str, ModelRun]) -> dict[str, ModelRun]:
    """Each model's answers of the looks so far, in the order sent, with summed stats."""
    out = dict(before)
    for name, new in look.items():
        old = before.get(name)
        if old is None:
            out[name] = new
            continue
        a, b = old.stats, new.stats
        from_runs = dict(a.from_runs)
        for run, n in b.from_runs.items():
            from_runs[run] = from_runs.get(run, 0) + n
        stats = ModelRunStats(
            total=a.total + b.total,
            cached=a.cached + b.cached,
            sent=a.sent + b.sent,
            errors=a.errors + b.errors,
            retries=a.retries + b.retries,
            wall_s=a.wall_s + b.wall_s,
            stopped=a.stopped or b.stopped,
            from_runs=from_runs,
            replicas=b.replicas or a.replicas,
            batch=_merge_batches(a.batch, b.batch),
        )
        out[name] = ModelRun(
            name, [*old.responses, *new.responses], stats, [*old.repeats, *new.repeats]
        )
    return out


def _merge_batches(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """The batch statistics of two looks together (batch ids listed, counts summed)."""
    if a is None or b is None:
        return a or b
    return {
        key: [*a.get(key, []), *b.get(key, [])]
        if isinstance(a.get(key), list)
        else a.get(key, 0) + b.get(key, 0)
        for key in dict.fromkeys([*a, *b])
    }
