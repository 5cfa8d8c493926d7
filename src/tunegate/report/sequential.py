"""The sentence a sequential run's reports lead with: where it stopped and why, what
was not sent (read from the result's ``sequential``; nothing is computed here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunegate.results.units import money


def sequential_lines(info: Mapping[str, Any] | None) -> list[str]:
    """``decided after 240 of 1,000 cases (look 5 of 20): SHIP; 760 cases not sent,
    about 0.42 USD and 3 minutes saved`` and the method; none for a fixed-size run."""
    if not info:
        return []
    used, total = int(info.get("cases_used") or 0), int(info.get("cases_total") or 0)
    looks, planned = info.get("looks"), info.get("looks_planned")
    decision = info.get("decision") or "no verdict"
    unsent = total - used
    if unsent > 0:
        head = f"decided after {used:,} of {total:,} cases (look {looks} of {planned}): {decision}"
        saved = []
        cost = info.get("saved_cost")
        if isinstance(cost, int | float):
            saved.append(money(cost, info.get("saved_cost_currency")))
        by_currency = info.get("saved_cost_by_currency")
        if isinstance(by_currency, Mapping):  # never added across currencies
            saved.append(" + ".join(money(v, str(c)) for c, v in by_currency.items()))
        seconds = info.get("saved_seconds")
        if isinstance(seconds, int | float):
            saved.append(f"{seconds / 60:,.1f} minutes" if seconds >= 60 else f"{seconds:.0f} s")
        tail = f"; {unsent:,} cases not sent"
        if saved:
            tail += ", about " + " and ".join(saved) + " saved"
        head += tail
    else:
        head = f"all {total:,} cases sent (look {looks} of {planned}): {decision}"
    why = str(info.get("stopped_because") or "")
    bound = info.get("boundary")
    level = info.get("confidence_at_stop")
    method = (
        f"{info.get('method')}: intervals at the look's boundary z = {float(bound):.2f}"
        f" ({float(level):.4%} two-sided), in a {info.get('case_order')}"
        if isinstance(bound, int | float) and isinstance(level, int | float)
        else str(info.get("method") or "")
    )
    return [f"Sequential: {head}", f"Why: {why}" if why else "", method]
