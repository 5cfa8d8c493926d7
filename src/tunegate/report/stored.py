"""Reports of a stored run: the result kept with the run (a JSON dict) back into files.

``tunegate report`` renders from what the run stored, never by re-running or
re-scoring; :func:`result_from_dict` reads the typed result back from its own JSON form
(``RunResult.model_validate``) so the Markdown renderer can take it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tunegate.errors import DataError
from tunegate.report.files import write_atomic
from tunegate.results import RunResult, read_result


def result_from_dict(data: dict[str, Any]) -> RunResult:
    """A :class:`RunResult` from its JSON form (``tunegate run --json``, the stored result);
    a bad stored result is a :class:`DataError` naming the key."""
    return read_result(data)


def write_stored_reports(
    result: dict[str, Any],
    *,
    against: dict[str, Any] | None = None,
    html: Path | None = None,
    json_path: Path | None = None,
    markdown: Path | None = None,
) -> list[tuple[str, Path]]:
    """Write the requested reports of a stored ``result``; ``against`` (an earlier run's
    result) adds what changed since it to the HTML report. Returns (kind, path) pairs."""
    written: list[tuple[str, Path]] = []
    if html is not None:
        from tunegate.report.html import write_html

        diff = None
        if against is not None:
            from tunegate.history.diff import diff_results

            diff = diff_results(
                against,
                result,
                confidence=float(result.get("confidence") or 0.95),
                seed=int(result.get("seed") or 0),
            ).to_dict()
        written.append(("HTML", write_html(result, html, diff)))
    if json_path is not None:
        text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        written.append(("JSON", write_atomic(json_path, text)))
    if markdown is not None:
        from tunegate.report.markdown import write_markdown

        if not result.get("suites"):
            raise DataError("the stored result has no suites: nothing to report")
        written.append(("Markdown", write_markdown(result_from_dict(result), markdown)))
    return written
