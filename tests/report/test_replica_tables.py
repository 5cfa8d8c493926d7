"""Per-replica tables in the terminal and Markdown reports, from a real run.

``ft`` is served by three replicas of the loopback OpenAI server: one with userinfo in
its URL, a plain one, and one where nothing listens (refused, taken out of rotation).
``base`` has a single URL and gets no table. The tables show what the finished result
holds, which is also what the JSON report holds.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from servers import openai_app, serve

from tunegate.config import parse_config
from tunegate.models.transport import latency_percentile
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.json_report import to_json
from tunegate.report.markdown import md_escape, to_markdown
from tunegate.report.replicas import REPLICA_HEADER, replica_rows
from tunegate.report.terminal import print_summary
from tunegate.results import RunResult
from tunegate.runner import RetryPolicy

PASSWORD = "hunter2-replica-secret"
N = 60


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, list[int], list[str]]:
    """The run's result, the requests each live ``ft`` replica received, and ``ft``'s
    three URLs as configured."""
    folder: Path = tmp_path_factory.mktemp("replicas")
    data = folder / "reviews.jsonl"
    words = {"positive": "great", "negative": "awful"}
    with data.open("w", encoding="utf-8") as f:
        for i in range(N):
            label = ["positive", "negative"][i % 2]
            f.write(json.dumps({"text": f"review {i}: it is {words[label]}", "label": label}))
            f.write("\n")
    with serve(openai_app()) as gone:
        pass  # nothing listens there any more
    apps = [openai_app(latency_ms=5.0), openai_app(latency_ms=5.0)]
    with serve(apps[0]) as a, serve(apps[1]) as b, serve(openai_app()) as c:
        urls = [a.replace("http://", f"http://tg:{PASSWORD}@") + "/v1", b + "/v1", gone + "/v1"]
        config = parse_config(
            {
                "dataset": {"path": str(data)},
                "task": {"labels": ["positive", "negative"]},
                "models": {
                    "ft": {"type": "openai", "model": "toy", "base_url": urls, "timeout": 5},
                    "base": {"type": "openai", "model": "toy", "base_url": c + "/v1"},
                },
                "bootstrap": 200,
            },
            source=folder / "tunegate.yaml",
        )
        policy = RetryPolicy(base_delay=0.01, max_delay=0.05)
        result = run(config, RunOptions(store_path=folder / "t.db", policy=policy))
        received = [len(app.state.log) for app in apps]
    return result, received, urls


def _stats(result: RunResult, model: str) -> dict[str, dict[str, Any]]:
    """The model's per-replica figures as the JSON report has them."""
    stats: dict[str, dict[str, Any]] = to_json(result)["suites"][0]["models"][model]["run"].get(
        "replicas", {}
    )
    return stats


def _expected_rows(stats: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for url, s in stats.items():
        errors = str(s["errors"])
        if s["errors"]:
            errors += f" ({s['errors'] / s['requests']:.1%})"
        rows.append(
            [
                url,
                str(s["requests"]),
                errors,
                str(s["taken_out"]),
                *(
                    "—" if s[k] is None else f"{s[k]:.0f}"
                    for k in ("latency_ms_p50", "latency_ms_p95")
                ),
            ]
        )
    return rows


def _render(result: RunResult, width: int) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    print_summary(result, console)
    return buf.getvalue()


def test_the_run_measured_every_replica(served: tuple[RunResult, list[int], list[str]]) -> None:
    result, received, urls = served
    stats = _stats(result, "ft")
    redacted = [urls[0].replace(f"tg:{PASSWORD}@", "***@"), urls[1], urls[2]]
    assert list(stats) == redacted  # the JSON report's keys: userinfo redacted
    live, plain, dead = stats.values()
    # Every request a live replica answered reached it; the dead one answered nothing.
    assert [live["requests"], plain["requests"]] == received
    assert live["requests"] > 0
    assert plain["requests"] > 0
    assert dead["errors"] == dead["requests"] > 0
    assert dead["taken_out"] >= 1
    assert dead["latency_ms_p50"] is None
    assert live["latency_ms_p95"] >= live["latency_ms_p50"] >= 5.0
    assert result.models["ft"].errors == 0  # no case lost to the dead replica
    assert _stats(result, "base") == {}  # one URL: no per-replica figures


def test_markdown_has_one_replica_table_per_replicated_model(
    served: tuple[RunResult, list[int], list[str]],
) -> None:
    result, _, _ = served
    text = to_markdown(result)
    assert PASSWORD not in text
    rows = _expected_rows(_stats(result, "ft"))
    block = [
        "#### ft: 3 replicas",
        "",
        "| " + " | ".join(REPLICA_HEADER) + " |",
        "|---|---|---|---|---|---|",
    ]
    # A URL is data: quoted without its autolink (``http\://``), rendered as the URL.
    block += ["| " + " | ".join([md_escape(row[0]), *row[1:]]) + " |" for row in rows]
    assert all(md_escape(row[0]).startswith("http\\://") for row in rows)
    assert "\n".join(block) + "\n" in text
    assert "#### base:" not in text
    # After the models table, before the comparison.
    assert (
        text.index("### Models")
        < text.index("#### ft: 3 replicas")
        < text.index("#### ft vs baselines")
    )


@pytest.mark.parametrize("width", [160, 100])
def test_terminal_has_the_same_rows(
    served: tuple[RunResult, list[int], list[str]], width: int
) -> None:
    result, _, _ = served
    text = _render(result, width)
    lines = text.splitlines()
    assert PASSWORD not in text
    assert max(len(line) for line in lines) <= width
    assert "ft: 3 replicas" in text
    assert " replicas" not in text.replace("ft: 3 replicas", "")  # none for base
    start = next(i for i, line in enumerate(lines) if "ft: 3 replicas" in line)
    table = lines[start : start + 12]
    for row in _expected_rows(_stats(result, "ft")):
        # Each replica on one line, its cells in order.
        [line] = [line for line in table if row[0] in line]
        assert line.replace("│", " ").split() == " ".join(row).split()
    assert "taken out" in "\n".join(table)


def test_rows_of_a_result_without_p95_or_with_one_replica(
    served: tuple[RunResult, list[int], list[str]],
) -> None:
    result, _, _ = served
    model = result.models["ft"]
    older = {
        "http://a/v1": {"requests": 4, "errors": 1, "latency_ms_p50": 12.4, "taken_out": 0},
        "http://u:pw@b/v1": {"requests": 3, "errors": 0, "latency_ms_p50": None, "taken_out": 2},
    }
    rows = replica_rows(model.model_copy(update={"run": {"replicas": older}}))
    assert rows == [
        ["http://a/v1", "4", "1 (25.0%)", "0", "12", "—"],
        ["http://***@b/v1", "3", "0", "2", "—", "—"],
    ]
    single = {"replicas": {"http://a/v1": older["http://a/v1"]}}
    assert replica_rows(model.model_copy(update={"run": single})) == []
    assert replica_rows(model.model_copy(update={"run": {}})) == []


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.floats(0, 100, allow_nan=False),
)
def test_replica_percentiles_are_numpys_to_the_last_bit(values: list[float], q: float) -> None:
    ordered = sorted(values)
    assert latency_percentile(ordered, q) == float(np.percentile(ordered, q))
    assert latency_percentile([], q) is None
