"""Sample-size planning from a stored run: what the test set can detect, what it would need.

For each gate criterion judged on an interval, the interval's width gives the
standard error of the estimate (``se = (hi - lo) / (2 z)``; for comparisons that is
the paired difference's, so its observed variance is what counts). Then:

* the minimum detectable effect of this test set, ``MDE = (z_{1-a/2} + z_{0.8}) se``:
  the smallest distance from the threshold that is decided with 80% power;
* the cases needed to decide the criterion at the observed distance ``gap``
  (estimate minus threshold): ``n * (MDE / gap)^2``, since ``se`` shrinks as
  ``1 / sqrt(n)``;
* the MDE with four times as many cases (half the current one).

Criteria judged on the observed value (error rate, latency, leakage, cost) are
facts of the run and need no sample size; they are listed without one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import ValidationError

from tunegate.errors import DataError
from tunegate.jsonable import jsonable
from tunegate.results import CriterionResult
from tunegate.stats import interval_standard_error, minimum_detectable_effect, required_cases

__all__ = ["PlanRow", "plan_from_result"]


@dataclass
class PlanRow:
    """One criterion's sample-size evidence."""

    description: str
    status: str
    judge: str
    n: int | None
    estimate: float | None
    ci: tuple[float, float] | None
    threshold: float | None
    se: float | None = None
    mde: float | None = None
    mde_4x: float | None = None
    required_n: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (undefined numbers None)."""
        data: dict[str, Any] = jsonable(asdict(self))
        return data


def _criterion(raw: Any, i: int) -> CriterionResult:
    """A stored gate criterion, typed; a malformed one is a :class:`DataError` naming it."""
    try:
        return CriterionResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        where = f"gate.criteria[{i}]" + (f".{key}" if key else "")
        raise DataError(f"the stored run's {where}: {first['msg']}") from None


def _row(c: CriterionResult, confidence: float, power: float) -> PlanRow:
    ci = None if c.ci is None else (float(c.ci[0]), float(c.ci[1]))
    row = PlanRow(
        description=c.description,
        status=c.status,
        judge=c.judge,
        n=c.n,
        estimate=c.estimate,
        ci=ci,
        threshold=c.threshold,
    )
    if row.status == "MISSING":
        row.note = c.reason or "no data"
        return row
    if ci is None or row.n is None or row.estimate is None or row.threshold is None:
        row.note = "judged on the observed value: no sample size applies"
        return row
    se = interval_standard_error(ci, confidence)
    row.se = se
    row.mde = minimum_detectable_effect(se, confidence, power)
    row.mde_4x = row.mde / 2.0
    gap = float(row.estimate) - float(row.threshold)
    row.required_n = required_cases(se, int(row.n), gap, confidence, power)
    if row.required_n is None:
        row.note = "the estimate sits on the threshold: no test set decides it"
    elif row.status in ("PASS", "FAIL") and row.required_n <= int(row.n):
        row.note = f"decided with {row.n} cases"
    else:
        row.note = (
            f"|estimate - threshold| = {abs(gap):.3f} < MDE {row.mde:.3f}: "
            f"about {row.required_n} cases would decide it"
        )
    return row


def plan_from_result(result: dict[str, Any], power: float = 0.8) -> list[PlanRow]:
    """One row per gate criterion of a stored run result (``tunegate run --json``)."""
    if not 0.5 <= power < 1:
        raise ValueError(f"power must be in [0.5, 1), got {power}")
    gate = result.get("gate")
    if not isinstance(gate, dict) or not isinstance(gate.get("criteria"), list):
        raise DataError("the stored run has no gate results (run it with a gate)")
    confidence = float(gate.get("confidence") or result.get("confidence") or 0.95)
    if not math.isfinite(confidence):
        raise DataError("the stored run has no confidence level")
    criteria = [_criterion(c, i) for i, c in enumerate(gate["criteria"])]
    return [_row(c, confidence, power) for c in criteria]
