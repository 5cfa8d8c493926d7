"""Judges end to end: python and OpenAI-compatible judges through the runner, the store and
the cache; judge errors; the judges in the reports; the gate's judge and human criteria."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from servers import openai_app, serve

from tunegate.config import parse_config
from tunegate.errors import ConfigError
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.json_report import to_json
from tunegate.report.markdown import to_markdown
from tunegate.results import RunResult

TUNEGATE = Path(sys.executable).parent / "tunegate"

# id, category, question, reference. The candidate answers with the reference; the
# baseline rambles. "garbage" questions make the python judge answer without a verdict.
CASES = [
    ("q1", "geo", "Capital of France?", "Paris"),
    ("q2", "geo", "Capital of Italy?", "Rome"),
    ("q3", "geo", "Capital of Spain? garbage", "Madrid"),
    ("q4", "math", "2 + 2?", "4"),
    ("q5", "math", "3 * 3?", "9"),
    ("q6", "math", "10 / 2?", "5"),
]

MODELS = '''
import os

CALLS = {}


def tuned(text):
    return {
        "Capital of France?": "Paris",
        "Capital of France? flaky": "Paris",
        "Capital of Italy?": "Rome",
        "Capital of Spain? garbage": "Madrid",
        "2 + 2?": "4",
        "3 * 3?": "It is 9",
        "10 / 2?": "6",
    }[text]


def base(text):
    return "Well, let me think about this at length: " + text


def judge(case):
    """Pairwise: the shorter output wins. Pointwise (1-5): 5 when the output is the
    reference, 2 otherwise; no verdict for 'garbage' questions; 'flaky' answers without a
    verdict the first time only."""
    seen = case.metadata["judged"]
    if "output_a" in seen:
        a, b = seen["output_a"], seen["output_b"]
        verdict = "tie" if len(a) == len(b) else "A" if len(a) < len(b) else "B"
        return "The shorter answer is better.\\nVerdict: " + verdict
    if "garbage" in seen["input"]:
        return "I would rather not grade this."
    if "flaky" in seen["input"]:
        key = (case.text, os.environ.get("JUDGE_TEST_TOKEN"))
        CALLS[key] = CALLS.get(key, 0) + 1
        if CALLS[key] == 1:
            return "Let me think."
    score = 5 if seen["output"] == seen["reference"] else 2
    return "Compared with the reference.\\nVerdict: " + str(score)
'''


def _write_project(tmp_path: Path, cases: list[tuple[str, str, str, str]] = CASES) -> None:
    (tmp_path / "judge_models.py").write_text(textwrap.dedent(MODELS), encoding="utf-8")
    with (tmp_path / "qa.jsonl").open("w", encoding="utf-8") as fh:
        for cid, cat, question, ref in cases:
            row = {"id": cid, "category": cat, "text": question, "label": ref}
            fh.write(json.dumps(row) + "\n")


def _config(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "name": "judged",
        "store": str(tmp_path / "t.db"),
        "bootstrap": 500,
        "dataset": {"path": "qa.jsonl"},
        "task": {
            "type": "generation",
            "scorers": [
                {"type": "exact_match"},
                {"type": "judge", "judge": "grader", "scale": "1-5"},
                {"type": "pairwise_judge", "judge": "grader"},
            ],
        },
        "models": {
            "tuned": {"type": "python", "function": "judge_models:tuned"},
            "base": {"type": "python", "function": "judge_models:base"},
            "grader": {"type": "python", "function": "judge_models:judge"},
        },
        "compare": {"candidate": "tuned", "baselines": ["base"]},
    }
    config.update(extra)
    return config


def _run(tmp_path: Path, config: dict[str, Any]) -> RunResult:
    (tmp_path / "tunegate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    parsed = parse_config(config, source=tmp_path / "tunegate.yaml")
    return run(parsed, RunOptions(), config_dir=tmp_path)


def _judge_rows(db: Path) -> list[tuple[str, str | None, int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT case_id, error, attempts, run_id FROM responses WHERE model = 'judge:grader'"
            " ORDER BY created_at"
        ).fetchall()


def _entry(result: RunResult, kind: str) -> dict[str, Any]:
    judges = result.main.judges
    assert judges is not None
    return next(e for e in judges["judges"] if e["kind"] == kind)


def test_python_judges_score_compare_and_count_errors(tmp_path: Path) -> None:
    _write_project(tmp_path)
    result = _run(tmp_path, _config(tmp_path))
    # The judge only grades: it is neither run on the cases nor a baseline.
    assert set(result.main.models) == {"tuned", "base"}
    assert result.baselines == ["base"]

    # Pointwise, scale 1-5 normalised: tuned has the reference on q1, q2, q4 (5 -> 1.0)
    # and not on q5, q6 (2 -> 0.25); q3 is a judge error (no value, not a score).
    tuned = result.main.models["tuned"].metrics["judge_score"]
    assert tuned.value == pytest.approx((1 + 1 + 1 + 0.25 + 0.25) / 5)
    base = result.main.models["base"].metrics["judge_score"]
    assert base.value == pytest.approx(0.25)
    point = _entry(result, "pointwise")
    assert point["models"]["tuned"]["judged"] == 5
    assert point["models"]["tuned"]["errors"] == 1
    assert "no final 'Verdict" in point["models"]["tuned"]["first_errors"][0]
    q3 = next(r for r in result.main.cases if r.case_id == "q3" and r.model == "tuned")
    assert "judge_score" not in q3.scores
    assert "judge error" in (q3.detail or "")
    q1 = next(c for c in point["cases"] if c["case_id"] == "q1" and c["model"] == "tuned")
    assert q1["verdict"] == "5"
    assert q1["reasoning"] == "Compared with the reference."

    # The judge error was retried once, then stored as an error.
    rows = _judge_rows(tmp_path / "t.db")
    garbage = [r for r in rows if r[0].startswith("judge_score|q3|")]
    assert len(garbage) == 2
    assert all(r[1] is not None and r[2] == 2 for r in garbage)
    assert point["calls"]["retries"] == 2

    # Pairwise: both orders of every pair were sent; the shorter output (the candidate's)
    # won in both orders, so every case is a win, and the first-shown output won half the time.
    pair_ids = {r[0] for r in rows if r[0].startswith("grader|")}
    assert pair_ids == {
        f"grader|{cid}|tuned|base|{order}" for cid, *_ in CASES for order in ("AB", "BA")
    }
    pair = _entry(result, "pairwise")["baselines"]["base"]
    assert (pair["wins"], pair["ties"], pair["losses"], pair["inconsistent"]) == (6, 0, 0, 0)
    assert pair["win_rate"]["value"] == 1.0
    assert pair["position_bias"] == {"value": 0.5, "n": 12}
    assert pair["length_bias"] == {"value": 0.0, "n": 12}
    assert set(pair["categories"]) == {"geo", "math"}

    # Every report shows the judges.
    raw = json.loads(json.dumps(to_json(result), allow_nan=False))
    assert raw["suites"][0]["judges"]["judges"][1]["baselines"]["base"]["wins"] == 6
    md = to_markdown(result)
    assert "#### Pairwise judges (both orders)" in md
    assert "| grader | base | overall | 6/0/0 | 0 | 0 | 1.000" in md
    assert "| judge_score (grader) | 1-5 | tuned | 5/6 | 1 |" in md


def test_a_rerun_takes_every_verdict_from_the_store(tmp_path: Path) -> None:
    _write_project(tmp_path)
    first = _run(tmp_path, _config(tmp_path))
    n_rows = len(_judge_rows(tmp_path / "t.db"))
    second = _run(tmp_path, _config(tmp_path))
    point, pair = _entry(second, "pointwise"), _entry(second, "pairwise")
    assert pair["calls"]["cached"] == pair["calls"]["total"] == 12
    assert pair["calls"]["sent"] == 0
    # Judge errors are never cached: only the two of them are asked again.
    assert point["calls"]["cached"] == 10
    assert point["calls"]["sent"] == 2
    assert len(_judge_rows(tmp_path / "t.db")) == 2 * n_rows
    assert second.main.judges is not None
    assert first.main.judges is not None
    assert _entry(second, "pairwise")["baselines"] == _entry(first, "pairwise")["baselines"]
    assert second.main.models["tuned"].metrics["judge_score"].value == pytest.approx(
        first.main.models["tuned"].metrics["judge_score"].value or 0.0
    )


def test_an_answer_without_a_verdict_is_retried_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGE_TEST_TOKEN", str(tmp_path))
    _write_project(tmp_path, [("f1", "x", "Capital of France? flaky", "Paris")])
    config = _config(tmp_path)
    config["task"]["scorers"] = [{"type": "judge", "judge": "grader", "scale": "1-5"}]
    result = _run(tmp_path, config)
    point = _entry(result, "pointwise")
    assert point["models"]["tuned"]["errors"] == 0
    assert point["models"]["tuned"]["mean_score"] == 1.0
    assert point["models"]["base"]["mean_score"] == 0.25
    rows = _judge_rows(tmp_path / "t.db")
    assert len(rows) == 2
    assert all(r[1] is None and r[2] == 2 for r in rows)


def test_an_openai_compatible_judge_over_http(tmp_path: Path) -> None:
    def answer(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        if "[Response A]" in prompt:
            a = prompt.split("[Response A]\n", 1)[1].split("\n\n[Response B]", 1)[0]
            return "Reasoning.\nVerdict: " + ("A" if len(a) < 20 else "B")
        return "Verdict: PASS" if "[Response]\nParis" in prompt else "Verdict: FAIL"

    _write_project(tmp_path, CASES[:2])
    app = openai_app(answer=answer, model="judge-model")
    with serve(app) as url:
        config = _config(tmp_path)
        config["models"]["grader"] = {
            "type": "openai",
            "model": "judge-model",
            "base_url": f"{url}/v1",
            "prompt": "IGNORED {{ input }}",
            "params": {"temperature": 0},
        }
        config["task"]["scorers"] = [
            {"type": "judge", "judge": "grader"},
            {"type": "pairwise_judge", "judge": "grader"},
        ]
        result = _run(tmp_path, config)
        sent = [e for e in app.state.log.entries if e["path"] == "/v1/chat/completions"]
        assert len(sent) == 4 + 4  # 2 cases x 2 models, 2 cases x 2 orders
        prompts = [e["json"]["messages"][-1]["content"] for e in sent]
        assert all("IGNORED" not in p for p in prompts)  # the judge prompt is the whole turn
        assert sum("[Response A]\nParis" in p for p in prompts) == 1
        assert sum("[Response B]\nParis" in p for p in prompts) == 1
        again = _run(tmp_path, config)
        assert len([e for e in app.state.log.entries if e["path"] == "/v1/chat/completions"]) == 8
    point = _entry(result, "pointwise")
    assert point["models"]["tuned"]["pass_rate"] == 0.5
    assert point["models"]["base"]["pass_rate"] == 0.0
    assert _entry(again, "pairwise")["baselines"] == _entry(result, "pairwise")["baselines"]


def test_a_judge_that_is_also_compared_gets_a_self_preference_warning(tmp_path: Path) -> None:
    _write_project(tmp_path, CASES[:2])
    config = _config(tmp_path)
    config["task"]["scorers"] = [{"type": "pairwise_judge", "judge": "base"}]
    config["models"]["base"]["function"] = "judge_models:judge"
    result = _run(tmp_path, config)
    assert any("judge 'base' is also a compared model" in n for n in result.main.notes)
    assert any("self-preference" in n for n in result.main.notes)


def test_a_top_level_judge_section_names_its_suites(tmp_path: Path) -> None:
    _write_project(tmp_path, CASES[:3])
    config = _config(tmp_path)
    config["task"]["scorers"] = [{"type": "exact_match"}]
    config["suites"] = [
        {
            "name": "again",
            "dataset": {"path": "qa.jsonl"},
            "task": {"type": "generation"},
        }
    ]
    config["judge"] = {"model": "grader", "suites": ["again"], "name": "shorter"}
    result = _run(tmp_path, config)
    assert result.main.judges is None
    other = result.suite("again")
    assert other is not None
    assert other.judges is not None
    entry = other.judges["judges"][0]
    assert (entry["name"], entry["kind"]) == ("shorter", "pairwise")
    assert entry["baselines"]["base"]["wins"] == 3
    assert set(other.models) == {"tuned", "base"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"task": {"type": "generation", "scorers": [{"type": "judge", "judge": "gradr"}]}},
            "task.scorers[0].judge: no model named 'gradr' (did you mean 'grader'?)",
        ),
        (
            {
                "task": {
                    "type": "generation",
                    "scorers": [{"type": "judge", "judge": "grader", "rubric": "{{ answer }}"}],
                }
            },
            "task.scorers[0].rubric: unknown template names ['answer']",
        ),
        (
            {
                "task": {
                    "type": "generation",
                    "scorers": [{"type": "judge", "judge": "grader", "scale": "1-7"}],
                }
            },
            "task.scorers[0].scale",
        ),
        (
            {"task": {"type": "generation", "scorers": [{"type": "judgee", "judge": "grader"}]}},
            "unknown scorer type 'judgee' (did you mean 'judge'?)",
        ),
        ({"judge": {"model": "grader", "suites": ["nope"]}}, "judge.suites[0]: no suite named"),
        (
            {
                "task": {
                    "type": "classification",
                    "labels": ["a", "b"],
                    "scorers": [{"type": "judge", "judge": "grader"}],
                }
            },
            "task.scorers[0]: judges grade generation suites, not classification",
        ),
        (
            {
                "gate": {
                    "trust_judge": {"min_kappa": 2},
                    "criteria": [{"metric": "judge_score", "min": 0.5}],
                }
            },
            "gate.trust_judge.min_kappa",
        ),
        (
            {
                "gate": {
                    "criteria": [{"metric": "judge_preference", "vs": "base", "min_delta": 0.1}]
                }
            },
            "min_delta needs a metric compared case by case, not judge_preference",
        ),
    ],
)
def test_judge_config_errors(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    config = _config(tmp_path)
    config.update(change)
    with pytest.raises(ConfigError) as err:
        parse_config(config, source=tmp_path / "tunegate.yaml")
    assert message in str(err.value)
    assert str(tmp_path / "tunegate.yaml") in str(err.value)


def test_a_bad_judge_config_exits_2_from_the_cli(tmp_path: Path) -> None:
    _write_project(tmp_path)
    config = _config(tmp_path)
    config["task"]["scorers"] = [{"type": "pairwise_judge", "judge": "nobody"}]
    (tmp_path / "tunegate.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    done = subprocess.run(
        [str(TUNEGATE), "run", str(tmp_path / "tunegate.yaml"), "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "task.scorers[0].judge: no model named 'nobody'" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


# --------------------------------------------------------------------------- the gate


def _tunegate(*args: str) -> str:
    done = subprocess.run([str(TUNEGATE), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


GATE = {
    "criteria": [
        {"metric": "judge_preference", "vs": "base", "min": 0.6},
        {"metric": "judge_score", "min": 0.5},
        {"metric": "human_preference", "vs": "base", "min": 0.5},
        {"metric": "annotator_agreement", "min": 0.5},
        {"metric": "position_bias", "max": 0.7},
    ]
}


def _statuses(result: RunResult) -> dict[str, tuple[str, str]]:
    assert result.gate is not None
    return {c.criterion["metric"]: (c.status, c.reason) for c in result.gate.criteria}


def test_judge_criteria_wait_for_calibration_against_people(tmp_path: Path) -> None:
    _write_project(tmp_path)
    config = _config(tmp_path, gate={**GATE, "trust_judge": {"min_kappa": 0.6, "min_items": 5}})
    first = _run(tmp_path, config)
    got = _statuses(first)
    assert got["judge_preference"][0] == "MISSING"
    assert (
        "pairwise judge grader: judge not calibrated: no human evaluation"
        in got["judge_preference"][1]
    )
    assert got["judge_score"][0] == "MISSING"
    assert got["human_preference"][0] == "MISSING"
    assert got["position_bias"][0] == "PASS"  # the judge's own bias: 0.5
    assert first.gate is not None
    assert first.gate.verdict == "INCONCLUSIVE"

    # Three people vote on every pair: mostly for the candidate (a), some ties.
    db = str(tmp_path / "t.db")
    _tunegate(
        "human", "create", "--run", first.run_id, "--candidate", "tuned", "--baseline", "base",
        "--annotators", "ann1,ann2,ann3", "--overlap", "3", "--name", "s1", "--store", db,
    )  # fmt: skip
    votes = {"q1": "aaa", "q2": "aaa", "q3": "aab", "q4": "aaa", "q5": "ttt", "q6": "aat"}
    lines = ["item_id,annotator,criterion,choice"]
    for item, choices in votes.items():
        for ann, ch in zip(("ann1", "ann2", "ann3"), choices, strict=True):
            lines.append(f"{item},{ann},overall,{'tie' if ch == 't' else ch}")
    (tmp_path / "votes.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _tunegate(
        "human", "import", "s1", str(tmp_path / "votes.csv"), "--format", "csv", "--store", db
    )

    # A re-run (same config name) finds the study, adds the judge's verdicts, calibrates.
    second = _run(tmp_path, config)
    assert second.human is not None
    assert second.human["study"] == "s1"
    cal = next(j for j in second.human["judges"] if j["judge"] == "grader")
    # Majority: a on q1-q4 and q6, tie on q5; the judge says a (candidate) on all six.
    assert cal["n_items"] == 6
    # Six items are far below the documented minimum for agreement intervals: every
    # report says so (the run's notes feed the terminal, Markdown, HTML and JSON).
    small = "study s1: judge grader's Cohen's κ against the human majority rests on 6 items"
    assert any(small in n for n in second.notes), second.notes
    assert small in to_markdown(second)
    assert any(small in w for w in to_json(second)["warnings"])
    got = _statuses(second)
    assert got["judge_preference"][0] == "MISSING"
    assert (
        "judge not calibrated: κ 0.00 on 6 items (needs κ ≥ 0.6 on ≥ 5 items)"
        in got["judge_preference"][1]
    )
    human_status, human_reason = got["human_preference"]
    assert human_status in ("PASS", "INCONCLUSIVE")
    assert "study s1: 13 wins, 4 ties, 1 losses over 18 votes" in human_reason
    assert got["annotator_agreement"][0] in ("PASS", "INCONCLUSIVE", "FAIL")
    assert "Fleiss' κ" in got["annotator_agreement"][1]

    # Without the trust rule the judge's criteria are judged.
    del config["gate"]["trust_judge"]
    third = _run(tmp_path, config)
    got = _statuses(third)
    assert got["judge_preference"][0] == "PASS"
    assert "judge grader: 6 wins, 0 ties, 0 losses" in got["judge_preference"][1]
    assert got["judge_score"][0] in ("PASS", "INCONCLUSIVE")


def test_identical_outputs_share_judge_calls_and_rerun_cleanly(tmp_path: Path) -> None:
    # Both models answer alike: the two orders of a pair are the same prompt, and so are
    # the two models' pointwise prompts; the store answers them once per prompt.
    _write_project(tmp_path, CASES[:2])
    config = _config(tmp_path)
    config["models"]["base"]["function"] = "judge_models:tuned"
    first = _run(tmp_path, config)
    second = _run(tmp_path, config)
    for result in (first, second):
        pair = _entry(result, "pairwise")["baselines"]["base"]
        assert (pair["ties"], pair["wins"], pair["losses"], pair["errors"]) == (2, 0, 0, 0)
        point = _entry(result, "pointwise")["models"]
        assert point["tuned"]["mean_score"] == point["base"]["mean_score"] == 1.0
    assert _entry(second, "pairwise")["calls"]["cached"] == 4


def test_an_http_service_as_judge(tmp_path: Path) -> None:
    from servers import classify_app

    def answer(messages: list[dict[str, Any]]) -> str:
        prompt = str(messages[-1]["content"])
        return (
            "Verdict: A"
            if "[Response A]\nParis" in prompt or "[Response A]\nRome" in prompt
            else "B"
        )

    _write_project(tmp_path, CASES[:2])
    app = classify_app(answer=answer)
    with serve(app) as url:
        config = _config(tmp_path)
        config["models"]["grader"] = {"type": "http", "url": f"{url}/classify"}
        config["task"]["scorers"] = [{"type": "pairwise_judge", "judge": "grader"}]
        result = _run(tmp_path, config)
        assert len([e for e in app.state.log.entries if e["path"] == "/classify"]) == 4
    pair = _entry(result, "pairwise")["baselines"]["base"]
    assert (pair["wins"], pair["losses"], pair["errors"]) == (2, 0, 0)


def test_no_cache_for_the_judge_asks_it_again(tmp_path: Path) -> None:
    _write_project(tmp_path, CASES[:2])
    config = _config(tmp_path)
    _run(tmp_path, config)
    parsed = parse_config(config, source=tmp_path / "tunegate.yaml")
    again = run(parsed, RunOptions(fresh=("grader",)), config_dir=tmp_path)
    for kind in ("pointwise", "pairwise"):
        calls = _entry(again, kind)["calls"]
        assert (calls["cached"], calls["sent"]) == (0, 4)
    # The judged models' answers still come from the store.
    assert again.main.models["tuned"].cached == 2
