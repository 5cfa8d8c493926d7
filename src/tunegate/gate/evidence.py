"""Gate criteria on the health of the evidence: error rates of every model the verdict
rests on (candidate, baselines, judges), stopped models, and latency percentiles judged
with a distribution-free interval. Pure: they read the finished run result.

A model's failed requests are its answers' transport errors in the suite plus, when it
judges in that suite, its failed judge calls (``calls`` of the suite's judge entries).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from tunegate.config import Criterion
from tunegate.results import CriterionResult, RunResult, Status, SuiteResult
from tunegate.stats import wilson_interval
from tunegate.stats.quantile import (
    MIN_TAIL_SAMPLES,
    QuantileInterval,
    quantile_interval,
    ratio_interval,
)

__all__ = ["Requests", "error_rate", "latency", "requests_of", "stopped"]


class _Judging(Protocol):
    """What these handlers need of the gate's judge (:class:`tunegate.gate.criteria._Judge`)."""

    run: RunResult
    suite: SuiteResult
    candidate: str
    confidence: float

    def missing(self, c: Criterion, judge: str, reason: str) -> CriterionResult: ...

    def _absolute(
        self, c: Criterion, judge: str, value: float, ci: tuple[float, float] | None, n: int
    ) -> CriterionResult: ...

    def _finish(
        self,
        c: Criterion,
        judge: str,
        status: Status,
        value: float,
        ci: tuple[float, float] | None,
        threshold: float,
        n: int | None,
        reason: str,
    ) -> CriterionResult: ...


@dataclass
class Requests:
    """What one model was asked in one suite and how much of it failed."""

    answers: int = 0
    answer_errors: int = 0
    judge_calls: int = 0
    judge_errors: int = 0
    stopped: str | None = None

    @property
    def total(self) -> int:
        return self.answers + self.judge_calls

    @property
    def errors(self) -> int:
        return self.answer_errors + self.judge_errors

    def describe(self) -> str:
        parts = []
        if self.answers:
            parts.append(f"{self.answer_errors} of {self.answers} answers")
        if self.judge_calls:
            parts.append(f"{self.judge_errors} of {self.judge_calls} judge calls")
        return " and ".join(parts) + " failed"


def requests_of(suite: SuiteResult, model: str) -> Requests | None:
    """``model``'s requests in ``suite`` (None when it neither answered nor judged there)."""
    out = Requests()
    found = False
    m = suite.models.get(model)
    if m is not None:
        found = True
        out.answers, out.answer_errors = m.n, m.errors
        out.stopped = m.run.get("stopped") or None
    for entry in (suite.judges or {}).get("judges", []):
        if entry.get("judge") != model:
            continue
        found = True
        calls = entry.get("calls") or {}
        out.judge_calls += int(calls.get("total") or 0)
        out.judge_errors += int(calls.get("errors") or 0)
        out.stopped = out.stopped or calls.get("stopped") or None
    return out if found else None


def _role(j: _Judging, model: str) -> str:
    if model == j.candidate:
        return "the candidate"
    suite = j.suite
    if model in suite.models:
        return "a baseline"
    return "a judge"


def hold_back(j: _Judging, out: CriterionResult, model: str, why: str) -> CriterionResult:
    """A FAIL on a model other than the candidate leaves the verdict undecided instead:
    the evidence the candidate is compared on cannot be trusted, the candidate did not fail."""
    if model != j.candidate and out.status == "FAIL":
        out.status = "INCONCLUSIVE"
        out.reason = f"{why}; {out.reason}" if out.reason else why
    return out


