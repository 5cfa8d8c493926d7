"""Shared wording for every renderer: metric names, numbers, one-line conclusions."""

from __future__ import annotations

from tunegate.results import Comparison, Estimate, RunResult, SuiteResult
from tunegate.tasks import stored_task_kind

METRIC_NAMES = {
    "accuracy": "accuracy",
    "macro_f1": "macro-F1",
    "micro_f1": "micro-F1",
    "weighted_f1": "weighted-F1",
    "error_rate": "error rate",
    "unparseable_rate": "unparseable rate",
}


def metric_name(metric: str) -> str:
    """The display name of a metric key."""
    return METRIC_NAMES.get(metric, metric)


def num(value: float | None, digits: int = 3) -> str:
    """A number with fixed decimals, or an em dash when undefined."""
    return "—" if value is None else f"{value:.{digits}f}"


def interval(ci: tuple[float, float] | None, digits: int = 3) -> str:
    """``[lo, hi]`` or an empty string."""
    return "" if ci is None else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def estimate(e: Estimate, digits: int = 3) -> str:
    """``value [lo, hi]``."""
    return f"{num(e.value, digits)} {interval(e.ci, digits)}".strip()


def p_value(p: float) -> str:
    """A p-value as people write it (never ``0.0000``: below 1e-4 it is ``p<0.0001``)."""
    if p != p:
        return "—"
    return "p<0.0001" if p < 1e-4 else "p<0.001" if p < 0.001 else f"p={p:.3f}"


def p_text(p: object) -> str:
    """A p-value with four decimals for tables (``<0.0001`` below 1e-4), or a dash."""
    if not isinstance(p, int | float) or p != p:
        return "—"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def shows_test(c: Comparison) -> tuple[bool, bool]:
    """Whether a comparison's row shows its McNemar p-value and its wins/ties/losses:
    only when they are about the row's own metric (``p_value_of`` / ``per_case``; a
    result stored before those keys shows both, as it did)."""
    p_here = not c.p_value_of or c.p_value_of == c.metric
    wtl_here = not c.per_case or c.per_case == c.metric
    return p_here and c.n > 0, wtl_here and c.n > 0


def errors_rule(suite: SuiteResult) -> str:
    """How a model's own metrics treat its failed requests (shown beside them)."""
    if suite.metrics == ["perplexity"]:  # a failed request has no value, not a bad one
        return "a failed request has no perplexity and is left out"
    return "a failed request counts as a wrong answer"


def left_out(c: Comparison) -> str:
    """``27 (13 left out: baseline error 13)`` — the cases a comparison rests on."""
    if not c.n_excluded:
        return str(c.n)
    why = ", ".join(f"{k} {v}" for k, v in c.excluded.items())
    return f"{c.n} ({c.n_excluded} left out: {why})"


def _signed(delta: float, ci: tuple[float, float]) -> str:
    return f"{delta:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]"


def conclusion(c: Comparison, confidence: float, suite: SuiteResult | None = None) -> str:
    """One sentence: who is better on what, by how much, and which evidence decided it.

    The decision is the paired bootstrap interval of the metric's delta (signs as
    measured: candidate minus baseline). McNemar's test is on per-case correctness
    (accuracy, or pass/fail beyond classification); it follows as supporting evidence,
    with the accuracy (or pass-rate) delta it tests when ``suite`` is given.
    """
    name = metric_name(c.metric)
    if c.n == 0 and (c.p_value_of or c.per_case):
        why = ", ".join(f"{k} {v}" for k, v in c.excluded.items())
        return (
            f"{c.candidate} vs {c.baseline} on {name}: no case was answered by both models "
            f"({why or 'no case'}): nothing to compare"
        )
    why = ", ".join(f"{k} {v}" for k, v in c.excluded.items())
    on = f", on the {c.n} cases both answered; left out: {why}" if c.n_excluded else ""
    evidence = f"{_signed(c.delta, c.ci)} (paired bootstrap, {confidence:.0%}{on})"
    direction = c.direction
    if c.metric == "perplexity" and direction != "none":  # lower is better
        direction = "worse" if direction == "better" else "better"
    if direction == "better":
        head = f"{c.candidate} beats {c.baseline} on {name}: {evidence}"
    elif direction == "worse":
        head = f"{c.candidate} is worse than {c.baseline} on {name}: {evidence}"
    else:
        head = (
            f"{c.candidate} vs {c.baseline}: no significant difference on {name}: "
            f"{evidence} includes 0"
        )
    if not c.test.startswith("McNemar") or c.p_value != c.p_value or c.metric == "perplexity":
        return head
    verdict = "significant" if c.p_value < 1 - confidence else "not significant"
    if c.p_value_of:  # the p-value says what it tests: the row's own metric, or another
        if c.p_value_of == c.metric:
            return f"{head}; McNemar {p_value(c.p_value)} ({verdict})"
        row = next(
            (
                x
                for x in (suite.comparisons if suite is not None else [])
                if x.baseline == c.baseline and x.metric == c.p_value_of
            ),
            None,
        )
        tested = metric_name(c.p_value_of).replace("pass_rate", "pass/fail")
        delta = f" {row.delta:+.3f}" if row is not None else ""
        return f"{head}; {tested}{delta}, McNemar {p_value(c.p_value)} ({verdict})"
    kind = None if suite is None else stored_task_kind(suite.task)
    by_class = "pass/fail" not in c.test or (kind is not None and kind.picks_label)
    tested, key = ("accuracy", "accuracy") if by_class else ("pass rate", "pass_rate")
    if c.metric == key:
        return f"{head}; McNemar {p_value(c.p_value)} ({verdict})"
    delta = ""
    if suite is not None and c.candidate in suite.models and c.baseline in suite.models:
        mine = suite.models[c.candidate].metrics.get(key)
        theirs = suite.models[c.baseline].metrics.get(key)
        if mine and theirs and mine.value is not None and theirs.value is not None:
            delta = f" {mine.value - theirs.value:+.3f}"
    return f"{head}; {tested}{delta}, McNemar {p_value(c.p_value)} ({verdict})"


