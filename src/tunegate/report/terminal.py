"""The terminal summary, as rich renderables."""

from __future__ import annotations

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from tunegate.data.leakage import LeakageReport
from tunegate.report.batch import batch_lines
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
from tunegate.report.parsing import parsing_lines
from tunegate.report.repeats import REPEAT_HEADER, REPEAT_NOTE, repeat_rows
from tunegate.report.replicas import REPLICA_HEADER, replicated_models
from tunegate.report.sequential import sequential_lines
from tunegate.results import GateResult, ModelResult, RunResult, SuiteResult, units
from tunegate.results.wording import (
    cache_lines,
    column_name,
    conclusion,
    errors_rule,
    estimate,
    left_out,
    metric_columns,
    metric_name,
    num,
    p_value,
    run_notes,
    shows_test,
)
from tunegate.tasks import stored_task_kind

#: Below this many columns the summary is compact: no vertical rules, fewer columns (tokens,
#: values already in the models table), the key numbers never wrapped. Reports keep it all.
COMPACT_BELOW = 120


def _table(title: str, compact: bool) -> Table:
    if compact:
        return Table(
            title=title,
            title_justify="left",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
            collapse_padding=True,
        )
    return Table(title=title, title_justify="left")


def models_table(
    suite: SuiteResult, candidate: str, confidence: float, compact: bool = False
) -> Table:
    """Per-model metrics with intervals, errors, latency, tokens and cost (compact: two
    metrics, no tokens, the candidate marked ``*``)."""
    conf = f"{confidence:.0%}"
    where = "" if suite.name == "main" else f"Suite {suite.name} ({suite.task}): "
    title = f"{where}Models ({suite.n_cases} cases, {conf} intervals; {errors_rule(suite)})"
    table = _table(title + (", * candidate" if compact else ""), compact)
    table.add_column("model", style="bold", no_wrap=compact)
    columns = main_columns(suite, compact)
    for metric in columns:
        table.add_column(column_name(suite, metric), justify="right", no_wrap=True)
    table.add_column("errors", justify="right", no_wrap=compact)
    kind = stored_task_kind(suite.task)
    unparsed = kind is not None and kind.shows_unparsed
    if unparsed:
        table.add_column("unparsed", justify="right", no_wrap=compact)
    table.add_column(
        "p50/95/99 ms" if compact else units.LATENCY_HEADER, justify="right", no_wrap=compact
    )
    if not compact:
        table.add_column(units.TOKENS_HEADER, justify="right")
    priced = any(m.cost is not None for m in suite.models.values())
    if priced:
        table.add_column(
            "cost/1k answers" if compact else units.COST_HEADER, justify="right", no_wrap=compact
        )
    for name, m in suite.models.items():
        label = f"{name} (candidate)" if name == candidate else name
        if compact:
            label = f"{name} *" if name == candidate else name
        lat = m.latency_ms
        cells: list[str | Text] = [
            estimate(m.metrics[c]) if c in m.metrics else "—" for c in columns
        ]
        cells.append(_count(m.errors, m.n, compact))
        if unparsed:
            cells.append(_count(m.unparseable, m.n, compact))
        cells.append(units.latencies(lat))
        if not compact:
            cells.append(units.tokens_cell(m.tokens, m.tokens_per_1k, "\n"))
        if priced:
            cells.append(units.cost(m.cost))
        table.add_row(label, *cells)
    return table


#: Metric columns in the models table; the rest wrap into a second table.
MAIN_METRICS = 4


def main_columns(suite: SuiteResult, compact: bool = False) -> list[str]:
    """The metric columns of the models table itself."""
    return metric_columns(suite)[: 2 if compact else MAIN_METRICS]


def more_metrics_table(suite: SuiteResult, compact: bool = False) -> Table | None:
    """The metrics that did not fit the models table (every scorer's metric is shown)."""
    shown = main_columns(suite, compact)
    rest = [m for m in metric_columns(suite) if m not in shown]
    if not rest:
        return None
    where = "" if suite.name == "main" else f"Suite {suite.name}: "
    table = _table(f"{where}More metrics", compact)
    table.add_column("model", style="bold", no_wrap=compact)
    for metric in rest:
        table.add_column(column_name(suite, metric), justify="right", no_wrap=True)
    for name, m in suite.models.items():
        table.add_row(name, *(estimate(m.metrics[c]) if c in m.metrics else "—" for c in rest))
    return table


