"""Costs carry their currency (price.currency) into the result and every report; amounts
in different currencies are never added; token totals and per-1,000 figures, latencies
and money are written the same way in the terminal, Markdown and HTML reports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tunegate.config import PriceConfig, parse_config
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.evaluation.cost import model_cost
from tunegate.pipeline.evaluating import evaluate_run
from tunegate.report.html import render_html
from tunegate.report.json_report import to_json
from tunegate.report.markdown import to_markdown
from tunegate.report.sequential import sequential_lines
from tunegate.report.terminal import summary
from tunegate.results import RunResult, units
from tunegate.runner import ModelRun
from tunegate.store import Response

LABELS = ["positive", "negative"]


def _result(tmp_path: Path, prices: dict[str, dict[str, Any]]) -> RunResult:
    cases = [Case(id=f"c{i}", text=f"t{i}", reference=LABELS[i % 2]) for i in range(40)]

    def run(name: str) -> ModelRun:
        return ModelRun(
            name,
            [
                Response(
                    case_id=c.id,
                    model=name,
                    key=f"{name}{i}",
                    text=c.reference,
                    latency_ms=1234.0 + i,
                    prompt_tokens=1500,
                    completion_tokens=20,
                )
                for i, c in enumerate(cases)
            ],
        )

    models = {
        name: {"type": "openai", "model": name, "base_url": "http://127.0.0.1:9/v1", "price": p}
        for name, p in prices.items()
    }
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": LABELS},
            "models": models,
            "bootstrap": 1000,
        },
        source=tmp_path / "tunegate.yaml",
    )
    return evaluate_run(config, "run-1", cases, {n: run(n) for n in prices})


def _terminal(result: RunResult) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(summary(result, 200))
    return console.export_text()


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_currency_is_validated_and_defaults_to_usd(tmp_path: Path) -> None:
    assert PriceConfig(input_per_1m=1.0).currency == "USD"
    assert PriceConfig(input_per_1m=1.0, currency="EUR").currency == "EUR"
    for bad in ("usd", "EURO", "U$D", ""):
        with pytest.raises(ConfigError, match=r"models\.m\.price\.currency: a three-letter"):
            parse_config(
                {
                    "dataset": {"path": "x.jsonl"},
                    "task": {"labels": LABELS},
                    "models": {
                        "m": {
                            "type": "openai",
                            "model": "m",
                            "price": {"input_per_1m": 1, "currency": bad},
                        }
                    },
                },
                source=tmp_path / "tunegate.yaml",
            )


def test_a_cost_carries_its_currency() -> None:
    result = _result(Path("."), {"m": {"input_per_1m": 2.0, "currency": "EUR"}})
    cost = result.models["m"].cost
    assert cost is not None
    assert cost["currency"] == "EUR"
    hourly = model_cost(
        PriceConfig(per_hour=3.6, currency="GBP"),
        result.models["m"],
        {"sent": 40, "wall_s": 10.0},
        concurrency=1,
    )
    assert hourly is not None
    assert hourly["currency"] == "GBP"
    assert hourly["basis"].startswith("3.6 GBP/hour")


def test_every_report_shows_each_cost_with_its_own_currency(tmp_path: Path) -> None:
    result = _result(
        tmp_path,
        {
            "eu": {"input_per_1m": 2.0, "currency": "EUR"},
            "us": {"input_per_1m": 0.15, "output_per_1m": 0.6},
        },
    )
    data = to_json(result)
    eu, us = data["suites"][0]["models"]["eu"]["cost"], data["suites"][0]["models"]["us"]["cost"]
    assert (eu["currency"], us["currency"]) == ("EUR", "USD")
    # 1,500 prompt tokens per answer at 2.00 EUR per 1M: 3.00 EUR per 1,000 answers.
    assert eu["per_1k"] == pytest.approx(3.0)
    shown_eu = units.cost(eu)
    shown_us = units.cost(us)
    assert shown_eu == "3.00 EUR"
    assert shown_us == "0.237 USD"  # 1,500 * 0.15 + 20 * 0.6 per 1M, times 1,000
    html = _text(render_html(data))
    for report in (_terminal(result), to_markdown(result), html):
        assert shown_eu in report
        assert shown_us in report
        assert units.COST_HEADER in report
    assert json.loads(json.dumps(data))["suites"][0]["models"]["eu"]["cost"]["currency"] == "EUR"


def test_a_result_stored_before_currencies_shows_its_bare_amount() -> None:
    assert units.cost({"per_1k": 0.5}) == "0.500"
    assert units.cost(None) == "—"


def test_savings_in_two_currencies_are_never_added() -> None:
    from tunegate.pipeline.sequential import _savings

    result = _result(
        Path("."),
        {
            "eu": {"input_per_1m": 2.0, "currency": "EUR"},
            "us": {"input_per_1m": 2.0, "currency": "USD"},
        },
    )
    info: dict[str, Any] = {"cases_used": 40, "cases_total": 140}
    _savings(result, info)
    assert "saved_cost" not in info
    assert info["saved_cost_by_currency"] == {
        "EUR": pytest.approx(0.3),
        "USD": pytest.approx(0.3),
    }
    line = sequential_lines({**info, "looks": 1, "looks_planned": 4, "decision": "SHIP"})[0]
    assert "about 0.300 EUR + 0.300 USD" in line
    same = _result(Path("."), {"a": {"input_per_1m": 2.0}, "b": {"input_per_1m": 2.0}})
    info = {"cases_used": 40, "cases_total": 140}
    _savings(same, info)
    assert info["saved_cost"] == pytest.approx(0.6)
    assert info["saved_cost_currency"] == "USD"
    line = sequential_lines({**info, "looks": 1, "looks_planned": 4, "decision": "SHIP"})[0]
    assert "about 0.600 USD" in line
    assert "$" not in line


def test_token_units_read_the_same_in_every_report(tmp_path: Path) -> None:
    result = _result(tmp_path, {"m": {"input_per_1m": 1.0}})
    m = result.models["m"]
    total = units.tokens(m.tokens)
    per_1k = units.tokens_per_1k(m.tokens_per_1k)
    assert re.fullmatch(r"1,2\d\d / 1,2\d\d / 1,2\d\d", units.latencies(m.latency_ms))
    assert total == "60,000 / 800"  # 40 answers x 1,500 / x 20
    assert per_1k == "per 1,000 answers: 1,500,000 / 20,000"
    html = _text(render_html(to_json(result)))
    for report in (_terminal(result), to_markdown(result), html):
        flat = " ".join(report.replace("│", " ").replace("|", " ").split())
        assert units.TOKENS_HEADER in flat
        assert total in flat
        assert per_1k in flat
        assert units.LATENCY_HEADER in flat
        assert units.latencies(m.latency_ms) in flat


def test_counts_and_levels_read_the_same_in_markdown_and_html(tmp_path: Path) -> None:
    result = _result(tmp_path, {"m": {"input_per_1m": 1.0}})
    html = _text(render_html(to_json(result)))
    assert "intervals 95% (1,000 bootstrap resamples)" in html
    assert "95% intervals (1,000 bootstrap resamples)" in to_markdown(result)


def test_a_cost_criterion_says_the_currency_it_compares_in(tmp_path: Path) -> None:
    from tunegate.config import GateConfig
    from tunegate.gate.criteria import evaluate_gate

    result = _result(tmp_path, {"eu": {"input_per_1m": 2.0, "currency": "EUR"}})
    gate = evaluate_gate(
        result, GateConfig.model_validate({"criteria": [{"metric": "cost_per_1k", "max": 5}]})
    )
    crit = next(c for c in gate.criteria if c.criterion["metric"] == "cost_per_1k")
    assert crit.status == "PASS"
    assert "observed 3 EUR per 1,000 answers" in crit.reason
