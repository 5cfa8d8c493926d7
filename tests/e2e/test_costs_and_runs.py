"""Cost per model (token prices and hourly prices), `tunegate diff` on real stored runs,
and MMLU CSV files as a multiple-choice suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import openai_app, serve

from tunegate.config import parse_config
from tunegate.data.mmlu import load_multiple_choice_csv
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.markdown import to_markdown

TUNEGATE = Path(sys.executable).parent / "tunegate"
MMLU = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mmlu" / "test"
LABELS = ["positive", "negative", "neutral"]


def _records(n: int) -> list[dict[str, str]]:
    words = {"positive": "great", "negative": "awful", "neutral": "okay"}
    return [
        {
            "id": f"r{i:02d}",
            "text": f"The product is {words[LABELS[i % 3]]}.",
            "label": LABELS[i % 3],
        }
        for i in range(n)
    ]


def _write_data(folder: Path, n: int) -> None:
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _records(n)))


def _sentiment(messages: list[dict[str, Any]]) -> str:
    text = str(messages[-1]["content"])
    return "positive" if "great" in text else "negative" if "awful" in text else "neutral"


def test_token_prices_give_the_cost_per_thousand_predictions(tmp_path: Path) -> None:
    _write_data(tmp_path, 30)
    with serve(openai_app(_sentiment)) as url:
        config = parse_config(
            {
                "dataset": {"path": "test.jsonl"},
                "task": {"labels": LABELS},
                "models": {
                    "chat": {
                        "type": "openai",
                        "model": "toy",
                        "base_url": f"{url}/v1",
                        "price": {"input_per_1m": 0.15, "output_per_1m": 0.60},
                    },
                    "free": {"type": "openai", "model": "toy", "base_url": f"{url}/v1"},
                },
                "gate": {"criteria": [{"metric": "cost_per_1k", "max": 0.01}]},
            },
            source=tmp_path / "tunegate.yaml",
        )
        result = run(config, RunOptions(store_path=tmp_path / "t.db"))
    chat = result.main.models["chat"]
    prompt, completion = chat.tokens["prompt"], chat.tokens["completion"]
    assert prompt
    assert completion
    expected = prompt / 1e6 * 0.15 + completion / 1e6 * 0.60
    assert chat.cost is not None
    assert chat.cost["total"] == pytest.approx(expected, rel=1e-12)
    assert chat.cost["per_1k"] == pytest.approx(expected / 30 * 1000, rel=1e-12)
    assert result.main.models["free"].cost is None
    [crit] = result.gate.criteria if result.gate else []
    assert crit.status == ("PASS" if expected / 30 * 1000 <= 0.01 else "FAIL")
    assert crit.judge == "observed"
    assert "cost per 1,000 answers" in to_markdown(result)


def test_hourly_price_uses_the_measured_time(tmp_path: Path) -> None:
    _write_data(tmp_path, 12)
    (tmp_path / "slow.py").write_text(
        textwrap.dedent(
            """
            import time

            def predict(text):
                time.sleep(0.05)
                return "positive" if "great" in text else "negative" if "awful" in text else "neutral"
            """
        )
    )
    config = parse_config(
        {
            "dataset": {"path": "test.jsonl"},
            "task": {"labels": LABELS},
            "models": {
                "local": {
                    "type": "python",
                    "function": "slow:predict",
                    "concurrency": 1,
                    "price": {"per_hour": 3.6},
                }
            },
            "gate": {"criteria": [{"metric": "cost_per_1k", "max": 1.0}]},
        },
        source=tmp_path / "tunegate.yaml",
    )
    result = run(config, RunOptions(store_path=tmp_path / "t.db"), config_dir=tmp_path)
    model = result.main.models["local"]
    wall = model.run["wall_s"]
    assert wall >= 12 * 0.05
    assert model.cost is not None
    assert model.cost["total"] == pytest.approx(3.6 * wall / 3600, rel=1e-12)
    assert model.cost["per_1k"] == pytest.approx(3.6 * wall / 3600 / 12 * 1000, rel=1e-12)
    assert "wall-clock" in model.cost["basis"]
    # A re-run answers from the store: the cost comes from the stored latencies.
    again = run(config, RunOptions(store_path=tmp_path / "t.db"), config_dir=tmp_path)
    cached = again.main.models["local"]
    assert cached.cached == 12
    assert cached.cost is not None
    assert "stored latencies" in cached.cost["basis"]
    mean = cached.latency_ms["mean"]
    assert cached.cost["total"] == pytest.approx(3.6 * mean * 12 / 1000 / 3600, rel=1e-12)


def test_cost_criterion_without_a_price_is_missing(tmp_path: Path) -> None:
    _write_data(tmp_path, 6)
    (tmp_path / "m.py").write_text("def predict(text):\n    return 'neutral'\n")
    config = parse_config(
        {
            "dataset": {"path": "test.jsonl"},
            "task": {"labels": LABELS},
            "models": {"local": {"type": "python", "function": "m:predict"}},
            "gate": {"criteria": [{"metric": "cost_per_1k", "max": 1.0}]},
        },
        source=tmp_path / "tunegate.yaml",
    )
    result = run(config, RunOptions(store_path=tmp_path / "t.db"), config_dir=tmp_path)
    [crit] = result.gate.criteria if result.gate else []
    assert crit.status == "MISSING"
    assert "no price for local" in crit.reason


MODEL = """
import os

