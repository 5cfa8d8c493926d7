"""Issue 14, items 6-10: conclusions that name their evidence, unknown chat parameters,
every scorer's metric in the tables, pass rules, Parquet and JSON-array files, --version,
and answers that cannot be scored by a suite's task counted as unparseable."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from servers import openai_app, serve

from tunegate import __version__
from tunegate.config import OpenAIModel, parse_config
from tunegate.data import load_cases
from tunegate.errors import ConfigError
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.pipeline.flow import RunOptions, run
from tunegate.report.json_report import to_json
from tunegate.report.markdown import to_markdown
from tunegate.report.terminal import print_summary
from tunegate.results import Comparison, Estimate, ModelResult, SuiteResult
from tunegate.results.wording import conclusion

TUNEGATE = Path(sys.executable).parent / "tunegate"
EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "tool_calling"


# --- item 6: one sentence, the deciding evidence first, signs kept ---------------------


def comparison(metric: str, delta: float, ci: tuple[float, float], p: float) -> Comparison:
    return Comparison(
        candidate="finetuned",
        baseline="zero-shot",
        metric=metric,
        candidate_value=0.5 + delta,
        baseline_value=0.5,
        delta=delta,
        ci=ci,
        p_value=p,
        test="McNemar (exact)",
        wins=10,
        ties=20,
        losses=5,
        n=35,
    )


def model(name: str, accuracy: float) -> ModelResult:
    return ModelResult(
        name=name,
        n=36,
        errors=0,
        unparseable=0,
        cached=0,
        metrics={"accuracy": Estimate(accuracy, (accuracy - 0.1, accuracy + 0.1))},
        per_class={},
        confusion=[],
        latency_ms={},
        tokens={},
        error_kinds={},
        first_errors=[],
    )


def classification_suite(comps: list[Comparison]) -> SuiteResult:
    return SuiteResult(
        name="main",
        task="classification",
        labels=["a", "b"],
        primary_metric="macro_f1",
        n_cases=36,
        models={"finetuned": model("finetuned", 0.75), "zero-shot": model("zero-shot", 0.6667)},
        comparisons=comps,
        cases=[],
    )


def test_a_mixed_evidence_conclusion_names_what_decided_it() -> None:
    macro = comparison("macro_f1", 0.139, (0.033, 0.270), 0.062)
    suite = classification_suite([macro])
    assert conclusion(macro, 0.95, suite) == (
        "finetuned beats zero-shot on macro-F1: +0.139 [+0.033, +0.270] "
        "(paired bootstrap, 95%); accuracy +0.083, McNemar p=0.062 (not significant)"
    )


def test_a_worse_candidate_keeps_the_sign_of_its_delta() -> None:
    worse = comparison("macro_f1", -0.802, (-0.919, -0.648), 0.0001)
    text = conclusion(worse, 0.95, classification_suite([worse]))
    assert text.startswith(
        "finetuned is worse than zero-shot on macro-F1: -0.802 [-0.919, -0.648] "
        "(paired bootstrap, 95%); accuracy"
    )
    assert text.endswith("McNemar p<0.001 (significant)")
    assert "0.802 [" not in text.replace("-0.802 [", "")


def test_no_difference_and_the_tested_metric_itself() -> None:
    same = comparison("accuracy", 0.02, (-0.05, 0.09), 0.5)
    assert conclusion(same, 0.9, classification_suite([same])) == (
        "finetuned vs zero-shot: no significant difference on accuracy: +0.020 [-0.050, +0.090] "
        "(paired bootstrap, 90%) includes 0; McNemar p=0.500 (not significant)"
    )


# --- item 7: unknown chat parameters ---------------------------------------------------


def test_unknown_chat_parameters_are_warned_about_and_not_sent() -> None:
    spec = OpenAIModel(
        type="openai",
        model="toy",
        base_url="http://127.0.0.1:9/v1",
        params={"temprature": 0, "max_tokens": 3},
        extra_body={"top_k": 5},
    )
    backend = OpenAIChatBackend("chat", spec)
    assert backend.warnings == [
        "models.chat.params.temprature: not a chat-completions parameter (did you mean "
        "'temperature'?); not sent (put server-specific parameters under "
        "models.chat.extra_body)"
    ]
    from tunegate.data import Case

    request = backend.render(Case(id="c", text="hello", reference="x"))
    assert "temprature" not in json.dumps(request)
    assert request["max_tokens"] == 3
    assert request["extra_body"] == {"top_k": 5}


def test_the_warning_reaches_the_run_report(tmp_path: Path) -> None:
    rows = [
        {"id": f"c{i}", "text": f"t {i}", "label": ["positive", "negative"][i % 2]}
        for i in range(6)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    app = openai_app()
    with serve(app) as url:
        config = parse_config(
            {
                "dataset": {"path": str(tmp_path / "test.jsonl")},
                "task": {"labels": ["positive", "negative"]},
                "models": {
                    "chat": {
                        "type": "openai",
                        "model": "toy",
                        "base_url": f"{url}/v1",
                        "params": {"temprature": 0},
                    }
                },
                "store": str(tmp_path / "t.db"),
            },
            tmp_path / "tunegate.yaml",
        )
        result = run(config, RunOptions())
    assert all("temprature" not in json.dumps(e["json"]) for e in app.state.log)
    warning = next(w for w in to_json(result)["warnings"] if "temprature" in w)
    assert "did you mean 'temperature'?" in warning
    assert warning in to_markdown(result)


# --- items 8 and 10: every metric shown; pass rules; unparseable tool calls ------------

GEN = [
    {"id": "g1", "text": "Capital of France?", "label": "Paris"},
    {"id": "g2", "text": "Capital of Italy?", "label": "Rome"},
    {"id": "g3", "text": "Capital of Spain?", "label": "Madrid"},
    {"id": "g4", "text": "Capital of Peru?", "label": "Lima"},
]
ANSWERS = {
    "Capital of France?": "Paris",
    "Capital of Italy?": "Rome is the capital",
    "Capital of Spain?": "Madrid",
    "Capital of Peru?": "It is Lima",
}


def answer(messages: list[dict[str, Any]]) -> str:
    return ANSWERS[str(messages[-1]["content"])]


def generation_config(tmp_path: Path, url: str, task: dict[str, Any]) -> Any:
    (tmp_path / "gen.jsonl").write_text("".join(json.dumps(r) + "\n" for r in GEN))
    return parse_config(
        {
            "suites": [
                {"name": "qa", "dataset": {"path": str(tmp_path / "gen.jsonl")}, "task": task}
            ],
            "models": {"chat": {"type": "openai", "model": "toy", "base_url": f"{url}/v1"}},
            "store": str(tmp_path / "t.db"),
        },
        tmp_path / "tunegate.yaml",
    )


def terminal_text(result: Any) -> str:
    console = Console(width=250, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    print_summary(result, console)
    return console.export_text()


def test_a_two_scorer_suite_shows_every_metric_and_states_its_pass_rule(tmp_path: Path) -> None:
    task = {
        "type": "generation",
        "scorers": [{"type": "rouge"}, {"type": "exact_match"}, {"type": "contains", "value": "a"}],
    }
    with serve(openai_app(answer=answer)) as url:
        result = run(generation_config(tmp_path, url, task), RunOptions())
    suite = result.suites[0]
    chat = suite.models["chat"]
    assert chat.metrics["exact_match"].value == 0.5
    text = terminal_text(result)
    markdown = to_markdown(result)
    for metric in ("rougeL", "rouge1", "rouge2", "rougeLsum", "exact_match", "contains"):
        assert metric in text, metric
        assert f"| {metric}" in markdown or f" {metric} |" in markdown, metric
    assert "pass rate (all 3 scorers pass)" in text
    assert "pass rate (all 3 scorers pass)" in markdown
    assert "More metrics" in text  # the columns beyond the first four wrap into a second table
    assert chat.metrics["pass_rate"].value == 0.5  # exact match fails twice


def test_a_pass_rule_decides_the_pass_rate(tmp_path: Path) -> None:
    task = {
        "type": "generation",
        "scorers": [{"type": "rouge"}, {"type": "exact_match"}],
        "pass": {"metric": "rougeL", "min": 0.5},
    }
    with serve(openai_app(answer=answer)) as url:
        result = run(generation_config(tmp_path, url, task), RunOptions())
    chat = result.suites[0].models["chat"]
    # "Rome is the capital": rougeL 2*1*(1/4)/(1+1/4) = 0.4 < 0.5; "It is Lima": 0.5.
    assert chat.metrics["pass_rate"].value == 0.75
    assert "pass rate (rougeL >= 0.5)" in terminal_text(result)

    bad = {**task, "pass": {"metric": "rouge_l", "min": 0.5}}
    with pytest.raises(ConfigError, match=r"pass\.metric: 'rouge_l' is not a metric of suite qa"):
        generation_config(tmp_path, "http://127.0.0.1:9", bad)


def test_answers_that_are_not_tool_calls_are_unparseable(tmp_path: Path) -> None:
    for name in ("cases.jsonl", "possible_answer"):
        src = EXAMPLE / name
        if src.is_dir():
            shutil.copytree(src, tmp_path / name)
        else:
            shutil.copy(src, tmp_path / name)
    with serve(openai_app(answer=lambda m: "A short summary of the request.")) as url:
        config = parse_config(
            {
                "suites": [
                    {
                        "name": "tools",
                        "dataset": {"path": str(tmp_path / "cases.jsonl")},
                        "task": {"type": "tool_call"},
                    }
                ],
                "models": {
                    "summariser": {"type": "openai", "model": "toy", "base_url": f"{url}/v1"}
                },
                "store": str(tmp_path / "t.db"),
            },
            tmp_path / "tunegate.yaml",
        )
        result = run(config, RunOptions(limit=10))
    model_result = result.suites[0].models["summariser"]
    expects_calls = sum(
        1 for r in load_cases_bfcl(tmp_path / "cases.jsonl")[:10] if r.metadata["ground_truth"]
    )
    assert expects_calls > 5
    assert model_result.unparseable == expects_calls
    note = next(n for n in to_json(result)["warnings"] if "hold no tool call" in n)
    assert note.startswith(f"tools: {expects_calls} of 10 answers of summariser hold no tool call")
    assert "models: [...]" in note
    assert "unparsed" in terminal_text(result)


def load_cases_bfcl(path: Path) -> list[Any]:
    from tunegate.data.bfcl import load_bfcl

    return load_bfcl(path)


# --- item 9: Parquet, JSON arrays, --version ---------------------------------------------

RECORDS = [
    {"uid": "a", "review": "great", "sentiment": "positive", "topic": "x"},
    {"uid": "b", "review": "awful", "sentiment": "negative", "topic": "y"},
    {"uid": "c", "review": "fine", "sentiment": "positive", "topic": "x"},
]


def test_parquet_and_json_array_files_load_with_the_field_map(tmp_path: Path) -> None:
    from tunegate.data import FieldMap

    fields = FieldMap(
        input_field="review", label_field="sentiment", category_field="topic", id_field="uid"
    )
    jsonl = tmp_path / "cases.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    array = tmp_path / "cases.json"
    array.write_text(json.dumps(RECORDS, indent=2))
    parquet = tmp_path / "cases.parquet"
    pq.write_table(pa.Table.from_pylist(RECORDS), parquet)
    expected = load_cases(jsonl, fields=fields, labels=["positive", "negative"])
    for path, fmt in ((array, "auto"), (array, "json"), (parquet, "auto"), (parquet, "parquet")):
        got = load_cases(path, fmt, fields=fields, labels=["positive", "negative"])  # type: ignore[arg-type]
        assert [(c.id, c.text, c.reference, c.category) for c in got] == [
            (c.id, c.text, c.reference, c.category) for c in expected
        ], path


def test_a_chat_format_json_array(tmp_path: Path) -> None:
    chats = [
        {
            "id": "q1",
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "positive"},
            ],
        }
    ]
    path = tmp_path / "chats.json"
    path.write_text(json.dumps(chats))
    [case] = load_cases(path)
    assert (case.id, case.text, case.reference) == ("q1", "hi", "positive")


def test_bad_json_array_and_parquet_files_name_the_item(tmp_path: Path) -> None:
    from tunegate.errors import DataError

    array = tmp_path / "bad.json"
    array.write_text(json.dumps([{"text": "a", "label": "x"}, {"text": "b"}]))
    with pytest.raises(DataError, match=r"bad\.json: item 2: missing field\(s\) \['label'\]"):
        load_cases(array)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        load_cases(broken)


def test_a_parquet_dataset_in_a_config_runs(tmp_path: Path) -> None:
    rows = [
        {
            "id": f"p{i}",
            "text": "great" if i % 2 else "awful",
            "label": ["negative", "positive"][i % 2],
        }
        for i in range(6)
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "test.parquet")
    (tmp_path / "model.py").write_text(
        "def classify(text):\n    return 'positive' if 'great' in text else 'negative'\n"
    )
    (tmp_path / "tunegate.yaml").write_text(
        "dataset: {path: test.parquet, format: parquet}\n"
        "task: {labels: [positive, negative]}\n"
        "models:\n  m: {type: python, function: 'model:classify'}\n"
    )
    proc = subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml", "-q", "--json", "out.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["suites"][0]["models"]["m"]["metrics"]["accuracy"]["value"] == 1.0


def test_version() -> None:
    proc = subprocess.run(
        [str(TUNEGATE), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"tunegate {__version__}"


def test_no_cache_takes_an_optional_model_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunegate.cli import split_no_cache

    monkeypatch.chdir(tmp_path)
    (tmp_path / "tunegate.yaml").write_text("")
    assert split_no_cache(["run", "--no-cache", "tunegate.yaml"]) == [
        "run",
        "--no-cache",
        "tunegate.yaml",
    ]
    assert split_no_cache(["run", "tunegate.yaml", "--no-cache"]) == [
        "run",
        "tunegate.yaml",
        "--no-cache",
    ]
    assert split_no_cache(["run", "tunegate.yaml", "--no-cache", "-q"])[-2:] == ["--no-cache", "-q"]
    assert split_no_cache(["run", "tunegate.yaml", "--no-cache", "tuned", "--no-cache=base"]) == [
        "run",
        "tunegate.yaml",
        "--no-cache-model",
        "tuned",
        "--no-cache-model",
        "base",
    ]
