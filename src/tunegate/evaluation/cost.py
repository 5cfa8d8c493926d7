"""What a model's predictions cost, from its price in the config and what the run measured.

Two ways to price a model:

* per token (``price: {input_per_1m: 0.15, output_per_1m: 0.60}``, in any currency):
  ``cost = prompt_tokens / 1e6 * input_per_1m + completion_tokens / 1e6 * output_per_1m``
  over the cases that were answered;
* per hour of serving (``price: {per_hour: 1.20}``, self-hosted): the time the
  predictions took at the measured throughput, ``cost = per_hour * busy_seconds / 3600``,
  where ``busy_seconds`` is the model's wall-clock time in the run when it sent every
  request, else the summed request latencies divided by its concurrency -- the requests
  it has in flight at most, over all its replicas
  (:meth:`~tunegate.config.OpenAIModel.effective_concurrency`), as the runner sends them.

``per_1k`` is the cost of 1,000 predictions at that rate; ``currency`` the price's
(``price.currency``, USD by default): costs in different currencies are never added.
"""

from __future__ import annotations

from typing import Any

from tunegate.config import PriceConfig
from tunegate.results import ModelResult


def model_cost(
    price: PriceConfig | None, model: ModelResult, run: dict[str, Any], *, concurrency: int
) -> dict[str, Any] | None:
    """The cost of ``model``'s answers in this run, or None when the config gives no price.

    ``run`` is the model's run statistics (``sent``, ``wall_s``); ``concurrency`` its
    effective concurrency (all replicas, capped by ``concurrency_total``).
    """
    answered = model.n - model.errors
    if price is None or answered <= 0:
        return None
    if price.per_hour is not None:
        sent = int(run.get("sent") or 0)
        wall = float(run.get("wall_s") or 0.0)
        if sent >= answered and wall > 0:
            busy, basis = wall, "wall-clock time of the run"
        else:
            mean = model.latency_ms.get("mean")
            if mean is None:
                return None
            busy = float(mean) * answered / 1000.0 / max(1, concurrency)
            basis = "stored latencies / concurrency (answers came from the cache)"
        total = price.per_hour * busy / 3600.0
        return {
            "total": total,
            "per_1k": total / answered * 1000.0,
            "basis": f"{price.per_hour:g} {price.currency}/hour x {busy:.1f} s ({basis})",
            "currency": price.currency,
        }
    prompt = model.tokens.get("prompt")
    completion = model.tokens.get("completion")
    if prompt is None and completion is None:
        return None
    total = (prompt or 0) / 1e6 * (price.input_per_1m or 0.0) + (completion or 0) / 1e6 * (
        price.output_per_1m or 0.0
    )
    return {
        "total": total,
        "per_1k": total / answered * 1000.0,
        "basis": f"{prompt or 0} input, {completion or 0} output tokens",
        "currency": price.currency,
    }
