"""The terminal summary in a narrow terminal: 100 columns, the key numbers never wrapped."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from report_project import CANARY, big_answer, write_project
from rich.console import Console
from servers import openai_app, serve

from tunegate.config import load_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.terminal import print_summary
from tunegate.results import RunResult, units

KEY_ENV = "TG_REPORT_CANARY_KEY"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    folder: Path = tmp_path_factory.mktemp("terminal")
    old = os.environ.get(KEY_ENV)
    os.environ[KEY_ENV] = CANARY
    try:
        with serve(openai_app(answer=big_answer, require_key=CANARY)) as url:
            config = write_project(folder, url + "/v1", n_sentiment=60)
            return run(load_config(config), RunOptions(store_path=folder / "t.db"), folder)
    finally:
        if old is None:
            os.environ.pop(KEY_ENV, None)
        else:
            os.environ[KEY_ENV] = old


def _render(result: RunResult, width: int) -> list[str]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    print_summary(result, console)
    return buf.getvalue().splitlines()


def _key_numbers(result: RunResult) -> list[str]:
    """Each model's primary metric with its interval, every paired delta with its interval,
    every criterion's estimate and interval, every latency triple."""
    keys = []
    for suite in result.suites:
        for m in suite.models.values():
            e = m.metrics[suite.primary_metric]
            assert e.value is not None
            assert e.ci is not None
            keys.append(f"{e.value:.3f} [{e.ci[0]:.3f}, {e.ci[1]:.3f}]")
            lat = m.latency_ms
            keys.append(units.latencies(lat))  # the one latency format of every report
        for c in suite.comparisons:
            keys.append(f"{c.delta:+.3f} [{c.ci[0]:+.3f}, {c.ci[1]:+.3f}]")
        for comp in suite.category_comparisons:
            keys.append(f"{comp.delta:+.3f} [{comp.ci[0]:+.3f}, {comp.ci[1]:+.3f}]")
    assert result.gate is not None
    for crit in result.gate.criteria:
        assert crit.estimate is not None
        keys.append(f"{crit.estimate:.3f}")
        if crit.ci is not None:
            keys.append(f"[{crit.ci[0]:.3f}, {crit.ci[1]:.3f}]")
    return keys


def test_100_columns_fit_and_keep_every_key_number_on_one_line(result: RunResult) -> None:
    lines = _render(result, 100)
    assert max(len(line) for line in lines) <= 100
    for key in _key_numbers(result):
        assert any(key in line for line in lines), key
    assert not any("…" in line for line in lines)  # nothing cut off either
    assert any(line.startswith("VERDICT: ") for line in lines)
    assert "tokens in" not in "\n".join(lines)  # fewer columns when narrow


def test_wide_terminals_keep_the_full_tables(result: RunResult) -> None:
    text = "\n".join(_render(result, 160))
    assert "tokens in / out" in text
    assert "(total)" in text
    assert "(candidate)" in text
    assert "judged on" in text
    for key in _key_numbers(result):
        assert key in text, key
