"""Per-replica rows of the models served by several replicas (terminal, Markdown, HTML).

The figures are those of the finished result (``ModelResult.run["replicas"]``, the
same as the JSON report's ``run.replicas``): requests sent to each replica, the errors
among them, how often it was taken out of rotation, and the p50 / p95 latency of its
answers. The three reports build their rows here, from the live result or from the
stored JSON dict, so they agree cell for cell. Nothing is computed here; URLs are
shown redacted (the stored keys already are; they are redacted again regardless).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunegate.secrets import redact

if TYPE_CHECKING:
    from tunegate.results import ModelResult, SuiteResult

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


def run_replica_rows(run: Mapping[str, Any] | None) -> list[list[str]]:
    """One row per replica of a model's ``run`` facts (``ModelResult.run``, or the JSON
    report's ``run`` of a model) in :data:`REPLICA_HEADER` order; none unless the model
    has more than one replica."""
    replicas = run.get("replicas") if isinstance(run, Mapping) else None
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


def replica_rows(model: ModelResult) -> list[list[str]]:
    """:func:`run_replica_rows` of a model of the live result."""
    return run_replica_rows(model.run)


def replicated_models(suite: SuiteResult) -> list[tuple[str, list[list[str]]]]:
    """``(model name, rows)`` for every model of ``suite`` served by several replicas."""
    tables = [(name, replica_rows(m)) for name, m in suite.models.items()]
    return [(name, rows) for name, rows in tables if rows]


def stored_replicated_models(suite: Mapping[str, Any]) -> list[tuple[str, list[list[str]]]]:
    """:func:`replicated_models` of a suite of the stored result (the JSON report's dict)."""
    models = suite.get("models")
    if not isinstance(models, Mapping):
        return []
    tables = [
        (str(name), run_replica_rows(m.get("run") if isinstance(m, Mapping) else None))
        for name, m in models.items()
    ]
    return [(name, rows) for name, rows in tables if rows]
