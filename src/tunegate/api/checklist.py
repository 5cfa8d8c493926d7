"""The tutorial's go/no-go checklist, checked in full: :func:`evaluate_go_no_go`.

The tutorial lists seven criteria and checks four. Here all seven are checked,
and a criterion whose number is absent is reported as missing (a failure), never
as passed. The numbers come from a dict in the tutorial's keys, or are read from
a tunegate run result (:func:`go_no_go_evidence`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

__all__ = [
    "check_go_no_go",
    "evaluate_go_no_go",
    "go_no_go_checklist",
    "go_no_go_evidence",
    "go_no_go_numbers",
]

#: The seven criteria, keyed by the ``results`` key that carries each number.
#: ``min``: the number must be at least this; ``max``: at most this.
go_no_go_checklist: dict[str, dict[str, Any]] = {
    "target_improvement": {
        "min": 0.05,
        "description": "target task improvement >= 5% over baseline",
    },
    "general_regression": {
        "max": 0.05,
        "description": "general capability regression <= 5% drop",
    },
    "exact_match": {"min": 0.85, "description": "exact-match accuracy >= 85%"},
    "latency_p99_ratio": {"max": 2.0, "description": "p99 latency <= 2x baseline"},
    "human_preference": {"min": 0.60, "description": "human preference >= 60%"},
    "adversarial_robustness": {
        "min": 0.90,
        "description": "adversarial robustness >= 90% pass rate",
    },
    "schema_compliance": {"min": 1.0, "description": "schema compliance 100%"},
}


def _number(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def check_go_no_go(
    results: Mapping[str, Any] | Any, checklist: Mapping[str, Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Each criterion's ``{"criterion", "description", "value", "ci", "threshold",
    "status", "message"}``.

    ``status`` is ``"PASS"``, ``"FAIL"``, ``"MISSING"`` or, for a number given with
    its interval (``{"value": v, "ci": [lo, hi]}``), ``"INCONCLUSIVE"`` when the
    interval straddles the threshold: such a number passes only when its whole
    interval clears the threshold, and fails outright only when the whole interval
    misses it.
    """
    numbers_ = _run_evidence(results) if _is_run_result(results) else results
    if not isinstance(numbers_, Mapping):
        raise TypeError(
            f"results must be a dict of numbers or a tunegate run result, not {type(results).__name__}"
        )
    rows = []
    for key, criterion in (checklist or go_no_go_checklist).items():
        at_least = "min" in criterion
        threshold = float(criterion["min"] if at_least else criterion["max"])
        description = str(criterion.get("description", key))
        raw = numbers_.get(key)
        value = _number(raw)
        ci = _interval(raw)
        if value is None:
            status = "MISSING"
            given = "absent" if raw is None else f"not a number ({raw!r})"
            message = f"{key}: missing ({given}); needed for {description}"
        elif ci is not None:
            status = _interval_status(ci, threshold, at_least)
            shown = f"{value:.4g} [{ci[0]:.4g}, {ci[1]:.4g}]"
            verdict = {
                "PASS": "the interval clears",
                "FAIL": "the interval misses",
                "INCONCLUSIVE": "inconclusive: the interval straddles",
            }[status]
            message = f"{key}: {shown}, {verdict} {threshold:g} ({description})"
        else:
            ok = value >= threshold if at_least else value <= threshold
            status = "PASS" if ok else "FAIL"
            sign = (">=" if ok else "<") if at_least else ("<=" if ok else ">")
            message = f"{key}: {value:.4g} {sign} {threshold:g} ({description})"
        rows.append(
            {
                "criterion": key,
                "description": description,
                "value": value,
                "ci": ci,
                "threshold": threshold,
                "status": status,
                "message": message,
            }
        )
    return rows


def _interval(raw: Any) -> tuple[float, float] | None:
    """``(lo, hi)`` of an entry given as ``{"value": ..., "ci": [lo, hi]}``, else None."""
    if not isinstance(raw, Mapping):
        return None
    ci = raw.get("ci")
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return None
    lo, hi = _number(ci[0]), _number(ci[1])
    if lo is None or hi is None:
        return None
    return (lo, hi)


