"""Gate criteria that rest on judges and people (pure: they read the finished run result).

- ``human_preference`` (``vs:``, ``min:``): the candidate's win rate in the run's human
  study (ties as half), judged on its interval;
- ``judge_preference`` (``vs:``, ``min:``): the same from the suite's pairwise judge;
- ``judge_score``: a pointwise judge's mean normalised score (the suite metric);
- ``annotator_agreement`` (``min:``, ``agreement: fleiss | krippendorff_alpha``);
- ``position_bias`` (``max:``): how often the output shown first wins, from the suite's
  pairwise judge, else the share of human votes for the left output.

``gate.trust_judge`` makes every judge-based criterion MISSING unless that judge's
Cohen's kappa against the human majority reaches ``min_kappa`` on at least
``min_items`` items of the study.

A judge whose calls gave no verdict more often than its limit (``judge_errors`` of its
summary: the gate's ``error_rate`` limit for that model, else 1%) leaves every criterion
resting on it INCONCLUSIVE (:func:`judge_error_result`), naming the judge and the counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from tunegate.config import Criterion, GateConfig, TrustJudgeConfig
from tunegate.config.gate import PREFERENCE_METRICS
from tunegate.results import CriterionResult, RunResult, SuiteResult
from tunegate.results.units import votes_apart

__all__ = [
    "HANDLERS",
    "judge_behind",
    "judge_error_result",
    "primary_criterion",
    "trust_problem",
]


class _Judging(Protocol):
    """What a handler needs of the gate's judge (:class:`tunegate.gate.criteria._Judge`)."""

    run: RunResult
    trust: TrustJudgeConfig | None
    gate: GateConfig | None

    def missing(self, c: Criterion, judge: str, reason: str) -> CriterionResult: ...

    def _absolute(
        self, c: Criterion, judge: str, value: float, ci: tuple[float, float] | None, n: int
    ) -> CriterionResult: ...


NO_STUDY = (
    "no human evaluation for this run (tunegate human create --run RUN, or "
    "human: {study: NAME} in the config)"
)


def _ci(block: dict[str, Any]) -> tuple[float, float] | None:
    ci = block.get("ci")
    return (float(ci[0]), float(ci[1])) if ci else None


def _entries(suite: SuiteResult | None, kind: str) -> list[dict[str, Any]]:
    if suite is None or not suite.judges:
        return []
    return [e for e in suite.judges.get("judges", []) if e.get("kind") == kind]


def judge_behind(run: RunResult, c: Criterion) -> tuple[str, str] | None:
    """(judge name in the study, how to say it) for a judge-based criterion, else None."""
    suite = run.suite(c.suite)
    if c.metric == "judge_preference":
        pairwise = _entries(suite, "pairwise")
        return (pairwise[0]["name"], f"pairwise judge {pairwise[0]['name']}") if pairwise else None
    for entry in _entries(suite, "pointwise"):
        if entry["name"] == c.metric:
            return entry["judge"], f"judge {entry['judge']}"
    return None


def _entry_behind(run: RunResult, c: Criterion) -> dict[str, Any] | None:
    """The suite's judge entry a judge-based criterion rests on (None for other criteria)."""
    suite = run.suite(c.suite)
    if c.metric in ("judge_preference", "position_bias"):
        pairwise = _entries(suite, "pairwise")
        return pairwise[0] if pairwise else None
    return next((e for e in _entries(suite, "pointwise") if e["name"] == c.metric), None)


def _called(entry: dict[str, Any]) -> str:
    """A judge entry's name, with its model when they differ: ``gpt-judge (gpt4o-mini)``."""
    name, model = str(entry["name"]), str(entry["judge"])
    return name if name == model else f"{name} ({model})"


