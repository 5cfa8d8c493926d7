"""A sequential run of the main suite: its cases sent in looks (the runner's order), the
gate asked after each look on intervals widened to the look's group-sequential boundary,
and the sending stopped once the verdict is settled (docs/cost.md).

The intervals of a look: each interval of the main suite (the estimates' and the paired
differences') is widened about its estimate by ``c_k / z``, where ``z`` is the normal
quantile of the run's confidence and ``c_k`` the look's O'Brien-Fleming boundary for the
one-sided error ``(1 - confidence) / 2``; the result of the run carries the widened
intervals of the look it stopped at.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunegate.config import Config
from tunegate.config.sequential import SequentialConfig
from tunegate.data import Case
from tunegate.gate import evaluate_gate
from tunegate.gate.sequential import interim_decision
from tunegate.results import Estimate, RunResult
from tunegate.runner import ModelRun
from tunegate.runner.sequential import look_sizes, merge_runs, stratified_order
from tunegate.stats.distributions import normal_quantile
from tunegate.stats.sequential import fractions_of, group_sequential_bounds


@dataclass
class SequentialPlan:
    """The order, the looks and their boundaries for one run."""

    order: list[Case]
    looks: list[int]
    bounds: list[float]
    confidence: float
    method: str
    look_every: int

    @property
    def z(self) -> float:
        return normal_quantile(1.0 - (1.0 - self.confidence) / 2.0)


def plan(config: Config, cases: Sequence[Case], settings: SequentialConfig) -> SequentialPlan:
    """The seeded stratified order, looks every ``look_every`` cases, their boundaries."""
    order = stratified_order(cases, config.seed)
    looks = look_sizes(len(order), settings.look_every)
    alpha = (1.0 - config.level) / 2.0
    bounds = group_sequential_bounds(fractions_of(looks), alpha) if looks else []
    return SequentialPlan(order, looks, bounds, config.level, settings.method, settings.look_every)


def _widen(ci: Any, value: Any, factor: float) -> tuple[float, float] | None:
    if ci is None or value is None:
        return None if ci is None else (float(ci[0]), float(ci[1]))
    lo, hi, v = float(ci[0]), float(ci[1]), float(value)
    return (v - (v - lo) * factor, v + (hi - v) * factor)


def widen(result: RunResult, factor: float) -> None:
    """Widen every interval of the main suite by ``factor`` about its estimate."""
    suite = result.main
    for comp in suite.comparisons:
        comp.ci = _widen(comp.ci, comp.delta, factor) or comp.ci
    for cat_comp in suite.category_comparisons:
        cat_comp.ci = _widen(cat_comp.ci, cat_comp.delta, factor) or cat_comp.ci
    for model in suite.models.values():
        for name, est in model.metrics.items():
            if est.ci is not None and est.value is not None and not name.startswith("latency"):
                model.metrics[name] = Estimate(est.value, _widen(est.ci, est.value, factor))
        for cat in model.categories.values():
            if cat.get("ci") is not None and cat.get("pass_rate") is not None:
                cat["ci"] = list(_widen(cat["ci"], cat["pass_rate"], factor) or ())
        rep = model.repeats
        for fig in (rep or {}).get("metrics", {}).values():
            if fig.get("ci") is not None and fig.get("value") is not None:
                fig["ci"] = list(_widen(fig["ci"], fig["value"], factor) or ())


@dataclass
class SequentialOutcome:
    """What a sequential run sent and decided."""

    cases: list[Case]
    runs: dict[str, ModelRun]
    result: RunResult | None
    info: dict[str, Any] = field(default_factory=dict)


SendFn = Callable[[Sequence[Case]], Awaitable[dict[str, ModelRun]]]
EvaluateFn = Callable[[Sequence[Case], dict[str, ModelRun]], Awaitable[RunResult]]


async def run_looks(
    the_plan: SequentialPlan, send: SendFn, evaluate: EvaluateFn, gate: Any
) -> SequentialOutcome:
    """Send look after look (``send`` the new cases), ``evaluate`` the cases so far, judge
    the gate on the widened intervals, and stop when settled or at the last look."""
    runs: dict[str, ModelRun] = {}
    sent = 0
    result: RunResult | None = None
    stopped_because = ""
    decision: str | None = None
    k = 0
    for k, (size, bound) in enumerate(zip(the_plan.looks, the_plan.bounds, strict=True), 1):
        runs = merge_runs(runs, await send(the_plan.order[sent:size]))
        sent = size
        result = await evaluate(the_plan.order[:size], runs)
        widen(result, bound / the_plan.z)
        if result.gate is not None:
            result.gate = evaluate_gate(result, gate, leakage=_leakage(result))
        last = k == len(the_plan.looks)
        if result.gate is None:
            stop, why = None, ""
        else:
            stop, why = interim_decision(result.gate)
        if stop is not None and not last:
            decision, stopped_because = stop, why
            break
        if last:
            decision = result.gate.verdict if result.gate is not None else None
            stopped_because = "the whole test set was sent (no interim look settled the verdict)"
    total = len(the_plan.order)
    info = {
        "cases_used": sent,
        "cases_total": total,
        "looks": k,
        "looks_planned": len(the_plan.looks),
        "look_every": the_plan.look_every,
        "stopped_because": stopped_because,
        "decision": decision,
        "method": "group-sequential, Lan-DeMets O'Brien-Fleming-type alpha spending",
        "boundary": the_plan.bounds[k - 1] if k else None,
        "confidence_at_stop": _two_sided(the_plan.bounds[k - 1]) if k else None,
        "case_order": "seeded random order stratified by category",
    }
    if result is not None:
        result.sequential = info
    return SequentialOutcome(list(the_plan.order[:sent]), runs, result, info)


def _two_sided(bound: float) -> float:
    from tunegate.stats.sequential import look_confidence

    return look_confidence(bound)


def _leakage(result: RunResult) -> float | None:
    if result.leakage is None:
        return None
    rate = result.leakage.get("leakage_rate")
    return float(rate) if isinstance(rate, int | float) else None


async def sequential_main(
    config: Config,
    cases: Sequence[Case],
    backends: dict[str, Any],
    store: Any,
    run_id: str,
    settings: SequentialConfig,
    *,
    run_options: dict[str, Any],
    config_dir: Any = None,
) -> tuple[SequentialOutcome, Any]:
    """The main suite, sequentially: returns the outcome and the last look's judging.

    ``run_options``: ``use_cache``, ``policy``, ``observer``, ``fresh``, ``resume`` as
    the pipeline's run options give them."""
    from tunegate.evaluation.judging import run_judges
    from tunegate.pipeline.evaluating import evaluate_run, suite_baselines
    from tunegate.runner import run_models

    suite = config.all_suites[0]
    the_plan = plan(config, cases, settings)
    judged: list[Any] = [None]
    opts = dict(run_options)
    # A look's judge calls are reused by the next look, also when the cache is off.
    own = opts.get("resume") or run_id

    async def send(new: Sequence[Case]) -> dict[str, ModelRun]:
        return await run_models(
            backends,
            new,
            store,
            run_id,
            use_cache=opts["use_cache"],
            policy=opts["policy"],
            observer=opts["observer"],
            fresh=opts["fresh"],
            resume=opts["resume"],
            repeats={n: config.repeats_of(suite, n) for n in backends},
            seed=config.seed,
        )

    async def evaluate(prefix: Sequence[Case], runs: dict[str, ModelRun]) -> RunResult:
        judged[0] = await run_judges(
            config,
            suite,
            prefix,
            runs,
            suite_baselines(config, suite, list(runs)),
            store,
            run_id,
            use_cache=opts["use_cache"],
            policy=opts["policy"],
            observer=opts["observer"],
            config_dir=config_dir,
            fresh=opts["fresh"],
            resume=own,
        )
        return evaluate_run(config, run_id, prefix, runs, config_dir=config_dir, judged=judged[0])

    outcome = await run_looks(the_plan, send, evaluate, config.gate)
    return outcome, judged[0]


