"""The Markdown report, fit for a pull-request comment: verdict first."""

from __future__ import annotations

from pathlib import Path

from tunegate.report.text import (
    conclusion,
    estimate,
    interval,
    metric_name,
    num,
    out_tokens,
    p_value,
)
from tunegate.results import RunResult

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
        f"Run `{result.run_id}` · {result.n_cases} cases · seed {result.seed} · "
        f"{result.confidence:.0%} bootstrap intervals ({result.n_resamples} resamples)",
        "",
        "### Models",
        "",
    ]
    rows = []
    for name, m in result.models.items():
        lat = m.latency_ms
        rows.append(
            [
                f"**{name}**" if name == result.candidate else name,
                estimate(m.metrics[result.primary_metric]),
                estimate(m.metrics["accuracy"]),
                f"{m.errors} / {m.unparseable}",
                " / ".join(
                    "—" if lat[k] is None else f"{lat[k]:.0f}" for k in ("p50", "p95", "p99")
                ),
                "—"
                if m.tokens["prompt"] is None
                else f"{m.tokens['prompt']} / {out_tokens(m.tokens['completion'])}",
            ]
        )
    out += _table(
        [
            "model",
            metric_name(result.primary_metric),
            "accuracy",
            "errors / unparseable",
            "latency p50 / p95 / p99 ms",
            "tokens in / out",
        ],
        rows,
    )
    categories = sorted({c for m in result.models.values() for c in m.categories})
    if categories:
        out += ["### Pass rate per category", ""]
        out += _table(
            ["category", *result.models],
            [
                [cat]
                + [
                    (
                        f"{m.categories[cat]['pass_rate']:.3f} {interval(tuple(m.categories[cat]['ci']))}"
                        f" (n={m.categories[cat]['n']})"
                        if cat in m.categories
                        else "—"
                    )
                    for m in result.models.values()
                ]
                for cat in categories
            ],
        )
    if result.comparisons:
        out += [f"### {result.candidate} vs baselines (paired)", ""]
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
                for c in result.comparisons
            ],
        )
        out += [
            f"- {conclusion(c, result.confidence)}"
            for c in result.comparisons
            if c.metric == result.primary_metric
        ] + [""]
    if result.notes:
        out += ["### Notes", ""] + [f"- {n}" for n in result.notes] + [""]
    return "\n".join(out)


def write_markdown(result: RunResult, path: str | Path) -> Path:
    """Write the Markdown report (creating folders); return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(to_markdown(result), encoding="utf-8")
    return p