def judge_error_result(j: _Judging, c: Criterion, judge: str) -> CriterionResult | None:
    """INCONCLUSIVE when the judge behind ``c`` gave no verdict on more of its calls than
    its limit (None: not judge-based, or the judge is within its limit)."""
    from tunegate.evaluation.judging import (
        judge_error_limit,
    )  # after the run: not on its import path

    entry = _entry_behind(j.run, c)
    block = (entry or {}).get("judge_errors") or {}
    if entry is None or not block.get("calls"):
        return None
    failed, calls = int(block["failed"]), int(block["calls"])
    limit = judge_error_limit(j.gate, str(entry["judge"]), c.suite or j.run.main.name)
    if failed / calls <= limit:
        return None
    what = "pairwise judge" if entry.get("kind") == "pairwise" else "judge"
    out = j.missing(
        c,
        judge,
        f"{what} {_called(entry)} gave no verdict on {failed} of {calls} calls "
        f"({failed / calls:.1%}, above the {100 * limit:g}% limit): its verdicts cannot be trusted",
    )
    out.status = "INCONCLUSIVE"
    out.n = calls
    return out


def primary_criterion(primary: str, baseline: str, margin: float = 0.02) -> Criterion:
    """The default gate's criterion on the primary metric against ``baseline``: non-inferior
    within ``margin``. For a preference (a suite judged only by a pairwise judge) the win
    rate p compares as the paired delta ``p - (1 - p)``, so the bar is ``p >= 0.5 -
    margin / 2`` (0.49 for the default 0.02)."""
    if primary in PREFERENCE_METRICS:
        return Criterion(metric=primary, vs=baseline, min=0.5 - margin / 2)
    return Criterion(metric=primary, vs=baseline, min_delta=-margin)


def trust_problem(run: RunResult, trust: TrustJudgeConfig | None, judge: str) -> str | None:
    """Why ``judge`` may not be trusted under ``trust`` (None: trusted, or no trust rule)."""
    if trust is None:
        return None
    human = run.human
    if human is None:
        return "judge not calibrated: " + NO_STUDY
    if human.get("error"):
        return f"judge not calibrated: {human['error']}"
    cal = next((j for j in human.get("judges", []) if j.get("judge") == judge), None)
    if cal is None:
        return f"judge not calibrated: {judge} has no verdicts in study {human.get('study')}"
    kappa = cal.get("cohen_kappa", {}).get("value")
    n = int(cal.get("n_items") or 0)
    need = f"needs κ ≥ {trust.min_kappa:g} on ≥ {trust.min_items} items"
    if kappa is None:
        return f"judge not calibrated: κ undefined on {n} items ({need})"
    if n < trust.min_items or kappa < trust.min_kappa:
        return f"judge not calibrated: κ {kappa:.2f} on {n} items ({need})"
    return None


def _human(j: _Judging, c: Criterion, judge: str) -> CriterionResult | dict[str, Any]:
    human = j.run.human
    if human is None:
        return j.missing(c, judge, NO_STUDY)
    if human.get("error"):
        return j.missing(c, judge, str(human["error"]))
    return human


