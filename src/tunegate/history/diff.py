"""What changed between two stored runs of the same models ("since the last candidate").

Pure computation over the result dicts the pipeline stores in each finished run's
metadata (``meta["result"]``): nothing here prints. For every suite and model present
in both runs it reports each metric in A and B with the delta ``B - A``, the change of
every category's pass rate, and, on the cases present in both runs (matched by
``case_id``), which cases were fixed (wrong in A, right in B) and which were broken
(right in A, wrong in B), McNemar's test on those flips and the paired bootstrap
interval of the accuracy delta.

Results written by other tunegate versions may lack any key: a missing part is left
out of the diff and a note says what was missing, rather than failing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tunegate.errors import TunegateError
from tunegate.history.changes import (
    CaseChanges,
    CaseExample,
    CategoryChange,
    MetricChange,
    ModelDiff,
    RunDiff,
    SuiteDiff,
)
from tunegate.history.read import (
    ci_of,
    delta_of,
    dict_of,
    estimate_of,
    float_of,
    int_of,
    list_of,
    model_names,
    side_of,
    str_of,
    suites_by_name,
)
from tunegate.stats import mcnemar_test, paired_bootstrap_mean_delta

__all__ = ["diff_results"]


# --------------------------------------------------------------------------- diffing


def _metric_changes(
    summary_a: dict[str, Any], summary_b: dict[str, Any], primary: str | None
) -> list[MetricChange]:
    metrics_a, metrics_b = dict_of(summary_a.get("metrics")), dict_of(summary_b.get("metrics"))
    names = list(dict.fromkeys([*metrics_a, *metrics_b]))
    if primary in names:  # the primary metric first
        names.remove(primary)
        names.insert(0, primary)
    changes = []
    for name in names:
        a, ci_a = estimate_of(metrics_a.get(name))
        b, ci_b = estimate_of(metrics_b.get(name))
        changes.append(MetricChange(str(name), a, b, delta_of(a, b), ci_a, ci_b))
    return changes


def _latency_changes(summary_a: dict[str, Any], summary_b: dict[str, Any]) -> list[MetricChange]:
    lat_a, lat_b = dict_of(summary_a.get("latency_ms")), dict_of(summary_b.get("latency_ms"))
    changes = []
    for name in dict.fromkeys([*lat_a, *lat_b]):
        a, b = float_of(lat_a.get(name)), float_of(lat_b.get(name))
        changes.append(MetricChange(str(name), a, b, delta_of(a, b)))
    return changes


def _category_changes(
    summary_a: dict[str, Any], summary_b: dict[str, Any], flips: dict[str, tuple[int, int]]
) -> list[CategoryChange]:
    cats_a, cats_b = dict_of(summary_a.get("categories")), dict_of(summary_b.get("categories"))
    changes = []
    for name in dict.fromkeys([*cats_a, *cats_b, *flips]):
        a, b = dict_of(cats_a.get(name)), dict_of(cats_b.get(name))
        rate_a, rate_b = float_of(a.get("pass_rate")), float_of(b.get("pass_rate"))
        fixed, broken = flips.get(name, (0, 0))
        changes.append(
            CategoryChange(
                name=str(name),
                n_a=int_of(a.get("n")),
                n_b=int_of(b.get("n")),
                pass_rate_a=rate_a,
                pass_rate_b=rate_b,
                delta=delta_of(rate_a, rate_b),
                ci_a=ci_of(a.get("ci")),
                ci_b=ci_of(b.get("ci")),
                fixed=fixed,
                broken=broken,
            )
        )
    return changes


def _cases_by_id(
    suite: dict[str, Any], model: str, label: str, where: str, notes: list[str]
) -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {}
    duplicates = missing_id = 0
    for raw in list_of(suite.get("cases")):
        case = dict_of(raw)
        if str_of(case.get("model")) != model:
            continue
        case_id = str_of(case.get("case_id"))
        if case_id is None:
            missing_id += 1
        elif case_id in cases:
            duplicates += 1
        else:
            cases[case_id] = case
    if missing_id:
        notes.append(f"run {label}: {missing_id} case(s) of {where} have no case_id (skipped)")
    if duplicates:
        notes.append(
            f"run {label}: {duplicates} duplicate case_id(s) in {where} (the first is compared)"
        )
    return cases


def _category(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    return str_of(b.get("category")) or str_of(a.get("category"))


def _example(case_id: str, a: dict[str, Any], b: dict[str, Any]) -> CaseExample:
    return CaseExample(
        case_id=case_id,
        category=_category(a, b),
        reference=str_of(b.get("reference")) or str_of(a.get("reference")),
        prediction_a=str_of(a.get("prediction")),
        prediction_b=str_of(b.get("prediction")),
        answer_a=str_of(a.get("answer")),
        answer_b=str_of(b.get("answer")),
        error_a=str_of(a.get("error")),
        error_b=str_of(b.get("error")),
    )


def _case_changes(
    cases_a: dict[str, dict[str, Any]],
    cases_b: dict[str, dict[str, Any]],
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
    max_examples: int,
    where: str,
    notes: list[str],
    flips: dict[str, tuple[int, int]],
) -> CaseChanges:
    matched = [i for i in cases_a if i in cases_b]
    compared: list[str] = []
    right_a: list[bool] = []
    right_b: list[bool] = []
    for case_id in matched:
        ok_a, ok_b = cases_a[case_id].get("correct"), cases_b[case_id].get("correct")
        if isinstance(ok_a, bool) and isinstance(ok_b, bool):
            compared.append(case_id)
            right_a.append(ok_a)
            right_b.append(ok_b)
    if len(compared) < len(matched):
        notes.append(
            f"{where}: {len(matched) - len(compared)} matched case(s) lack a pass/fail outcome "
            "(correct) in one run and are left out of fixed/broken and McNemar"
        )
    fixed_ids = [i for i, a, b in zip(compared, right_a, right_b, strict=True) if b and not a]
    broken_ids = [i for i, a, b in zip(compared, right_a, right_b, strict=True) if a and not b]
    both_right = sum(a and b for a, b in zip(right_a, right_b, strict=True))
    unchanged = sum(a == b for a, b in zip(right_a, right_b, strict=True))
    changed = sum(cases_a[i].get("prediction") != cases_b[i].get("prediction") for i in compared)
    for ids, slot in ((fixed_ids, 0), (broken_ids, 1)):
        for case_id in ids:
            category = _category(cases_a[case_id], cases_b[case_id])
            if category is not None:
                counts = list(flips.get(category, (0, 0)))
                counts[slot] += 1
                flips[category] = (counts[0], counts[1])

    test = mcnemar_test(right_a, right_b)
    n = len(compared)
    accuracy_a = sum(right_a) / n if n else None
    accuracy_b = sum(right_b) / n if n else None
    accuracy_delta: float | None = None
    accuracy_ci: tuple[float, float] | None = None
    if n:
        # paired_bootstrap_mean_delta gives mean(first) - mean(second): B first for B - A.
        accuracy_delta, lo, hi = paired_bootstrap_mean_delta(
            [float(x) for x in right_b],
            [float(x) for x in right_a],
            n_resamples=n_resamples,
            confidence=confidence,
            seed=seed,
        )
        accuracy_ci = (lo, hi)
    return CaseChanges(
        n_matched=len(matched),
        n_compared=n,
        fixed=len(fixed_ids),
        broken=len(broken_ids),
        unchanged=unchanged,
        both_right=both_right,
        both_wrong=unchanged - both_right,
        predictions_changed=changed,
        accuracy_a=accuracy_a,
        accuracy_b=accuracy_b,
        accuracy_delta=accuracy_delta,
        accuracy_ci=accuracy_ci,
        mcnemar_p=test.p_value,
        mcnemar_statistic=test.statistic,
        mcnemar_method=test.method,
        fixed_ids=fixed_ids,
        broken_ids=broken_ids,
        only_a_ids=[i for i in cases_a if i not in cases_b],
        only_b_ids=[i for i in cases_b if i not in cases_a],
        fixed_examples=[_example(i, cases_a[i], cases_b[i]) for i in fixed_ids[:max_examples]],
        broken_examples=[_example(i, cases_a[i], cases_b[i]) for i in broken_ids[:max_examples]],
    )


def _model_diff(
    model: str,
    suite_name: str,
    suite_a: dict[str, Any],
    suite_b: dict[str, Any],
    primary: str | None,
    *,
    confidence: float,
    n_resamples: int,
    seed: int,
    max_examples: int,
) -> ModelDiff:
    where = f"{model} on {suite_name}"
    notes: list[str] = []
    summary_a = dict_of(dict_of(suite_a.get("models")).get(model))
    summary_b = dict_of(dict_of(suite_b.get("models")).get(model))
    for label, summary in (("A", summary_a), ("B", summary_b)):
        if "metrics" not in summary:
            notes.append(f"run {label} stored no metrics for {where}")
    cases: CaseChanges | None = None
    flips: dict[str, tuple[int, int]] = {}
    missing = [label for label, s in (("A", suite_a), ("B", suite_b)) if "cases" not in s]
    if missing:
        runs = " and ".join(f"run {label}" for label in missing)
        notes.append(
            f"{runs} stored no per-case results for suite {suite_name}: fixed/broken cases, "
            "McNemar and the paired interval need them in both runs"
        )
    else:
        cases_a = _cases_by_id(suite_a, model, "A", where, notes)
        cases_b = _cases_by_id(suite_b, model, "B", where, notes)
        if not cases_a or not cases_b:
            empty = " and ".join(label for label, c in (("A", cases_a), ("B", cases_b)) if not c)
            notes.append(f"run {empty} has no cases for {where}: nothing to compare per case")
        else:
            cases = _case_changes(
                cases_a,
                cases_b,
                confidence=confidence,
                n_resamples=n_resamples,
                seed=seed,
                max_examples=max_examples,
                where=where,
                notes=notes,
                flips=flips,
            )
            if not cases.n_matched:
                notes.append(f"{where}: no case_id is in both runs (different test sets?)")
            elif cases.only_a_ids or cases.only_b_ids:
                notes.append(
                    f"{where}: {len(cases.only_a_ids)} case(s) only in A and "
                    f"{len(cases.only_b_ids)} only in B are not compared per case"
                )
    return ModelDiff(
        model=model,
        suite=suite_name,
        primary_metric=primary,
        n_a=int_of(summary_a.get("n")),
        n_b=int_of(summary_b.get("n")),
        errors_a=int_of(summary_a.get("errors")),
        errors_b=int_of(summary_b.get("errors")),
        metrics=_metric_changes(summary_a, summary_b, primary),
        latency_ms=_latency_changes(summary_a, summary_b),
        categories=_category_changes(summary_a, summary_b, flips),
        cases=cases,
        notes=notes,
    )


def _primary_metric(
    name: str, suite_a: dict[str, Any], suite_b: dict[str, Any], notes: list[str]
) -> str | None:
    primary_a, primary_b = (
        str_of(suite_a.get("primary_metric")),
        str_of(suite_b.get("primary_metric")),
    )
    if primary_a and primary_b and primary_a != primary_b:
        notes.append(
            f"suite {name}: the primary metric changed from {primary_a} (A) to {primary_b} (B); "
            f"the headline uses {primary_b}"
        )
    primary = primary_b or primary_a
    if primary is None:
        notes.append(f"suite {name}: neither run stored its primary metric")
    return primary


def _ordered_models(
    names_a: list[str], names_b: list[str], candidate: str | None
) -> tuple[list[str], list[str], list[str]]:
    """(in both, only in A, only in B); the candidate first, then B's order."""
    both = [m for m in names_b if m in names_a]
    if candidate in both:
        both.remove(candidate)
        both.insert(0, candidate)
    return both, [m for m in names_a if m not in names_b], [m for m in names_b if m not in names_a]


