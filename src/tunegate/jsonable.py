"""One JSON cleaner for everything tunegate writes as JSON (reports, diffs, plans)."""

from __future__ import annotations

import math
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` with plain JSON types only: tuples become lists, keys strings, and
    undefined numbers (NaN, infinities) ``None`` (``null`` in JSON, never ``NaN``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
