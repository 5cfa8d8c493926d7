"""The evaluation stage of a run: each suite's answers scored, compared case by case with the
baselines and per category, judged, and gathered into a :class:`RunResult` with the gate's
verdict (:func:`evaluate_run`). Pure computation on stored answers: nothing is sent."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunegate.config import (
    Config,
    SuiteConfig,
    TaskConfig,
    default_metric,
    suite_metrics,
)
from tunegate.data import Case
from tunegate.evaluation.cost import model_cost
from tunegate.gate.criteria import evaluate_gate
from tunegate.results import CategoryComparison, Comparison, ModelResult, RunResult, SuiteResult
from tunegate.runner import (
    ModelRun,
)
from tunegate.scoring.scorers import build_scorers

if TYPE_CHECKING:
    from tunegate.data.leakage import LeakageReport
    from tunegate.evaluation.judging import SuiteJudging
    from tunegate.evaluation.scores import ScoredModel


def suite_baselines(config: Config, suite: SuiteConfig, models: Sequence[str]) -> list[str]:
    if config.candidate not in models:
        return []
    if suite.base is not None:
        return [suite.base] if suite.base != config.candidate else []
    return [b for b in config.baselines if b in models]


def _comparison_plan(
    config: Config, suite: SuiteConfig, primary: str, baselines: Sequence[str]
) -> dict[str, list[str]]:
    """Baseline -> metrics to compare: the baselines on the primary metric (and accuracy for
    classification), plus whatever the gate's criteria on this suite compare with."""
    main = config.is_main(suite)
    known = suite_metrics(suite.task)
    plan: dict[str, list[str]] = {}
    for baseline in baselines:
        plan[baseline] = list(dict.fromkeys([primary, *suite.task.kind.also_compared]))
    for c in config.gate.criteria if config.gate else []:
        here = c.suite == suite.name or (c.suite is None and main)
        if here and c.vs is not None and c.metric in known and c.category is None:
            metrics = plan.setdefault(c.vs, [])
            if c.metric not in metrics:
                metrics.append(c.metric)
    return plan


def evaluate_suite(
    config: Config,
    suite: SuiteConfig,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    config_dir: Path | None = None,
    judged: SuiteJudging | None = None,
) -> SuiteResult:
    """Score every model of one suite, compare the candidate with its baselines.

    ``judged`` holds the verdicts of the suite's judges (see :func:`run_judges`).
    """
    # Imported after the requests (startup: the first request does not wait on them).
    from tunegate.evaluation.compare import compare_categories
    from tunegate.evaluation.judging import judge_scorers
    from tunegate.evaluation.kinds import ModelScoring, compare_models, score_model, suite_notes
    from tunegate.evaluation.scores import case_rows, category_indices, scorer_error_notes

    task, kind = suite.task, suite.task.kind
    main = config.is_main(suite)
    primary = config.primary_metric if main else default_metric(task)
    level, resamples, seed = config.level, config.bootstrap, config.seed
    labels = task.label_list
    metric_names = suite_metrics(task)
    scored: dict[str, ScoredModel] = {}
    models: dict[str, ModelResult] = {}
    scorers = (
        build_scorers(task.scorer_list, f"suites.{suite.name}.task", config_dir)
        + judge_scorers(suite, judged)
        if kind.uses_scorers
        else []
    )
    for name, run in runs.items():
        scored[name], models[name] = score_model(
            kind,
            ModelScoring(
                name=name,
                cases=cases,
                responses=run.responses,
                labels=labels,
                scorers=scorers,
                pass_rule=task.pass_,
                label_parse=task.parse,
                metrics=metric_names,
                confidence=level,
                n_resamples=resamples,
                seed=seed,
            ),
        )
    if any(run.repeats for run in runs.values()):
        from tunegate.evaluation.repeats import repeat_result

        own = build_scorers(task.scorer_list, f"suites.{suite.name}.task", config_dir)
        for name, run in runs.items():
            models[name].repeats = repeat_result(
                kind.score,
                cases,
                run.repeats,
                labels=labels,
                scorers=own if kind.uses_scorers else [],
                pass_rule=task.pass_,
                label_parse=task.parse,
                confidence=level,
                n_resamples=resamples,
                seed=seed,
            )
    for name, run in runs.items():
        spec = config.models[name]
        models[name].run = run.stats.as_dict()
        batched = getattr(spec, "batch", False) is True
        price = spec.price.batched() if batched and spec.price is not None else spec.price
        models[name].cost = model_cost(
            price, models[name], models[name].run, concurrency=spec.effective_concurrency()
        )
        if batched:
            summary = batch_summary(models[name].run.pop("batch", None), spec.price)
            models[name].batch = summary
            cost = models[name].cost
            if cost is not None:
                cost["basis"] += f" at the batch price ({summary['price']})"
    baselines = suite_baselines(config, suite, list(runs))
    comparisons: list[Comparison] = []
    categories: list[CategoryComparison] = []
    groups = category_indices(cases)
    for baseline, metrics in _comparison_plan(config, suite, primary, baselines).items():
        if baseline not in scored or config.candidate not in scored:
            continue
        cand, base = scored[config.candidate], scored[baseline]
        comparisons += compare_models(
            kind, cand, base, labels, metrics, confidence=level, n_resamples=resamples, seed=seed
        )
        if groups:
            categories += compare_categories(
                cand,
                base,
                groups,
                confidence=level,
                n_resamples=resamples,
                seed=seed,
                margin=suite.margin if suite.base is not None else None,
            )
    notes = suite_notes(kind, suite.name, runs)
    from tunegate.models import suite_models

    notes += unparseable_notes(suite, models, suite_models(config, suite))
    notes += scorer_error_notes(models)
    regression = None
    if suite.base is not None:
        regression = {
            "base": suite.base,
            "margin": suite.margin,
            "flagged": [c.category for c in categories if c.flagged],
        }
    return SuiteResult(
        name=suite.name,
        task=task.type,
        labels=list(labels),
        primary_metric=primary,
        n_cases=len(cases),
        models=models,
        comparisons=comparisons,
        cases=[row for s in scored.values() for row in case_rows(s, cases)],
        metrics=metric_names,
        category_comparisons=categories,
        regression=regression,
        notes=[*notes, *(judged.warnings if judged is not None else [])],
        inputs={c.id: c.text for c in cases},
        pass_rule=pass_rule_text(task),
        judges=judged.summary if judged is not None else None,
    )