def diff_results(
    a: dict[str, Any],
    b: dict[str, Any],
    *,
    models: Sequence[str] | None = None,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
    max_examples: int = 5,
) -> RunDiff:
    """Compare run result ``b`` against ``a`` (both as stored in ``meta["result"]``).

    Every suite and every model present in both runs is compared (only ``models``
    when given). ``confidence``, ``n_resamples`` and ``seed`` drive the paired
    bootstrap of the accuracy delta; ``max_examples`` caps the fixed and broken
    examples kept with both answers (the id lists are always complete).

    Raises :class:`TunegateError` when a model of ``models`` is not in both runs.
    """
    if not 0.0 < confidence < 1.0:
        raise TunegateError(f"confidence must be between 0 and 1, got {confidence}")
    if n_resamples < 1:
        raise TunegateError(f"n_resamples must be at least 1, got {n_resamples}")
    notes: list[str] = []
    side_a, side_b = side_of(a), side_of(b)
    for label, side in (("A", side_a), ("B", side_b)):
        if side.confidence is not None and not math.isclose(side.confidence, confidence):
            notes.append(
                f"run {label}'s intervals are at {side.confidence:.0%}; the paired interval "
                f"here is at {confidence:.0%}"
            )
    if side_a.candidate and side_b.candidate and side_a.candidate != side_b.candidate:
        notes.append(f"the candidate changed from {side_a.candidate} (A) to {side_b.candidate} (B)")
    suites_a, suites_b = suites_by_name(a, "A", notes), suites_by_name(b, "B", notes)
    wanted = None if models is None else list(dict.fromkeys(models))
    found: set[str] = set()
    in_both_any: list[str] = []
    suite_diffs = []
    for name in [s for s in suites_b if s in suites_a]:
        suite_a, suite_b = suites_a[name], suites_b[name]
        suite_notes: list[str] = []
        both, only_a, only_b = _ordered_models(
            model_names(suite_a), model_names(suite_b), side_b.candidate
        )
        in_both_any += [m for m in both if m not in in_both_any]
        if wanted is not None:
            both = [m for m in wanted if m in both]
            only_a = [m for m in only_a if m in wanted]
            only_b = [m for m in only_b if m in wanted]
            found.update(both)
        primary = _primary_metric(name, suite_a, suite_b, suite_notes)
        suite_diffs.append(
            SuiteDiff(
                name=name,
                task=str_of(suite_b.get("task")) or str_of(suite_a.get("task")),
                primary_metric=primary,
                n_cases_a=int_of(suite_a.get("n_cases")),
                n_cases_b=int_of(suite_b.get("n_cases")),
                models=[
                    _model_diff(
                        m,
                        name,
                        suite_a,
                        suite_b,
                        primary,
                        confidence=confidence,
                        n_resamples=n_resamples,
                        seed=seed,
                        max_examples=max_examples,
                    )
                    for m in both
                ],
                models_only_a=only_a,
                models_only_b=only_b,
                notes=suite_notes,
            )
        )
    if wanted is not None:
        absent = [m for m in wanted if m not in found]
        if absent:
            listed = ", ".join(in_both_any) or "none"
            raise TunegateError(
                f"model(s) {', '.join(absent)} not in both runs on any common suite "
                f"(models in both: {listed})"
            )
    suites_only_a = [s for s in suites_a if s not in suites_b]
    suites_only_b = [s for s in suites_b if s not in suites_a]
    if (suites_a or suites_b) and not suite_diffs:
        notes.append("the runs have no suite in common: nothing to compare")
    return RunDiff(
        run_a=side_a,
        run_b=side_b,
        confidence=confidence,
        n_resamples=n_resamples,
        seed=seed,
        suites=suite_diffs,
        suites_only_a=suites_only_a,
        suites_only_b=suites_only_b,
        notes=notes,
    )
