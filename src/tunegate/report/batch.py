"""The line each report says about a model asked through a provider's batch API
(``batch: true``), read from the model's ``batch`` (JSON ``models.<name>.batch``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunegate.results import RunResult

_PRICE = {"50% of the token rates": "50% price", "batch rates given": "batch price"}


def batch_line(name: str, batch: Mapping[str, Any]) -> str:
    """``tuned: batched: 1 batch, 200 requests, 50% price`` (and what failed or resumed)."""
    n = len(batch.get("batches") or [])
    parts = [
        f"{n} batch" + ("" if n == 1 else "es"),
        f"{int(batch.get('requests') or 0):,} requests",
    ]
    if batch.get("failed"):
        parts.append(f"{int(batch['failed']):,} failed")
    resumed = len(batch.get("resumed") or [])
    if resumed:
        parts.append(f"{resumed} resumed from an earlier run")
    price = _PRICE.get(str(batch.get("price")))
    if price:
        parts.append(price)
    return f"{name}: batched: " + ", ".join(parts)


def batch_lines(result: RunResult) -> list[str]:
    """A line per batched model of the main suite."""
    return [batch_line(n, m.batch) for n, m in result.main.models.items() if m.batch]


def batch_lines_of(document: Mapping[str, Any]) -> list[str]:
    """:func:`batch_lines` from the JSON document (the HTML report's input)."""
    suites = document.get("suites") or [{}]
    models = suites[0].get("models") or {}
    return [batch_line(n, m["batch"]) for n, m in models.items() if m.get("batch")]