def predict(text):
    right = "positive" if "great" in text else "negative" if "awful" in text else "neutral"
    number = int(text.split("#")[1])
    if os.environ["VARIANT"] == "old":
        return right if number % 4 else "neutral" if right != "neutral" else "positive"
    return right if number % 10 else "neutral" if right != "neutral" else "positive"
"""


def test_diff_of_two_stored_runs(tmp_path: Path) -> None:
    records = [{**r, "text": f"{r['text']} #{i}"} for i, r in enumerate(_records(40))]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "variant.py").write_text(MODEL)
    config = {
        "name": "diffed",
        "dataset": {"path": "test.jsonl"},
        "task": {"labels": LABELS},
        "models": {"model": {"type": "python", "function": "variant:predict"}},
    }
    (tmp_path / "tunegate.yaml").write_text(yaml.safe_dump(config))
    for variant in ("old", "new"):
        proc = subprocess.run(
            [str(TUNEGATE), "run", "tunegate.yaml", "-q", "--no-cache"],
            cwd=tmp_path,
            env={**os.environ, "VARIANT": variant},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [str(TUNEGATE), "diff", "--json", "diff.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    wrong_old = {i for i in range(40) if i % 4 == 0}
    wrong_new = {i for i in range(40) if i % 10 == 0}
    fixed, broken = len(wrong_old - wrong_new), len(wrong_new - wrong_old)
    assert f"{fixed} fixed, {broken} broken" in proc.stdout
    data = json.loads((tmp_path / "diff.json").read_text())
    text = json.dumps(data)
    for i in sorted(wrong_old - wrong_new):
        assert f"r{i:02d}" in text


@pytest.mark.skipif(not MMLU.is_dir(), reason="../shared/data/mmlu is absent")
def test_mmlu_csv_as_a_multiple_choice_suite(tmp_path: Path) -> None:
    path = sorted(MMLU.glob("*_test.csv"))[0]
    cases = load_multiple_choice_csv(path)
    (tmp_path / "answers.py").write_text("def first(case):\n    return 'The answer is A'\n")
    config = parse_config(
        {
            "suites": [
                {
                    "name": "mmlu",
                    "dataset": {"path": str(path)},
                    "task": {"type": "multiple_choice"},
                }
            ],
            "models": {"always-a": {"type": "python", "function": "answers:first"}},
        },
        source=tmp_path / "tunegate.yaml",
    )
    result = run(config, RunOptions(store_path=tmp_path / "t.db"), config_dir=tmp_path)
    share_a = sum(c.reference == "A" for c in cases) / len(cases)
    model = result.main.models["always-a"]
    assert result.main.n_cases == len(cases)
    assert model.metrics["accuracy"].value == pytest.approx(share_a)
    assert model.unparseable == 0
