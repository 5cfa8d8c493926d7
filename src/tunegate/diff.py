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
from dataclasses import asdict, dataclass, field
from typing import Any

from tunegate.errors import DataError, TunegateError
from tunegate.stats import mcnemar_test, paired_bootstrap_mean_delta
from tunegate.store import RunInfo, Store

__all__ = [
    "CaseChanges",
    "CaseExample",
    "CategoryChange",
    "MetricChange",
    "ModelDiff",
    "RunDiff",
    "RunSide",
    "SuiteDiff",
    "diff_results",
    "load_run_result",
    "resolve_run",
]

#: Run references with a meaning of their own (besides ids and id prefixes).
SPECIAL_REFS = ("latest", "previous")


# --------------------------------------------------------------------------- results


@dataclass
class MetricChange:
    """One number in run A and run B; ``delta = b - a`` (None when either is missing)."""

    name: str
    a: float | None
    b: float | None
    delta: float | None
    ci_a: tuple[float, float] | None = None
    ci_b: tuple[float, float] | None = None


@dataclass
class CategoryChange:
    """A category's pass rate in each run, and the flips among its matched cases."""

    name: str
    n_a: int | None
    n_b: int | None
    pass_rate_a: float | None
    pass_rate_b: float | None
    delta: float | None
    ci_a: tuple[float, float] | None = None
    ci_b: tuple[float, float] | None = None
    fixed: int = 0
    broken: int = 0


@dataclass
class CaseExample:
    """One flipped case with both runs' answers."""

    case_id: str
    category: str | None
    reference: str | None
    prediction_a: str | None
    prediction_b: str | None
    answer_a: str | None
    answer_b: str | None
    error_a: str | None
    error_b: str | None


@dataclass
class CaseChanges:
    """Per-case comparison of one model on the cases both runs scored.

    ``n_matched`` cases have the same ``case_id`` in both runs; ``n_compared`` of them
    have a pass/fail outcome (``correct``) in both, and every count below is over
    those. ``fixed + broken + unchanged == n_compared`` and
    ``unchanged == both_right + both_wrong``. McNemar's
    ``b`` is ``broken`` and its ``c`` is ``fixed``. ``accuracy_delta`` is
    ``accuracy_b - accuracy_a`` on the compared cases, with its paired bootstrap
    interval (None with no compared case).
    """

    n_matched: int
    n_compared: int
    fixed: int
    broken: int
    unchanged: int
    both_right: int
    both_wrong: int
    predictions_changed: int
    accuracy_a: float | None
    accuracy_b: float | None
    accuracy_delta: float | None
    accuracy_ci: tuple[float, float] | None
    mcnemar_p: float
    mcnemar_statistic: float
    mcnemar_method: str
    fixed_ids: list[str]
    broken_ids: list[str]
    only_a_ids: list[str]
    only_b_ids: list[str]
    fixed_examples: list[CaseExample]
    broken_examples: list[CaseExample]


@dataclass
class ModelDiff:
    """One model on one suite, run A against run B."""

    model: str
    suite: str
    primary_metric: str | None
    n_a: int | None
    n_b: int | None
    errors_a: int | None
    errors_b: int | None
    metrics: list[MetricChange]
    latency_ms: list[MetricChange]
    categories: list[CategoryChange]
    cases: CaseChanges | None
    notes: list[str] = field(default_factory=list)

    def metric(self, name: str) -> MetricChange | None:
        """The change of metric ``name``, or None when neither run has it."""
        return next((m for m in self.metrics if m.name == name), None)

    @property
    def primary(self) -> MetricChange | None:
        """The change of the suite's primary metric."""
        return None if self.primary_metric is None else self.metric(self.primary_metric)


@dataclass
class SuiteDiff:
    """One suite present in both runs."""

    name: str
    task: str | None
    primary_metric: str | None
    n_cases_a: int | None
    n_cases_b: int | None
    models: list[ModelDiff]
    models_only_a: list[str]
    models_only_b: list[str]
    notes: list[str] = field(default_factory=list)


@dataclass
class RunSide:
    """What identifies one of the two runs."""

    run_id: str | None
    name: str | None
    candidate: str | None
    baselines: list[str]
    confidence: float | None