def replica_tables(suite: SuiteResult, compact: bool = False) -> list[Table]:
    """Per replica of each model served by several: requests, errors, times taken out of
    rotation, p50 / p95 latency (none for a model with one URL)."""
    where = "" if suite.name == "main" else f"Suite {suite.name}: "
    tables = []
    for name, rows in replicated_models(suite):
        table = _table(f"{where}{name}: {len(rows)} replicas", compact)
        for col in REPLICA_HEADER:
            left = col == "replica"
            table.add_column(col, justify="left" if left else "right", no_wrap=not left)
        for row in rows:
            table.add_row(*(Text(c) for c in row))
        tables.append(table)
    return tables


def repeats_table(suite: SuiteResult, compact: bool = False) -> Table | None:
    """The models asked each case k times: mean pass share, pass@k, pass^k, flakiness."""
    rows = repeat_rows(suite)
    if not rows:
        return None
    where = "" if suite.name == "main" else f"Suite {suite.name}: "
    table = _table(f"{where}Repeated answers", compact)
    for col in REPEAT_HEADER:
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    table.caption = REPEAT_NOTE
    return table


def _count(k: int, n: int, compact: bool = False) -> Text:
    text = f"{k} ({k / n:.1%})" if n and not compact else str(k)
    return Text(text, style="red" if k else "")


def per_class_table(suite: SuiteResult) -> Table:
    """Precision / recall / F1 per label, one column per model."""
    table = Table(title="Per class: precision / recall / F1", title_justify="left")
    table.add_column("label")
    table.add_column("support", justify="right")
    for name in suite.models:
        table.add_column(name, justify="right")
    for label in suite.labels:
        cells = []
        for m in suite.models.values():
            s = m.per_class[label]
            cells.append(f"{num(s['precision'], 2)} / {num(s['recall'], 2)} / {num(s['f1'], 2)}")
        support = next(iter(suite.models.values())).per_class[label]["support"]
        table.add_row(label, str(int(support)), *cells)
    return table


def confusion_table(m: ModelResult, labels: list[str]) -> Table:
    """Rows: true label; columns: predicted label, unparseable, error."""
    table = Table(
        title=f"{m.name}: confusion matrix (rows true, columns predicted)", title_justify="left"
    )
    table.add_column("true \\ pred")
    for col in [*labels, "unparseable", "error"]:
        table.add_column(col, justify="right")
    for label, row in zip(labels, m.confusion, strict=True):
        table.add_row(label, *(str(v) for v in row))
    return table


def comparison_table(suite: SuiteResult, candidate: str, compact: bool = False) -> Table:
    """Candidate against each baseline: delta with paired interval, McNemar, wins/ties/losses
    (compact: without the two values, which the models table shows)."""
    table = _table(f"{candidate} vs baselines (paired, on the cases both answered)", compact)
    for col in (
        "baseline",
        "metric",
        "cases",
        "candidate",
        "baseline value",
        "delta [CI]",
        "McNemar",
        "wins/ties/losses",
    ):
        if compact and col in ("candidate", "baseline value"):
            continue
        table.add_column(
            col,
            justify="left" if col in ("baseline", "metric") else "right",
            no_wrap=compact and col != "baseline",
        )
    for c in suite.comparisons:
        style = {"better": "green", "worse": "red"}.get(c.direction, "")
        values = (
            []
            if compact
            else [num(v) if c.n else "—" for v in (c.candidate_value, c.baseline_value)]
        )
        show_p, show_wtl = shows_test(c)
        delta = (
            f"{c.delta:+.3f} [{c.ci[0]:+.3f}, {c.ci[1]:+.3f}]"
            if c.n
            else "— (no case answered by both)"
        )
        table.add_row(
            c.baseline,
            metric_name(c.metric),
            Text(str(c.n) if compact else left_out(c), style="yellow" if c.n_excluded else ""),
            *values,
            Text(delta, style=style),
            p_value(c.p_value) if show_p else "—",
            f"{c.wins}/{c.ties}/{c.losses}" if show_wtl else "—",
        )
    return table


