"""GitHub Actions output: workflow-command annotations and the job's step summary
(``tunegate run --github-annotations``; ``GITHUB_STEP_SUMMARY``; docs/ci.md).

Annotations follow GitHub's workflow-command rules: one line each,
``::LEVEL title=TITLE::MESSAGE``, where the message escapes ``%``, ``\\r`` and ``\\n``
(``%25``, ``%0D``, ``%0A``) and a property value also ``:`` and ``,`` (``%3A``,
``%2C``). Text from the data cannot start another command: it never contains a line
break once escaped.

Levels: the verdict is ``notice`` for SHIP and ``error`` otherwise (the job fails on the
exit code); a FAIL criterion is an ``error``; an INCONCLUSIVE or MISSING one a
``warning`` (undecided: it holds the verdict back without being a failure); each warning
of the run is a ``warning``.
"""

from __future__ import annotations

from pathlib import Path

from tunegate.report.junit import evidence
from tunegate.report.markdown import to_markdown
from tunegate.results import RunResult
from tunegate.results.wording import run_notes

_LEVEL = {"FAIL": "error", "INCONCLUSIVE": "warning", "MISSING": "warning"}


def escape_data(text: str) -> str:
    """A workflow command's message: ``%``, ``\\r``, ``\\n`` escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: the message escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, title: str | None = None) -> str:
    """One workflow command line (without its line break)."""
    props = "" if title is None else f" title={escape_property(title)}"
    return f"::{level}{props}::{escape_data(message)}"


def annotation_lines(result: RunResult) -> list[str]:
    """The annotation lines of ``result``: the verdict, each failed or undecided
    criterion, each warning of the run."""
    lines: list[str] = []
    gate = result.gate
    if gate is not None:
        level = "notice" if gate.verdict == "SHIP" else "error"
        lines.append(command(level, gate.reason, f"tunegate {result.name}: {gate.verdict}"))
        for c in gate.criteria:
            if c.status in _LEVEL:
                title = f"tunegate {c.status}: {c.description}"
                lines.append(command(_LEVEL[c.status], evidence(c), title))
    lines += [command("warning", note, "tunegate warning") for note in run_notes(result)]
    return lines


def append_step_summary(result: RunResult, path: str | Path) -> Path:
    """Append the Markdown report to the job's step summary file (``GITHUB_STEP_SUMMARY``:
    GitHub appends each step's Markdown, so this never replaces what is there)."""
    target = Path(path)
    with target.open("a", encoding="utf-8") as fh:
        fh.write(to_markdown(result).rstrip("\n") + "\n\n")
    return target
