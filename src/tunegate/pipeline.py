"""Run a whole configuration: load cases, query every model, score, compare."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.compare import compare_classification
from tunegate.config import Config
from tunegate.data import Case, load_cases
from tunegate.evaluate import (
    CLASSIFICATION_METRICS,
    case_rows,
    classification_result,
    score_classification,
)
from tunegate.models import build_backends, field_map
from tunegate.results import RunResult
from tunegate.runner import ModelRun, Observer, RetryPolicy, run_models
from tunegate.store import Store


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


def evaluate_run(
    config: Config,
    run_id: str,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    notes: Sequence[str] = (),
    model_meta: dict[str, dict[str, Any]] | None = None,
) -> RunResult:
    """Score every model, compare the candidate with each baseline, collect per-case rows."""
    labels = config.task.labels
    primary = config.compare.metric if config.compare and config.compare.metric else "macro_f1"
    if primary not in CLASSIFICATION_METRICS:
        primary = "macro_f1"
    scored = {
        name: score_classification(name, cases, run.responses, labels) for name, run in runs.items()
    }
    models = {}
    for name, s in scored.items():
        result = classification_result(
            s,
            cases,
            labels,
            confidence=config.confidence,
            n_resamples=config.bootstrap,
            seed=config.seed,
        )
        result.run = runs[name].stats.as_dict()
        models[name] = result
    metrics = [primary] + [m for m in ("accuracy",) if m != primary]
    comparisons = []
    for baseline in config.baselines:
        comparisons += compare_classification(
            scored[config.candidate],
            scored[baseline],
            labels,
            metrics,
            confidence=config.confidence,
            n_resamples=config.bootstrap,
            seed=config.seed,
        )
    rows = [row for s in scored.values() for row in case_rows(s, cases)]
    all_notes = list(notes)
    for name, run in runs.items():
        if run.stats.stopped:
            all_notes.append(f"{name}: {run.stats.stopped}")
    return RunResult(
        run_id=run_id,
        name=config.name,
        task=config.task.type,
        labels=list(labels),
        primary_metric=primary,
        confidence=config.confidence,
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
    )


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
            config, run_id, cases, runs, notes=built.warnings, model_meta=built.meta
        )
        store.finish_run(run_id)
    return result


def run(
    config: Config, options: RunOptions | None = None, config_dir: Path | None = None
) -> RunResult:
    """Run ``config`` end to end."""
    return asyncio.run(arun(config, options, config_dir))