def category_table(suite: SuiteResult, candidate: str, compact: bool = False) -> Table | None:
    """Pass rate per category and model (Wilson interval), and the candidate's paired deltas
    (compact: pass rates without their intervals)."""
    cats = suite.categories
    if not cats:
        return None
    regression = suite.regression
    title = "Per category: pass rate" + ("" if compact else " [CI]")
    if regression is not None:
        title += f" — regression vs {regression['base']}, margin {regression['margin']:g}"
    table = _table(title, compact)
    table.add_column("category")
    table.add_column("n", justify="right")
    for name in suite.models:
        table.add_column(name, justify="right", no_wrap=compact)
    baselines = suite.category_baselines
    for b in baselines:
        table.add_column(f"delta vs {b} [CI]", justify="right", no_wrap=compact)
    for cat in cats:
        n = next((m.categories[cat]["n"] for m in suite.models.values() if cat in m.categories), 0)
        cells: list[str | Text] = []
        for m in suite.models.values():
            info = m.categories.get(cat)
            cells.append(
                "—"
                if info is None
                else f"{info['pass_rate']:.3f}"
                if compact
                else f"{info['pass_rate']:.3f} [{info['ci'][0]:.3f}, {info['ci'][1]:.3f}]"
            )
        for b in baselines:
            comp = suite.category_comparison(b, cat)
            if comp is None:
                cells.append("—")
                continue
            style = "bold red" if comp.flagged else ""
            mark = " DROP" if comp.flagged else ""
            cells.append(
                Text(f"{comp.delta:+.3f} [{comp.ci[0]:+.3f}, {comp.ci[1]:+.3f}]{mark}", style=style)
            )
        table.add_row(cat, str(n), *cells)
    return table


def suite_parts(
    suite: SuiteResult, candidate: str, confidence: float, compact: bool = False
) -> list[RenderableType]:
    """Everything shown for one suite."""
    parts: list[RenderableType] = [models_table(suite, candidate, confidence, compact)]
    more = more_metrics_table(suite, compact)
    if more is not None:
        parts.append(more)
    parts += replica_tables(suite, compact)
    repeats = repeats_table(suite, compact)
    if repeats is not None:
        parts.append(repeats)
    kind = stored_task_kind(suite.task)
    if kind is not None and kind.per_class and suite.models:
        parts.append(per_class_table(suite))
        if candidate in suite.models:
            parts.append(confusion_table(suite.models[candidate], suite.labels))
    parsed = parsing_lines({n: m.parsing for n, m in suite.models.items()})
    if parsed:
        parts.append(Text("\n  ".join(parsed)))
    cats = category_table(suite, candidate, compact)
    if cats is not None:
        parts.append(cats)
    if suite.comparisons:
        parts.append(comparison_table(suite, candidate, compact))
        lines = [
            conclusion(c, confidence, suite)
            for c in suite.comparisons
            if c.metric == suite.primary_metric
        ]
        parts.append(Text("\n".join(lines), style="bold"))
    if suite.regression is not None:
        flagged = suite.regression["flagged"]
        text = f"regression on {suite.name}: " + (
            f"{len(flagged)} categor{'y' if len(flagged) == 1 else 'ies'} dropped by more "
            f"than {suite.regression['margin']:g}: {', '.join(flagged)}"
            if flagged
            else f"no category dropped by more than {suite.regression['margin']:g}"
        )
        parts.append(Text(text, style="bold red" if flagged else "bold green"))
    parts += judge_tables(suite)
    return parts


def _rows_table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in header:
        table.add_column(col)
    for row in rows:
        table.add_row(*(Text(c) for c in row))
    return table


def judge_tables(suite: SuiteResult) -> list[RenderableType]:
    """The suite's judges: pointwise scores, pairwise results (nothing without judges)."""
    parts: list[RenderableType] = []
    pointwise, pairwise = pointwise_rows(suite), pairwise_rows(suite)
    if pointwise:
        parts.append(_rows_table("Judge scores", POINTWISE_HEADER, pointwise))
    if pairwise:
        parts.append(_rows_table("Pairwise judges (both orders)", PAIRWISE_HEADER, pairwise))
    calls = judge_calls(suite)
    if calls:
        parts.append(Text(calls))
    return parts


STATUS_STYLE = {"PASS": "green", "FAIL": "red", "INCONCLUSIVE": "yellow", "MISSING": "magenta"}
VERDICT_STYLE = {"SHIP": "bold green", "ITERATE": "bold red", "INCONCLUSIVE": "bold yellow"}