def error_rate(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """The share of ``c.model``'s (default: the candidate's) requests that failed."""
    who = c.model or j.candidate
    asked = requests_of(j.suite, who)
    if asked is None or asked.total == 0:
        return j.missing(c, judge, f"no requests of {who} in suite {j.suite.name}")
    k, n = asked.errors, asked.total
    ci = wilson_interval(k, n, j.confidence)
    out = j._absolute(c, judge, k / n, ci, n)
    out.reason = out.reason.replace(f"observed {k / n:.4g}", asked.describe(), 1)
    role = _role(j, who)
    what = "its comparison" if role == "a baseline" else "its verdicts"
    return hold_back(
        j, out, who, f"{who} ({role}) failed {k} of {n} requests: {what} cannot be trusted"
    )


def _dead(run: RunResult) -> list[tuple[str, str]]:
    """(model, why) for every model (and judge) of every suite that stopped being sent to
    or never answered: all its requests failed."""
    out = []
    for s in run.suites:
        prefix = f"{s.name}/" if s is not run.main else ""
        names = list(s.models) + [
            str(e.get("judge")) for e in (s.judges or {}).get("judges", []) if e.get("judge")
        ]
        for name in dict.fromkeys(names):
            asked = requests_of(s, name)
            if asked is None:
                continue
            if asked.stopped:
                out.append((name, f"{prefix}{name}: {asked.stopped}"))
            elif asked.total and asked.errors == asked.total:
                out.append((name, f"{prefix}{name}: no successful request ({asked.describe()})"))
    return out


def stopped(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """How many models of the run stopped being sent to, or had every request fail.

    Over the limit: FAIL when the candidate is among them, else INCONCLUSIVE (a dead
    baseline or judge leaves the comparison undecided; it does not fail the candidate).
    """
    dead = _dead(j.run)
    n_models = sum(len(s.models) for s in j.run.suites)
    out = j._absolute(c, "observed", float(len(dead)), None, n_models)
    out.reason = (
        "; ".join(why for _, why in dead)
        if dead
        else "every model answered until the end, with at least one successful request"
    )
    if out.status == "FAIL" and all(name != j.candidate for name, _ in dead):
        out.status = "INCONCLUSIVE"
        out.reason += ": the comparisons resting on them cannot be trusted"
    return out


# --------------------------------------------------------------------------- latency


def _latencies(suite: SuiteResult, model: str) -> tuple[list[float], list[float]]:
    """(fresh, reused) latencies of ``model``'s successful answers in ``suite``."""
    fresh: list[float] = []
    reused: list[float] = []
    for row in suite.cases:
        if row.model == model and row.error is None and row.latency_ms is not None:
            (reused if row.cached else fresh).append(float(row.latency_ms))
    return fresh, reused


def _timed(
    j: _Judging, model: str, q: float, confidence: float
) -> tuple[QuantileInterval, str] | None:
    """``model``'s percentile with its interval, and a note on what it rests on: this
    run's latencies; reused answers' only when there is no fresh one (said so)."""
    fresh, reused = _latencies(j.suite, model)
    if fresh:
        note = (
            f"; {model}: {len(reused)} reused answers' latencies (from earlier runs) left out"
            if reused
            else ""
        )
        return quantile_interval(fresh, q, confidence), note
    if reused:
        note = (
            f"; {model}: all {len(reused)} latencies are of answers reused from earlier runs "
            "(measured then, not in this run)"
        )
        return quantile_interval(reused, q, confidence), note
    return None


def _tail_note(model: str, key: str, qi: QuantileInterval, q: float) -> str:
    if qi.tail >= MIN_TAIL_SAMPLES:
        return ""
    need = math.ceil(MIN_TAIL_SAMPLES / (1.0 - q) - 1e-9)
    return (
        f"; {model}'s {key} rests on about {qi.tail:.1f} requests beyond it (fewer than "
        f"{MIN_TAIL_SAMPLES}): about {need} requests would give {MIN_TAIL_SAMPLES}"
    )


def _ms(x: float) -> str:
    return "unbounded" if not math.isfinite(x) else f"{x:.0f} ms"


def _interval_status(lo: float, hi: float, threshold: float) -> Status:
    return "PASS" if hi <= threshold else "FAIL" if lo > threshold else "INCONCLUSIVE"


def latency(j: _Judging, c: Criterion, judge: str) -> CriterionResult:
    """A latency percentile (or its ratio to ``vs``'s), judged on a distribution-free
    order-statistic interval at the gate's confidence (``judge: observed``: the observed
    percentile). For a ratio each model's interval is at ``1 - alpha / 2`` and the ratio's
    interval divides them (Bonferroni: at least ``confidence``)."""
    who = c.model or j.candidate
    key = c.metric.removeprefix("latency_")
    try:
        q = float(key.removeprefix("p")) / 100.0
    except ValueError:
        return j.missing(c, judge, f"unknown latency percentile {key!r}")
    observed = judge == "observed"
    if c.max_ratio is not None:
        assert c.vs is not None
        level = 1.0 - (1.0 - j.confidence) / 2.0
        mine, theirs = _timed(j, who, q, level), _timed(j, c.vs, q, level)
        if mine is None:
            return j.missing(c, judge, f"{who} has no successful request to time")
        if theirs is None:
            return j.missing(c, judge, f"{c.vs} has no successful request to time")
        (a, note_a), (b, note_b) = mine, theirs
        ratio = a.estimate / b.estimate if b.estimate > 0 else math.inf
        reason = f"{a.estimate:.0f} ms vs {b.estimate:.0f} ms, ratio {ratio:.2f}"
        notes = note_a + note_b + _tail_note(who, key, a, q) + _tail_note(c.vs, key, b, q)
        if observed:
            status: Status = "PASS" if ratio <= c.max_ratio else "FAIL"
            return j._finish(c, judge, status, ratio, None, c.max_ratio, None, reason + notes)
        lo, hi = ratio_interval(a, b)
        status = _interval_status(lo, hi, c.max_ratio)
        ci = (lo, hi) if math.isfinite(hi) else None
        reason += (
            f"; {j.confidence:.0%} interval of the ratio [{lo:.2f}, "
            f"{'unbounded' if ci is None else f'{hi:.2f}'}] (distribution-free)"
        )
        out = j._finish(c, judge, status, ratio, ci, c.max_ratio, None, reason + notes)
        out.n = min(a.n, b.n)
        return out
    if c.vs is not None:
        return j.missing(c, judge, "compare latencies with max_ratio")
    timed = _timed(j, who, q, j.confidence)
    if timed is None:
        return j.missing(c, judge, f"{who} has no successful request to time")
    qi, note = timed
    threshold = c.max if c.max is not None else c.min
    if threshold is None:
        return j.missing(c, judge, "a latency limit needs max (or max_ratio)")
    notes = note + _tail_note(who, key, qi, q)
    if observed or c.max is None:
        out = j._absolute(c, "observed", qi.estimate, None, qi.n)
        out.reason = f"observed {qi.estimate:.0f} ms" + notes
        return out
    status = _interval_status(qi.lo, qi.hi, c.max)
    ci = (qi.lo, qi.hi) if qi.bounded else None
    reason = (
        f"observed {qi.estimate:.0f} ms; {j.confidence:.0%} interval [{_ms(qi.lo)}, "
        f"{_ms(qi.hi)}] over {qi.n} requests (distribution-free)"
    )
    out = j._finish(c, judge, status, qi.estimate, ci, c.max, None, reason + notes)
    out.n = qi.n
    return out
