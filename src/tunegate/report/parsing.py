"""How a classification suite's answers became labels, in words (every renderer).

Reads each model's stored ``parsing`` counts (:func:`tunegate.scoring.labels.parse_counts`);
a result stored before they existed shows nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["parsing_heading", "parsing_line", "parsing_lines"]


def parsing_heading(models: Mapping[str, Any]) -> str | None:
    """``Label parsing (rule: word, docs/labels.md)``, or None when no model has counts."""
    rules = [str(p["rule"]) for p in models.values() if isinstance(p, dict) and "rule" in p]
    if not rules:
        return None
    named = ", ".join(dict.fromkeys(rules))
    return f"How answers became labels (rule: {named}; see docs/labels.md)"


def parsing_line(parsing: Any) -> str | None:
    """``38 exact, 2 found by the rule, 5 unparseable (negated 3, several labels 2); 1 failed
    request (nothing to parse)``."""
    if not isinstance(parsing, dict) or "rule" not in parsing:
        return None
    why = parsing.get("why") or {}
    reasons = ", ".join(f"{k} {v}" for k, v in why.items() if v)
    unparseable = f"{parsing.get('unparseable', 0)} unparseable" + (
        f" ({reasons})" if reasons else ""
    )
    failed = parsing.get("failed") or 0
    return (
        f"{parsing.get('exact', 0)} exact, {parsing.get('matched', 0)} found by the rule, "
        + unparseable
        + (
            f"; {failed} failed request{'s' if failed != 1 else ''} (nothing to parse)"
            if failed
            else ""
        )
    )


def parsing_lines(models: Mapping[str, Any]) -> list[str]:
    """The heading, then ``model: counts`` per model (``models``: name -> parsing dict);
    empty when no model has counts."""
    heading = parsing_heading(models)
    if heading is None:
        return []
    lines = [heading]
    for name, parsing in models.items():
        line = parsing_line(parsing)
        if line is not None:
            lines.append(f"{name}: {line}")
    return lines