def age(seconds: float | None) -> str:
    """``45 s ago``, ``14 min ago``, ``3 h ago``, ``2 days ago``."""
    if seconds is None:
        return "at an unknown time"
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def cache_lines(result: RunResult) -> list[str]:
    """Per model that reused stored answers: how many, from which run(s), how long ago."""
    lines = []
    for suite in result.suites:
        prefix = "" if suite is result.main else f"{suite.name}/"
        for name, m in suite.models.items():
            cache = m.cache
            if not cache or not cache.get("reused"):
                continue
            runs = [
                ("this run" if r["run_id"] == result.run_id else f"run {r['run_id']}")
                + (f", {age(r.get('age_s'))}" if r["run_id"] != result.run_id else "")
                + (f" ({r['answers']})" if len(cache["from_runs"]) > 1 else "")
                for r in cache["from_runs"]
            ]
            total = cache["reused"] + cache["fresh"]
            where = f" from {'; '.join(runs)}" if runs else ""
            lines.append(
                f"{prefix}{name}: {cache['reused']} of {total} answers reused{where}; "
                f"--no-cache {name} to ask again"
            )
    return lines


def run_notes(result: RunResult) -> list[str]:
    """Every warning and note of the run, for every report: the run's and each suite's
    notes, each model's errors, and train/test leakage."""
    notes = list(result.notes) + [n for s in result.suites for n in s.notes]
    for suite in result.suites:
        prefix = "" if suite is result.main else f"{suite.name}/"
        for m in suite.models.values():
            if m.errors:
                kinds = ", ".join(f"{k} {v}" for k, v in sorted(m.error_kinds.items()))
                first = f"; first: {m.first_errors[0]}" if m.first_errors else ""
                notes.append(f"{prefix}{m.name}: {m.errors} error(s) ({kinds}){first}")
    leak = result.leakage
    if leak is not None and leak.get("leaked_test_ids"):
        ids = leak["leaked_test_ids"]
        notes.append(
            f"leakage: {len(ids)} test case(s) duplicate the train file "
            f"(first: {', '.join(ids[:5])})"
        )
    return list(dict.fromkeys(notes))


def out_tokens(value: int | None) -> str:
    """Completion tokens, or a dash when the backend reports none (local scoring)."""
    return "—" if value is None else str(value)


def metric_columns(suite: SuiteResult) -> list[str]:
    """The metrics a models table shows: the primary one first, then every other metric of
    the suite's scorers (classification: accuracy and macro-F1), then the pass rate when
    several scorers (or a pass rule) decide it."""
    kind = stored_task_kind(suite.task)
    if kind is not None and kind.table_metrics:
        rest = [m for m in kind.table_metrics if m != suite.primary_metric]
    else:
        rest = [m for m in suite.metrics if m != suite.primary_metric]
        several = len(suite.metrics) > 1 or suite.pass_rule not in ("", "the scorer passes")
        if suite.primary_metric != "pass_rate" and several:
            rest.append("pass_rate")
    # A preference (a suite judged only by a pairwise judge) has no value per model: the
    # pairwise judges' table shows it.
    if suite.primary_metric in ("judge_preference", "human_preference"):
        return rest
    return [suite.primary_metric, *rest]


def column_name(suite: SuiteResult, metric: str) -> str:
    """A models-table header: the metric's name; the pass rate says when a case passes."""
    if metric == "pass_rate" and suite.pass_rule:
        return f"pass rate ({suite.pass_rule})"
    return metric_name(metric)