def human_preference(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """The candidate's human win rate against ``vs``."""
    human = _human(j, c, judge)
    if isinstance(human, CriterionResult):
        return human
    pref = human.get("preference", {})
    study = human.get("study")
    if c.vs is not None and pref.get("baseline") != c.vs:
        return j.missing(
            c,
            judge,
            f"study {study} compares {pref.get('candidate')} with {pref.get('baseline')}, "
            f"not {c.vs}",
        )
    rate = pref.get("win_rate", {})
    if rate.get("value") is None:
        return j.missing(c, judge, f"no votes yet in study {study}")
    # Items, not votes, are the independent units (the interval resamples items).
    n_items = int(pref.get("n_items") or pref.get("n_votes") or 0)
    out = j._absolute(c, judge, float(rate["value"]), _ci(rate), n_items)
    out.reason = (
        f"study {study}: {pref.get('wins')} wins, {pref.get('ties')} ties, "
        f"{pref.get('losses')} losses over {pref.get('n_votes')} votes"
        f"{votes_apart(pref.get('both_bad'), pref.get('skipped'))}, "
        f"win rate {rate['value']:.3f}" + out.reason.split(f"observed {rate['value']:.4g}", 1)[-1]
    )
    return out


def annotator_agreement(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """Fleiss' kappa (or Krippendorff's alpha) among the study's annotators."""
    human = _human(j, c, judge)
    if isinstance(human, CriterionResult):
        return human
    which = c.agreement or "fleiss"
    block = human.get("agreement", {}).get(which, {})
    title = "Fleiss' κ" if which == "fleiss" else "Krippendorff's alpha"
    if block.get("value") is None:
        return j.missing(c, judge, f"{title} is undefined in study {human.get('study')}")
    n = int(human.get("agreement", {}).get("n_items") or 0)
    out = j._absolute(c, judge, float(block["value"]), _ci(block), n)
    out.reason = f"{title} {block['value']:.3f} on {n} items"
    return out


def position_bias(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """How often the output shown first wins (pairwise judge, else human left votes)."""
    pairwise = _entries(j.run.suite(c.suite), "pairwise")
    if pairwise:
        entry = pairwise[0]
        baselines = entry.get("baselines", {})
        if not baselines:
            return j.missing(c, judge, f"pairwise judge {entry['name']} compared nothing")
        base = c.vs if c.vs in baselines else next(iter(baselines))
        bias = baselines[base]["position_bias"]
        if bias.get("value") is None:
            return j.missing(c, judge, f"judge {entry['name']} gave no decisive verdict")
        out = j._absolute(c, "observed", float(bias["value"]), None, int(bias["n"]))
        out.reason = (
            f"judge {entry['name']} picked the first-shown output in "
            f"{bias['value']:.1%} of {bias['n']} decisive verdicts (vs {base})"
        )
        return out
    human = _human(j, c, judge)
    if isinstance(human, CriterionResult):
        return human
    left = human.get("position_bias", {}).get("left_win_rate", {})
    if left.get("value") is None:
        return j.missing(c, judge, f"no decisive human vote in study {human.get('study')}")
    n = int(human.get("position_bias", {}).get("n_decisive") or 0)
    out = j._absolute(c, "observed", float(left["value"]), None, n)
    out.reason = f"the left output won {left['value']:.1%} of {n} decisive human votes"
    return out


def judge_preference(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """The candidate's win rate against ``vs`` by the suite's pairwise judge."""
    pairwise = _entries(j.run.suite(c.suite), "pairwise")
    if not pairwise:
        return j.missing(c, judge, "no pairwise judge in this suite")
    entry = pairwise[0]
    baselines = entry.get("baselines", {})
    vs = c.vs if c.vs is not None else next(iter(baselines), None)
    block = baselines.get(vs) if vs is not None else None
    if block is None:
        return j.missing(c, judge, f"pairwise judge {entry['name']} did not compare with {c.vs}")
    rate = block["win_rate"]
    if rate.get("value") is None:
        return j.missing(c, judge, f"pairwise judge {entry['name']} has no valid verdict")
    out = j._absolute(c, judge, float(rate["value"]), _ci(rate), int(block["n"]))
    out.reason = (
        f"judge {entry['name']}: {block['wins']} wins, {block['ties']} ties, "
        f"{block['losses']} losses, {block['inconsistent']} inconsistent, "
        f"{block['errors']} errors; win rate {rate['value']:.3f}"
        + out.reason.split(f"observed {rate['value']:.4g}", 1)[-1]
    )
    return out


#: Criterion metric -> handler (judge_score goes through the ordinary metric path).
HANDLERS: dict[str, Callable[[Any, Criterion, str], CriterionResult]] = {
    "human_preference": human_preference,
    "judge_preference": judge_preference,
    "annotator_agreement": annotator_agreement,
    "position_bias": position_bias,
}
