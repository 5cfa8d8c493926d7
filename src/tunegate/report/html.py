"""The HTML report: one self-contained file, verdict first, every case explorable offline.

It renders the stored result (the dict of ``tunegate run --json``, also kept with the
run in the store) and, optionally, a ``tunegate diff`` of an earlier run. Every value
goes through Jinja2 with autoescaping on; the drill-down's data sits in one
``<script type="application/json">`` block (see :mod:`tunegate.report.html_data`);
the only script is the template's own file, allowed by its SHA-256 in the page's
Content-Security-Policy. Plots are inline SVG (:mod:`tunegate.report.plots`).
Nothing is computed here: every number comes from the result.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from tunegate.report.batch import batch_lines_of
from tunegate.report.files import write_atomic
from tunegate.report.html_data import page_data, picks_label, script_json
from tunegate.report.html_facts import run_facts
from tunegate.report.html_judgment import judgment
from tunegate.report.parsing import parsing_lines
from tunegate.report.repeats import REPEAT_HEADER, REPEAT_NOTE, stored_repeat_rows
from tunegate.report.replicas import REPLICA_HEADER, stored_replicated_models
from tunegate.results import units
from tunegate.results.wording import interval, metric_name, num, p_text, p_value
from tunegate.tasks import stored_task_kind

TEMPLATES = Path(__file__).parent / "templates"
CSP = (
    "default-src 'none'; script-src '{hash}'; style-src 'unsafe-inline'; img-src data:; "
    "connect-src 'none'; base-uri 'none'; form-action 'none'"
)


def _f(value: Any, digits: int = 3) -> str:
    return num(float(value), digits) if isinstance(value, int | float) else "—"


def _ci(value: Any, digits: int = 3) -> str:
    if isinstance(value, list | tuple) and len(value) == 2 and None not in value:
        return interval((float(value[0]), float(value[1])), digits)
    return ""


def _g(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else "—"


def _criteria(gate: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for c in gate.get("criteria") or []:
        status = str(c.get("status", "?"))
        decide = c.get("required_n") if status == "INCONCLUSIVE" else None
        rows.append(
            {
                "status": status,
                "description": c.get("description", ""),
                "estimate": _f(c.get("estimate")),
                "ci": _ci(c.get("ci")),
                "threshold": _g(c.get("threshold")),
                "judge": c.get("judge", ""),
                "n": c.get("n"),
                "decide": "—" if decide is None else f"≈ {decide}",
                "reason": c.get("reason", ""),
            }
        )
    return rows


def _criterion(
    gate: dict[str, Any] | None, suite: str, main: str, comp: dict[str, Any]
) -> dict[str, Any]:
    """The gate criterion on exactly this paired delta (its threshold and status), or {}."""
    for c in (gate or {}).get("criteria") or []:
        spec = c.get("criterion") or {}
        if (
            spec.get("vs") == comp.get("baseline")
            and spec.get("metric") == comp.get("metric")
            and spec.get("category") is None
            and (spec.get("suite") or main) == suite
            and (spec.get("min_delta") is not None or spec.get("max_drop") is not None)
        ):
            return dict(c)
    return {}


def _forest(result: dict[str, Any]) -> tuple[str | None, int]:
    from tunegate.report.plots import ForestRow, forest

    suites = result.get("suites") or []
    main = suites[0].get("name") if suites else ""
    rows = []
    for suite in suites:
        for comp in suite.get("comparisons") or []:
            ci = comp.get("ci")
            if not isinstance(comp.get("delta"), int | float) or not isinstance(ci, list):
                continue
            label = f"{_name(str(comp.get('metric')))} vs {comp.get('baseline')}"
            if len(suites) > 1:
                label = f"{suite.get('name')} · {label}"
            crit = _criterion(result.get("gate"), str(suite.get("name")), str(main), comp)
            rows.append(
                ForestRow(
                    label,
                    float(comp["delta"]),
                    float(ci[0]),
                    float(ci[1]),
                    crit.get("threshold"),
                    str(crit["status"]) if crit.get("status") else None,
                )
            )
    if not rows:
        return None, 0
    return forest(rows, f"{result.get('candidate')}: paired deltas against each baseline"), len(
        rows
    )


def _name(metric: str) -> str:
    """A metric's display name; the pass rate in words, never its key."""
    return "pass rate" if metric == "pass_rate" else metric_name(metric)


def _columns(suite: dict[str, Any]) -> list[str]:
    primary = str(suite.get("primary_metric"))
    kind = stored_task_kind(suite.get("task"))
    if kind is not None and kind.table_metrics:
        rest = [m for m in kind.table_metrics if m != primary]
    else:
        metrics = [str(m) for m in suite.get("metrics") or []]
        rest = [m for m in metrics if m != primary][:3]
        if primary != "pass_rate" and "pass_rate" not in rest:
            rest.append("pass_rate")
    if primary in ("judge_preference", "human_preference"):  # no value per model
        return rest
    return [primary, *rest]