def batch_summary(stats: dict[str, Any] | None, price: Any) -> dict[str, Any]:
    """A batched model's ``batch`` (JSON ``models.<name>.batch``): the batches it sent or
    resumed, the requests they carried, the cases they failed, the price it paid."""
    stats = stats or {}
    if price is None or price.per_hour is not None:
        rate = "no token price"
    elif price.batch_prices_given:
        rate = "batch rates given"
    else:
        rate = "50% of the token rates"
    return {
        "batches": list(stats.get("batches", [])),
        "resumed": list(stats.get("resumed", [])),
        "requests": int(stats.get("requests", 0)),
        "failed": int(stats.get("failed", 0)),
        "price": rate,
    }


def pass_rule_text(task: TaskConfig) -> str:
    """When a case of the suite passes, in words (for the pass-rate column's header)."""
    if not task.kind.uses_scorers:
        return ""
    if task.pass_ is not None:
        return task.pass_.describe()
    n = len(task.scorer_list)
    return "the scorer passes" if n == 1 else f"all {n} scorers pass"


def unparseable_notes(
    suite: SuiteConfig, models: dict[str, ModelResult], runs_on: Sequence[str]
) -> list[str]:
    """A note per model whose answers mostly cannot be read for the suite's task (e.g. a
    summariser in a tool-call suite), naming the models the suite runs (``runs_on``)."""
    notes = []
    for name, m in models.items():
        if m.n and m.unparseable * 2 > m.n - m.errors > 0:
            what = suite.task.kind.unparseable
            notes.append(
                f"{suite.name}: {m.unparseable} of {m.n} answers of {name} {what} "
                f"(unparseable); if {name} is not meant for this suite, list the models it "
                f"runs in the suite's models: [...] (now: {', '.join(runs_on)})"
            )
    return notes


def evaluate_run(
    config: Config,
    run_id: str,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    notes: Sequence[str] = (),
    model_meta: dict[str, dict[str, Any]] | None = None,
    leakage: LeakageReport | None = None,
    extra: Sequence[SuiteResult] = (),
    config_dir: Path | None = None,
    judged: SuiteJudging | None = None,
    human: dict[str, Any] | None = None,
) -> RunResult:
    """Score the main suite (and take ``extra`` suites as they are), judge the gate."""
    main = evaluate_suite(config, config.all_suites[0], cases, runs, config_dir, judged)
    all_notes = list(notes)
    for name, run in runs.items():
        if run.stats.stopped:
            all_notes.append(f"{name}: {run.stats.stopped}")
    all_notes += (human or {}).get("warnings") or []  # a study too small for its intervals
    result = RunResult(
        run_id=run_id,
        name=config.name,
        confidence=config.level,
        n_resamples=config.bootstrap,
        seed=config.seed,
        candidate=config.candidate,
        baselines=config.baselines,
        suites=[main, *extra],
        notes=all_notes,
        model_meta=dict(model_meta or {}),
        leakage=leakage.to_dict() if leakage is not None else None,
        human=human,
    )
    result.gate = evaluate_gate(
        result, config.gate, leakage=leakage.leakage_rate if leakage is not None else None
    )
    return result
