"""tunegate.scoring.scorers: each built-in scorer type as the registry builds it, on real
answers, against rouge-score, sacrebleu and hand-checked verdicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from tunegate.config.scorers import scorer_config
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.scoring.registry import BuildContext
from tunegate.scoring.scorers import BuiltScorer, build_scorer, references
from tunegate.store import Response


def _built(**options: Any) -> BuiltScorer:
    return build_scorer(scorer_config(**options), BuildContext("task.scorers[0]"))


def _case(reference: str = "The cat sat on the mat", **metadata: Any) -> Case:
    return Case(id="c1", text="q", reference=reference, metadata=metadata)


def _answer(text: str, error: str | None = None, latency_ms: float = 10.0) -> Response:
    return Response(case_id="c1", model="m", key="k", text=text, latency_ms=latency_ms, error=error)


def test_references_are_the_metadata_list_or_the_reference() -> None:
    assert references(_case("a")) == ["a"]
    assert references(_case("a", references=["x", "y"])) == ["x", "y"]
    assert references(_case("a", references=["x", 3])) == ["a"]  # not all strings
    assert references(_case("a", references=[])) == ["a"]


def test_exact_match_default_folds_case_and_any_reference_passes() -> None:
    exact = _built(type="exact_match")
    assert exact.metrics == ("exact_match",)
    case = _case("Paris", references=["Paris", "Paris, France"])
    assert exact(case, _answer(" paris "))["exact_match"].passed
    assert exact(case, _answer("paris, france"))["exact_match"].passed
    assert not exact(case, _answer("Lyon"))["exact_match"].passed
    cased = _built(type="exact_match", case_sensitive=True)
    assert not cased(case, _answer("paris"))["exact_match"].passed


def test_rouge_reports_four_metrics_equal_to_rouge_score() -> None:
    rouge = _built(type="rouge")
    assert rouge.metrics == ("rougeL", "rouge1", "rouge2", "rougeLsum")
    scores = rouge(_case(), _answer("the cat lay on the mat"))
    ref = rouge_scorer.RougeScorer(["rougeL", "rouge1", "rouge2", "rougeLsum"]).score(
        "The cat sat on the mat", "the cat lay on the mat"
    )
    for metric in rouge.metrics:
        assert scores[metric].value == pytest.approx(ref[metric].fmeasure, abs=1e-12)


def test_bleu_sentence_and_corpus_equal_sacrebleu() -> None:
    bleu = _built(type="bleu")
    hyp = "the cat sat on a mat"
    score = bleu(_case(), _answer(hyp))["bleu"]
    expected = BLEU(effective_order=True).sentence_score(hyp, ["The cat sat on the mat"])
    assert score.value == pytest.approx(expected.score / 100, abs=1e-9)
    assert bleu.corpus is not None
    hyps = [hyp, "a dog barked"]
    refs = [["The cat sat on the mat"], ["the dog barked"]]
    corpus = BLEU().corpus_score(hyps, [[r[0] for r in refs]]).score / 100
    assert bleu.corpus(hyps, refs) == pytest.approx(corpus, abs=1e-9)


def test_a_failed_request_fails_every_scorer_with_a_reason() -> None:
    failed = _answer("", error="timeout")
    for options in (
        {"type": "exact_match"},
        {"type": "contains", "value": "x"},
        {"type": "tool_call"},
        {"type": "json"},
    ):
        built = _built(**options)
        [score] = built(_case(), failed).values()
        assert not score.passed, options
        assert score.detail, options


def test_assertion_scorers_contains_regex_equals_and_latency() -> None:
    case = _case()
    assert _built(type="contains", value="MAT")(case, _answer("on the mat"))["contains"].passed
    assert not _built(type="contains", value="MAT", case_sensitive=True)(
        case, _answer("on the mat")
    )["contains"].passed
    assert not _built(type="contains", value="mat", negate=True)(case, _answer("on the mat"))[
        "contains"
    ].passed
    assert _built(type="regex", value=r"^\d{3}$")(case, _answer("123"))["regex"].passed
    assert not _built(type="regex", value=r"^\d{3}$")(case, _answer("1234"))["regex"].passed
    assert _built(type="equals", value="yes")(case, _answer("YES"))["equals"].passed
    latency = _built(type="max_latency_ms", ms=100)
    [name] = latency.metrics
    assert latency(case, _answer("x", latency_ms=99.0))[name].passed
    assert not latency(case, _answer("x", latency_ms=101.0))[name].passed


def test_json_and_json_schema_from_a_file(tmp_path: Path) -> None:
    assert _built(type="json")(_case(), _answer('{"a": 1}'))["json_valid"].passed
    assert not _built(type="json")(_case(), _answer("{a: 1}"))["json_valid"].passed
    schema = {"type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}}
    (tmp_path / "s.json").write_text(json.dumps(schema))
    built = _built(type="json_schema", schema_file=str(tmp_path / "s.json"))
    assert built(_case(), _answer('{"age": 3}'))["schema_compliance"].passed
    bad = built(_case(), _answer('{"age": "three"}'))["schema_compliance"]
    assert not bad.passed
    assert bad.detail


def test_a_missing_schema_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"task.scorers\[0\].schema_file: .*not found"):
        _built(type="json_schema", schema_file=str(tmp_path / "absent.json"))


def test_tool_call_scores_against_the_reference_calls() -> None:
    tool = _built(type="tool_call")
    assert tool.reads_tool_calls
    [name] = tool.metrics
    case = _case(json.dumps([{"get_weather": {"city": ["Paris"]}}]))
    right = tool(case, _answer('[{"name": "get_weather", "arguments": {"city": "Paris"}}]'))
    wrong = tool(case, _answer('[{"name": "get_weather", "arguments": {"city": "Rome"}}]'))
    assert right[name].passed
    assert not wrong[name].passed
