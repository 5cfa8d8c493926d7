"""Shared wording for every renderer: metric names, numbers, one-line conclusions."""

from __future__ import annotations

from tunegate.results import Comparison, Estimate, SuiteResult

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
    """A p-value as people write it."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def conclusion(c: Comparison, confidence: float) -> str:
    """One line: who is better on what, by how much, how sure."""
    name = metric_name(c.metric)
    ci = interval(c.ci)
    if c.direction == "better":
        return f"{c.candidate} beats {c.baseline} on {name} by {c.delta:.3f} {ci}, {p_value(c.p_value)}"
    if c.direction == "worse":
        return (
            f"{c.candidate} is worse than {c.baseline} on {name} by {-c.delta:.3f} {ci}, "
            f"{p_value(c.p_value)}"
        )
    return (
        f"{c.candidate} vs {c.baseline}: no significant difference on {name} "
        f"(delta {c.delta:+.3f} {ci} includes 0 at {confidence:.0%}, {p_value(c.p_value)})"
    )


def out_tokens(value: int | None) -> str:
    """Completion tokens, or a dash when the backend reports none (local scoring)."""
    return "—" if value is None else str(value)


def metric_columns(suite: SuiteResult) -> list[str]:
    """The metrics a models table shows: the primary one first, then up to three more."""
    if suite.task == "classification":
        rest = [m for m in ("accuracy", "macro_f1") if m != suite.primary_metric]
    else:
        rest = [m for m in suite.metrics if m != suite.primary_metric][:2]
        if suite.primary_metric != "pass_rate" and len(suite.metrics) > 1:
            rest.append("pass_rate")
    return [suite.primary_metric, *rest]