@dataclass
class RunDiff:
    """Run B against run A; every delta is ``B - A``."""

    run_a: RunSide
    run_b: RunSide
    confidence: float
    n_resamples: int
    seed: int
    suites: list[SuiteDiff]
    suites_only_a: list[str]
    suites_only_b: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def model_diffs(self) -> list[ModelDiff]:
        """Every model diff of every suite, in order."""
        return [m for s in self.suites for m in s.models]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists, undefined numbers None)."""
        data: dict[str, Any] = _jsonable(asdict(self))
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- reading


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _ci(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    lo, hi = _float(value[0]), _float(value[1])
    return None if lo is None or hi is None else (lo, hi)


def _estimate(value: Any) -> tuple[float | None, tuple[float, float] | None]:
    """``{"value": x, "ci": [lo, hi]}`` (or a bare number) as ``(value, ci)``."""
    if isinstance(value, dict):
        return _float(value.get("value")), _ci(value.get("ci"))
    return _float(value), None


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def _side(result: dict[str, Any]) -> RunSide:
    return RunSide(
        run_id=_str(result.get("run_id")),
        name=_str(result.get("name")),
        candidate=_str(result.get("candidate")),
        baselines=[str(b) for b in _list(result.get("baselines"))],
        confidence=_float(result.get("confidence")),
    )


def _suites(result: dict[str, Any], label: str, notes: list[str]) -> dict[str, dict[str, Any]]:
    """The run's suites by name (first one wins on a duplicate name)."""
    if "suites" not in result:
        notes.append(f"run {label} stored no suites (its result predates per-suite results)")
    suites: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(_list(result.get("suites"))):
        suite = _dict(raw)
        name = _str(suite.get("name")) or f"#{i + 1}"
        if name in suites:
            notes.append(f"run {label} has suite {name!r} twice; the first one is compared")
            continue
        suites[name] = suite
    return suites


def _model_names(suite: dict[str, Any]) -> list[str]:
    """Models of a suite: its ``models`` summary, then any model seen only in its cases."""
    names = [str(m) for m in _dict(suite.get("models"))]
    for case in _list(suite.get("cases")):
        model = _str(_dict(case).get("model"))
        if model is not None and model not in names:
            names.append(model)
    return names


# --------------------------------------------------------------------------- diffing


def _metric_changes(
    summary_a: dict[str, Any], summary_b: dict[str, Any], primary: str | None
) -> list[MetricChange]:
    metrics_a, metrics_b = _dict(summary_a.get("metrics")), _dict(summary_b.get("metrics"))
    names = list(dict.fromkeys([*metrics_a, *metrics_b]))
    if primary in names:  # the primary metric first
        names.remove(primary)
        names.insert(0, primary)
    changes = []
    for name in names:
        a, ci_a = _estimate(metrics_a.get(name))
        b, ci_b = _estimate(metrics_b.get(name))
        changes.append(MetricChange(str(name), a, b, _delta(a, b), ci_a, ci_b))
    return changes


def _latency_changes(summary_a: dict[str, Any], summary_b: dict[str, Any]) -> list[MetricChange]:
    lat_a, lat_b = _dict(summary_a.get("latency_ms")), _dict(summary_b.get("latency_ms"))
    changes = []
    for name in dict.fromkeys([*lat_a, *lat_b]):
        a, b = _float(lat_a.get(name)), _float(lat_b.get(name))
        changes.append(MetricChange(str(name), a, b, _delta(a, b)))
    return changes


