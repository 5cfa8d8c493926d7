"""A failing judge is never silent (issue 20): its error rate is in the result, warned about
in every report, leaves the criteria resting on it undecided, and a suite judged only by a
judge is gated on the judge's metric, not on an implicit exact_match."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.config import parse_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.results import RunResult

# The candidate answers briefly, the baseline rambles; the judge prefers the shorter
# answer and gives no verdict on questions marked "bad" (both orders).
MODELS = """
def tuned(text):
    return "short"


def base(text):
    return "a much longer answer to " + text


def pairwise(case):
    seen = case.metadata["judged"]
    if "bad" in seen["input"]:
        return "Both have merits; I cannot decide."
    shorter_a = len(seen["output_a"]) < len(seen["output_b"])
    return "The shorter one is better.\\nVerdict: " + ("A" if shorter_a else "B")


def pointwise(case):
    seen = case.metadata["judged"]
    if "bad" in seen["input"]:
        return "No idea."
    return "Verdict: " + ("5" if seen["output"] == "short" else "2")
"""


def _project(tmp_path: Path, n_cases: int, n_bad: int) -> None:
    (tmp_path / "jmodels.py").write_text(textwrap.dedent(MODELS), encoding="utf-8")
    with (tmp_path / "qa.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n_cases):
            text = f"question {i}" + (" bad" if i < n_bad else "")
            fh.write(json.dumps({"id": f"q{i}", "text": text, "label": "short"}) + "\n")


def _config(tmp_path: Path, scorer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    kind = "pairwise" if scorer["type"] == "pairwise_judge" else "pointwise"
    config: dict[str, Any] = {
        "name": "judge-errors",
        "store": str(tmp_path / "t.db"),
        "bootstrap": 500,
        "dataset": {"path": "qa.jsonl"},
        "task": {"type": "generation", "scorers": [scorer]},
        "models": {
            "tuned": {"type": "python", "function": "jmodels:tuned"},
            "base": {"type": "python", "function": "jmodels:base"},
            "grader": {"type": "python", "function": f"jmodels:{kind}"},
        },
        "compare": {"candidate": "tuned", "baselines": ["base"]},
    }
    config.update(extra)
    return config


def _run(tmp_path: Path, config: dict[str, Any]) -> RunResult:
    path = tmp_path / "tunegate.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return run(parse_config(config, source=path), RunOptions(), config_dir=tmp_path)


PAIRWISE = {"type": "pairwise_judge", "judge": "grader"}
POINTWISE = {"type": "judge", "judge": "grader", "scale": "1-5"}
WARNING = (
    "main: pairwise judge grader gave no verdict on 34 of 60 calls (56.7%, above the 1% limit)"
)


def test_a_failing_pairwise_judge_is_warned_about_in_every_report(tmp_path: Path) -> None:
    # The run: the judge failed on 17 of 30 cases (both orders: 34 of 60 calls).
    _project(tmp_path, 30, 17)
    (tmp_path / "tunegate.yaml").write_text(
        yaml.safe_dump(_config(tmp_path, PAIRWISE)), encoding="utf-8"
    )
    out = tmp_path / "out"
    done = CliRunner(env={"COLUMNS": "400"}).invoke(
        app,
        [
            "run",
            str(tmp_path / "tunegate.yaml"),
            "--json",
            str(out / "r.json"),
            "--markdown",
            str(out / "r.md"),
            "--html",
            str(out / "r.html"),
        ],
    )
    assert done.exit_code == 3, done.output  # INCONCLUSIVE, not SHIP
    assert WARNING in done.output
    data = json.loads((out / "r.json").read_text())
    assert any(WARNING in w for w in data["warnings"])
    assert WARNING in (out / "r.md").read_text()
    assert WARNING in (out / "r.html").read_text()
    # The judge's health is part of its summary, for the gate and for readers.
    entry = data["suites"][0]["judges"]["judges"][0]
    assert entry["judge_errors"] == {
        "calls": 60,
        "failed": 34,
        "rate": pytest.approx(34 / 60),
        "limit": 0.01,
        "over_limit": True,
    }
    # The suite's only scorer is the judge: its metric leads and the default gate uses it.
    assert data["suites"][0]["primary_metric"] == "judge_preference"
    first = data["gate"]["criteria"][0]
    assert first["description"] == "judge_preference vs base >= 0.49"
    assert first["status"] == "INCONCLUSIVE"
    assert "pairwise judge grader gave no verdict on 34 of 60 calls" in first["reason"]
    assert not any("exact_match" in c["description"] for c in data["gate"]["criteria"])


def test_judge_criteria_are_undecided_over_the_limit_and_judged_within_it(
    tmp_path: Path,
) -> None:
    _project(tmp_path, 30, 17)
    preference = {"metric": "judge_preference", "vs": "base", "min": 0.5}
    # A custom gate without any error-rate criterion: the judge criterion itself says so.
    result = _run(tmp_path, _config(tmp_path, PAIRWISE, gate={"criteria": [preference]}))
    assert result.gate is not None
    crit = result.gate.criteria[0]
    assert (crit.status, crit.n) == ("INCONCLUSIVE", 60)
    assert crit.reason.startswith("pairwise judge grader gave no verdict on 34 of 60 calls")
    assert result.gate.verdict == "INCONCLUSIVE"
    # The gate's own limit for this judge is the one in force (and in the summary).
    limit = {"metric": "error_rate", "model": "grader", "max": 0.6}
    result = _run(tmp_path, _config(tmp_path, PAIRWISE, gate={"criteria": [preference, limit]}))
    assert result.gate is not None
    crit = result.gate.criteria[0]
    assert crit.status == "PASS", crit.reason  # 13 of 13 judged cases won
    assert crit.reason.startswith("judge grader: 13 wins")
    judges = result.main.judges
    assert judges is not None
    assert judges["judges"][0]["judge_errors"]["limit"] == 0.6
    assert not any("gave no verdict" in n for n in result.main.notes)


def test_a_healthy_pairwise_only_suite_ships_on_the_judge_preference(tmp_path: Path) -> None:
    _project(tmp_path, 30, 0)
    result = _run(tmp_path, _config(tmp_path, PAIRWISE))
    assert result.main.primary_metric == "judge_preference"
    assert result.gate is not None
    first = result.gate.criteria[0]
    assert (first.description, first.status) == ("judge_preference vs base >= 0.49", "PASS")
    assert result.gate.verdict == "SHIP", result.gate.reason
    judges = result.main.judges
    assert judges is not None
    assert judges["judges"][0]["judge_errors"]["over_limit"] is False


def test_a_failing_pointwise_judge_leaves_judge_score_undecided(tmp_path: Path) -> None:
    _project(tmp_path, 20, 2)  # 2 of 20 cases for each model: 4 of 40 calls
    result = _run(tmp_path, _config(tmp_path, POINTWISE))
    assert result.main.primary_metric == "judge_score"
    warning = "main: judge judge_score (grader) gave no verdict on 4 of 40 calls (10.0%"
    assert any(warning in n for n in result.main.notes)
    assert result.gate is not None
    by = {c.description: c for c in result.gate.criteria}
    crit = by["judge_score - base >= -0.02"]
    assert crit.status == "INCONCLUSIVE"
    assert "judge judge_score (grader) gave no verdict on 4 of 40 calls" in crit.reason
    assert result.gate.verdict == "INCONCLUSIVE"
