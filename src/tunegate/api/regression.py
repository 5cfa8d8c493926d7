"""Regression test of a fine-tuned model against its base: :func:`regression_test`.

The tutorial compares two means and calls any drop beyond the threshold a
regression. Here every delta carries its paired bootstrap interval
(:func:`tunegate.stats.paired_bootstrap_mean_delta`), so a drop is a regression
only when the interval establishes it, and a drop the data cannot settle is
listed as inconclusive with the number of cases that would settle it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from tunegate.api._run import CallOptions, ModelLike, call_models, check_model
from tunegate.api._scores import PairedScores, paired_scores, scored_cases
from tunegate.stats import interval_standard_error, paired_bootstrap_mean_delta, required_cases

__all__ = ["paired_summary", "regression_test"]


def paired_summary(
    a: Sequence[float],
    b: Sequence[float],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> dict[str, Any]:
    """Means of ``a`` and ``b``, ``delta = mean(a) - mean(b)`` and its paired bootstrap CI."""
    n = len(a)
    if n == 0:
        return {"a": math.nan, "b": math.nan, "delta": math.nan, "ci": (math.nan, math.nan), "n": 0}
    delta, lo, hi = paired_bootstrap_mean_delta(
        a, b, n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    return {"a": sum(a) / n, "b": sum(b) / n, "delta": delta, "ci": (lo, hi), "n": n}


def cases_needed(ci: tuple[float, float], n: int, gap: float, confidence: float) -> int | None:
    """Cases that would decide an estimate ``gap`` away from its threshold (80% power)."""
    if n == 0 or any(math.isnan(x) for x in ci):
        return None
    return required_cases(interval_standard_error(ci, confidence), n, gap, confidence)


def _group(
    label: str,
    scores_a: list[float],
    scores_b: list[float],
    threshold: float,
    settings: dict[str, Any],
) -> dict[str, Any]:
    summary = paired_summary(scores_a, scores_b, **settings)
    delta, (lo, hi), n = summary["delta"], summary["ci"], summary["n"]
    result: dict[str, Any] = {
        "fine_tuned": summary["a"],
        "base": summary["b"],
        "delta": delta,
        "ci": summary["ci"],
        "n": n,
        "flagged": bool(n) and delta < -threshold,
    }
    where = (
        f"{label}: fine-tuned {summary['a']:.3f} vs base {summary['b']:.3f}, "
        f"delta {delta:+.3f} [{lo:+.3f}, {hi:+.3f}] over {n} cases"
    )
    if n == 0:
        result["status"] = "inconclusive"
        result["message"] = f"{label}: no case was answered by both models"
    elif hi < -threshold:
        result["status"] = "regression"
        result["message"] = f"{where}: a drop beyond {threshold:g} is established"
    elif lo < -threshold:
        result["status"] = "inconclusive"
        needed = cases_needed(summary["ci"], n, delta + threshold, settings["confidence"])
        result["required_n"] = needed
        more = f"; about {needed} cases would settle it" if needed else ""
        result["message"] = f"{where}: a drop beyond {threshold:g} cannot be ruled out{more}"
    else:
        result["status"] = "ok"
        result["message"] = f"{where}: no drop beyond {threshold:g}"
    return result


def _with_categories(
    label: str, paired: PairedScores, threshold: float, settings: dict[str, Any]
) -> dict[str, Any]:
    group = _group(label, paired.a, paired.b, threshold, settings)
    group["excluded"] = paired.excluded
    if not paired.a and not paired.excluded:
        group["status"], group["message"] = "empty", f"{label}: no cases"
    elif not paired.a:
        group["message"] += f" (every call failed, e.g. {paired.first_error})"
    group["scorer_errors"] = {"fine_tuned": paired.scorer_errors_a, "base": paired.scorer_errors_b}
    categories: dict[str, dict[str, Any]] = {}
    names = list(dict.fromkeys(c for c in paired.categories if c is not None))
    for name in names:
        rows = [i for i, c in enumerate(paired.categories) if c == name]
        categories[name] = _group(
            f"{label}/{name}",
            [paired.a[i] for i in rows],
            [paired.b[i] for i in rows],
            threshold,
            settings,
        )
    group["categories"] = categories
    return group


def regression_test(
    fine_tuned_fn: ModelLike,
    base_model_fn: ModelLike,
    general_cases: Iterable[Any],
    target_cases: Iterable[Any],
    regression_threshold: float = 0.05,
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    concurrency: int = 8,
    options: CallOptions | None = None,
) -> dict[str, Any]:
    """Compare the fine-tuned model with its base on general and target cases.

    Cases are dicts ``{"prompt", "scorer", "category"?}`` with ``scorer(output) ->
    number`` (see :mod:`tunegate.api._scores`). Both models answer every prompt
    (concurrently); each group's ``delta = mean(fine_tuned) - mean(base)`` over the
    cases both answered, with its paired bootstrap interval at ``confidence``.

    Returns ``"general"`` and ``"target"``, each ``{"fine_tuned", "base", "delta",
    "ci", "n", "status", "message", "flagged", "excluded", "categories"}`` (the
    same per category), ``"regressions"`` (messages), ``"inconclusive"``
    (messages), ``"passed"``, ``"regression_threshold"`` and ``"confidence"``.

    A group or category is a **regression** when its whole interval lies below
    ``-regression_threshold`` (the drop is established), **inconclusive** when the
    interval reaches below it but does not lie below it (with ``"required_n"``,
    the cases that would settle it), ``ok`` otherwise. ``"flagged"`` marks a point
    drop beyond the threshold. ``"passed"`` is false only when a regression is
    established. The threshold is in the scorer's units (0.05 = 5 points of a
    0-1 score).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if not regression_threshold >= 0:
        raise ValueError(f"regression_threshold must be >= 0, got {regression_threshold!r}")
    check_model(fine_tuned_fn, "fine_tuned_fn")
    check_model(base_model_fn, "base_model_fn")
    groups = {
        "general": scored_cases(general_cases, "general_cases"),
        "target": scored_cases(target_cases, "target_cases"),
    }
    if not groups["general"] and not groups["target"]:
        raise ValueError("no cases: pass general_cases and/or target_cases")
    prompts = [c.prompt for cases in groups.values() for c in cases]
    options = options or CallOptions(concurrency=concurrency)
    answers = call_models({"fine_tuned": fine_tuned_fn, "base": base_model_fn}, prompts, options)
    settings = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    result: dict[str, Any] = {}
    start = 0
    for label, cases in groups.items():
        stop = start + len(cases)
        paired = paired_scores(
            cases, answers["fine_tuned"][start:stop], answers["base"][start:stop]
        )
        result[label] = _with_categories(label, paired, regression_threshold, settings)
        start = stop
    checked = [result[g] for g in groups] + [
        c for g in groups for c in result[g]["categories"].values()
    ]
    result["regressions"] = [g["message"] for g in checked if g["status"] == "regression"]
    result["inconclusive"] = [g["message"] for g in checked if g["status"] == "inconclusive"]
    result["passed"] = not result["regressions"]
    result["regression_threshold"] = regression_threshold
    result["confidence"] = confidence
    return result
