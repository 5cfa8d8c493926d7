"""Run a whole configuration: load every suite, query every model, score, compare, judge."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunegate.config import (
    Config,
    HFModel,
    OpenAIModel,
    ShotsConfig,
)
from tunegate.config.sequential import SequentialConfig
from tunegate.data import Case, load_cases
from tunegate.errors import ConfigError
from tunegate.models import build_backends
from tunegate.pipeline.evaluating import evaluate_run, evaluate_suite, suite_baselines
from tunegate.pipeline.facts import prompts_sent, run_facts
from tunegate.pipeline.human_link import human_evidence
from tunegate.pipeline.suites import field_map, load_suite_cases
from tunegate.results import RunResult
from tunegate.results.document import to_json
from tunegate.runner import (
    ModelRun,
    Observer,
    PrefixedObserver,
    RetryPolicy,
    raise_if_interrupted,
    run_models,
    run_sync,
)
from tunegate.store import Store

if TYPE_CHECKING:
    from tunegate.data.leakage import LeakageReport
    from tunegate.pipeline.sequential import SequentialOutcome


def _now_iso() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def release_local_models() -> None:
    """Free the local models loaded during a run (only if any local backend was imported)."""
    import sys

    hf = sys.modules.get("tunegate.models.hf")
    if hf is not None:
        hf.release_models()


@dataclass
class RunOptions:
    """How to run (not what): cache use, limits, the store's location, progress."""

    use_cache: bool = True
    limit: int | None = None
    store_path: Path | None = None
    observer: Observer | None = None
    policy: RetryPolicy | None = None
    gate: bool = True  # False (--no-gate): no verdict is judged or reported
    fresh: tuple[str, ...] = ()  # models asked again even when the store has their answers
    #: An interrupted run this one resumes: its answers are reused even for the models
    #: asked again (``use_cache=False`` or ``fresh``), so a resumed --no-cache run does
    #: not pay twice.
    resume: str | None = None
    #: Called with the finished result before the run is marked completed (the CLI
    #: writes its reports here): an interruption until it returns marks the run
    #: interrupted, so a run is completed only with everything its caller wanted.
    on_result: Callable[[RunResult], None] | None = None
    #: Set by the pipeline: the id of the run it started.
    run_id: str | None = None
    #: Sequential evaluation of the main suite (docs/cost.md): True / False override the
    #: config's ``sequential:`` (None: as the config says).
    sequential: bool | None = None


def attach_provenance(
    result: RunResult, all_runs: Sequence[dict[str, ModelRun]], store: Store
) -> None:
    """Each model's ``cache`` (answers reused, from which runs, how long ago); a note when a
    model stopped in a suite beyond the main one, or its endpoint changed what it serves."""
    from datetime import UTC, datetime

    from tunegate.evaluation.provenance import cache_summary, served_by_change

    now = datetime.now(UTC)
    for i, (suite, runs) in enumerate(zip(result.suites, all_runs, strict=False)):
        prefix = "" if i == 0 else f"{suite.name}/"
        for name, run in runs.items():
            if name in suite.models:
                stats = run.stats
                suite.models[name].cache = cache_summary(
                    stats.cached, stats.sent, stats.from_runs, store, now
                )
            if i > 0 and run.stats.stopped:
                result.notes.append(f"{prefix}{name}: {run.stats.stopped}")
            change = served_by_change(name, run.responses)
            if change is not None and prefix + change not in result.notes:
                result.notes.append(prefix + change)


def shots_files(config: Config) -> list[ShotsConfig]:
    """The k-shot pools the models draw from (the train files the config names)."""
    return [
        spec.shots
        for spec in config.models.values()
        if isinstance(spec, OpenAIModel | HFModel) and spec.shots is not None
    ]


