"""Run a whole configuration: load cases, query every model, score, compare."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunegate.compare import compare_classification
from tunegate.config import Config
from tunegate.data import Case, load_cases
from tunegate.evaluate import (
    CLASSIFICATION_METRICS,
    case_rows,
    classification_result,
    score_classification,
)
from tunegate.gate import evaluate_gate
from tunegate.models import build_backends, field_map
from tunegate.results import RunResult
from tunegate.runner import ModelRun, Observer, RetryPolicy, run_models
from tunegate.store import Store

if TYPE_CHECKING:
    from tunegate.leakage import LeakageReport


@dataclass
class RunOptions:
    """How to run (not what): cache use, limits, the store's location, progress."""

    use_cache: bool = True
    limit: int | None = None
    store_path: Path | None = None
    observer: Observer | None = None
    policy: RetryPolicy | None = None


def load_test_cases(config: Config, limit: int | None = None) -> list[Case]:
    """The configured dataset's cases, checked against the task's labels."""
    ds = config.dataset
    cases = load_cases(ds.path, ds.format, field_map(ds), labels=config.task.labels)
    n = limit or ds.limit
    return cases[:n] if n else cases


def _comparison_plan(config: Config, primary: str) -> dict[str, list[str]]:
    """Baseline -> metrics to compare: the baselines on the primary metric and accuracy,
    plus whatever the gate's criteria compare with."""
    plan: dict[str, list[str]] = {}
    for baseline in config.baselines:
        plan[baseline] = [primary] + [m for m in ("accuracy",) if m != primary]
    gate = config.gate.criteria if config.gate else []
    for c in gate:
        if c.vs is not None and c.metric in CLASSIFICATION_METRICS and c.category is None:
            metrics = plan.setdefault(c.vs, [])
            if c.metric not in metrics:
                metrics.append(c.metric)
    return plan


def evaluate_run(
    config: Config,
    run_id: str,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    notes: Sequence[str] = (),
    model_meta: dict[str, dict[str, Any]] | None = None,
    leakage: LeakageReport | None = None,
) -> RunResult:
    """Score every model, compare the candidate with its baselines, judge the gate."""
    labels = config.task.labels
    primary = config.primary_metric
    level = config.level
    scored = {
        name: score_classification(name, cases, run.responses, labels) for name, run in runs.items()
    }
    models = {}
    for name, s in scored.items():
        model = classification_result(
            s, cases, labels, confidence=level, n_resamples=config.bootstrap, seed=config.seed
        )
        model.run = runs[name].stats.as_dict()
        models[name] = model
    comparisons = []
    for baseline, metrics in _comparison_plan(config, primary).items():
        comparisons += compare_classification(
            scored[config.candidate],
            scored[baseline],
            labels,
            metrics,
            confidence=level,
            n_resamples=config.bootstrap,
            seed=config.seed,
        )
    rows = [row for s in scored.values() for row in case_rows(s, cases)]
    all_notes = list(notes)
    for name, run in runs.items():
        if run.stats.stopped:
            all_notes.append(f"{name}: {run.stats.stopped}")
    result = RunResult(
        run_id=run_id,
        name=config.name,
        task=config.task.type,
        labels=list(labels),
        primary_metric=primary,
        confidence=level,
        n_resamples=config.bootstrap,
        seed=config.seed,
        n_cases=len(cases),
        candidate=config.candidate,
        baselines=config.baselines,
        models=models,
        comparisons=comparisons,
        cases=rows,
        notes=all_notes,
        model_meta=dict(model_meta or {}),
        leakage=leakage.to_dict() if leakage is not None else None,
    )
    result.gate = evaluate_gate(
        result, config.gate, leakage=leakage.leakage_rate if leakage is not None else None
    )
    return result


def check_train_leakage(config: Config, cases: Sequence[Case]) -> LeakageReport | None:
    """Leakage between the test cases and the train file the config names (k-shot pools)."""
    from tunegate.leakage import check_leakage

    paths = {}
    for spec in config.models.values():
        shots = getattr(spec, "shots", None)
        if shots is not None:
            paths[shots.path] = shots
    if not paths:
        return None
    train: list[Case] = []
    for shots in paths.values():
        train += load_cases(shots.path, shots.format, field_map(shots), labels=config.task.labels)
    return check_leakage(train, cases)


async def arun(
    config: Config, options: RunOptions | None = None, config_dir: Path | None = None
) -> RunResult:
    """Run ``config`` end to end (async)."""
    opts = options or RunOptions()
    cases = load_test_cases(config, opts.limit)
    built = build_backends(config, cases, config_dir=config_dir)
    with Store(opts.store_path or config.store) as store:
        run_id = store.start_run(
            config.name,
            config.model_dump(mode="json"),
            config.seed,
            meta={"models": built.meta, "n_cases": len(cases)},
        )
        try:
            runs = await run_models(
                built.backends,
                cases,
                store,
                run_id,
                use_cache=opts.use_cache,
                policy=opts.policy,
                observer=opts.observer,
            )
        except BaseException as exc:
            store.finish_run(run_id, "failed" if isinstance(exc, Exception) else "interrupted")
            raise
        store.update_run_meta(run_id, {"stats": {n: r.stats.as_dict() for n, r in runs.items()}})
        result = evaluate_run(
            config,
            run_id,
            cases,
            runs,
            notes=built.warnings,
            model_meta=built.meta,
            leakage=check_train_leakage(config, cases),
        )
        store.finish_run(run_id)
    return result


def run(
    config: Config, options: RunOptions | None = None, config_dir: Path | None = None
) -> RunResult:
    """Run ``config`` end to end."""
    return asyncio.run(arun(config, options, config_dir))
