"""The gate as a JUnit XML report, for CI systems that show test results
(``tunegate run --junit FILE``; docs/ci.md).

One ``<testsuite>`` per suite of the run (in the run's order, the main suite first) and
one ``<testcase>`` per gate criterion, in the suite the criterion is judged on (the main
suite when the criterion names none). A criterion's status maps to:

- ``PASS``: a passing test case (its evidence in ``<system-out>``);
- ``FAIL``: ``<failure type="FAIL">`` with the evidence as the message;
- ``INCONCLUSIVE`` / ``MISSING``: ``<error type="INCONCLUSIVE|MISSING">`` with the reason.
  An undecided criterion is never a pass, and ``<skipped>`` would read as one in most CI
  views (a grey, ignored test): an error keeps it red, apart from the failures.

The run's warnings go to the main suite's ``<system-err>``, the verdict, run id and
candidate to each suite's ``<properties>``. A run without a gate (``--no-gate``) gives
suites without test cases. Text from the data (model errors, names) is written with the
characters XML 1.0 cannot carry replaced by ``?``, so the file always parses.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tunegate.report.files import write_atomic
from tunegate.results import CriterionResult, RunResult
from tunegate.results.wording import interval, num, run_notes

#: Characters XML 1.0 does not allow (even escaped): C0 controls but tab/LF/CR,
#: surrogates, U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

#: How each undecided or failed status is written.
ELEMENT = {"FAIL": "failure", "INCONCLUSIVE": "error", "MISSING": "error"}


def _text(value: str) -> str:
    return _NOT_XML.sub("?", value)


def evidence(c: CriterionResult) -> str:
    """One criterion's evidence in one line: status, estimate, interval, threshold, reason."""
    parts = [f"{c.status}: {c.description}"]
    figures = f"estimate {num(c.estimate)}"
    if c.ci is not None:
        figures += f" {interval(c.ci)}"
    if c.threshold is not None:
        figures += f", threshold {c.threshold:g}"
    parts.append(f"{figures} (judged on {c.judge}{'' if c.n is None else f', n={c.n}'})")
    if c.reason:
        parts.append(c.reason)
    return "; ".join(parts)


def _suite_of(c: CriterionResult, main: str) -> str:
    named = c.criterion.get("suite")
    return named if isinstance(named, str) and named else main


def to_junit(result: RunResult) -> str:
    """The JUnit XML document (with its XML declaration) of ``result``'s gate."""
    criteria = result.gate.criteria if result.gate is not None else []
    grouped: dict[str, list[CriterionResult]] = {s.name: [] for s in result.suites}
    for c in criteria:
        grouped.setdefault(_suite_of(c, result.main.name), []).append(c)
    root = ET.Element("testsuites", name=_text(f"tunegate {result.name}"))
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for name, members in grouped.items():
        suite = ET.SubElement(root, "testsuite", name=_text(name))
        counts = {"tests": len(members), "failures": 0, "errors": 0, "skipped": 0}
        properties = ET.SubElement(suite, "properties")
        facts = {"run_id": result.run_id, "candidate": result.candidate}
        if result.gate is not None:
            facts["verdict"] = result.gate.verdict
        for fact, said in facts.items():
            ET.SubElement(properties, "property", name=fact, value=_text(said))
        for c in members:
            case = ET.SubElement(
                suite, "testcase", name=_text(c.description), classname=_text(f"tunegate.{name}")
            )
            text = _text(evidence(c))
            tag = ELEMENT.get(c.status)
            if tag is None:
                ET.SubElement(case, "system-out").text = text
                continue
            counts["failures" if tag == "failure" else "errors"] += 1
            ET.SubElement(case, tag, message=text, type=c.status).text = text
        if name == result.main.name:
            notes = run_notes(result)
            if notes:
                ET.SubElement(suite, "system-err").text = _text("\n".join(notes))
        for key, count in counts.items():
            suite.set(key, str(count))
        for key in totals:
            totals[key] += counts[key]
    for key, count in totals.items():
        root.set(key, str(count))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: RunResult, path: str | Path) -> Path:
    """Write the JUnit XML report (creating folders); return the path."""
    return write_atomic(path, to_junit(result))