def gate_table(gate: GateResult, compact: bool = False) -> Table:
    """Every criterion with its estimate, interval, threshold and status (compact: without
    the "judged on" column; status, estimate and interval never wrap)."""
    title = f"Gate for {gate.candidate}" + (" (default criteria)" if gate.default else "")
    table = _table(title, compact)
    interval_col = f"{gate.confidence:.0%} interval"
    for col in ("status", "criterion", "estimate", interval_col, "judged on", "evidence"):
        if compact and col == "judged on":
            continue
        table.add_column(
            col,
            justify="right" if col == "estimate" else "left",
            no_wrap=compact and col in ("status", "estimate", interval_col),
        )
    for c in gate.criteria:
        judged = [] if compact else [c.judge]
        table.add_row(
            Text(c.status, style=STATUS_STYLE[c.status]),
            Text(c.description),
            num(c.estimate),
            Text("" if c.ci is None else f"[{c.ci[0]:.3f}, {c.ci[1]:.3f}]"),
            *judged,
            Text(c.reason),
        )
    return table


def verdict_line(gate: GateResult) -> Text:
    """``VERDICT: SHIP — reason``."""
    return Text(f"VERDICT: {gate.verdict} — {gate.reason}", style=VERDICT_STYLE[gate.verdict])


def summary(result: RunResult, width: int | None = None) -> RenderableType:
    """The whole terminal summary: every suite, notes, then the gate and its verdict
    (compact below :data:`COMPACT_BELOW` columns of ``width``)."""
    compact = width is not None and width < COMPACT_BELOW
    parts: list[RenderableType] = [
        Text(f"tunegate · {result.name} · run {result.run_id}", style="bold")
    ]
    for suite in result.suites:
        parts += suite_parts(suite, result.candidate, result.confidence, compact)
    reused = cache_lines(result)
    if reused:
        parts.append(Text("\n".join(f"♻ {line}" for line in reused), style="cyan"))
    parts += [Text(line, style="cyan") for line in batch_lines(result)]  # batch: true
    line = human_line(result)
    if line is not None:
        parts.append(Text(line, style="bold"))
        calibrated = human_rows(result)
        if calibrated:
            parts.append(_rows_table("Judges against the human majority", HUMAN_HEADER, calibrated))
    notes = run_notes(result)
    if notes:
        parts.append(Text("\n".join(f"! {n}" for n in notes), style="yellow"))
    if result.gate is not None:
        parts.append(gate_table(result.gate, compact))
        parts.append(verdict_line(result.gate))
    seq = [x for x in sequential_lines(result.sequential) if x]
    if seq:
        parts.append(Text("\n".join(seq), style="bold cyan"))
    return Group(*parts)


def print_summary(result: RunResult, console: Console) -> None:
    """Print the summary (at least 120 columns wide when the output is not a terminal)."""
    if not console.is_terminal and console.width < 120:
        console.width = 120
    console.print(summary(result, console.width))


def print_leakage(report: LeakageReport, train: str, test: str, console: Console) -> None:
    """The leakage check: overlapping pairs and label balance."""
    style = "red" if report.n_leaked else "green"
    console.print(
        Text(
            f"leakage: {report.n_leaked} of {report.n_test} test cases "
            f"({report.leakage_rate:.1%}) duplicate a training case "
            f"({len(report.exact)} exact, {len(report.near)} near at Jaccard >= "
            f"{report.threshold:g})",
            style=f"bold {style}",
        )
    )
    if report.exact or report.near:
        pairs = Table(title="Overlapping pairs (first 20)", title_justify="left")
        for col in ("test id", "train id", "kind", "Jaccard"):
            pairs.add_column(col)
        rows = [(t, r, "exact", "1.000") for t, r in report.exact]
        rows += [(t, r, "near", f"{j:.3f}") for t, r, j in report.near]
        for row in rows[:20]:
            pairs.add_row(*row)
        console.print(pairs)
    balance = Table(title="Label balance", title_justify="left")
    balance.add_column("label")
    balance.add_column(f"train ({report.n_train})", justify="right")
    balance.add_column(f"test ({report.n_test})", justify="right")
    for label, count in report.label_balance["train"].items():
        p_train = report.label_proportions["train"][label]
        p_test = report.label_proportions["test"][label]
        balance.add_row(
            label,
            f"{count} ({p_train:.1%})",
            f"{report.label_balance['test'][label]} ({p_test:.1%})",
        )
    console.print(balance)
    console.print(f"largest label-share gap: {report.max_balance_gap:.1%}")
