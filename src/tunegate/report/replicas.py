"""Per-replica rows of the models served by several replicas (terminal and Markdown).

The figures are those of the finished result (``ModelResult.run["replicas"]``, the
same as the JSON report): requests sent to each replica, the errors among them, how
often it was taken out of rotation, and the p50 / p95 latency of its answers.
Nothing is computed here; URLs are shown redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunegate.results import ModelResult, SuiteResult
from tunegate.secrets import redact

#: The columns of a replica table.
REPLICA_HEADER = ["replica", "requests", "errors", "taken out", "p50 ms", "p95 ms"]


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "—"


def _ms(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:.0f}"


def _errors(stats: Mapping[str, Any]) -> str:
    errors, requests = stats.get("errors"), stats.get("requests")
    text = _count(errors)
    if text != "—" and isinstance(requests, int) and requests > 0 and errors:
        text += f" ({errors / requests:.1%})"
    return text


def replica_rows(model: ModelResult) -> list[list[str]]:
    """One row per replica in :data:`REPLICA_HEADER` order; none unless the model has
    more than one replica."""
    replicas = model.run.get("replicas")
    if not isinstance(replicas, Mapping) or len(replicas) < 2:
        return []
    rows = []
    for url, stats in replicas.items():
        stats = stats if isinstance(stats, Mapping) else {}
        rows.append(
            [
                redact(str(url)),
                _count(stats.get("requests")),
                _errors(stats),
                _count(stats.get("taken_out")),
                _ms(stats.get("latency_ms_p50")),
                _ms(stats.get("latency_ms_p95")),
            ]
        )
    return rows


def replicated_models(suite: SuiteResult) -> list[tuple[str, list[list[str]]]]:
    """``(model name, rows)`` for every model of ``suite`` served by several replicas."""
    tables = [(name, replica_rows(m)) for name, m in suite.models.items()]
    return [(name, rows) for name, rows in tables if rows]
