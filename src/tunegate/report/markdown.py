"""The Markdown report, fit for a pull-request comment: verdict first."""

from __future__ import annotations

from pathlib import Path

from tunegate.report.files import write_atomic
from tunegate.report.judges import (
    HUMAN_HEADER,
    PAIRWISE_HEADER,
    POINTWISE_HEADER,
    human_line,
    human_rows,
    judge_calls,
    pairwise_rows,
    pointwise_rows,
)
from tunegate.report.replicas import REPLICA_HEADER, replicated_models
from tunegate.report.wording import (
    cache_lines,
    column_name,
    conclusion,
    estimate,
    interval,
    metric_columns,
    metric_name,
    num,
    out_tokens,
    p_value,
    run_notes,
)
from tunegate.results import RunResult, SuiteResult

_ICON = {"PASS": "✅", "FAIL": "❌", "INCONCLUSIVE": "⚠️", "MISSING": "❔"}
_VERDICT = {"SHIP": "✅ SHIP", "ITERATE": "❌ ITERATE", "INCONCLUSIVE": "⚠️ INCONCLUSIVE"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def to_markdown(result: RunResult) -> str:
    """The whole report as Markdown."""
    out: list[str] = [f"## tunegate · {result.name}", ""]
    gate = result.gate
    if gate is not None:
        out += [f"**{_VERDICT[gate.verdict]}** — {gate.reason}", ""]
        out += _table(
            [
                "",
                "criterion",
                "estimate",
                f"{gate.confidence:.0%} interval",
                "judged on",
                "evidence",
            ],
            [
                [
                    _ICON[c.status] + " " + c.status,
                    c.description,
                    num(c.estimate),
                    interval(c.ci),
                    c.judge,
                    c.reason,
                ]
                for c in gate.criteria
            ],
        )
    out += [
        f"Run `{result.run_id}` · seed {result.seed} · {result.confidence:.0%} intervals "
        f"({result.n_resamples} bootstrap resamples)",
        "",
    ]
    for suite in result.suites:
        out += _suite_section(suite, result.candidate, result.confidence)
    reused = cache_lines(result)
    if reused:
        out += ["### Answers reused from earlier runs", ""] + [f"- {x}" for x in reused] + [""]
    line = human_line(result)
    if line is not None:
        out += ["### Human evaluation", "", line, ""]
        calibrated = human_rows(result)
        if calibrated:
            out += _table(HUMAN_HEADER, calibrated)
    notes = run_notes(result)
    if notes:
        out += ["### Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(out)


def _suite_section(suite: SuiteResult, candidate: str, confidence: float) -> list[str]:
    title = "Models" if suite.name == "main" else f"Suite `{suite.name}` ({suite.task})"
    out = [f"### {title} — {suite.n_cases} cases", ""]
    columns = metric_columns(suite)
    priced = any(m.cost is not None for m in suite.models.values())
    rows = []
    for name, m in suite.models.items():
        lat = m.latency_ms
        row = [f"**{name}**" if name == candidate else name]
        row += [estimate(m.metrics[c]) if c in m.metrics else "—" for c in columns]
        row += [
            f"{m.errors} / {m.unparseable}",
            " / ".join("—" if lat[k] is None else f"{lat[k]:.0f}" for k in ("p50", "p95", "p99")),
            "—"
            if m.tokens["prompt"] is None
            else f"{m.tokens['prompt']} / {out_tokens(m.tokens['completion'])}",
        ]
        if priced:
            row.append("—" if m.cost is None else f"{m.cost['per_1k']:.4g}")
        rows.append(row)
    header = [
        "model",
        *(column_name(suite, c) for c in columns),
        "errors / unparseable",
        "latency p50 / p95 / p99 ms",
        "tokens in / out",
    ]
    if priced:
        header.append("cost per 1k")
    out += _table(header, rows)
    for name, replica_rows in replicated_models(suite):
        out += [f"#### {name}: {len(replica_rows)} replicas", ""]
        out += _table(REPLICA_HEADER, replica_rows)
    categories = suite.categories
    if categories:
        baselines = suite.category_baselines
        title = "Pass rate per category"
        if suite.regression is not None:
            title += f" (regression vs {suite.regression['base']}, margin {suite.regression['margin']:g})"
        out += [f"#### {title}", ""]
        cat_rows = []
        for cat in categories:
            row = [cat]
            for m in suite.models.values():
                info = m.categories.get(cat)
                row.append(
                    "—"
                    if info is None
                    else f"{info['pass_rate']:.3f} {interval(tuple(info['ci']))} (n={info['n']})"
                )
            for b in baselines:
                comp = suite.category_comparison(b, cat)
                row.append(
                    "—"
                    if comp is None
                    else f"{comp.delta:+.3f} {interval(comp.ci)}"
                    + (" ⚠️ drop" if comp.flagged else "")
                )
            cat_rows.append(row)
        out += _table(
            ["category", *suite.models, *(f"{candidate} - {b}" for b in baselines)], cat_rows
        )
    if suite.comparisons:
        out += [f"#### {candidate} vs baselines (paired)", ""]
        out += _table(
            ["baseline", "metric", "delta", "paired interval", "McNemar", "wins / ties / losses"],
            [
                [
                    c.baseline,
                    metric_name(c.metric),
                    f"{c.delta:+.3f}",
                    interval(c.ci),
                    p_value(c.p_value),
                    f"{c.wins} / {c.ties} / {c.losses}",
                ]
                for c in suite.comparisons
            ],
        )
        out += [
            f"- {conclusion(c, confidence, suite)}"
            for c in suite.comparisons
            if c.metric == suite.primary_metric
        ] + [""]
    out += _judges_section(suite)
    return out


def _judges_section(suite: SuiteResult) -> list[str]:
    out: list[str] = []
    pointwise, pairwise = pointwise_rows(suite), pairwise_rows(suite)
    if pointwise:
        out += ["#### Judge scores", "", *_table(POINTWISE_HEADER, pointwise)]
    if pairwise:
        out += ["#### Pairwise judges (both orders)", "", *_table(PAIRWISE_HEADER, pairwise)]
    calls = judge_calls(suite)
    if calls:
        out += [f"- {calls}", ""]
    return out


def write_markdown(result: RunResult, path: str | Path) -> Path:
    """Write the Markdown report (creating folders); return the path."""
    return write_atomic(path, to_markdown(result))
