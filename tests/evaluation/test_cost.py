"""tunegate.evaluation.cost: a model's cost per token or per hour of serving, checked by hand."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from tunegate.config import PriceConfig
from tunegate.evaluation.cost import model_cost
from tunegate.results import ModelResult


def _model(n: int = 10, errors: int = 0, **extra: Any) -> ModelResult:
    data: dict[str, Any] = {
        "name": "m",
        "n": n,
        "errors": errors,
        "unparseable": 0,
        "cached": 0,
        "metrics": {},
        "per_class": {},
        "confusion": [],
        "latency_ms": {"mean": 250.0},
        "tokens": {"prompt": 12_000, "completion": 3_000},
        "error_kinds": {},
        "first_errors": [],
    }
    data.update(extra)
    return ModelResult.model_validate(data)


def test_per_token_price_over_the_answered_cases() -> None:
    spec = SimpleNamespace(price=PriceConfig(input_per_1m=0.15, output_per_1m=0.60))
    cost = model_cost(spec, _model(n=10, errors=2), {})
    assert cost is not None
    total = 12_000 / 1e6 * 0.15 + 3_000 / 1e6 * 0.60  # 0.0018 + 0.0018
    assert cost["total"] == pytest.approx(0.0036, abs=1e-15)
    assert cost["total"] == pytest.approx(total, rel=1e-12)
    assert cost["per_1k"] == pytest.approx(total / 8 * 1000, rel=1e-12)  # 8 answered
    assert cost["basis"] == "12000 input, 3000 output tokens"


def test_only_an_input_price_counts_only_input_tokens() -> None:
    spec = SimpleNamespace(price=PriceConfig(input_per_1m=2.0))
    cost = model_cost(spec, _model(), {})
    assert cost is not None
    assert cost["total"] == pytest.approx(0.024, rel=1e-12)


def test_per_hour_price_uses_the_run_wall_clock_when_every_request_was_sent() -> None:
    spec = SimpleNamespace(price=PriceConfig(per_hour=3.6), concurrency=4)
    cost = model_cost(spec, _model(n=10), {"sent": 10, "wall_s": 20.0})
    assert cost is not None
    assert cost["total"] == pytest.approx(3.6 * 20 / 3600, rel=1e-12)  # 0.02
    assert cost["per_1k"] == pytest.approx(2.0, rel=1e-12)
    assert "wall-clock time of the run" in cost["basis"]


def test_per_hour_price_from_stored_latencies_divided_by_concurrency() -> None:
    spec = SimpleNamespace(price=PriceConfig(per_hour=3.6), concurrency=4)
    cost = model_cost(spec, _model(n=10), {"sent": 0, "wall_s": 0.0})
    assert cost is not None
    busy = 250.0 * 10 / 1000 / 4  # 0.625 s
    assert cost["total"] == pytest.approx(3.6 * busy / 3600, rel=1e-12)
    assert cost["basis"] == (
        "3.6/hour x 0.6 s (stored latencies / concurrency (answers came from the cache))"
    )


@pytest.mark.parametrize(
    ("spec", "model"),
    [
        (SimpleNamespace(), _model()),  # no price
        (SimpleNamespace(price=PriceConfig(per_hour=1.0)), _model(n=5, errors=5)),  # none answered
        (  # a token price but no token counts
            SimpleNamespace(price=PriceConfig(input_per_1m=1.0)),
            _model(tokens={"prompt": None, "completion": None}),
        ),
        (  # an hourly price, no wall-clock time and no latencies
            SimpleNamespace(price=PriceConfig(per_hour=1.0)),
            _model(latency_ms={"mean": None}),
        ),
    ],
)
def test_no_cost_without_what_it_needs(spec: Any, model: ModelResult) -> None:
    assert model_cost(spec, model, {}) is None