def _savings(result: RunResult, info: dict[str, Any]) -> None:
    """What the unsent cases would have cost: the models' cost per 1,000 answers and the
    longest model's seconds per case, times the cases not sent."""
    used, total = int(info["cases_used"]), int(info["cases_total"])
    unsent = total - used
    if unsent <= 0 or used <= 0:
        return
    models = result.main.models.values()
    costs: dict[str, float] = {}  # per currency: amounts in two currencies are never added
    for m in models:
        if m.cost and m.cost.get("per_1k") is not None:
            currency = str(m.cost.get("currency") or "")
            costs[currency] = costs.get(currency, 0.0) + float(m.cost["per_1k"])
    if len(costs) == 1:
        (currency, per_1k), *_ = costs.items()
        info["saved_cost"] = per_1k * unsent / 1000.0
        info["saved_cost_currency"] = currency
    elif costs:
        info["saved_cost_by_currency"] = {c: v * unsent / 1000.0 for c, v in costs.items()}
    walls = [float(m.run.get("wall_s") or 0.0) for m in models]
    if any(walls):
        info["saved_seconds"] = max(walls) / used * unsent


def finish(result: RunResult, outcome: SequentialOutcome, config: Config) -> None:
    """The run's final result: the intervals of the look it stopped at, its gate judged on
    them, and ``sequential`` (where it stopped and why)."""
    info = outcome.info
    boundary = info.get("boundary")
    if boundary is not None:
        z = normal_quantile(1.0 - (1.0 - config.level) / 2.0)
        widen(result, float(boundary) / z)
        if result.gate is not None:
            result.gate = evaluate_gate(result, config.gate, leakage=_leakage(result))
    _savings(result, info)
    result.sequential = info
