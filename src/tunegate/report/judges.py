"""The judges' tables as rows of text, shared by the terminal and Markdown renderers.

They only format what :mod:`tunegate.evaluation.judging` and :mod:`tunegate.pipeline.human_link` computed.
"""

from __future__ import annotations

from typing import Any

from tunegate.results import RunResult, SuiteResult
from tunegate.results.units import votes_apart
from tunegate.results.wording import interval, num, p_value

__all__ = [
    "HUMAN_HEADER",
    "PAIRWISE_HEADER",
    "POINTWISE_HEADER",
    "human_line",
    "human_rows",
    "judge_calls",
    "pairwise_rows",
    "pointwise_rows",
]

POINTWISE_HEADER = ["judge", "scale", "model", "judged", "judge errors", "mean score", "pass rate"]
PAIRWISE_HEADER = [
    "judge",
    "vs",
    "scope",
    "W/T/L",
    "inconsistent",
    "judge errors",
    "win rate [CI]",
    "decisive (sign test)",
    "first shown wins",
    "longer wins",
]
HUMAN_HEADER = ["judge", "items", "judge errors", "agreement", "Cohen's kappa [CI]"]


def _entries(suite: SuiteResult, kind: str) -> list[dict[str, Any]]:
    if not suite.judges:
        return []
    return [e for e in suite.judges.get("judges", []) if e.get("kind") == kind]


def _rate(block: dict[str, Any]) -> str:
    value = block.get("value")
    return "—" if value is None else f"{value:.1%} (n={block.get('n', 0)})"


def pointwise_rows(suite: SuiteResult) -> list[list[str]]:
    """One row per (pointwise judge, model)."""
    rows = []
    for e in _entries(suite, "pointwise"):
        for model, m in e["models"].items():
            rows.append(
                [
                    f"{e['name']} ({e['judge']})",
                    e["scale"],
                    model,
                    f"{m['judged']}/{m['n']}",
                    str(m["errors"]),
                    num(m["mean_score"]),
                    num(m["pass_rate"]),
                ]
            )
    return rows


def _pair_row(name: str, baseline: str, scope: str, s: dict[str, Any]) -> list[str]:
    rate = s["win_rate"]
    decisive = s["decisive_win_rate"]
    return [
        name,
        baseline,
        scope,
        f"{s['wins']}/{s['ties']}/{s['losses']}",
        str(s["inconsistent"]),
        str(s["errors"]),
        f"{num(rate['value'])} {interval(rate['ci'])}".strip(),
        f"{num(decisive['value'])} ({p_value(decisive['p_value'])})",
        _rate(s["position_bias"]),
        _rate(s["length_bias"]),
    ]


def pairwise_rows(suite: SuiteResult) -> list[list[str]]:
    """One row per (pairwise judge, baseline), overall then per category."""
    rows = []
    for e in _entries(suite, "pairwise"):
        for baseline, s in e["baselines"].items():
            rows.append(_pair_row(e["name"], baseline, "overall", s))
            for category, c in s.get("categories", {}).items():
                rows.append(_pair_row(e["name"], baseline, category, c))
    return rows


def judge_calls(suite: SuiteResult) -> str | None:
    """``judge calls: grader 16 (16 from the store, 0 errors)`` (None without judges)."""
    if not suite.judges or not suite.judges.get("judges"):
        return None
    parts = []
    for e in suite.judges["judges"]:
        calls = e.get("calls") or {}
        parts.append(
            f"{e['name']} {calls.get('total', 0)} ({calls.get('cached', 0)} from the store, "
            f"{calls.get('errors', 0)} errors, {calls.get('retries', 0)} retries)"
        )
    return "judge calls: " + "; ".join(parts)


def human_rows(result: RunResult) -> list[list[str]]:
    """Each judge calibrated against the human majority of the run's study."""
    human = result.human or {}
    rows = []
    for j in human.get("judges", []):
        kappa = j.get("cohen_kappa", {})
        ci = kappa.get("ci")
        rows.append(
            [
                j["judge"],
                str(j.get("n_items", 0)),
                str(j.get("errors", 0)),
                num(j.get("percent", {}).get("value")),
                f"{num(kappa.get('value'))} {interval(tuple(ci) if ci else None)}".strip(),
            ]
        )
    return rows


def human_line(result: RunResult) -> str | None:
    """One line on the run's human study (None without one)."""
    human = result.human
    if not human:
        return None
    if human.get("error"):
        return str(human["error"])
    pref = human.get("preference") or {}
    rate = pref.get("win_rate") or {}
    ci = rate.get("ci")
    agreement = (human.get("agreement") or {}).get("fleiss") or {}
    return (
        f"human study {human.get('study')}: {pref.get('candidate')} vs {pref.get('baseline')} "
        f"win rate {num(rate.get('value'))} {interval(tuple(ci) if ci else None)} over "
        f"{pref.get('n_votes', 0)} votes"
        f"{votes_apart(pref.get('both_bad'), pref.get('skipped'))}; "
        f"Fleiss' kappa {num(agreement.get('value'))}"
    )
