"""Reading a stored result that may come from another tunegate version.

:func:`tunegate.results.read_result` reads a whole result strictly; a diff must also
compare results that lack parts (older versions, hand-edited files), so these readers
take any JSON value and give the part or an empty/None stand-in, and the diff notes
what was missing instead of failing.
"""

from __future__ import annotations

import math
from typing import Any

from tunegate.history.changes import RunSide


def dict_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def list_of(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def float_of(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def int_of(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def str_of(value: Any) -> str | None:
    return None if value is None else str(value)


def ci_of(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    lo, hi = float_of(value[0]), float_of(value[1])
    return None if lo is None or hi is None else (lo, hi)


def estimate_of(value: Any) -> tuple[float | None, tuple[float, float] | None]:
    """``{"value": x, "ci": [lo, hi]}`` (or a bare number) as ``(value, ci)``."""
    if isinstance(value, dict):
        return float_of(value.get("value")), ci_of(value.get("ci"))
    return float_of(value), None


def delta_of(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def side_of(result: dict[str, Any]) -> RunSide:
    return RunSide(
        run_id=str_of(result.get("run_id")),
        name=str_of(result.get("name")),
        candidate=str_of(result.get("candidate")),
        baselines=[str(b) for b in list_of(result.get("baselines"))],
        confidence=float_of(result.get("confidence")),
    )


def suites_by_name(
    result: dict[str, Any], label: str, notes: list[str]
) -> dict[str, dict[str, Any]]:
    """The run's suites by name (first one wins on a duplicate name)."""
    if "suites" not in result:
        notes.append(f"run {label} stored no suites (its result predates per-suite results)")
    suites: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(list_of(result.get("suites"))):
        suite = dict_of(raw)
        name = str_of(suite.get("name")) or f"#{i + 1}"
        if name in suites:
            notes.append(f"run {label} has suite {name!r} twice; the first one is compared")
            continue
        suites[name] = suite
    return suites


def model_names(suite: dict[str, Any]) -> list[str]:
    """Models of a suite: its ``models`` summary, then any model seen only in its cases."""
    names = [str(m) for m in dict_of(suite.get("models"))]
    for case in list_of(suite.get("cases")):
        model = str_of(dict_of(case).get("model"))
        if model is not None and model not in names:
            names.append(model)
    return names
