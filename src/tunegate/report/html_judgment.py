"""The HTML report's "Human evaluation and judges" section, as rows of display text.

Per baseline the pairwise judges and the human study side by side (wins/ties/losses,
win rate with its interval, decisive rate and sign test, position and length bias,
judge errors), the rubric judges' scores, the annotators' agreement with the items it
rests on, each judge's calibration against the human majority (with a small confusion
heatmap and whether the gate trusts it), and one plot of every win rate. Everything is
read from the stored result (``suites[].judges`` and ``human``); nothing is computed
but layout (the heatmap's shade buckets).
"""

from __future__ import annotations

from typing import Any

from tunegate.results.units import votes_apart
from tunegate.results.wording import interval, num, p_text

__all__ = ["judgment"]


def _ci(value: Any) -> str:
    if isinstance(value, list | tuple) and len(value) == 2 and None not in value:
        return interval((float(value[0]), float(value[1])))
    return ""


def _n(value: Any) -> str:
    return num(float(value)) if isinstance(value, int | float) else "—"


def _pct(block: Any) -> str:
    """``50.0% of 48`` for a ``{value, n}`` rate block, or a dash."""
    if not isinstance(block, dict) or not isinstance(block.get("value"), int | float):
        return "—"
    return f"{block['value']:.1%} of {block.get('n', 0)}"


def _judge_row(suite: str, name: str, s: dict[str, Any]) -> dict[str, Any]:
    rate = s.get("win_rate") or {}
    decisive = s.get("decisive_win_rate") or {}
    return {
        "who": f"judge {name}",
        "kind": "judge",
        "suite": suite,
        "unit": "cases",
        "n": s.get("n", 0),
        "wtl": f"{s.get('wins', 0)} / {s.get('ties', 0)} / {s.get('losses', 0)}",
        "inconsistent": str(s.get("inconsistent", 0)),
        "rate": _n(rate.get("value")),
        "ci": _ci(rate.get("ci")),
        "decisive": _n(decisive.get("value")),
        "sign_p": p_text(decisive.get("p_value")),
        "position": _pct(s.get("position_bias")),
        "length": _pct(s.get("length_bias")),
        "errors": str(s.get("errors", 0)),
        "raw": rate,
    }


def _human_row(study: str, pref: dict[str, Any], position: dict[str, Any]) -> dict[str, Any]:
    rate = pref.get("win_rate") or {}
    left = position.get("left_win_rate") or {}
    shown = "—"
    if isinstance(left.get("value"), int | float):
        shown = f"{left['value']:.1%} of {position.get('n_decisive', 0)} (left)"
    return {
        "who": f"people (study {study})",
        "kind": "human",
        "suite": "",
        "unit": "votes",
        "n": pref.get("n_votes", 0),
        "wtl": f"{pref.get('wins', 0)} / {pref.get('ties', 0)} / {pref.get('losses', 0)}",
        "inconsistent": "—",
        "rate": _n(rate.get("value")),
        "ci": _ci(rate.get("ci")),
        "decisive": _n(pref.get("decisive_rate")),
        "sign_p": p_text(pref.get("sign_test_p")),
        "position": shown,
        "length": "—",
        "errors": "—",
        "raw": rate,
    }


