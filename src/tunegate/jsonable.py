"""One JSON cleaner for everything tunegate writes as JSON (reports, diffs, plans)."""

from __future__ import annotations

import math
from typing import Any

# Values returned as they are, without a call per value (most of a report's leaves).
_PLAIN = frozenset({str, int, bool, type(None)})


def jsonable(value: Any) -> Any:
    """``value`` with plain JSON types only: tuples become lists, keys strings, and
    undefined numbers (NaN, infinities) ``None`` (``null`` in JSON, never ``NaN``)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {
            (k if type(k) is str else str(k)): (v if type(v) in _PLAIN else jsonable(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [v if type(v) in _PLAIN else jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):  # a float subclass (numpy)
        return None
    return value
