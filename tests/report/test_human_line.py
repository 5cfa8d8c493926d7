"""The one-line human-study message (terminal, Markdown, the gate's reason, the HTML
judgment section) says how many votes were both bad or skipped: they are in no
preference, and a reader must not take the vote count for all the votes."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from test_currency_and_units import _result

from tunegate.config import GateConfig
from tunegate.gate.criteria import evaluate_gate
from tunegate.report.html import render_html
from tunegate.report.json_report import to_json
from tunegate.report.judges import human_line
from tunegate.report.markdown import to_markdown
from tunegate.results import RunResult


def _human(both_bad: int, skipped: int) -> dict[str, Any]:
    return {
        "study": "s",
        "n_items": 24,
        "n_items_voted": 20,
        "n_votes": 40 + both_bad + skipped,
        "n_both_bad": both_bad,
        "n_skipped": skipped,
        "preference": {
            "candidate": "tuned",
            "baseline": "base",
            "win_rate": {"value": 0.6, "ci": [0.45, 0.75]},
            "wins": 20,
            "ties": 8,
            "losses": 12,
            "n_votes": 40,
            "both_bad": both_bad,
            "skipped": skipped,
        },
        "agreement": {"fleiss": {"value": 0.5, "ci": [0.3, 0.7]}, "n_items": 20},
    }


def _run(tmp_path: Path, both_bad: int, skipped: int) -> RunResult:
    result = copy.copy(
        _result(tmp_path, {"tuned": {"input_per_1m": 1}, "base": {"input_per_1m": 1}})
    )
    result.human = _human(both_bad, skipped)
    return result


def test_the_line_counts_both_bad_and_skipped_votes(tmp_path: Path) -> None:
    result = _run(tmp_path, 3, 2)
    line = human_line(result)
    assert line is not None
    assert "over 40 votes (and 3 both bad, 2 skipped); Fleiss' kappa 0.500" in line
    assert "over 40 votes (and 3 both bad, 2 skipped)" in to_markdown(result)
    gate = evaluate_gate(
        result,
        GateConfig.model_validate({"criteria": [{"metric": "human_preference", "min": 0.5}]}),
    )
    assert gate.criteria[0].reason.startswith(
        "study s: 20 wins, 8 ties, 12 losses over 40 votes (and 3 both bad, 2 skipped), "
    )
    page = " ".join(re.sub(r"<[^>]+>", " ", render_html(to_json(result))).split())
    assert "45 votes (3 both bad, 2 skipped among them) on 20 of 24 items" in page


def test_without_such_votes_the_line_stays_short(tmp_path: Path) -> None:
    result = _run(tmp_path, 0, 0)
    line = human_line(result)
    assert line is not None
    assert "over 40 votes; Fleiss' kappa" in line
    assert "both bad" not in line
    only_skips = human_line(_run(tmp_path, 0, 4))
    assert only_skips is not None
    assert "over 40 votes (and 4 skipped);" in only_skips
