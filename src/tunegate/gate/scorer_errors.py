"""Gate evidence: cases a scorer could not score (it raised or returned something
unusable, ``Score.error``). Such a case is missing evidence, not a wrong answer: the
evaluation leaves it out of that metric and its pairings and counts it
(``models.<name>.scorer_errors``). A criterion resting on a metric whose scorer failed on
more cases than the error limit (the gate's ``error_rate`` limit for that model, else 1%,
as for judges) for the model it is about or the model it compares with is INCONCLUSIVE,
naming the scorer: the cases left are no longer the test set the criterion was meant for.
"""

from __future__ import annotations

from tunegate.config import Criterion, GateConfig
from tunegate.results import CriterionResult, RunResult, SuiteResult

__all__ = ["hold_for_scorer_errors", "scorer_error_count"]


def scorer_error_count(suite: SuiteResult, model: str, metric: str) -> int:
    """The cases of ``model`` in ``suite`` its scorers could not score on ``metric``
    (``pass_rate``: on any metric, since every scorer decides the pass)."""
    result = suite.models.get(model)
    if result is None or not result.scorer_errors:
        return 0
    if metric in result.scorer_errors:
        return int(result.scorer_errors[metric])
    if metric == "pass_rate":
        rows = sum(1 for r in suite.cases if r.model == model and r.scorer_errors)
        return max(rows, *result.scorer_errors.values())
    return 0


def hold_for_scorer_errors(
    run: RunResult, gate: GateConfig | None, c: Criterion, candidate: str, out: CriterionResult
) -> CriterionResult:
    """``out`` made INCONCLUSIVE when a scorer behind ``c`` failed on more cases than the
    limit for the model ``c`` is about or the one it compares with; else ``out`` as is."""
    from tunegate.evaluation.judging import judge_error_limit  # after the run only

    suite = run.suite(c.suite)
    if out.status == "MISSING" or suite is None:
        return out
    problems = []
    for model in dict.fromkeys(m for m in (c.model or candidate, c.vs) if m is not None):
        n = suite.models[model].n if model in suite.models else 0
        failed = scorer_error_count(suite, model, c.metric)
        if not n or not failed:
            continue
        limit = judge_error_limit(gate, model, suite.name)
        if failed / n > limit:
            what = "scorers" if c.metric == "pass_rate" else f"scorer {c.metric}"
            problems.append(
                f"{what} failed on {failed} of {n} cases of {model} ({failed / n:.1%}, above "
                f"the {100 * limit:g}% limit): fix the scorer"
            )
    if problems:
        out.status = "INCONCLUSIVE"
        out.reason = "; ".join([*problems, out.reason] if out.reason else problems)
    return out