def _category_changes(
    summary_a: dict[str, Any], summary_b: dict[str, Any], flips: dict[str, tuple[int, int]]
) -> list[CategoryChange]:
    cats_a, cats_b = _dict(summary_a.get("categories")), _dict(summary_b.get("categories"))
    changes = []
    for name in dict.fromkeys([*cats_a, *cats_b, *flips]):
        a, b = _dict(cats_a.get(name)), _dict(cats_b.get(name))
        rate_a, rate_b = _float(a.get("pass_rate")), _float(b.get("pass_rate"))
        fixed, broken = flips.get(name, (0, 0))
        changes.append(
            CategoryChange(
                name=str(name),
                n_a=_int(a.get("n")),
                n_b=_int(b.get("n")),
                pass_rate_a=rate_a,
                pass_rate_b=rate_b,
                delta=_delta(rate_a, rate_b),
                ci_a=_ci(a.get("ci")),
                ci_b=_ci(b.get("ci")),
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
    for raw in _list(suite.get("cases")):
        case = _dict(raw)
        if _str(case.get("model")) != model:
            continue
        case_id = _str(case.get("case_id"))
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
    return _str(b.get("category")) or _str(a.get("category"))


def _example(case_id: str, a: dict[str, Any], b: dict[str, Any]) -> CaseExample:
    return CaseExample(
        case_id=case_id,
        category=_category(a, b),
        reference=_str(b.get("reference")) or _str(a.get("reference")),
        prediction_a=_str(a.get("prediction")),
        prediction_b=_str(b.get("prediction")),
        answer_a=_str(a.get("answer")),
        answer_b=_str(b.get("answer")),
        error_a=_str(a.get("error")),
        error_b=_str(b.get("error")),
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
    summary_a = _dict(_dict(suite_a.get("models")).get(model))
    summary_b = _dict(_dict(suite_b.get("models")).get(model))
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
        n_a=_int(summary_a.get("n")),
        n_b=_int(summary_b.get("n")),
        errors_a=_int(summary_a.get("errors")),
        errors_b=_int(summary_b.get("errors")),
        metrics=_metric_changes(summary_a, summary_b, primary),
        latency_ms=_latency_changes(summary_a, summary_b),
        categories=_category_changes(summary_a, summary_b, flips),
        cases=cases,
        notes=notes,
    )


def _primary_metric(
    name: str, suite_a: dict[str, Any], suite_b: dict[str, Any], notes: list[str]
) -> str | None:
    primary_a, primary_b = _str(suite_a.get("primary_metric")), _str(suite_b.get("primary_metric"))
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
    side_a, side_b = _side(a), _side(b)
    for label, side in (("A", side_a), ("B", side_b)):
        if side.confidence is not None and not math.isclose(side.confidence, confidence):
            notes.append(
                f"run {label}'s intervals are at {side.confidence:.0%}; the paired interval "
                f"here is at {confidence:.0%}"
            )
    if side_a.candidate and side_b.candidate and side_a.candidate != side_b.candidate:
        notes.append(f"the candidate changed from {side_a.candidate} (A) to {side_b.candidate} (B)")
    suites_a, suites_b = _suites(a, "A", notes), _suites(b, "B", notes)
    wanted = None if models is None else list(dict.fromkeys(models))
    found: set[str] = set()
    in_both_any: list[str] = []
    suite_diffs = []
    for name in [s for s in suites_b if s in suites_a]:
        suite_a, suite_b = suites_a[name], suites_b[name]
        suite_notes: list[str] = []
        both, only_a, only_b = _ordered_models(
            _model_names(suite_a), _model_names(suite_b), side_b.candidate
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
                task=_str(suite_b.get("task")) or _str(suite_a.get("task")),
                primary_metric=primary,
                n_cases_a=_int(suite_a.get("n_cases")),
                n_cases_b=_int(suite_b.get("n_cases")),
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


# --------------------------------------------------------------------------- the store


def _hint(store: Store) -> str:
    return f"`tunegate runs --store {store.path}` lists them"


def resolve_run(store: Store, run_ref: str) -> RunInfo:
    """The run that ``run_ref`` names in ``store``.

    ``run_ref`` is a full run id, a prefix of exactly one run id, ``latest`` (the
    newest completed run) or ``previous`` (the newest completed run before
    ``latest`` that has the same name). Raises :class:`TunegateError` when nothing
    or several runs match.
    """
    ref = run_ref.strip()
    if not ref:
        raise TunegateError(
            "empty run reference: pass a run id, a unique id prefix, `latest` or `previous`"
        )
    runs = store.runs()
    if ref in SPECIAL_REFS:
        completed = [r for r in runs if r.status == "completed"]
        if not completed:
            raise TunegateError(
                f"{store.path}: no completed run, so there is no `{ref}` run "
                "(run `tunegate run` first)"
            )
        latest = completed[0]
        if ref == "latest":
            return latest
        earlier = [r for r in completed[1:] if r.name == latest.name]
        if not earlier:
            raise TunegateError(
                f"{store.path}: no completed run named {latest.name!r} before the latest "
                f"run {latest.id}, so there is no `previous` run; pass two run ids "
                f"({_hint(store)})"
            )
        return earlier[0]
    exact = [r for r in runs if r.id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.id.startswith(ref)]
    if not matches:
        raise TunegateError(f"{store.path}: no run matches {ref!r} ({_hint(store)})")
    if len(matches) > 1:
        shown = ", ".join(r.id for r in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise TunegateError(
            f"{store.path}: {ref!r} is ambiguous: it matches {len(matches)} runs "
            f"({shown}{more}); give more of the id"
        )
    return matches[0]


def load_run_result(store: Store, run_ref: str) -> dict[str, Any]:
    """The stored result (``meta["result"]``) of the run ``run_ref`` names.

    See :func:`resolve_run` for the references. Raises :class:`TunegateError` when
    the run is unknown, ambiguous or not finished, and :class:`DataError` when it
    was stored without a result. The returned dict is a shallow copy whose
    ``run_id`` and ``name`` default to the store's when the result lacks them.
    """
    info = resolve_run(store, run_ref)
    if info.status == "running":
        raise TunegateError(f"run {info.id} has not finished yet (status running)")
    if info.status != "completed":
        raise TunegateError(
            f"run {info.id} did not finish (status {info.status}): it has no result to compare"
        )
    result = info.meta.get("result")
    if result is None:
        raise DataError(
            f"run {info.id} has no stored result (it ran with an older tunegate or did not finish)"
        )
    if not isinstance(result, dict):
        raise DataError(
            f"run {info.id}: the stored result is a {type(result).__name__}, not an object"
        )
    copy = dict(result)
    copy.setdefault("run_id", info.id)
    copy.setdefault("name", info.name)
    return copy
