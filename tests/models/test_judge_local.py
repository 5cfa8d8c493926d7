"""Real small models as judges: Gemma 3 270M as a local ``hf`` judge (verdict tokens scored by
log-likelihood) and behind llama.cpp's OpenAI-compatible server.

A 270M base model is a poor judge: these tests check the mechanics (both orders sent,
every answer parsed into a verdict or counted as a judge error, re-runs answered from the
store), never whether its verdicts are right.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import needs_weights
from test_llamacpp import ALIAS, LlamaServer, llama_server  # noqa: F401 (the fixture)

from tunegate.config import parse_config
from tunegate.pipeline.flow import RunOptions, run
from tunegate.results import RunResult

QUESTIONS = [
    ("q1", "Name the capital of France.", "Paris"),
    ("q2", "What is two plus two?", "4"),
]

MODELS = """
def short(text):
    return {"Name the capital of France.": "Paris", "What is two plus two?": "4"}[text]


def long(text):
    return "I am not sure, but it might be something like this: " + text
"""


def _project(tmp_path: Path, grader: dict[str, Any], scorers: list[dict[str, Any]]) -> Path:
    (tmp_path / "local_judge_models.py").write_text(textwrap.dedent(MODELS), encoding="utf-8")
    with (tmp_path / "qa.jsonl").open("w", encoding="utf-8") as fh:
        for cid, question, ref in QUESTIONS:
            fh.write(json.dumps({"id": cid, "text": question, "label": ref}) + "\n")
    config = {
        "name": "local-judge",
        "store": str(tmp_path / "t.db"),
        "bootstrap": 200,
        "dataset": {"path": "qa.jsonl"},
        "task": {"type": "generation", "scorers": scorers},
        "models": {
            "tuned": {"type": "python", "function": "local_judge_models:short"},
            "base": {"type": "python", "function": "local_judge_models:long"},
            "grader": grader,
        },
        "compare": {"candidate": "tuned", "baselines": ["base"]},
    }
    path = tmp_path / "tunegate.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _run(path: Path) -> RunResult:
    config = parse_config(yaml.safe_load(path.read_text(encoding="utf-8")), source=path)
    return run(config, RunOptions(), config_dir=path.parent)


def _entries(result: RunResult) -> dict[str, dict[str, Any]]:
    assert result.main.judges is not None
    return {e["kind"]: e for e in result.main.judges["judges"]}


def _stored(db: Path) -> list[tuple[str, str | None, str | None, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT case_id, text, error, request FROM responses WHERE model = 'judge:grader'"
        ).fetchall()


SCORERS = [
    {"type": "judge", "judge": "grader", "scale": "pass_fail"},
    {"type": "pairwise_judge", "judge": "grader"},
]


@pytest.mark.slow
def test_a_local_model_judges_by_the_likelihood_of_the_verdict_tokens(tmp_path: Path) -> None:
    needs_weights()
    path = _project(tmp_path, {"type": "hf", "gguf": "gemma3-270m", "batch_size": 4}, SCORERS)
    first = _run(path)
    stored = _stored(tmp_path / "t.db")
    assert len(stored) == 4 + 4  # 2 cases x 2 models; 2 cases x 2 orders
    for case_id, text, error, request in stored:
        req = json.loads(request)
        assert error is None  # scoring the verdict tokens always yields one of them
        assert req["mode"] == "classify"
        assert req["prompt"].endswith("\nVerdict:")
        if case_id.startswith("grader|"):
            assert req["labels"] == ["A", "B", "tie"]
            assert text in ("A", "B", "tie")
        else:
            assert req["labels"] == ["PASS", "FAIL"]
            assert text in ("PASS", "FAIL")
    entries = _entries(first)
    pair = entries["pairwise"]["baselines"]["base"]
    assert pair["n"] == 2
    assert pair["errors"] == 0
    assert pair["wins"] + pair["ties"] + pair["losses"] + pair["inconsistent"] == 2
    assert pair["position_bias"]["n"] + sum(1 for _, text, _, _ in stored if text == "tie") == 4
    point = entries["pointwise"]["models"]
    assert point["tuned"]["judged"] == point["base"]["judged"] == 2
    assert first.main.models["tuned"].metrics["judge_score"].value in (0.0, 0.5, 1.0)

    second = _run(path)
    again = _entries(second)
    assert again["pairwise"]["calls"]["cached"] == 4
    assert again["pointwise"]["calls"]["cached"] == 4
    assert again["pairwise"]["baselines"] == entries["pairwise"]["baselines"]


@pytest.mark.llamacpp
def test_a_judge_behind_llama_cpp_server(
    llama_server: LlamaServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    grader = {
        "type": "openai",
        "model": ALIAS,
        "base_url": f"{llama_server.url}/v1",
        "params": {"temperature": 0, "max_tokens": 4},
        "concurrency": 1,
        "timeout": 120,
    }
    pairwise = {
        "type": "pairwise_judge",
        "judge": "grader",
        # A base model continues text: end the prompt where the verdict goes.
        "rubric": "Question: {{ input }}\nAnswer A: {{ output_a }}\nAnswer B: {{ output_b }}\n"
        "The better answer is A or B?\nVerdict:",
    }
    path = _project(tmp_path, grader, [{"type": "exact_match"}, pairwise])
    served_before = llama_server.completions_served()
    first = _run(path)
    stored = _stored(tmp_path / "t.db")
    assert {row[0] for row in stored} == {
        f"grader|{cid}|tuned|base|{order}" for cid, _, _ in QUESTIONS for order in ("AB", "BA")
    }
    entry = _entries(first)["pairwise"]
    calls = entry["calls"]
    # Every attempt reached the server: the first try of each of the 4 prompts, plus one
    # retry for each answer that held no verdict.
    assert llama_server.completions_served() - served_before == calls["sent"] + calls["retries"]
    assert calls["sent"] == 4
    for record in entry["cases"]:
        for verdict in (record["candidate_first"], record["baseline_first"]):
            assert verdict in ("A", "B", "tie", None)
        assert (None in (record["candidate_first"], record["baseline_first"])) == (
            record["outcome"] == "error"
        )
    base = entry["baselines"]["base"]
    assert base["n"] + base["errors"] == 2
    valid = sum(1 for _, _, error, _ in stored if error is None)

    served_mid = llama_server.completions_served()
    second = _run(path)
    again = _entries(second)["pairwise"]["calls"]
    # Valid verdicts come from the store; judge errors are asked again (never cached).
    assert again["cached"] == valid
    assert again["sent"] == 4 - valid
    assert llama_server.completions_served() - served_mid == again["sent"] + again["retries"]
