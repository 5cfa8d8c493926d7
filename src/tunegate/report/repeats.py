"""Rows of the repeated-sampling table (``repeats: k``) for the terminal and Markdown
reports, read from each model's ``repeats`` (the JSON report's ``models.*.repeats``).

Nothing is computed here: the figures and their intervals (cluster bootstrap over
cases) come with the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunegate.results import SuiteResult

#: The columns of the repeats table.
REPEAT_HEADER = ["model", "k", "cases", "mean pass", "pass@k", "pass^k", "flaky", "missing"]
_COLUMNS = ("mean", "pass_at_k", "pass_all_k", "flakiness")


def _figure(entry: Any) -> str:
    if not isinstance(entry, Mapping) or entry.get("value") is None:
        return "n/a"
    text = f"{float(entry['value']):.3f}"
    ci = entry.get("ci")
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        text += f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return text


def repeat_rows(suite: SuiteResult) -> list[list[str]]:
    """One row per model asked each case several times, in :data:`REPEAT_HEADER` order;
    none when every model answered each case once."""
    return stored_repeat_rows({name: m.repeats for name, m in suite.models.items()})


def stored_repeat_rows(models: Mapping[str, Any]) -> list[list[str]]:
    """:func:`repeat_rows` from each model's stored ``repeats`` (the JSON's
    ``models.*.repeats``, as the HTML report reads them)."""
    rows = []
    for name, rep in models.items():
        if not isinstance(rep, Mapping) or not rep:
            continue
        metrics = rep.get("metrics") or {}
        missing = int(rep.get("missing_cases") or 0)
        rows.append(
            [
                name,
                str(rep.get("k")),
                str(rep.get("complete_cases")),
                *(_figure(metrics.get(c)) for c in _COLUMNS),
                f"{missing} cases" if missing else "0",
            ]
        )
    return rows


#: Said under the table: what the figures are and how their intervals were made.
REPEAT_NOTE = (
    "Each case asked k times: mean pass = the mean share of a case's answers that pass; "
    "pass@k = any passes; pass^k = all pass; flaky = the outcome differs between repeats. "
    "Intervals resample cases (a cluster bootstrap), never single answers; a case with a "
    "missing answer is left out and counted."
)
