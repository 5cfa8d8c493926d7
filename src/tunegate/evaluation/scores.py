"""From stored responses to per-model results: per-case scores, metrics and intervals."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunegate.config import PassRule
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.results import CaseRow, Estimate, ModelResult
from tunegate.scoring import structured
from tunegate.scoring.base import above, below
from tunegate.scoring.classification import (
    LabelParser,
    classification_report,
    confusion_codes,
    count_metric,
    n_count_cells,
)
from tunegate.scoring.labels import DEFAULT_RULE, parse_counts
from tunegate.scoring.perplexity import perplexity_of
from tunegate.scoring.scorers import BuiltScorer, references
from tunegate.stats import (
    bootstrap_counts_ci,
    bootstrap_mean_ci,
    bootstrap_perplexity_ci,
    latency_percentiles,
    wilson_interval,
)

CLASSIFICATION_METRICS = ("accuracy", "macro_f1", "micro_f1", "weighted_f1")


@dataclass
class ScoredModel:
    """A model's per-case predictions, ready for metrics and paired comparisons.

    ``correct`` is the per-case pass/fail (classification: the label is right;
    other tasks: every scorer passed). ``values`` holds each metric's per-case
    values (NaN where a case has none, e.g. a failed perplexity request);
    ``codes`` the confusion-cell codes of classification tasks (empty otherwise).
    """

    name: str
    responses: list[Response]
    predictions: list[str | None]
    errors: list[bool]
    correct: np.ndarray
    codes: np.ndarray
    values: dict[str, np.ndarray] = field(default_factory=dict)
    details: list[str | None] = field(default_factory=list)
    corpus: dict[str, float] = field(default_factory=dict)
    lower_is_better: frozenset[str] = frozenset()
    failed: list[list[str]] = field(default_factory=list)
    # per case: the threshold each failed scorer's main metric was held to (rougeL: 0.5)
    thresholds: list[dict[str, float]] = field(default_factory=list)
    unparseable: list[bool] = field(default_factory=list)  # e.g. no tool call in the answer
    # classification: how the answers became labels (rule, exact/matched/unparseable counts)
    parsing: dict[str, Any] = field(default_factory=dict)
    # per metric, per case: the scorer could not score the case (it raised or returned
    # something unusable, ``Score.error``); its value is NaN, so it is left out
    scorer_errors: dict[str, np.ndarray] = field(default_factory=dict)


def score_classification(
    name: str,
    cases: Sequence[Case],
    responses: Sequence[Response],
    labels: Sequence[str],
    *,
    rule: str = DEFAULT_RULE,
    pattern: str | None = None,
) -> ScoredModel:
    """Parse every answer into a label by ``rule`` (None when unparseable or failed);
    ``parsing`` counts how the answers were parsed (docs/labels.md)."""
    parser = LabelParser(labels, rule, pattern)
    errors = [r.error is not None for r in responses]
    parsed = [
        parser.parse(None if err else r.text) for r, err in zip(responses, errors, strict=True)
    ]
    predictions = [p.label for p in parsed]
    references = [c.reference for c in cases]
    correct = np.array(
        [p is not None and p == ref for p, ref in zip(predictions, references, strict=True)],
        dtype=bool,
    )
    return ScoredModel(
        name=name,
        responses=list(responses),
        predictions=predictions,
        errors=errors,
        correct=correct,
        codes=confusion_codes(references, predictions, labels),
        values={"accuracy": correct.astype(float)},
        details=[None if p.why in (None, "no answer") else f"unparseable: {p.why}" for p in parsed],
        parsing=parse_counts(parsed, rule),
    )


def score_generic(
    name: str,
    cases: Sequence[Case],
    responses: Sequence[Response],
    scorers: Sequence[BuiltScorer],
    pass_rule: PassRule | None = None,
) -> ScoredModel:
    """Run every scorer on every response; a case passes when every scorer's main score does
    (or, with ``pass_rule``, when its metric meets the rule's bound).

    For tool-call scorers an answer that holds no call where calls were expected is
    unparseable (counted apart, like an unparseable label; it also fails).
    A scorer that raises (or returns something unusable) never aborts: the case is not
    scored on that scorer's metrics (NaN, left out of their means and pairings), counted
    in ``scorer_errors`` and, having no passing score, does not pass.
    Corpus-level BLEU/chrF (the model's metric; sentence-level values pair cases)
    are computed here too.
    """
    metrics = [m for s in scorers for m in s.metrics]
    values = {m: np.zeros(len(cases), dtype=float) for m in metrics}
    unscored = {m: np.zeros(len(cases), dtype=bool) for m in metrics}
    passed = np.ones(len(cases), dtype=bool)
    details: list[str | None] = []
    failed: list[list[str]] = []
    thresholds: list[dict[str, float]] = []
    for i, (case, response) in enumerate(zip(cases, responses, strict=True)):
        failures: list[str] = []
        failed.append([])
        thresholds.append({})
        for scorer in scorers:
            scores = scorer(case, response)
            for metric in scorer.metrics:
                got = scores.get(metric)
                values[metric][i] = got.value if got is not None else 0.0
                # A failed request is missing already (counted in ``errors``, a wrong
                # answer in the model's own metrics): a scorer tripping on its absent
                # answer adds nothing.
                if got is not None and got.scorer_error and response.error is None:
                    values[metric][i] = np.nan
                    unscored[metric][i] = True
            main = scores.get(scorer.metrics[0])
            if main is None or not main.passed:
                passed[i] = False
                failed[i].append(scorer.label)
                # The numbers behind the failure (rougeL 0.37 < 0.5) before any word.
                metric = scorer.metrics[0]
                short, said = None, None
                if main is not None:
                    short, said = main.shortfall(metric), main.detail
                    if short is not None and main.threshold is not None:
                        thresholds[i][metric] = main.threshold
                        if metric == scorer.label:  # "bleu: 0.21 < 0.5", the name once
                            short = short.removeprefix(f"{metric} ")
                why = ": ".join(x for x in (short, said) if x) or "failed"
                failures.append(f"{scorer.label}: {why}")
        details.append("; ".join(failures) or None)
    if pass_rule is not None and pass_rule.metric in values:
        column = values[pass_rule.metric]
        passed = column >= pass_rule.min if pass_rule.min is not None else column <= pass_rule.max
        _explain_rule(pass_rule, column, passed, details, failed, thresholds)
    tools = any(s.reads_tool_calls for s in scorers)
    unparseable = [
        tools and r.error is None and structured.holds_no_call(c, r.text, r.output)
        for c, r in zip(cases, responses, strict=True)
    ]
    corpus: dict[str, float] = {}
    texts = [r.text if r.error is None else None for r in responses]
    refs = [references(c) for c in cases]
    for scorer in scorers:
        if scorer.corpus is not None:
            corpus[scorer.label] = scorer.corpus(texts, refs)
    return ScoredModel(
        name=name,
        responses=list(responses),
        predictions=[r.text if r.error is None else None for r in responses],
        errors=[r.error is not None for r in responses],
        correct=passed,
        codes=np.zeros(0, dtype=np.int64),
        values=values,
        details=details,
        corpus=corpus,
        lower_is_better=frozenset(m for s in scorers if not s.higher_is_better for m in s.metrics),
        failed=failed,
        thresholds=thresholds,
        unparseable=unparseable,
        scorer_errors=unscored,
    )


#: The label a case failing the suite's ``pass`` rule gets in ``failed`` (and the filter).
PASS_RULE = "pass rule"


def _explain_rule(
    rule: PassRule,
    column: np.ndarray,
    passed: np.ndarray,
    details: list[str | None],
    failed: list[list[str]],
    thresholds: list[dict[str, float]],
) -> None:
    """A case the ``pass`` rule fails says so first, in numbers (``pass rule: rougeL 0.37
    < 0.5``), whatever its scorers said; the bound joins its ``thresholds``."""
    bound = rule.min if rule.min is not None else rule.max
    if bound is None:
        return
    for i, ok in enumerate(passed.tolist()):
        if ok:
            continue
        value = float(column[i])
        short = below(value, bound) if rule.min is not None else above(value, bound)
        reason = f"{PASS_RULE}: {rule.metric} {short}"
        details[i] = f"{reason}; {details[i]}" if details[i] else reason
        failed[i].insert(0, PASS_RULE)
        thresholds[i][rule.metric] = bound


def score_perplexity(name: str, responses: Sequence[Response]) -> ScoredModel:
    """Per case perplexity (NaN for a failed request); corpus perplexity over all tokens."""
    ppl = np.full(len(responses), np.nan)
    details: list[str | None] = []
    total_lp, total_tokens = 0.0, 0
    for i, r in enumerate(responses):
        out = r.output if isinstance(r.output, dict) else {}
        if r.error is None and isinstance(out.get("perplexity"), (int, float)):
            ppl[i] = float(out["perplexity"])
            total_lp += float(out.get("logprob_sum", 0.0))
            total_tokens += int(out.get("n_tokens", 0))
            details.append(None)
        else:
            details.append(r.error or "no perplexity in the answer")
    corpus = {"perplexity": perplexity_of(total_lp, total_tokens)} if total_tokens else {}
    return ScoredModel(
        name=name,
        responses=list(responses),
        predictions=[r.text if r.error is None else None for r in responses],
        errors=[r.error is not None for r in responses],
        correct=~np.isnan(ppl),
        codes=np.zeros(0, dtype=np.int64),
        values={"perplexity": ppl},
        details=details,
        corpus=corpus,
        lower_is_better=frozenset({"perplexity"}),
    )


def classification_result(
    scored: ScoredModel,
    cases: Sequence[Case],
    labels: Sequence[str],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> ModelResult:
    """Metrics with bootstrap intervals, per-class report, latency and tokens for one model."""
    report = classification_report(
        [c.reference for c in cases], scored.predictions, labels, errors=scored.errors
    )
    point = {
        "accuracy": report.accuracy,
        "macro_f1": report.macro_f1,
        "micro_f1": report.micro_f1,
        "weighted_f1": report.weighted_f1,
    }
    metrics: dict[str, Estimate] = {}
    for name in CLASSIFICATION_METRICS:
        lo, hi = bootstrap_counts_ci(
            scored.codes,
            n_count_cells(len(labels)),
            count_metric(name),
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        metrics[name] = Estimate(point[name], (lo, hi))
    n = len(cases)
    n_unparseable = sum(
        1 for p, e in zip(scored.predictions, scored.errors, strict=True) if p is None and not e
    )
    metrics["unparseable_rate"] = Estimate(n_unparseable / n if n else None)
    result = _model_result(scored, cases, metrics, confidence)
    result.unparseable = n_unparseable
    result.parsing = scored.parsing or None
    result.per_class = {
        label: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "support": s.support}
        for label, s in report.per_class.items()
    }
    result.confusion = report.confusion
    return result


def _model_result(
    scored: ScoredModel, cases: Sequence[Case], metrics: dict[str, Estimate], confidence: float
) -> ModelResult:
    """The task-independent parts: error rate, pass rate, latency, tokens, categories."""
    n = len(cases)
    n_err = sum(scored.errors)
    k = int(scored.correct.sum())
    metrics["pass_rate"] = Estimate(k / n if n else None, wilson_interval(k, n, confidence))
    metrics["error_rate"] = Estimate(n_err / n if n else None)
    ok = [r for r in scored.responses if r.error is None]
    latencies = [r.latency_ms for r in ok if r.latency_ms is not None]
    prompt = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    completion = [r.completion_tokens for r in ok if r.completion_tokens is not None]
    kinds = Counter(r.error_kind or "unknown" for r in scored.responses if r.error is not None)
    first_errors = list(dict.fromkeys(r.error for r in scored.responses if r.error is not None))[:5]
    return ModelResult(
        name=scored.name,
        n=n,
        errors=n_err,
        unparseable=sum(scored.unparseable),
        cached=sum(1 for r in scored.responses if r.cached),
        metrics=metrics,
        per_class={},
        confusion=[],
        latency_ms={
            **latency_percentiles(latencies),
            "mean": float(np.mean(latencies)) if latencies else None,
        },
        tokens={
            "prompt": sum(prompt) if prompt else None,
            "completion": sum(completion) if completion else None,
        },
        error_kinds=dict(kinds),
        first_errors=[e for e in first_errors if e is not None],
        categories=category_pass_rates(scored, cases, confidence),
        scorer_errors={m: int(v.sum()) for m, v in scored.scorer_errors.items() if v.any()},
        tokens_per_1k={
            "prompt": sum(prompt) / len(prompt) * 1000.0 if prompt else None,
            "completion": sum(completion) / len(completion) * 1000.0 if completion else None,
        },
    )


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.all((values == 0.0) | (values == 1.0)))


def metric_estimate(
    values: np.ndarray, *, confidence: float, n_resamples: int, seed: int
) -> Estimate:
    """Mean of per-case values with its interval (Wilson for 0/1 values, else bootstrap).

    NaN values (cases without a value) are left out.
    """
    finite = values[~np.isnan(values)]
    if finite.size == 0:
        return Estimate(None)
    mean = float(finite.mean())
    if _is_binary(finite):
        return Estimate(mean, wilson_interval(int(finite.sum()), int(finite.size), confidence))
    lo, hi = bootstrap_mean_ci(finite, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return Estimate(mean, (lo, hi))


def _corpus_perplexity_ci(
    scored: ScoredModel, *, confidence: float, n_resamples: int, seed: int
) -> tuple[float, float] | None:
    sums, counts = [], []
    for r in scored.responses:
        out = r.output if isinstance(r.output, dict) else {}
        if r.error is None and out.get("n_tokens"):
            sums.append(float(out.get("logprob_sum", 0.0)))
            counts.append(int(out["n_tokens"]))
    if len(sums) < 2:
        return None
    return bootstrap_perplexity_ci(
        sums, counts, n_resamples=n_resamples, confidence=confidence, seed=seed
    )


def generic_result(
    scored: ScoredModel,
    cases: Sequence[Case],
    metric_names: Sequence[str],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> ModelResult:
    """Every metric's mean with its interval; corpus BLEU/chrF/perplexity as the model's value.

    Corpus-level values have no resampled interval except perplexity (a ratio
    bootstrap over cases: ``exp(-sum log p / sum tokens)`` recomputed per resample).
    """
    metrics: dict[str, Estimate] = {}
    for name in metric_names:
        if name == "perplexity" and "perplexity" in scored.corpus:
            ci = _corpus_perplexity_ci(
                scored, confidence=confidence, n_resamples=n_resamples, seed=seed
            )
            metrics[name] = Estimate(scored.corpus[name], ci)
        elif name in scored.corpus:
            metrics[name] = Estimate(scored.corpus[name])
        elif name in scored.values:
            metrics[name] = metric_estimate(
                scored.values[name], confidence=confidence, n_resamples=n_resamples, seed=seed
            )
    return _model_result(scored, cases, metrics, confidence)


def category_indices(cases: Sequence[Case]) -> dict[str, list[int]]:
    """Case positions by category (sorted by name; cases without one are left out)."""
    groups: dict[str, list[int]] = {}
    for i, case in enumerate(cases):
        if case.category is not None:
            groups.setdefault(case.category, []).append(i)
    return {k: groups[k] for k in sorted(groups)}


def category_pass_rates(
    scored: ScoredModel, cases: Sequence[Case], confidence: float
) -> dict[str, dict[str, Any]]:
    """Per category: n, correct, pass rate (classification: accuracy) with its Wilson
    interval, and the mean of every per-case metric."""
    out: dict[str, dict[str, Any]] = {}
    for category, idx in category_indices(cases).items():
        k = int(scored.correct[idx].sum())
        means = {}
        for name, values in scored.values.items():
            picked = values[idx]
            picked = picked[~np.isnan(picked)]
            means[name] = float(picked.mean()) if picked.size else None
        out[category] = {
            "n": len(idx),
            "correct": k,
            "pass_rate": k / len(idx),
            "ci": wilson_interval(k, len(idx), confidence),
            "metrics": means,
        }
    return out


def case_rows(scored: ScoredModel, cases: Sequence[Case]) -> list[CaseRow]:
    """Per-case rows for the JSON output."""
    # Plain lists once, not a numpy scalar per case and metric (5,000 cases: 0.3 s less).
    columns = {k: np.asarray(v, dtype=float).tolist() for k, v in scored.values.items()}
    correct = np.asarray(scored.correct, dtype=bool).tolist()
    return [
        CaseRow(
            case_id=case.id,
            model=scored.name,
            prediction=pred,
            reference=case.reference,
            correct=correct[i],
            latency_ms=resp.latency_ms,
            error=resp.error,
            answer=resp.text,
            category=case.category,
            cached=resp.cached,
            detail=scored.details[i] if scored.details else None,
            scores={k: v[i] for k, v in columns.items() if v[i] == v[i]},  # NaN != NaN
            failed=list(scored.failed[i]) if scored.failed else [],
            thresholds=dict(scored.thresholds[i]) if scored.thresholds else {},
            scorer_errors=[m for m, v in scored.scorer_errors.items() if v[i]],
        )
        for i, (case, resp, pred) in enumerate(
            zip(cases, scored.responses, scored.predictions, strict=True)
        )
    ]


def scorer_error_notes(models: dict[str, ModelResult]) -> list[str]:
    """One warning per model whose scorers could not score some cases: ``finetuned: scorer
    errors on bad 20 of 20 cases (left out of those metrics: fix the scorer)``."""
    notes = []
    for m in models.values():
        if m.scorer_errors:
            counts = ", ".join(f"{k} {v} of {m.n}" for k, v in m.scorer_errors.items())
            notes.append(
                f"{m.name}: scorer errors on {counts} cases (left out of those metrics; "
                "see the cases' details and fix the scorer)"
            )
    return notes
