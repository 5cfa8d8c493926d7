"""Judge calls: build the judge prompts of a suite, run them through the runner, collect verdicts.

A judge is any model of ``models:``. Its calls are model calls: they go through
:func:`tunegate.runner.run_models` (concurrency, retries, ``Retry-After``,
timeouts, progress), are stored as they arrive and are cached by (judge model
identity, rendered judge prompt), so a re-run costs nothing. An answer without a
valid verdict is retried once (as a malformed answer), then stored and counted as
a judge error, never as a score. A local (``hf``) judge does not generate: the
verdict tokens are scored by log-likelihood after the prompt.

Judge calls are stored under the model name ``judge:<model>`` with case ids
``<scorer>|<case id>|<model>`` (pointwise) or ``<judge>|<case id>|<candidate>|<baseline>|AB``
and ``...|BA`` (pairwise: candidate shown first, baseline shown first).

Each judge's summary carries ``judge_errors``: its calls, the calls that gave no verdict,
their rate and the limit (:func:`judge_error_limit`). A judge over its limit is warned
about in every report, and the gate criteria resting on it are undecided.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.config import (
    Config,
    GateConfig,
    HFModel,
    JudgeScorerConfig,
    PairwiseJudgeConfig,
    SuiteConfig,
)
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.models.judges import Parse, judge_backend
from tunegate.runner import (
    ModelRun,
    Observer,
    PrefixedObserver,
    RetryPolicy,
    run_models,
)
from tunegate.scoring.base import NO_ANSWER, Score
from tunegate.scoring.judge import (
    DEFAULT_PAIRWISE_RUBRIC,
    DEFAULT_RUBRICS,
    LOCAL_SUFFIX,
    Verdict,
    parse_pairwise,
    parse_pointwise,
    render_rubric,
    verdict_labels,
)
from tunegate.scoring.pairwise import PairJudgment, outcome, summarise, summarise_by_category
from tunegate.scoring.scorers import BuiltScorer
from tunegate.store import Store

__all__ = [
    "DEFAULT_JUDGE_ERROR_LIMIT",
    "SuiteJudging",
    "judge_backend",
    "judge_error_limit",
    "judge_error_warning",
    "judge_scorers",
    "run_judges",
    "self_preference_warnings",
]

#: The share of a judge's calls that may give no verdict (the default gate's error limit)
#: before the judge is warned about and the criteria resting on it are undecided.
DEFAULT_JUDGE_ERROR_LIMIT = 0.01


# --------------------------------------------------------------------------- prompts


def _judge_case(case_id: str, prompt: str, source: Case, metadata: dict[str, Any]) -> Case:
    return Case(
        id=case_id,
        text=prompt,
        reference="",
        messages=({"role": "user", "content": prompt},),
        category=source.category,
        metadata=metadata,
    )


def _answer(response: Response) -> str | None:
    return response.text if response.error is None and response.text is not None else None


# --------------------------------------------------------------------------- results


@dataclass
class SuiteJudging:
    """What the judges of one suite said.

    ``pointwise[label][(case id, model)]`` is the verdict of a pointwise judge
    (``Verdict.error`` set for judge errors; absent when the model gave no answer);
    ``summary`` is the suite's ``judges`` entry of the JSON report.
    """

    pointwise: dict[str, dict[tuple[str, str], Verdict]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _verdict_of(response: Response, parse: Parse) -> Verdict:
    if response.error is not None:
        return Verdict(None, "", response.error.removeprefix("judge error: "))
    return parse(response.text)


def _pointwise_summary(
    sc: JudgeScorerConfig,
    verdicts: dict[tuple[str, str], Verdict],
    models: Sequence[str],
    n_cases: int,
    run: ModelRun,
) -> dict[str, Any]:
    per_model: dict[str, Any] = {}
    for model in models:
        mine = [v for (_, m), v in verdicts.items() if m == model]
        ok = [v for v in mine if v.ok and v.score is not None]
        scores = [float(v.score) for v in ok if v.score is not None]
        per_model[model] = {
            "n": n_cases,
            "judged": len(ok),
            "errors": len(mine) - len(ok),
            "no_answer": n_cases - len(mine),
            "mean_score": sum(scores) / len(scores) if scores else None,
            "pass_rate": (
                sum(1 for s in scores if s >= sc.threshold) / len(scores) if scores else None
            ),
            "first_errors": list(dict.fromkeys(v.error for v in mine if v.error))[:3],
        }
    cases = [
        {
            "case_id": cid,
            "model": m,
            "verdict": v.verdict,
            "score": v.score,
            "reasoning": v.reasoning or None,
            "error": v.error,
        }
        for (cid, m), v in verdicts.items()
    ]
    return {
        "kind": "pointwise",
        "name": sc.label,
        "judge": sc.judge,
        "scale": sc.scale,
        "threshold": sc.threshold,
        "models": per_model,
        "calls": run.stats.as_dict(),
        "cases": cases,
    }


# --------------------------------------------------------------------------- running


@dataclass
class _Job:
    judge: str
    label: str
    parse: Parse
    labels: list[str]
    cases: list[Case] = field(default_factory=list)
    keys: list[tuple[str, str]] = field(default_factory=list)  # (case id, model) per case


def _pointwise_job(
    sc: JudgeScorerConfig, cases: Sequence[Case], runs: dict[str, ModelRun], *, local: bool
) -> _Job:
    """The judge prompts of a pointwise judge (``local``: a judge scoring verdict tokens)."""
    scale = sc.scale
    template = sc.rubric or DEFAULT_RUBRICS[scale]
    job = _Job(sc.judge, sc.label, lambda t: parse_pointwise(t, scale), verdict_labels(scale))
    for model, run in runs.items():
        for case, response in zip(cases, run.responses, strict=True):
            output = _answer(response)
            if output is None:
                continue
            values = {"input": case.text, "output": output, "reference": case.reference}
            prompt = render_rubric(template, **values) + (LOCAL_SUFFIX if local else "")
            job.cases.append(
                _judge_case(f"{sc.label}|{case.id}|{model}", prompt, case, {"judged": values})
            )
            job.keys.append((case.id, model))
    return job


def _pairwise_job(
    pj: PairwiseJudgeConfig,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    baselines: Sequence[str],
    *,
    candidate: str,
    local: bool,
) -> _Job:
    """The judge prompts of a pairwise judge: ``candidate`` against each baseline, both orders."""
    template = pj.rubric or DEFAULT_PAIRWISE_RUBRIC
    job = _Job(pj.judge, pj.label, parse_pairwise, verdict_labels("pairwise"))
    ours = runs[candidate]
    for baseline in baselines:
        for i, case in enumerate(cases):
            mine, theirs = _answer(ours.responses[i]), _answer(runs[baseline].responses[i])
            if mine is None or theirs is None:
                continue
            for order, (a, b) in (("AB", (mine, theirs)), ("BA", (theirs, mine))):
                values = {
                    "input": case.text,
                    "output_a": a,
                    "output_b": b,
                    "reference": case.reference,
                }
                prompt = render_rubric(template, **values) + (LOCAL_SUFFIX if local else "")
                cid = f"{pj.label}|{case.id}|{candidate}|{baseline}|{order}"
                job.cases.append(_judge_case(cid, prompt, case, {"judged": values}))
    return job


def _pairwise_summary(
    pj: PairwiseJudgeConfig,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    baselines: Sequence[str],
    job: _Job,
    run: ModelRun,
    *,
    candidate: str,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    # By position: the runner answers in the order of the judge cases (a cached answer
    # shared by identical prompts, e.g. two equal outputs, may carry another case's id).
    by_id = {c.id: r for c, r in zip(job.cases, run.responses, strict=True)}
    per_baseline: dict[str, Any] = {}
    records: list[dict[str, Any]] = []
    for baseline in baselines:
        judgments: list[PairJudgment] = []
        skipped = 0
        for i, case in enumerate(cases):
            mine = _answer(runs[candidate].responses[i])
            theirs = _answer(runs[baseline].responses[i])
            stem = f"{pj.label}|{case.id}|{candidate}|{baseline}"
            if mine is None or theirs is None:
                skipped += 1
                continue
            ab = _verdict_of(by_id[f"{stem}|AB"], parse_pairwise)
            ba = _verdict_of(by_id[f"{stem}|BA"], parse_pairwise)
            j = PairJudgment(case.id, case.category, ab.verdict, ba.verdict, len(mine), len(theirs))
            judgments.append(j)
            records.append(
                {
                    "case_id": case.id,
                    "baseline": baseline,
                    "candidate_first": ab.verdict,
                    "baseline_first": ba.verdict,
                    "outcome": outcome(j),
                    "reasoning": [ab.reasoning or None, ba.reasoning or None],
                    "errors": [e for e in (ab.error, ba.error) if e],
                }
            )
        summary = summarise(judgments, confidence=confidence, n_resamples=n_resamples, seed=seed)
        by_category = summarise_by_category(
            judgments, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        summary["no_answer"] = skipped
        summary["categories"] = by_category
        per_baseline[baseline] = summary
    return {
        "kind": "pairwise",
        "name": pj.label,
        "judge": pj.judge,
        "candidate": candidate,
        "baselines": per_baseline,
        "calls": run.stats.as_dict(),
        "cases": records,
    }


def judge_error_limit(gate: GateConfig | None, judge: str, suite: str) -> float:
    """How many of ``judge``'s calls may fail: the strictest ``error_rate`` criterion of
    ``gate`` on that model (``model: <judge>``), else its ``error_rate`` criterion without
    a model, else :data:`DEFAULT_JUDGE_ERROR_LIMIT` (the default gate's)."""
    criteria = [
        c
        for c in (gate.criteria if gate is not None else [])
        if c.metric == "error_rate" and c.suite in (None, suite)
    ]
    for wanted in (judge, None):
        limits = [
            c.max for c in criteria if c.max is not None and getattr(c, "model", None) == wanted
        ]
        if limits:
            return min(limits)
    return DEFAULT_JUDGE_ERROR_LIMIT


def _judge_errors(run: ModelRun, parse: Parse, limit: float) -> dict[str, Any]:
    """The ``judge_errors`` block: calls, calls without a verdict, their rate, the limit."""
    calls = len(run.responses)
    failed = sum(not _verdict_of(r, parse).ok for r in run.responses)
    rate = failed / calls if calls else None
    return {
        "calls": calls,
        "failed": failed,
        "rate": rate,
        "limit": limit,
        "over_limit": rate is not None and rate > limit,
    }


def _called(entry: dict[str, Any]) -> str:
    """A judge entry's name, with its model when they differ: ``gpt-judge (gpt4o-mini)``."""
    name, model = str(entry["name"]), str(entry["judge"])
    return name if name == model else f"{name} ({model})"


def judge_error_warning(suite: str, entry: dict[str, Any]) -> str | None:
    """The warning for a judge entry whose calls failed more often than its limit."""
    block = entry.get("judge_errors") or {}
    if not block.get("over_limit"):
        return None
    what = "pairwise judge" if entry.get("kind") == "pairwise" else "judge"
    return (
        f"{suite}: {what} {_called(entry)} gave no verdict on "
        f"{block['failed']} of {block['calls']} calls ({block['rate']:.1%}, above the "
        f"{block['limit']:.0%} limit): the criteria resting on it are undecided"
    )


def self_preference_warnings(
    suite: SuiteConfig,
    pairwise: Sequence[PairwiseJudgeConfig],
    models: Sequence[str],
    candidate: str,
) -> list[str]:
    """A warning for each judge of ``suite`` (its pointwise judges and its ``pairwise``
    ones) that also answers in it: a model may prefer its own outputs."""
    judges = [s.judge for s in suite.task.scorer_list if isinstance(s, JudgeScorerConfig)]
    judges += [p.judge for p in pairwise]
    out = []
    for judge in dict.fromkeys(judges):
        if judge in models:
            role = "the candidate" if judge == candidate else "a compared model"
            out.append(
                f"{suite.name}: judge {judge!r} is also {role}: a model tends to prefer its "
                "own outputs (self-preference); prefer a judge that is not compared"
            )
    return out


async def run_judges(
    config: Config,
    suite: SuiteConfig,
    cases: Sequence[Case],
    runs: dict[str, ModelRun],
    baselines: Sequence[str],
    store: Store,
    run_id: str,
    *,
    use_cache: bool = True,
    policy: RetryPolicy | None = None,
    observer: Observer | None = None,
    config_dir: Path | None = None,
    fresh: Collection[str] = (),
    resume: str | None = None,
) -> SuiteJudging | None:
    """Run every judge of ``suite`` on the models' stored answers; None when it has none.

    A judge named in ``fresh`` (``--no-cache MODEL``) is asked again even when the store
    has its verdicts (but for those of the run ``resume``, see :func:`run_models`).
    """
    candidate = config.candidate
    pointwise = [s for s in suite.task.scorer_list if isinstance(s, JudgeScorerConfig)]
    pairwise = [p for p in config.pairwise_judges(suite) if candidate in runs]
    if not pointwise and not pairwise:
        return None

    def local(judge: str) -> bool:  # a local judge scores the verdict tokens
        return isinstance(config.models[judge], HFModel)

    jobs: list[tuple[Any, _Job]] = [
        (sc, _pointwise_job(sc, cases, runs, local=local(sc.judge))) for sc in pointwise
    ]
    jobs += [
        (pj, _pairwise_job(pj, cases, runs, baselines, candidate=candidate, local=local(pj.judge)))
        for pj in pairwise
    ]

    async def one(job: _Job) -> ModelRun:
        spec = config.models[job.judge]
        backend = judge_backend(job.judge, spec, job.labels, job.parse, config_dir)
        watcher = PrefixedObserver(observer, f"{suite.name}/{job.label}/") if observer else None
        done = await run_models(
            {backend.name: backend},
            job.cases,
            store,
            run_id,
            use_cache=use_cache and job.judge not in fresh,
            policy=policy,
            observer=watcher,
            resume=resume,
        )
        return done[backend.name]

    finished = await asyncio.gather(*(one(job) for _, job in jobs))
    result = SuiteJudging(
        warnings=self_preference_warnings(
            suite, config.pairwise_judges(suite), list(runs), candidate
        )
    )
    entries: list[dict[str, Any]] = []
    for (sc, job), run in zip(jobs, finished, strict=True):
        if isinstance(sc, JudgeScorerConfig):
            verdicts: dict[tuple[str, str], Verdict] = {}
            for key, response in zip(job.keys, run.responses, strict=True):
                verdicts[key] = _verdict_of(response, job.parse)
            result.pointwise[sc.label] = verdicts
            entry = _pointwise_summary(sc, verdicts, list(runs), len(cases), run)
        else:
            entry = _pairwise_summary(
                sc,
                cases,
                runs,
                baselines,
                job,
                run,
                candidate=candidate,
                confidence=config.level,
                n_resamples=config.bootstrap,
                seed=config.seed,
            )
        limit = judge_error_limit(config.gate, job.judge, suite.name)
        entry["judge_errors"] = _judge_errors(run, job.parse, limit)
        entries.append(entry)
        warning = judge_error_warning(suite.name, entry)
        if warning is not None:
            result.warnings.append(warning)
    result.summary = {"judges": entries, "warnings": list(result.warnings)}
    return result


# --------------------------------------------------------------------------- scorers


def judge_scorers(suite: SuiteConfig, judging: SuiteJudging | None) -> list[BuiltScorer]:
    """The suite's pointwise judges as scorers: each case's normalised verdict.

    A model that gave no answer fails (value 0, like every scorer); a judge error
    fails the case with the reason and has no value (NaN: left out of the mean).
    """
    out = []
    for sc in suite.task.scorer_list:
        if not isinstance(sc, JudgeScorerConfig):
            continue
        verdicts = judging.pointwise.get(sc.label, {}) if judging is not None else {}
        out.append(
            BuiltScorer(sc.label, "judge", (sc.label,), _judge_fn(sc.label, sc.threshold, verdicts))
        )
    return out


def _judge_fn(
    label: str, threshold: float, verdicts: dict[tuple[str, str], Verdict]
) -> Callable[[Case, Response], dict[str, Score]]:
    def fn(case: Case, response: Response) -> dict[str, Score]:
        if response.error is not None or response.text is None:
            return {label: Score.failure(NO_ANSWER)}
        verdict = verdicts.get((case.id, response.model))
        if verdict is None:
            return {label: Score(math.nan, False, "judge error: not judged")}
        if not verdict.ok or verdict.score is None:
            return {label: Score(math.nan, False, f"judge error: {verdict.error}")}
        detail = f"verdict {verdict.verdict}" + (
            f": {verdict.reasoning}" if verdict.reasoning else ""
        )
        passed = verdict.score >= threshold
        return {label: Score(verdict.score, passed, detail, threshold=threshold)}

    return fn
