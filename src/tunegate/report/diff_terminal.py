"""``tunegate diff``: a :class:`~tunegate.history.changes.RunDiff` as rich renderables."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from tunegate.history.changes import (
    CaseChanges,
    CaseExample,
    CategoryChange,
    ModelDiff,
    RunDiff,
    RunSide,
)
from tunegate.results.wording import interval, metric_name, num, p_value

#: Ids of fixed / broken cases listed in the terminal (all of them are in the JSON).
MAX_IDS = 20
#: Characters of an answer shown in the examples table.
MAX_ANSWER = 60


def _signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def _side(label: str, side: RunSide) -> str:
    run = side.run_id or "(no run id stored)"
    return f"{label} = run {run}" + (f" ({side.name})" if side.name else "")


def headline(m: ModelDiff) -> str:
    """``finetuned on main: macro_f1 0.850 -> 0.883 (+0.033); 9 fixed, 3 broken, McNemar p=0.146``."""
    primary = m.primary
    if m.primary_metric is None:
        change = "no primary metric stored"
    elif primary is None or primary.a is None or primary.b is None:
        values = (None, None) if primary is None else (primary.a, primary.b)
        missing = " and ".join(
            label for label, value in zip(("A", "B"), values, strict=True) if value is None
        )
        change = f"{m.primary_metric} not stored in run {missing}"
    else:
        change = (
            f"{m.primary_metric} {num(primary.a)} -> {num(primary.b)} ({_signed(primary.delta)})"
        )
    c = m.cases
    if c is None or not c.n_compared:
        flips = "no matched cases to compare"
    else:
        flips = f"{c.fixed} fixed, {c.broken} broken, McNemar {p_value(c.mcnemar_p)}"
    return f"{m.model} on {m.suite}: {change}; {flips}"


def metrics_table(m: ModelDiff, confidence_a: float | None, confidence_b: float | None) -> Table:
    """Every metric (with each run's own interval), errors and latency: A, B and B - A."""
    table = Table(title=f"{m.model} on {m.suite}: run A -> run B", title_justify="left")
    table.add_column("metric")
    a_conf = f" ({confidence_a:.0%} CI)" if confidence_a is not None else ""
    b_conf = f" ({confidence_b:.0%} CI)" if confidence_b is not None else ""
    table.add_column(f"A{a_conf}", justify="right", no_wrap=True)
    table.add_column(f"B{b_conf}", justify="right", no_wrap=True)
    table.add_column("B - A", justify="right", no_wrap=True)
    for change in m.metrics:
        name = metric_name(change.name)
        if change.name == m.primary_metric:
            name += " (primary)"
        table.add_row(
            name,
            f"{num(change.a)} {interval(change.ci_a)}".strip(),
            f"{num(change.b)} {interval(change.ci_b)}".strip(),
            _signed(change.delta),
        )
    if m.errors_a is not None or m.errors_b is not None:
        delta = None if m.errors_a is None or m.errors_b is None else m.errors_b - m.errors_a
        table.add_row(
            "errors",
            _count(m.errors_a, m.n_a),
            _count(m.errors_b, m.n_b),
            "—" if delta is None else f"{delta:+d}",
        )
    for change in m.latency_ms:
        table.add_row(
            f"latency {change.name} ms",
            num(change.a, 0),
            num(change.b, 0),
            _signed(change.delta, 0),
        )
    return table


def _count(k: int | None, n: int | None) -> str:
    if k is None:
        return "—"
    return f"{k} of {n}" if n is not None else str(k)


def paired_lines(c: CaseChanges, confidence: float) -> Text:
    """Flip counts, the accuracy delta with its paired interval, and McNemar."""
    text = Text()
    text.append(f"{c.n_compared} cases compared per case: ")
    text.append(f"{c.fixed} fixed", style="green" if c.fixed else "")
    text.append(", ")
    text.append(f"{c.broken} broken", style="red" if c.broken else "")
    text.append(
        f", {c.unchanged} unchanged ({c.both_right} right in both, {c.both_wrong} wrong in both), "
        f"{c.predictions_changed} predictions changed"
    )
    if c.n_compared:
        style = ""
        if c.accuracy_ci is not None and c.accuracy_ci[0] > 0:
            style = "green"
        elif c.accuracy_ci is not None and c.accuracy_ci[1] < 0:
            style = "red"
        ci = "" if c.accuracy_ci is None else f" [{c.accuracy_ci[0]:+.3f}, {c.accuracy_ci[1]:+.3f}]"
        text.append(f"\naccuracy {num(c.accuracy_a)} -> {num(c.accuracy_b)}, delta ")
        text.append(f"{_signed(c.accuracy_delta)}{ci}", style=style)
        text.append(
            f" ({confidence:.0%} paired bootstrap); McNemar {p_value(c.mcnemar_p)} "
            f"({c.mcnemar_method}, {c.fixed + c.broken} discordant)"
        )
    return text


def categories_table(categories: list[CategoryChange]) -> Table:
    """Pass rate per category in each run, the change, and the flips inside it."""
    table = Table(title="Categories: pass rate", title_justify="left")
    for col in ("category", "n A/B", "A", "B", "B - A", "fixed", "broken"):
        table.add_column(col, justify="left" if col == "category" else "right", no_wrap=True)
    for cat in categories:
        style = ""
        if cat.delta is not None and cat.delta < 0:
            style = "red"
        elif cat.delta is not None and cat.delta > 0:
            style = "green"
        table.add_row(
            cat.name,
            f"{_n(cat.n_a)}/{_n(cat.n_b)}",
            f"{num(cat.pass_rate_a)} {interval(cat.ci_a)}".strip(),
            f"{num(cat.pass_rate_b)} {interval(cat.ci_b)}".strip(),
            Text(_signed(cat.delta), style=style),
            str(cat.fixed),
            Text(str(cat.broken), style="red" if cat.broken else ""),
        )
    return table


def _n(value: int | None) -> str:
    return "—" if value is None else str(value)


def _short(value: str, limit: int = MAX_ANSWER) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _answer(prediction: str | None, answer: str | None, error: str | None) -> str:
    """The prediction, else the raw answer that gave none, else the error (all in the JSON)."""
    if error is not None:
        return _short(f"error: {error}")
    if prediction is not None:
        return _short(prediction)
    return "—" if answer is None else _short(f"(unparsed) {answer}")


def examples_table(c: CaseChanges) -> Table:
    """A few fixed and broken cases with both runs' answers."""
    shown = len(c.fixed_examples) + len(c.broken_examples)
    table = Table(
        title=f"Examples ({shown} of {c.fixed + c.broken} flipped cases)", title_justify="left"
    )
    for col in ("change", "case", "category", "reference", "A answered", "B answered"):
        table.add_column(col)
    rows: list[tuple[str, str, CaseExample]] = [("fixed", "green", e) for e in c.fixed_examples]
    rows += [("broken", "red", e) for e in c.broken_examples]
    for change, style, e in rows:
        table.add_row(
            Text(change, style=style),
            e.case_id,
            e.category or "",
            _short(e.reference or "—"),
            _answer(e.prediction_a, e.answer_a, e.error_a),
            _answer(e.prediction_b, e.answer_b, e.error_b),
        )
    return table


def _ids(label: str, ids: list[str], style: str) -> Text:
    more = f" … and {len(ids) - MAX_IDS} more (all in --json)" if len(ids) > MAX_IDS else ""
    text = Text(f"{label} ({len(ids)}): ", style=style)
    text.append(", ".join(ids[:MAX_IDS]) + more, style="")
    return text


def model_section(m: ModelDiff, diff: RunDiff) -> RenderableType:
    """Everything about one model on one suite."""
    parts: list[RenderableType] = [metrics_table(m, diff.run_a.confidence, diff.run_b.confidence)]
    c = m.cases
    if c is not None:
        parts.append(paired_lines(c, diff.confidence))
    if m.categories:
        parts.append(categories_table(m.categories))
    if c is not None and (c.fixed_examples or c.broken_examples):
        parts.append(examples_table(c))
        if c.fixed_ids:
            parts.append(_ids("fixed", c.fixed_ids, "green"))
        if c.broken_ids:
            parts.append(_ids("broken", c.broken_ids, "red"))
    return Group(*parts)


def _notes(diff: RunDiff) -> list[str]:
    notes = list(diff.notes)
    if diff.suites_only_a:
        notes.append(f"suite(s) only in run A, not compared: {', '.join(diff.suites_only_a)}")
    if diff.suites_only_b:
        notes.append(f"suite(s) only in run B, not compared: {', '.join(diff.suites_only_b)}")
    for suite in diff.suites:
        notes += suite.notes
        if suite.models_only_a:
            notes.append(f"suite {suite.name}: only in run A: {', '.join(suite.models_only_a)}")
        if suite.models_only_b:
            notes.append(f"suite {suite.name}: only in run B: {', '.join(suite.models_only_b)}")
        for m in suite.models:
            notes += m.notes
    return notes


def diff_summary(diff: RunDiff) -> RenderableType:
    """The whole ``tunegate diff`` output: headlines first, then the details per model."""
    parts: list[RenderableType] = [
        Text(f"tunegate diff · {_side('A', diff.run_a)} -> {_side('B', diff.run_b)}", style="bold")
    ]
    models = diff.model_diffs
    if models:
        parts.append(Text("\n".join(headline(m) for m in models), style="bold"))
    else:
        parts.append(Text("nothing to compare: no model ran on a suite in both runs", style="bold"))
    for m in models:
        parts.append(model_section(m, diff))
    notes = _notes(diff)
    if notes:
        parts.append(Text("\n".join(f"! {n}" for n in notes), style="yellow"))
    return Group(*parts)


def print_diff(diff: RunDiff, console: Console) -> None:
    """Print the diff (at least 120 columns wide when the output is not a terminal)."""
    if not console.is_terminal and console.width < 120:
        console.width = 120
    console.print(diff_summary(diff))
