"""tunegate.evaluation.cost: a model's cost per token or per hour of serving, checked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tunegate.config import PriceConfig, parse_config
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.evaluation.cost import model_cost
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.results import ModelResult
from tunegate.runner import ModelRun


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
    price = PriceConfig(input_per_1m=0.15, output_per_1m=0.60)
    cost = model_cost(price, _model(n=10, errors=2), {}, concurrency=1)
    assert cost is not None
    total = 12_000 / 1e6 * 0.15 + 3_000 / 1e6 * 0.60  # 0.0018 + 0.0018
    assert cost["total"] == pytest.approx(0.0036, abs=1e-15)
    assert cost["total"] == pytest.approx(total, rel=1e-12)
    assert cost["per_1k"] == pytest.approx(total / 8 * 1000, rel=1e-12)  # 8 answered
    assert cost["basis"] == "12000 input, 3000 output tokens"


def test_only_an_input_price_counts_only_input_tokens() -> None:
    cost = model_cost(PriceConfig(input_per_1m=2.0), _model(), {}, concurrency=1)
    assert cost is not None
    assert cost["total"] == pytest.approx(0.024, rel=1e-12)


def test_per_hour_price_uses_the_run_wall_clock_when_every_request_was_sent() -> None:
    price = PriceConfig(per_hour=3.6)
    cost = model_cost(price, _model(n=10), {"sent": 10, "wall_s": 20.0}, concurrency=4)
    assert cost is not None
    assert cost["total"] == pytest.approx(3.6 * 20 / 3600, rel=1e-12)  # 0.02
    assert cost["per_1k"] == pytest.approx(2.0, rel=1e-12)
    assert "wall-clock time of the run" in cost["basis"]


def test_per_hour_price_from_stored_latencies_divided_by_concurrency() -> None:
    price = PriceConfig(per_hour=3.6)
    cost = model_cost(price, _model(n=10), {"sent": 0, "wall_s": 0.0}, concurrency=4)
    assert cost is not None
    busy = 250.0 * 10 / 1000 / 4  # 0.625 s
    assert cost["total"] == pytest.approx(3.6 * busy / 3600, rel=1e-12)
    assert cost["basis"] == (
        "3.6 USD/hour x 0.6 s (stored latencies / concurrency (answers came from the cache))"
    )


@pytest.mark.parametrize(
    ("price", "model"),
    [
        (None, _model()),  # no price
        (PriceConfig(per_hour=1.0), _model(n=5, errors=5)),  # none answered
        (  # a token price but no token counts
            PriceConfig(input_per_1m=1.0),
            _model(tokens={"prompt": None, "completion": None}),
        ),
        (  # an hourly price, no wall-clock time and no latencies
            PriceConfig(per_hour=1.0),
            _model(latency_ms={"mean": None}),
        ),
    ],
)
def test_no_cost_without_what_it_needs(price: PriceConfig | None, model: ModelResult) -> None:
    assert model_cost(price, model, {}, concurrency=1) is None


URLS = ["http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1", "http://10.0.0.3:8000/v1"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "openai", "model": "m", "base_url": URLS, "concurrency": 4}, 12),
        ({"type": "openai", "model": "m", "base_url": URLS[0], "concurrency": 4}, 4),
        ({"type": "openai", "model": "m", "concurrency": 4}, 4),  # OpenAI's own endpoint
        (
            {
                "type": "openai",
                "model": "m",
                "base_url": URLS,
                "concurrency": 4,
                "concurrency_total": 5,
            },
            5,
        ),
        ({"type": "http", "url": URLS, "concurrency": 2}, 6),
        ({"type": "http", "url": URLS, "concurrency": 2, "concurrency_total": 50}, 6),
        ({"type": "python", "function": "m:f", "concurrency": 3}, 3),
        ({"type": "hf", "path": "ckpt"}, 1),
    ],
)
def test_effective_concurrency(spec: dict[str, Any], expected: int) -> None:
    config = parse_config(
        {"dataset": {"path": "x.jsonl"}, "task": {"labels": ["a", "b"]}, "models": {"m": spec}}
    )
    assert config.models["m"].effective_concurrency() == expected


def _cached_run(name: str, cases: list[Case], latency_ms: float) -> ModelRun:
    """A run whose answers all came from the store (nothing sent): the cost per hour
    rests on the stored latencies and the model's concurrency."""
    responses = [
        Response(
            case_id=c.id,
            model=name,
            key=f"{name}/{c.id}",
            text=c.reference,
            latency_ms=latency_ms,
            cached=True,
        )
        for c in cases
    ]
    return ModelRun(name, responses)


@pytest.mark.parametrize(("extra", "concurrency"), [({}, 12), ({"concurrency_total": 5}, 5)])
def test_hourly_cost_of_replicas_divides_by_the_effective_concurrency(
    extra: dict[str, Any], concurrency: int
) -> None:
    """3 replicas x concurrency 4 keep 12 requests in flight (the runner sends 12 at a
    time, or ``concurrency_total``): the busy time is the summed latencies / 12, not / 4."""
    spec = {
        "type": "openai",
        "model": "m",
        "base_url": URLS,
        "concurrency": 4,
        "price": {"per_hour": 3.6},
        **extra,
    }
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": ["a", "b"]},
            "models": {"ft": spec, "base": {"type": "python", "function": "m:f"}},
        }
    )
    cases = [Case(id=f"c{i}", text=f"t{i}", reference="ab"[i % 2]) for i in range(24)]
    runs = {n: _cached_run(n, cases, 500.0) for n in ("ft", "base")}
    result = evaluate_run(config, "r", cases, runs)
    cost = result.main.models["ft"].cost
    assert cost is not None
    busy = 500.0 * 24 / 1000 / concurrency  # 1.0 s with 12 in flight, 2.4 s with 5
    assert cost["total"] == pytest.approx(3.6 * busy / 3600, rel=1e-12)
    assert cost["basis"].startswith(f"3.6 USD/hour x {busy:.1f} s (stored latencies")