def _interval_status(ci: tuple[float, float], threshold: float, at_least: bool) -> str:
    lo, hi = ci
    if at_least:
        return "PASS" if lo >= threshold else "FAIL" if hi < threshold else "INCONCLUSIVE"
    return "PASS" if hi <= threshold else "FAIL" if lo > threshold else "INCONCLUSIVE"


def evaluate_go_no_go(
    results: Mapping[str, Any] | Any, checklist: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[bool, list[str]]:
    """``(passed, failures)``: all seven criteria of :data:`go_no_go_checklist`.

    ``results`` maps the tutorial's keys ``target_improvement``,
    ``general_regression`` (a drop, positive), ``exact_match``,
    ``schema_compliance``, plus ``latency_p99_ratio``, ``human_preference`` and
    ``adversarial_robustness`` to numbers (fractions: 0.05 is 5%), or to
    ``{"value": v, "ci": [lo, hi]}`` to be judged on the interval (see
    :func:`check_go_no_go`; an inconclusive criterion fails the check). It may also be
    a tunegate run result (:class:`tunegate.results.RunResult` or its JSON report),
    read by :func:`go_no_go_evidence`: then target improvement, general regression,
    exact match, human preference and adversarial robustness are judged on the run's
    intervals (paired bootstrap, Wilson), as ``tunegate run``'s gate judges them,
    and latency and schema compliance on the observed values. ``failures`` has one message per criterion
    that failed or whose number is missing; ``passed`` is true only when every
    criterion passed.
    """
    rows = check_go_no_go(results, checklist)
    failures = [row["message"] for row in rows if row["status"] != "PASS"]
    return not failures, failures


def _is_run_result(results: Any) -> bool:
    if hasattr(results, "suites") and hasattr(results, "to_dict"):
        return True
    return isinstance(results, Mapping) and "suites" in results and "candidate" in results


def _value(metrics: Mapping[str, Any], name: str) -> float | None:
    return _number(metrics.get(name)) if isinstance(metrics, Mapping) else None


#: Criteria judged on a run's interval when it has one (as ``tunegate run``'s gate does);
#: latency and schema compliance are facts about the run, judged as observed.
_JUDGED_ON_INTERVAL = frozenset(
    {
        "target_improvement",
        "general_regression",
        "exact_match",
        "human_preference",
        "adversarial_robustness",
    }
)


def _entry(value: Any, ci: Any = None, *, negate: bool = False) -> dict[str, Any] | None:
    number = _number(value)
    if number is None:
        return None
    interval = _interval({"ci": ci})
    if negate:
        number = -number
        interval = None if interval is None else (-interval[1], -interval[0])
    return {"value": number, "ci": interval}


def go_no_go_evidence(run: Mapping[str, Any] | Any) -> dict[str, dict[str, Any] | None]:
    """The seven numbers of a tunegate run result with their intervals where the run has
    them: ``{"value": v, "ci": (lo, hi) or None}`` per criterion, ``None`` when absent.

    Read with ``candidate`` the run's candidate and ``baseline`` its first baseline:

    * ``target_improvement``: the main suite's comparison of candidate against
      baseline on the primary metric (``delta`` and its paired bootstrap interval);
    * ``general_regression``: in the first regression suite (``base:``), the drop
      ``base - candidate`` on its primary metric (the negated paired comparison);
    * ``exact_match``: the candidate's ``exact_match`` metric (main suite first),
      else its ``accuracy`` on the main suite (a label's exact match);
    * ``latency_p99_ratio``: candidate p99 latency / baseline p99 latency, main suite;
    * ``human_preference``: the candidate's win rate (ties as half) in the run's human
      study (``human.preference.win_rate``), when the run has one;
    * ``adversarial_robustness``: the candidate's pass rate in an ``adversarial``
      category of any suite (Wilson interval);
    * ``schema_compliance``: the candidate's ``schema_compliance`` metric (a
      ``json_schema`` scorer), else ``json_valid`` (a ``json`` scorer), first suite
      that has one.
    """
    doc: Mapping[str, Any] = run.to_dict() if hasattr(run, "to_dict") else run
    candidate = doc.get("candidate")
    baselines = doc.get("baselines") or []
    baseline = baselines[0] if baselines else None
    suites = [s for s in doc.get("suites") or [] if isinstance(s, Mapping)]
    out: dict[str, dict[str, Any] | None] = dict.fromkeys(go_no_go_checklist)
    if not suites or candidate is None:
        return out
    main = suites[0]

    def model(suite: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
        found = (suite.get("models") or {}).get(name) if name is not None else None
        return found if isinstance(found, Mapping) else {}

    def metric(suite: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
        found = (model(suite, candidate).get("metrics") or {}).get(name)
        return found if isinstance(found, Mapping) else None

    def comparison(suite: Mapping[str, Any], against: str | None) -> Mapping[str, Any] | None:
        wanted = (candidate, against, suite.get("primary_metric"))
        for comp in suite.get("comparisons") or []:
            if (comp.get("candidate"), comp.get("baseline"), comp.get("metric")) == wanted:
                return comp  # type: ignore[no-any-return]
        return None

    target = comparison(main, baseline)
    if target is not None:
        out["target_improvement"] = _entry(target.get("delta"), target.get("ci"))
    for suite in suites:
        regression = suite.get("regression")
        if isinstance(regression, Mapping) and regression.get("base"):
            comp = comparison(suite, regression["base"])
            if comp is not None:
                out["general_regression"] = _entry(comp.get("delta"), comp.get("ci"), negate=True)
            break
    em = next((m for s in suites if (m := metric(s, "exact_match")) is not None), None)
    em = em if em is not None else metric(main, "accuracy")
    if em is not None:
        out["exact_match"] = _entry(em.get("value"), em.get("ci"))
    mine = _number((model(main, candidate).get("latency_ms") or {}).get("p99"))
    theirs = _number((model(main, baseline).get("latency_ms") or {}).get("p99"))
    if mine is not None and theirs:
        out["latency_p99_ratio"] = _entry(mine / theirs)
    human = doc.get("human")
    preference = human.get("preference") if isinstance(human, Mapping) else None
    if isinstance(preference, Mapping) and preference.get("candidate") in (None, candidate):
        rate = preference.get("win_rate")
        if isinstance(rate, Mapping):
            out["human_preference"] = _entry(rate.get("value"), rate.get("ci"))
    for suite in suites:
        adversarial = (model(suite, candidate).get("categories") or {}).get("adversarial")
        if isinstance(adversarial, Mapping):
            out["adversarial_robustness"] = _entry(
                adversarial.get("pass_rate"), adversarial.get("ci")
            )
            break
    for suite in suites:
        schema = metric(suite, "schema_compliance") or metric(suite, "json_valid")
        if schema is not None:
            out["schema_compliance"] = _entry(schema.get("value"), schema.get("ci"))
            break
    return out


def go_no_go_numbers(run: Mapping[str, Any] | Any) -> dict[str, float | None]:
    """The seven point values of :func:`go_no_go_evidence` (``None`` when absent)."""
    return {
        key: None if entry is None else entry["value"]
        for key, entry in go_no_go_evidence(run).items()
    }


def _run_evidence(run: Mapping[str, Any] | Any) -> dict[str, Any]:
    """What :func:`evaluate_go_no_go` judges for a run: intervals for the criteria the
    gate judges on intervals, observed values for latency and schema compliance."""
    judged: dict[str, Any] = {}
    for key, entry in go_no_go_evidence(run).items():
        if entry is None:
            judged[key] = None
        elif key in _JUDGED_ON_INTERVAL and entry["ci"] is not None:
            judged[key] = {"value": entry["value"], "ci": list(entry["ci"])}
        else:
            judged[key] = entry["value"]
    return judged
