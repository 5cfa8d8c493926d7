"""Gate criteria on repeated sampling (``repeats: k``): ``pass_at_k`` (any of a case's k
answers passes), ``pass_all_k`` (all k pass) and ``flakiness`` (the share of cases
whose outcome differs between repeats), judged on their cluster-bootstrap intervals
(cases resampled, never answers). A model asked each case once has no such figures
(MISSING); a case with a missing answer in any repeat holds the criterion INCONCLUSIVE:
it is never a pass nor a fail in disguise."""

from __future__ import annotations

from tunegate.config import Criterion
from tunegate.gate.evidence import _Judging
from tunegate.results import CriterionResult, ModelResult

#: The criteria's metric names, as in the JSON's ``repeats.metrics``.
REPEAT_CRITERIA = ("pass_at_k", "pass_all_k", "flakiness")


def repeat_metric(j: _Judging, c: Criterion, judge: str, model: ModelResult) -> CriterionResult:
    """``c`` (a :data:`REPEAT_CRITERIA` metric with ``min`` or ``max``) on ``model``."""
    rep = model.repeats
    if rep is None:
        return j.missing(
            c, judge, f"{model.name} answered each case once: {c.metric} needs repeats: k >= 2"
        )
    if c.vs is not None or c.category is not None:
        return j.missing(c, judge, f"{c.metric} is judged on the model's own value only")
    est = rep["metrics"].get(c.metric) or {}
    value, ci = est.get("value"), est.get("ci")
    if value is None:
        return j.missing(c, judge, f"{c.metric} is undefined for {model.name}: no complete case")
    interval = (float(ci[0]), float(ci[1])) if ci else None
    out = j._absolute(c, judge, float(value), interval, int(rep["complete_cases"]))
    k, missing = rep["k"], int(rep["missing_cases"])
    out.reason = f"{out.reason} over {rep['complete_cases']} cases x {k} repeats"
    if missing:
        out.status = "INCONCLUSIVE"
        out.reason += (
            f"; {missing} cases lack an answer in some repeat (failed or unparseable), "
            "so the figure is undecided"
        )
    return out