def check_train_leakage(
    shots: Sequence[ShotsConfig], cases: Sequence[Case], labels: Sequence[str] | None
) -> LeakageReport | None:
    """Leakage between the test cases and the train files of ``shots`` (k-shot pools),
    read with the task's ``labels``; None when there is no train file."""
    from tunegate.data.leakage import check_leakage

    paths = {s.path: s for s in shots}
    if not paths:
        return None
    train: list[Case] = []
    for pool in paths.values():
        train += load_cases(pool.path, pool.format, field_map(pool), labels=labels)
    return check_leakage(train, cases)


async def arun(
    config: Config, options: RunOptions | None = None, config_dir: Path | None = None
) -> RunResult:
    """Run ``config`` end to end (async): every suite on its models, then score and judge."""
    opts = options or RunOptions()
    suites = config.all_suites
    suite_cases = [
        load_suite_cases(suite, main=config.is_main(suite), limit=opts.limit) for suite in suites
    ]
    from tunegate.pipeline.preflight import first_template_problem

    for suite, cases in zip(suites, suite_cases, strict=True):
        problem = first_template_problem(config, suite, cases[:1])
        if problem:  # the key, before anything is sent (the runner catches the rest)
            raise ConfigError(problem)
    built = [
        build_backends(config, cases, config_dir=config_dir, suite=suite)
        for suite, cases in zip(suites, suite_cases, strict=True)
    ]
    meta: dict[str, dict[str, Any]] = {}
    warnings: list[str] = []
    for b in built:
        for name, m in b.meta.items():
            meta.setdefault(name, {}).update(m)
        warnings += [w for w in b.warnings if w not in warnings]
    all_runs: list[dict[str, ModelRun]] = []
    seq = config.sequential
    if opts.sequential is not None or (seq is not None and not seq.enabled):
        on = opts.sequential if opts.sequential is not None else False
        seq = (seq or SequentialConfig()) if on else None
    outcome: SequentialOutcome | None = None
    seq_judged: Any = None
    run_id: str | None = None
    started_clock = time.monotonic()
    from tunegate.evaluation.judging import run_judges  # not on the path to the first request

    try:
        with Store(opts.store_path or config.store) as store:
            if opts.resume is not None:
                opts.resume = _resumable(store, config, opts.resume)
            run_id = store.start_run(
                config.name,
                config.model_dump(mode="json"),
                config.seed,
                meta={
                    "models": meta,
                    "n_cases": len(suite_cases[0]),
                    "suites": {s.name: len(c) for s, c in zip(suites, suite_cases, strict=True)},
                    **({"resumes": opts.resume} if opts.resume is not None else {}),
                },
            )
            opts.run_id = run_id
            try:
                for i, (suite, cases, b) in enumerate(zip(suites, suite_cases, built, strict=True)):
                    observer = opts.observer
                    if observer is not None and i > 0:
                        observer = PrefixedObserver(observer, f"{suite.name}/")
                    if i == 0 and seq is not None:
                        from tunegate.pipeline.sequential import sequential_main

                        outcome, seq_judged = await sequential_main(
                            config,
                            cases,
                            b.backends,
                            store,
                            run_id,
                            seq,
                            run_options={
                                "use_cache": opts.use_cache,
                                "policy": opts.policy,
                                "observer": observer,
                                "fresh": opts.fresh,
                                "resume": opts.resume,
                            },
                            config_dir=config_dir,
                        )
                        suite_cases[0] = outcome.cases
                        all_runs.append(outcome.runs)
                        continue
                    runs = await run_models(
                        b.backends,
                        cases,
                        store,
                        run_id,
                        use_cache=opts.use_cache,
                        policy=opts.policy,
                        observer=observer,
                        fresh=opts.fresh,
                        resume=opts.resume,
                        repeats={n: config.repeats_of(suite, n) for n in b.backends},
                        seed=config.seed,
                    )
                    all_runs.append(runs)
                judged = [
                    seq_judged
                    if i == 0 and outcome is not None
                    else await run_judges(
                        config,
                        suite,
                        cases,
                        runs,
                        suite_baselines(config, suite, list(runs)),
                        store,
                        run_id,
                        use_cache=opts.use_cache,
                        policy=opts.policy,
                        observer=opts.observer,
                        config_dir=config_dir,
                        fresh=opts.fresh,
                        resume=opts.resume,
                    )
                    for i, (suite, cases, runs) in enumerate(
                        zip(suites, suite_cases, all_runs, strict=True)
                    )
                ]
            except BaseException as exc:
                store.finish_run(run_id, "failed" if isinstance(exc, Exception) else "interrupted")
                raise
            store.update_run_meta(
                run_id,
                {
                    "stats": {
                        (n if i == 0 else f"{suites[i].name}/{n}"): r.stats.as_dict()
                        for i, runs in enumerate(all_runs)
                        for n, r in runs.items()
                    }
                },
            )
            extra = [
                evaluate_suite(config, suite, cases, runs, config_dir, judging)
                for suite, cases, runs, judging in zip(
                    suites[1:], suite_cases[1:], all_runs[1:], judged[1:], strict=True
                )
            ]
            result = evaluate_run(
                config,
                run_id,
                suite_cases[0],
                all_runs[0],
                notes=warnings,
                model_meta=meta,
                leakage=check_train_leakage(
                    shots_files(config), suite_cases[0], config.main_task.labels
                ),
                extra=extra,
                config_dir=config_dir,
                judged=judged[0],
                human=human_evidence(
                    opts.store_path or config.store,
                    run_id,
                    [j.summary if j is not None else None for j in judged],
                    study=config.human.study if config.human is not None else None,
                    config_name=config.name,
                    candidate=config.candidate,
                    confidence=config.level,
                    n_resamples=config.bootstrap,
                    seed=config.seed,
                ),
            )
            if outcome is not None:
                from tunegate.pipeline.sequential import finish

                finish(result, outcome, config)
            attach_provenance(result, all_runs, store)
            if not opts.gate:
                result.gate = None
            started_at = store.get_run(run_id).started_at
            result.facts = run_facts(
                config, started_at, _now_iso(), time.monotonic() - started_clock, config_dir
            )
            result.facts["prompts"] = prompts_sent(
                [
                    (s.name, c, b.backends)
                    for s, c, b in zip(suites, suite_cases, built, strict=True)
                ]
            )
            document = to_json(result)
            result.remember_json(document)
            store.update_run_meta(run_id, {"result": document})
            if opts.on_result is not None:
                opts.on_result(result)
            raise_if_interrupted()
            store.finish_run(run_id)
    except BaseException as exc:
        # Scoring, evaluating or the caller's reports stopped (sending has its own mark,
        # above, while the store is open): the run did not complete.
        if run_id is not None:
            _mark_unfinished(opts.store_path or config.store, run_id, exc)
        raise
    finally:
        release_local_models()
    return result


def _resumable(store: Store, config: Config, ref: str) -> str:
    """The id of the run ``ref`` names, if this config may resume it."""
    from tunegate.store import resolve_run

    info = resolve_run(store, ref)
    if info.name != config.name:
        raise ConfigError(
            f"--resume {ref}: run {info.id} is a run of {info.name!r}, not of {config.name!r}"
        )
    if info.status == "running":
        raise ConfigError(f"--resume {ref}: run {info.id} is still running; stop it first")
    return info.id


def _mark_unfinished(path: Path, run_id: str, exc: BaseException) -> None:
    """Mark ``run_id`` failed (an error) or interrupted (a signal), unless already marked."""
    with contextlib.suppress(Exception), Store(path) as store:
        if store.get_run(run_id).status == "running":
            store.finish_run(run_id, "failed" if isinstance(exc, Exception) else "interrupted")


def run(
    config: Config, options: RunOptions | None = None, config_dir: Path | None = None
) -> RunResult:
    """Run ``config`` end to end."""
    return run_sync(arun(config, options, config_dir))
