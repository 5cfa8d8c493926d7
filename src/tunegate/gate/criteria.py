"""The go/no-go gate: declarative criteria -> PASS / FAIL / INCONCLUSIVE / MISSING -> verdict.

Quality criteria are judged on their confidence interval (paired, for comparisons
with another model, on the cases both answered): PASS when the whole interval
satisfies the threshold (an end exactly on it counts as satisfying), FAIL when the
whole interval violates it, INCONCLUSIVE when it straddles it. A comparison that
rests on no case (no case answered by both) is INCONCLUSIVE.
Operational limits (error rate, unparseable rate, leakage, cost) are facts of this
run and are judged on the observed value; latency percentiles on a distribution-free
interval (:mod:`tunegate.gate.evidence`). ``judge:`` overrides either.

A criterion on another model's own value (``model:``, e.g. a baseline's or a judge's
error rate) can hold a SHIP back but cannot fail the candidate: over its limit it is
INCONCLUSIVE, naming the model. A criterion on a metric whose scorer could not score
more cases than the error limit is INCONCLUSIVE too (:mod:`tunegate.gate.scorer_errors`).

SHIP needs every criterion to PASS; one FAIL gives ITERATE; anything else is
INCONCLUSIVE. Because every criterion must pass, each at level ``confidence``,
the chance of shipping when any one of them is in truth violated is at most
``1 - confidence`` (an intersection-union test).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tunegate.config import OBSERVED_METRICS, Criterion, GateConfig, TrustJudgeConfig
from tunegate.gate import evidence as gate_evidence
from tunegate.gate.judges import HANDLERS as JUDGE_HANDLERS
from tunegate.gate.judges import (
    judge_behind,
    judge_error_result,
    primary_criterion,
    trust_problem,
)
from tunegate.gate.repeats import REPEAT_CRITERIA, repeat_metric
from tunegate.gate.scorer_errors import hold_for_scorer_errors
from tunegate.results import (
    CategoryComparison,
    Comparison,
    CriterionResult,
    GateResult,
    RunResult,
    Status,
    SuiteResult,
    Verdict,
)
from tunegate.stats import (
    interval_standard_error,
    minimum_detectable_effect,
    required_cases,
    wilson_interval,
)

NOT_YET_MEASURED: dict[str, str] = {}


def default_gate(
    primary: str,
    baselines: list[str],
    leakage_known: bool = False,
    judges: Sequence[str] = (),
) -> GateConfig:
    """No ``gate:`` section: the primary metric non-inferior to every baseline within
    0.02, at most 1% failed requests for the candidate, each baseline and each judge
    (``judges``) of the main suite, no model stopped (unreachable, fatal error, no
    successful request), and, when a train file is known, no test case duplicating it."""
    criteria = [primary_criterion(primary, b, 0.02) for b in baselines]
    criteria.append(Criterion(metric="error_rate", max=0.01))
    others = dict.fromkeys([*baselines, *judges])
    criteria += [Criterion(metric="error_rate", model=m, max=0.01) for m in others]
    criteria.append(Criterion(metric="stopped_models", max=0))
    if leakage_known:
        criteria.append(Criterion(metric="leakage", max=0))
    return GateConfig(criteria=criteria)


def describe(c: Criterion) -> str:
    """A criterion in one short line, e.g. ``macro_f1 - zero-shot >= -0.02``."""
    where = "".join(
        f" [{k} {v}]" for k, v in (("suite", c.suite), ("category", c.category)) if v is not None
    )
    metric = c.metric if c.model is None else f"{c.metric} of {c.model}"
    if c.metric == "stopped_models" and c.max == 0:
        return f"no model stopped (unreachable, fatal error, no successful request){where}"
    if c.min_delta is not None:
        return f"{c.metric} - {c.vs} >= {c.min_delta:g}{where}"
    if c.max_drop is not None:
        return f"{c.metric} drop vs {c.vs} <= {c.max_drop:g}{where}"
    if c.max_ratio is not None:
        return f"{c.metric} / {c.vs} <= {c.max_ratio:g}{where}"
    if c.vs is not None and c.min is not None:  # a preference: the win rate against vs
        return f"{c.metric} vs {c.vs} >= {c.min:g}{where}"
    if c.min is not None:
        return f"{metric} >= {c.min:g}{where}"
    return f"{metric} <= {c.max:g}{where}"


def _status(
    value: float, ci: tuple[float, float] | None, threshold: float, at_least: bool, judge: str
) -> Status:
    if judge == "observed" or ci is None:
        ok = value >= threshold if at_least else value <= threshold
        return "PASS" if ok else "FAIL"
    lo, hi = ci
    if at_least:
        return "PASS" if lo >= threshold else "FAIL" if hi < threshold else "INCONCLUSIVE"
    return "PASS" if hi <= threshold else "FAIL" if lo > threshold else "INCONCLUSIVE"


def _left_out(comp: Comparison | CategoryComparison) -> str:
    """``" (13 left out: baseline error 13)"``, or nothing when every case was paired."""
    if not comp.n_excluded:
        return ""
    why = ", ".join(f"{k} {v}" for k, v in comp.excluded.items())
    return f" ({comp.n_excluded} left out: {why})" if why else f" ({comp.n_excluded} left out)"


def _judges_of(suite: SuiteResult) -> list[str]:
    """The models that judged in ``suite`` (pointwise and pairwise judges)."""
    entries = (suite.judges or {}).get("judges", [])
    return list(dict.fromkeys(str(e["judge"]) for e in entries if e.get("judge")))


def _open_reason(c: CriterionResult) -> str:
    """``description (inconclusive: about 412 cases would decide it)``: how many cases would
    decide it only where more cases can (an interval straddling its threshold)."""
    more = f": about {c.required_n} cases would decide it" if c.required_n else ""
    return f"{c.description} ({c.status.lower()}{more})"


class _Judge:
    def __init__(self, result: RunResult, candidate: str, leakage: float | None) -> None:
        self.run = result
        self.suite = result.main
        self.candidate = candidate
        self.leakage = leakage
        self.confidence = result.confidence
        self.trust: TrustJudgeConfig | None = None  # gate.trust_judge
        self.gate: GateConfig | None = None  # the criteria in force (judges' error limits)

    def missing(self, c: Criterion, judge: str, reason: str) -> CriterionResult:
        return CriterionResult(
            criterion=c.model_dump(exclude_none=True),
            description=describe(c),
            status="MISSING",
            judge=judge,
            reason=reason,
        )

    def judge(self, c: Criterion) -> CriterionResult:
        judge = c.judge or ("observed" if c.metric in OBSERVED_METRICS else "interval")
        out = self._judge(c, judge)
        out = hold_for_scorer_errors(self.run, self.gate, c, self.candidate, out)
        who = c.model or self.candidate
        return gate_evidence.hold_back(self, out, who, f"{who} is not the candidate")

    def _judge(self, c: Criterion, judge: str) -> CriterionResult:
        if c.metric in NOT_YET_MEASURED:
            return self.missing(c, judge, NOT_YET_MEASURED[c.metric])
        behind = judge_behind(self.run, c)
        if behind is not None:
            problem = trust_problem(self.run, self.trust, behind[0])
            if problem is not None:
                return self.missing(c, judge, f"{behind[1]}: {problem}")
        failing = judge_error_result(self, c, judge)  # a judge over its error limit
        if failing is not None:
            return failing
        handler = JUDGE_HANDLERS.get(c.metric)
        if handler is not None:
            return handler(self, c, judge)
        suite = self.run.suite(c.suite)
        if suite is None:
            return self.missing(c, judge, f"no suite named {c.suite!r} in this run")
        self.suite = suite
        where = f" in suite {suite.name}" if c.suite is not None else ""
        if c.metric == "error_rate":
            return gate_evidence.error_rate(self, c, judge)
        if c.metric == "stopped_models":
            return gate_evidence.stopped(self, c, judge)
        who = c.model or self.candidate
        model = suite.models.get(who)
        if model is None:
            return self.missing(c, judge, f"no results for {who!r}{where}")
        if c.vs is not None and c.vs not in suite.models:
            return self.missing(c, judge, f"no results for {c.vs!r}{where}")
        if c.metric == "cost_per_1k":
            if model.cost is None:
                return self.missing(c, judge, f"no price for {who} in the config")
            out = self._absolute(c, judge, float(model.cost["per_1k"]), None, model.n)
            if model.cost.get("currency"):  # the threshold is in the model's own currency
                out.reason += f" {model.cost['currency']} per 1,000 answers"
            return out
        if c.metric.startswith("latency_"):
            return gate_evidence.latency(self, c, c.judge or "interval")
        if c.metric == "leakage":
            if self.leakage is None:
                return self.missing(
                    c, judge, "no leakage check ran (name the train file or run check-data)"
                )
            return self._absolute(c, judge, self.leakage, None, self.suite.n_cases)
        if c.metric == "unparseable_rate":
            k = model.unparseable
            ci = wilson_interval(k, model.n, self.confidence) if model.n else None
            return self._absolute(c, judge, k / model.n if model.n else math.nan, ci, model.n)
        if c.metric in REPEAT_CRITERIA:
            return repeat_metric(self, c, judge, model)
        if c.category is not None or (c.metric == "pass_rate" and c.vs is None):
            return self._category(c, judge)
        if c.vs is not None:
            return self._paired(c, judge)
        est = model.metrics.get(c.metric)
        if est is None:
            known = ", ".join(model.metrics)
            return self.missing(c, judge, f"{c.metric} is not measured{where} (measured: {known})")
        if est.value is None:
            return self.missing(c, judge, f"{c.metric} is undefined for {who}")
        return self._absolute(c, judge, est.value, est.ci, model.n)

    def _absolute(
        self, c: Criterion, judge: str, value: float, ci: tuple[float, float] | None, n: int
    ) -> CriterionResult:
        at_least = c.min is not None
        threshold = c.min if c.min is not None else c.max
        if threshold is None:  # min_delta etc. without vs were rejected by the config
            return self.missing(c, judge, f"{describe(c)} needs a model to compare with")
        used_ci = ci if judge == "interval" else None
        status = _status(value, used_ci, threshold, at_least, judge)
        return self._finish(c, judge, status, value, used_ci, threshold, n, f"observed {value:.4g}")

    def _paired(self, c: Criterion, judge: str) -> CriterionResult:
        comp = next(
            (
                x
                for x in self.suite.comparisons
                if x.baseline == c.vs and x.metric == c.metric and x.candidate == self.candidate
            ),
            None,
        )
        if comp is None:
            return self.missing(c, judge, f"no paired comparison of {c.metric} with {c.vs}")
        if comp.n == 0:
            return self._unpaired(c, judge, comp)
        if c.max_ratio is not None:
            return self.missing(c, judge, f"max_ratio applies to latency, not {c.metric}")
        return self._delta(c, judge, comp)

    def _delta(
        self, c: Criterion, judge: str, comp: Comparison | CategoryComparison
    ) -> CriterionResult:
        """A paired difference against ``min_delta`` (or ``-max_drop``)."""
        threshold = c.min_delta if c.min_delta is not None else -(c.max_drop or 0.0)
        ci = comp.ci if judge == "interval" else None
        status = _status(comp.delta, ci, threshold, True, judge)
        where = f"{comp.category}: " if isinstance(comp, CategoryComparison) else ""
        reason = (
            f"{where}{self.candidate} {comp.candidate_value:.3f} vs {c.vs} "
            f"{comp.baseline_value:.3f}, paired delta {comp.delta:+.3f} on the {comp.n} "
            f"cases both answered{_left_out(comp)}"
        )
        return self._finish(c, judge, status, comp.delta, ci, threshold, comp.n, reason)

    def _unpaired(
        self, c: Criterion, judge: str, comp: Comparison | CategoryComparison
    ) -> CriterionResult:
        """A comparison without a case answered by both models: nothing to judge."""
        where = f"{comp.category}: " if isinstance(comp, CategoryComparison) else ""
        return CriterionResult(
            criterion=c.model_dump(exclude_none=True),
            description=describe(c),
            status="INCONCLUSIVE",
            judge=judge,
            reason=f"{where}no case was answered by both models{_left_out(comp)}",
            n=0,
        )

    def _category(self, c: Criterion, judge: str) -> CriterionResult:
        model = self.suite.models[c.model or self.candidate]
        if c.metric not in ("pass_rate", "accuracy"):
            return self.missing(c, judge, f"per-category {c.metric} is not judged (use pass_rate)")
        if c.vs is not None:
            return self._category_paired(c, judge)
        if c.category is None:
            est = model.metrics["pass_rate"]
            assert est.value is not None
            value, ci, n = est.value, est.ci, model.n
        else:
            cat = model.categories.get(c.category)
            if cat is None:
                known = ", ".join(model.categories) or "none"
                return self.missing(
                    c, judge, f"no cases of category {c.category!r} (categories: {known})"
                )
            value, ci, n = float(cat["pass_rate"]), tuple(cat["ci"]), int(cat["n"])
        out = self._absolute(c, judge, value, (float(ci[0]), float(ci[1])) if ci else None, n)
        correct = round(value * n)
        out.reason = out.reason.replace(f"observed {value:.4g}", f"{correct}/{n} correct", 1)
        return out

    def _category_paired(self, c: Criterion, judge: str) -> CriterionResult:
        comp = self.suite.category_comparison(c.vs, c.category or "")
        if comp is None:
            return self.missing(
                c, judge, f"no paired comparison with {c.vs} in category {c.category!r}"
            )
        if comp.n == 0:
            return self._unpaired(c, judge, comp)
        return self._delta(c, judge, comp)

    def _finish(
        self,
        c: Criterion,
        judge: str,
        status: Status,
        value: float,
        ci: tuple[float, float] | None,
        threshold: float,
        n: int | None,
        reason: str,
    ) -> CriterionResult:
        out = CriterionResult(
            criterion=c.model_dump(exclude_none=True),
            description=describe(c),
            status=status,
            judge=judge,
            estimate=value,
            ci=ci,
            threshold=threshold,
            reason=reason,
            n=n,
        )
        if ci is not None and n and all(math.isfinite(x) for x in ci):
            se = interval_standard_error(ci, self.confidence)
            out.mde = minimum_detectable_effect(se, self.confidence)
            if status == "INCONCLUSIVE":
                out.required_n = required_cases(se, n, value - threshold, self.confidence)
                need = (
                    f"about {out.required_n} cases would decide it (80% power)"
                    if out.required_n
                    else "the estimate sits on the threshold, so no test set decides it"
                )
                out.reason += (
                    f"; the interval straddles {threshold:g}: with {n} cases the smallest "
                    f"detectable distance is {out.mde:.3f}, {need}"
                )
        return out


def evaluate_gate(
    result: RunResult, gate: GateConfig | None, *, leakage: float | None = None
) -> GateResult:
    """Judge every criterion of ``gate`` (or the default gate) on ``result``."""
    is_default = gate is None
    candidate = gate.candidate if gate is not None and gate.candidate else result.candidate
    judges = [m for m in _judges_of(result.main) if m != candidate]
    config = gate or default_gate(
        result.primary_metric, result.baselines, leakage is not None, judges
    )
    judge = _Judge(result, candidate, leakage)
    judge.trust = config.trust_judge
    judge.gate = config
    criteria = [judge.judge(c) for c in config.criteria]
    failed = [c for c in criteria if c.status == "FAIL"]
    open_ = [c for c in criteria if c.status in ("INCONCLUSIVE", "MISSING")]
    verdict: Verdict
    if failed:
        verdict = "ITERATE"
        reason = f"{len(failed)} of {len(criteria)} criteria failed: " + "; ".join(
            c.description for c in failed
        )
    elif open_:
        verdict = "INCONCLUSIVE"
        parts = [_open_reason(c) for c in open_]
        reason = f"{len(open_)} of {len(criteria)} criteria undecided: " + "; ".join(parts)
    else:
        verdict = "SHIP"
        reason = f"all {len(criteria)} criteria pass at {result.confidence:.0%} confidence"
    return GateResult(
        verdict=verdict,
        reason=reason,
        candidate=candidate,
        confidence=result.confidence,
        default=is_default,
        criteria=criteria,
    )
