"""The tutorial's end-to-end pipeline, :class:`EvalPipeline`, with a decision that holds up.

The tutorial ships when the mean improvement exceeds a threshold. Here the
decision reads the paired bootstrap interval of the improvement: SHIP only when
the whole interval lies above the threshold, ITERATE when it lies below,
INCONCLUSIVE otherwise, with the number of cases that would decide it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from tunegate.api._run import CallOptions, ModelLike, call_models, check_model
from tunegate.api._scores import PairedScores, paired_scores, scored_cases
from tunegate.api.regression import cases_needed, paired_summary
from tunegate.stats import mcnemar_test, sign_test, wins_ties_losses

__all__ = ["EvalPipeline"]


def _p_value(paired: PairedScores) -> tuple[float, str]:
    """McNemar on pass/fail (0/1) scores, else the sign test on the per-case differences."""
    if all(v in (0.0, 1.0) for v in [*paired.a, *paired.b]):
        result = mcnemar_test([v == 1.0 for v in paired.a], [v == 1.0 for v in paired.b])
        return result.p_value, f"McNemar ({result.method})"
    wins, _, losses = wins_ties_losses(paired.a, paired.b)
    return sign_test(wins, losses), "sign test"


class EvalPipeline:
    """Run a model and its baseline on the same cases and decide whether to ship.

    ``model_fn`` and ``baseline_fn`` are functions of the prompt (sync or ``async
    def``) or model names; ``eval_cases`` are dicts ``{"prompt", "scorer",
    "expected"?, "category"?}`` (``scorer(output)`` or ``scorer(output, expected)``
    returning a number) or :class:`~tunegate.api.suite.EvalCase` objects.
    """

    def __init__(
        self,
        model_fn: ModelLike,
        baseline_fn: ModelLike,
        eval_cases: Iterable[Any],
        *,
        concurrency: int = 8,
        options: CallOptions | None = None,
    ) -> None:
        check_model(model_fn, "model_fn")
        check_model(baseline_fn, "baseline_fn")
        self.model_fn = model_fn
        self.baseline_fn = baseline_fn
        self.eval_cases = list(eval_cases)
        self.cases = scored_cases(self.eval_cases, "eval_cases")
        if not self.cases:
            raise ValueError("no eval_cases: pass at least one case")
        self.options = options or CallOptions(concurrency=concurrency)
        self.results: dict[str, Any] | None = None

    def run(
        self,
        confidence_threshold: float = 0.05,
        *,
        confidence: float = 0.95,
        n_resamples: int = 10_000,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Evaluate both models and return the decision.

        ``improvement = model_avg_score - baseline_avg_score`` over the cases both
        answered (scores in the scorer's units), with its paired bootstrap interval
        ``ci`` at ``confidence``; ``confidence_threshold`` is the smallest
        improvement worth shipping (the tutorial's name; 0.05 = 5 points).

        ``"decision"`` is ``"SHIP"`` when ``ci[0] > confidence_threshold``,
        ``"ITERATE"`` when ``ci[1] < confidence_threshold``, ``"INCONCLUSIVE"``
        otherwise; ``"reason"`` says why, and ``"required_n"`` is the number of cases
        that would decide an inconclusive result (80% power). ``"p_value"`` tests
        ``improvement == 0``: McNemar for pass/fail scores, the sign test otherwise
        (``"p_value_test"``). Also ``"timestamp"`` (UTC, ISO 8601),
        ``"cases_evaluated"``, ``"excluded"`` (cases a model failed to answer),
        ``"scorer_errors"`` and ``"confidence"``.
        """
        if not 0.0 < confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
        answers = call_models(
            {"model": self.model_fn, "baseline": self.baseline_fn},
            [c.prompt for c in self.cases],
            self.options,
        )
        paired = paired_scores(self.cases, answers["model"], answers["baseline"])
        summary = paired_summary(
            paired.a, paired.b, confidence=confidence, n_resamples=n_resamples, seed=seed
        )
        delta, (lo, hi), n = summary["delta"], summary["ci"], summary["n"]
        threshold = confidence_threshold
        required_n = None
        if n == 0:
            decision = "INCONCLUSIVE"
            reason = f"no case was answered by both models (e.g. {paired.first_error})"
            p_value, test = 1.0, "none"
        else:
            p_value, test = _p_value(paired)
            interval = f"improvement {delta:+.3f} [{lo:+.3f}, {hi:+.3f}] over {n} cases"
            if lo > threshold:
                decision = "SHIP"
                reason = f"{interval} lies above {threshold:g}"
            elif hi < threshold:
                decision = "ITERATE"
                reason = f"{interval} lies below {threshold:g}"
            else:
                decision = "INCONCLUSIVE"
                required_n = cases_needed(summary["ci"], n, delta - threshold, confidence)
                more = (
                    f"; about {required_n} cases would decide it"
                    if required_n
                    else "; the estimate sits on the threshold"
                )
                reason = f"{interval} straddles {threshold:g}{more}"
        self.results = {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "cases_evaluated": n,
            "model_avg_score": summary["a"],
            "baseline_avg_score": summary["b"],
            "improvement": delta,
            "decision": decision,
            "confidence_threshold": threshold,
            "ci": summary["ci"],
            "confidence": confidence,
            "p_value": p_value,
            "p_value_test": test,
            "required_n": required_n,
            "reason": reason,
            "excluded": paired.excluded,
            "scorer_errors": {"model": paired.scorer_errors_a, "baseline": paired.scorer_errors_b},
        }
        return self.results
