"""The stopping decision of a sequential run: after each look, is the verdict settled?

The gate is judged at each look on intervals widened to the look's group-sequential
boundary (:mod:`tunegate.stats.sequential`), so a PASS or FAIL at an interim look is a
decision at the run's overall error rate, not one per look.

- **SHIP** early: every criterion PASSes and each is decidable at an interim look.
- **ITERATE** early: a decidable criterion FAILs on its (widened) interval: more cases
  cannot undo it at the run's error rate.
- Otherwise the run goes on; the last look (the whole test set) decides as usual.

Decidable at an interim look: criteria on a mean of per-case terms (accuracy, pass
rates, per-case scorer means, repeat figures; paired or not) judged on an interval,
and facts of the cases sent (error and unparseable rates, stopped models, leakage,
cost) only where they PASS. Decided only at the end: macro/micro/weighted F1 (not a mean of
per-case terms), corpus BLEU/chrF, perplexity, latency percentiles, and human, judge
preference, agreement and position-bias criteria (studies and pairwise judges that
need the whole set): while one of them is in the gate no interim SHIP is possible,
and their FAILs never stop a run early.
"""

from __future__ import annotations

from typing import Literal

from tunegate.config import OBSERVED_METRICS
from tunegate.results import CriterionResult, GateResult

#: Criteria decided only at the last look.
END_ONLY = frozenset(
    {
        "macro_f1",
        "micro_f1",
        "weighted_f1",
        "bleu",
        "chrf",
        "perplexity",
        "latency_p50",
        "latency_p95",
        "latency_p99",
        "human_preference",
        "judge_preference",
        "annotator_agreement",
        "position_bias",
    }
)

Stop = Literal["SHIP", "ITERATE"]


def _metric(c: CriterionResult) -> str:
    return str(c.criterion.get("metric", ""))


def decidable(c: CriterionResult) -> bool:
    """Whether ``c`` may settle the run at an interim look."""
    metric = _metric(c)
    if metric in END_ONLY:
        return False
    if metric in OBSERVED_METRICS:
        return c.status == "PASS"  # a fact of the cases sent: only a pass holds
    return c.judge == "interval" and c.ci is not None


def interim_decision(gate: GateResult) -> tuple[Stop | None, str]:
    """The decision at an interim look and why (None: go on)."""
    criteria = gate.criteria
    failed = [c for c in criteria if c.status == "FAIL" and decidable(c)]
    if failed:
        return "ITERATE", "a criterion failed that more cases cannot undo: " + "; ".join(
            c.description for c in failed
        )
    if criteria and all(c.status == "PASS" and decidable(c) for c in criteria):
        return "SHIP", f"all {len(criteria)} criteria pass on the adjusted intervals"
    return None, ""