def _pointwise(suite: str, e: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for model, m in (e.get("models") or {}).items():
        rows.append(
            {
                "judge": f"{e.get('name')} ({e.get('judge')})",
                "suite": suite,
                "scale": str(e.get("scale", "")),
                "model": model,
                "judged": f"{m.get('judged', 0)} of {m.get('n', 0)}",
                "errors": str(m.get("errors", 0)),
                "mean": _n(m.get("mean_score")),
                "pass_rate": _n(m.get("pass_rate")),
                "threshold": _n(e.get("threshold")),
            }
        )
    return rows


def _agreement(human: dict[str, Any]) -> dict[str, Any] | None:
    agreement = human.get("agreement") or {}
    if not agreement:
        return None
    rows = []

    def add(what: str, block: Any) -> None:
        if not isinstance(block, dict):
            return
        undefined = block.get("undefined_resamples") or 0
        value = block.get("value")
        note = ""
        if value is None:
            note = "undefined: the two gave one label everywhere they overlap"
        elif undefined:
            note = f"{undefined} resamples undefined"
        rows.append({"what": what, "value": _n(value), "ci": _ci(block.get("ci")), "note": note})

    add("percent agreement", agreement.get("percent"))
    add("Fleiss' κ (all annotators)", agreement.get("fleiss"))
    add("Krippendorff's \u03b1", agreement.get("krippendorff_alpha"))
    for pair, block in (agreement.get("cohen") or {}).items():
        add("Cohen's κ " + " \u2013 ".join(str(pair).split("|")), block)
    return {
        "rows": rows,
        "n_items": agreement.get("n_items", 0),
        "clusters": agreement.get("n_clusters"),
    }


_LABELS = {"a": "A", "b": "B", "tie": "tie"}


def _heatmap(confusion: dict[str, Any]) -> dict[str, Any] | None:
    labels = [str(x) for x in confusion.get("labels") or []]
    matrix = confusion.get("matrix") or []
    if not labels or len(matrix) != len(labels):
        return None
    top = max([int(v) for row in matrix for v in row] or [0]) or 1
    rows = []
    for label, row in zip(labels, matrix, strict=True):
        cells = [
            {"count": int(v), "shade": 0 if not v else 1 + min(3, int(3 * v / top))} for v in row
        ]
        rows.append({"label": _LABELS.get(label, label), "cells": cells})
    return {"labels": [_LABELS.get(x, x) for x in labels], "rows": rows}


def _trust(gate: dict[str, Any] | None, judge: str) -> tuple[str, str]:
    """Whether the gate trusts ``judge`` (from its criteria's reasons), and why."""
    for c in (gate or {}).get("criteria") or []:
        reason = str(c.get("reason") or "")
        if judge in reason and "not calibrated" in reason:
            return "not trusted", reason.split(": ", 1)[-1]
    for c in (gate or {}).get("criteria") or []:
        metric = (c.get("criterion") or {}).get("metric")
        if metric in ("judge_preference", "judge_score") and c.get("status") != "MISSING":
            return "trusted", f"the gate judged {c.get('description')} on it"
    return "not used", "no gate criterion reads this judge"


def _calibration(human: dict[str, Any], gate: dict[str, Any] | None) -> list[dict[str, Any]]:
    rows = []
    for j in human.get("judges") or []:
        kappa = j.get("cohen_kappa") or {}
        percent = j.get("percent") or {}
        trusted, why = _trust(gate, str(j.get("judge")))
        left_out = []
        if j.get("no_human_majority"):
            left_out.append(f"{j['no_human_majority']} without a human majority")
        if j.get("not_in_human_votes"):
            left_out.append(f"{j['not_in_human_votes']} without votes")
        rows.append(
            {
                "judge": j.get("judge"),
                "n_items": j.get("n_items", 0),
                "verdicts": j.get("n_verdicts", 0),
                "left_out": ", ".join(left_out),
                "errors": j.get("errors", 0),
                "agreement": _n(percent.get("value")),
                "agreement_ci": _ci(percent.get("ci")),
                "kappa": _n(kappa.get("value")),
                "kappa_ci": _ci(kappa.get("ci")),
                "heatmap": _heatmap(j.get("confusion") or {}),
                "trusted": trusted,
                "why": why,
            }
        )
    return rows


def _plot(baselines: list[dict[str, Any]], candidate: str) -> str | None:
    from tunegate.report.plots import RateRow, win_rates

    rows = []
    for b in baselines:
        for r in b["rows"]:
            raw = r["raw"]
            ci = raw.get("ci")
            if isinstance(raw.get("value"), int | float) and isinstance(ci, list):
                label = f"{r['who']} vs {b['baseline']}"
                rows.append(
                    RateRow(label, float(raw["value"]), float(ci[0]), float(ci[1]), r["kind"])
                )
    if not rows:
        return None
    return win_rates(rows, f"{candidate}: win rate against each baseline, judges and people")


def judgment(result: dict[str, Any]) -> dict[str, Any] | None:
    """The section's content, or None when the run has neither judges nor a study."""
    human: dict[str, Any] = result.get("human") or {}
    by_baseline: dict[str, list[dict[str, Any]]] = {}
    pointwise: list[dict[str, Any]] = []
    calls: list[str] = []
    warnings: list[str] = []
    for suite in result.get("suites") or []:
        judges = suite.get("judges") or {}
        name = str(suite.get("name"))
        warnings += [str(w) for w in judges.get("warnings") or []]
        for e in judges.get("judges") or []:
            c = e.get("calls") or {}
            calls.append(
                f"{e.get('name')} on suite {name}: {c.get('total', 0)} calls "
                f"({c.get('cached', 0)} from the store, {c.get('errors', 0)} errors, "
                f"{c.get('retries', 0)} retries)"
            )
            if e.get("kind") == "pointwise":
                pointwise += _pointwise(name, e)
            for baseline, s in (e.get("baselines") or {}).items():
                by_baseline.setdefault(str(baseline), []).append(
                    _judge_row(name, str(e.get("name")), s)
                )
    pref = human.get("preference") or {}
    if pref.get("baseline"):
        by_baseline.setdefault(str(pref["baseline"]), []).append(
            _human_row(str(human.get("study")), pref, human.get("position_bias") or {})
        )
    if not by_baseline and not pointwise and not human:
        return None
    baselines = [{"baseline": b, "rows": rows} for b, rows in by_baseline.items()]
    candidate = str(result.get("candidate"))
    return {
        "candidate": candidate,
        "baselines": baselines,
        "pointwise": pointwise,
        "study": human.get("study"),
        "study_error": human.get("error"),
        "study_counts": (
            f"{human.get('n_votes', 0)} votes"
            f"{votes_apart(human.get('n_both_bad'), human.get('n_skipped'), among=True)} on "
            f"{human.get('n_items_voted', 0)} of "
            f"{human.get('n_items', 0)} items"
            if human and not human.get("error")
            else ""
        ),
        "agreement": _agreement(human),
        "calibration": _calibration(human, result.get("gate")),
        "plot": _plot(baselines, candidate),
        "calls": calls,
        "warnings": warnings + [str(w) for w in human.get("warnings") or []],
    }