def _model_rows(suite: dict[str, Any], candidate: str, columns: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, m in (suite.get("models") or {}).items():
        metrics = m.get("metrics") or {}
        lat = m.get("latency_ms") or {}
        per_1k = m.get("tokens_per_1k") or {}
        cost = m.get("cost")
        rows.append(
            {
                "name": name,
                "candidate": name == candidate,
                "cells": [
                    (_f((metrics.get(c) or {}).get("value")), _ci((metrics.get(c) or {}).get("ci")))
                    for c in columns
                ],
                "errors": m.get("errors"),
                "unparseable": m.get("unparseable"),
                "n": m.get("n"),
                "latency": units.latencies(lat),
                # Totals, as the terminal and Markdown show them; per 1,000 answers beneath.
                "tokens": units.tokens(m.get("tokens")),
                "tokens_1k": units.tokens_per_1k(per_1k),
                "cost": units.cost(cost),
                "cost_basis": cost.get("basis", "") if isinstance(cost, dict) else "",
            }
        )
    return rows


def _suite(result: dict[str, Any], suite: dict[str, Any], index: int) -> dict[str, Any]:
    from tunegate.report import plots

    candidate = str(result.get("candidate"))
    name = str(suite.get("name"))
    models: dict[str, Any] = suite.get("models") or {}
    labels = [str(x) for x in suite.get("labels") or []]
    columns = _columns(suite)
    confusions = []
    kind = stored_task_kind(suite.get("task"))
    if kind is not None and kind.per_class and labels:
        for i, (model, m) in enumerate(models.items()):
            if m.get("confusion"):
                svg = plots.confusion(
                    labels, m["confusion"], f"{name}: {model}", key=f"cm-{index}-{i}"
                )
                confusions.append({"svg": svg, "model": model})
    categories = sorted({c for m in models.values() for c in m.get("categories") or {}})
    regression = suite.get("regression") or {}
    flagged = set(regression.get("flagged") or [])
    bars = None
    if categories:
        bars = plots.category_bars(
            categories,
            {n: m.get("categories") or {} for n, m in models.items()},
            flagged,
            f"{name}: pass rate per category",
        )
    samples: dict[str, list[float]] = {n: [] for n in models}
    for row in suite.get("cases") or []:
        lat = row.get("latency_ms")
        if (
            row.get("error") is None
            and isinstance(lat, int | float)
            and row.get("model") in samples
        ):
            samples[row["model"]].append(float(lat))
    latency = None
    if any(samples.values()):
        latency = plots.latency(
            samples,
            {n: m.get("latency_ms") or {} for n, m in models.items()},
            f"{name}: latency per model",
        )
    return {
        "anchor": f"suite-{index}",
        "index": index,
        "name": name,
        "task": suite.get("task"),
        "n_cases": suite.get("n_cases"),
        "primary": _name(str(suite.get("primary_metric"))),
        "columns": [_name(c) for c in columns],
        "models": _model_rows(suite, candidate, columns),
        # Per replica of each model served by several (the terminal's and Markdown's rows).
        "replicas": [
            {"model": model, "rows": rows} for model, rows in stored_replicated_models(suite)
        ],
        "priced": any(isinstance(m.get("cost"), dict) for m in models.values()),
        # Models asked each case k times: mean pass share, pass@k, pass^k, flakiness.
        "repeats": stored_repeat_rows({n: m.get("repeats") for n, m in models.items()}),
        "confusions": confusions,
        "bars": bars,
        "categories": _category_rows(suite, categories, models),
        "category_baselines": list(
            dict.fromkeys(str(c.get("baseline")) for c in suite.get("category_comparisons") or [])
        ),
        "regression": regression or None,
        "latency": latency,
        "comparisons": [_comparison_row(c) for c in suite.get("comparisons") or []],
        "errors_rule": (
            "a failed request has no perplexity and is left out"
            if suite.get("metrics") == ["perplexity"]
            else "a failed request counts as a wrong answer"
        ),
        "notes": suite.get("notes") or [],
        "parsing": parsing_lines({n: m.get("parsing") for n, m in models.items()}),
    }


def _comparison_row(c: dict[str, Any]) -> dict[str, Any]:
    """One paired comparison: McNemar's p and wins/ties/losses only on the row of the
    metric they are about (``p_value_of``, ``per_case``; older results show both), and the
    cases the comparison rests on with those left out and why."""
    metric = c.get("metric")
    n = c.get("n") or 0
    p_here = c.get("p_value_of") in (None, "", metric) and n > 0
    wtl_here = c.get("per_case") in (None, "", metric) and n > 0
    excluded = c.get("excluded") or {}
    why = ", ".join(f"{k} {v}" for k, v in excluded.items())
    return {
        "baseline": c.get("baseline"),
        "metric": _name(str(metric)),
        "cases": f"{n} ({c.get('n_excluded')} left out: {why})" if why else str(n),
        "delta": f"{c['delta']:+.3f}" if isinstance(c.get("delta"), int | float) else "—",
        "ci": _ci(c.get("ci")) or ("no case answered by both" if n == 0 else ""),
        "p": p_text(c.get("p_value")) if p_here else "—",
        "test": c.get("test", "")
        if p_here
        else f"on {_name(str(c.get('p_value_of')))}: see that row",
        "wtl": f"{c.get('wins')} / {c.get('ties')} / {c.get('losses')}" if wtl_here else "—",
        "direction": c.get("direction", "none"),
        "conclusion": c.get("conclusion", ""),
    }


def _category_rows(
    suite: dict[str, Any], categories: list[str], models: dict[str, Any]
) -> list[dict[str, Any]]:
    comps = suite.get("category_comparisons") or []
    baselines = list(dict.fromkeys(str(c.get("baseline")) for c in comps))
    rows = []
    for cat in categories:
        cells = []
        for m in models.values():
            info = (m.get("categories") or {}).get(cat)
            cells.append(
                "—"
                if info is None
                else f"{_f(info.get('pass_rate'))} {_ci(info.get('ci'))} (n={info.get('n')})"
            )
        deltas = []
        for b in baselines:
            comp = next(
                (c for c in comps if c.get("baseline") == b and c.get("category") == cat), None
            )
            deltas.append(
                None
                if comp is None
                else {
                    "text": f"{comp['delta']:+.3f} {_ci(comp.get('ci'))}",
                    "flagged": bool(comp.get("flagged")),
                }
            )
        rows.append({"name": cat, "cells": cells, "deltas": deltas})
    return rows


def _changes(result: dict[str, Any], diff: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per suite of a diff: only the metrics whose value changed (at the three decimals
    shown), how many stayed the same, and each model's fixed / broken cases."""
    if not diff:
        return []
    kinds = {str(s.get("name")): s for s in result.get("suites") or []}
    out = []
    for s in diff.get("suites") or []:
        rows, same = [], 0
        for m in s.get("models") or []:
            for c in m.get("metrics") or []:
                delta = c.get("delta")
                if isinstance(delta, int | float) and round(float(delta), 3) == 0:
                    same += 1
                    continue
                rows.append(
                    {
                        "model": m.get("model"),
                        "metric": _name(str(c.get("name"))),
                        "a": _f(c.get("a")),
                        "b": _f(c.get("b")),
                        "delta": f"{delta:+.3f}" if isinstance(delta, int | float) else "—",
                    }
                )
        suite = kinds.get(str(s.get("name"))) or {}
        cases = []
        for m in s.get("models") or []:
            k = m.get("cases")
            if not k:
                continue
            p = k.get("mcnemar_p")
            cases.append(
                {
                    "model": m.get("model"),
                    "c": k,
                    "rate": "accuracy" if picks_label(suite) else "pass rate",
                    "p": p_value(float(p)) if isinstance(p, int | float) else "p —",
                }
            )
        changed = bool(rows) or any(c["c"].get("fixed") or c["c"].get("broken") for c in cases)
        out.append(
            {"name": s.get("name"), "rows": rows, "same": same, "cases": cases, "changed": changed}
        )
    return out


def _context(result: dict[str, Any], diff: dict[str, Any] | None) -> dict[str, Any]:
    gate = result.get("gate")
    forest_svg, forest_n = _forest(result)
    notes = list(result.get("notes") or [])
    notes += [n for s in result.get("suites") or [] for n in s.get("notes") or []]
    notes += batch_lines_of(result)  # batch: true
    return {
        "r": result,
        "gate": gate,
        "criteria": _criteria(gate) if gate else [],
        "forest": forest_svg,
        "forest_n": forest_n,
        "suites": [_suite(result, s, i) for i, s in enumerate(result.get("suites") or [])],
        "judgment": judgment(result),
        "facts": run_facts(result),
        "notes": notes,
        "diff": diff,
        "changes": _changes(result, diff),
        "f": _f,
        "p": p_text,
        "ci": _ci,
        "metric_name": metric_name,
        "replica_header": REPLICA_HEADER,
        "repeat_header": REPEAT_HEADER,
        "repeat_note": REPEAT_NOTE,
        "units": units,
    }


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    # autoescape=True explicitly: select_autoescape would not cover the .html.j2 name.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def script_source() -> str:
    """The page's one script, exactly as inlined."""
    return (TEMPLATES / "report.js").read_text(encoding="utf-8")


def script_hash(source: str) -> str:
    """The CSP source expression (``'sha256-…'``) allowing ``source`` as an inline script."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def render_html(result: dict[str, Any], diff: dict[str, Any] | None = None) -> str:
    """The report page for a stored result (``tunegate run --json``'s dict) and, with
    ``diff`` (a ``RunDiff.to_dict()``), what changed since the earlier run."""
    from markupsafe import Markup

    script = script_source()
    context = _context(result, diff)
    template = _environment().get_template("report.html.j2")
    page: str = template.render(
        **context,
        csp=Markup(CSP.format(hash=script_hash(script))),  # our constant and a base64 hash
        script=Markup(script),  # our own file, never data: its hash is in the CSP
        data=Markup(script_json(page_data(result))),  # JSON with <, >, & escaped
    )
    return page


def write_html(
    result: dict[str, Any], path: str | Path, diff: dict[str, Any] | None = None
) -> Path:
    """Render and write the report atomically; return the path."""
    return write_atomic(path, render_html(result, diff))
