"""The scorer union (one config model per type) and the one registry that builds them."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sacrebleu.metrics import BLEU, CHRF

from tunegate.config import SCORER_TYPES, parse_config
from tunegate.config.base import ConfigWarning
from tunegate.config.scorers import ChrfScorer, ExactMatchScorer, ScorerConfig, scorer_config
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.scoring.registry import BuildContext, build_scorer, scorer_kind
from tunegate.store import Response


def _config(scorers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "dataset": {"path": "cases.jsonl"},
        "task": {"type": "generation", "scorers": scorers},
        "models": {"m": {"type": "python", "function": "pkg.mod:fn"}},
    }


def test_an_option_of_another_scorer_type_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            _config(
                [
                    {"type": "exact_match", "use_stemmer": True, "limit": 5, "function": "x:y"},
                    {"type": "chrf", "tokenize": "zh"},
                ]
            )
        )
    message = str(info.value)
    assert "task.scorers[0].use_stemmer: unknown key" in message
    assert "task.scorers[0].limit: unknown key" in message
    assert "task.scorers[0].function: unknown key" in message
    assert "task.scorers[1].tokenize: unknown key" in message
    with pytest.raises(ValidationError):
        scorer_config(type="exact_match", use_stemmer=True)


def test_a_typo_in_an_option_suggests_the_types_own_option() -> None:
    with pytest.raises(ConfigError, match=r"use_stemer: unknown key \(did you mean 'use_stemmer'"):
        parse_config(_config([{"type": "rouge", "use_stemer": True}]))


def test_the_base_class_is_not_a_scorer() -> None:
    with pytest.raises(ValidationError, match="unknown scorer type"):
        ScorerConfig(type="exact_match")


def test_every_scorer_type_is_registered_with_its_own_config_model() -> None:
    for name in SCORER_TYPES:
        kind = scorer_kind(name)
        assert kind.name == name
        assert kind.config.model_fields["type"].annotation is not str
    assert scorer_kind("rouge").metrics == ("rougeL", "rouge1", "rouge2", "rougeLsum")
    named = scorer_config(type="rouge", name="r")
    assert scorer_kind("rouge").metric_names(named) == (
        "r.rougeL",
        "r.rouge1",
        "r.rouge2",
        "r.rougeLsum",
    )
    assert scorer_kind("json").metric_names(scorer_config(type="json")) == ("json_valid",)
    assert scorer_kind("tool_call").reads_tool_calls
    assert not scorer_kind("exact_match").reads_tool_calls


def test_deprecated_case_spellings_are_read_with_a_warning_naming_the_key() -> None:
    with pytest.warns(ConfigWarning) as caught:
        config = parse_config(
            _config(
                [
                    {"type": "exact_match", "casefold": False},
                    {"type": "chrf", "lowercase": True},
                ]
            ),
            source=Path("t.yaml"),
        )
    messages = [str(w.message) for w in caught]
    assert (
        "t.yaml: task.scorers[0].casefold: deprecated, write case_sensitive: true instead"
        in messages
    )
    assert (
        "t.yaml: task.scorers[1].lowercase: deprecated, write case_sensitive: false instead"
        in messages
    )
    assert config.task is not None
    em, chrf = config.task.scorers
    assert isinstance(em, ExactMatchScorer)
    assert em.case_sensitive
    assert isinstance(chrf, ChrfScorer)
    assert not chrf.case_sensitive
    with pytest.raises(ConfigError, match="give case_sensitive only"):
        parse_config(_config([{"type": "exact_match", "casefold": True, "case_sensitive": True}]))


def test_the_current_spelling_gives_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_config(_config([{"type": "exact_match", "case_sensitive": True}]))


def _run(options: dict[str, Any], answer: str, reference: str) -> float:
    built = build_scorer(scorer_config(**options), BuildContext("test"))
    case = Case(id="1", text="q", reference=reference)
    scores = built(case, Response(case_id="1", model="m", key="k", text=answer))
    return scores[built.metrics[0]].value


def test_case_sensitive_decides_the_verdict() -> None:
    assert _run({"type": "exact_match"}, " PARIS ", "paris") == 1.0
    assert _run({"type": "exact_match", "case_sensitive": True}, "PARIS", "paris") == 0.0
    assert _run({"type": "contains", "value": "REFUND"}, "a refund", "") == 1.0
    assert _run({"type": "regex", "value": "^yes", "case_sensitive": True}, "Yes", "") == 0.0
    assert _run({"type": "regex", "value": "^yes"}, "Yes", "") == 1.0


def test_corpus_bleu_and_chrf_use_the_scorers_options() -> None:
    hyps = ["The Cat sat on the mat", "A DOG barked loudly"]
    refs = [["the cat sat on the mat"], ["a dog barked loudly"]]
    bleu = build_scorer(scorer_config(type="bleu", case_sensitive=False), BuildContext("t"))
    chrf = build_scorer(scorer_config(type="chrf", case_sensitive=False), BuildContext("t"))
    assert bleu.corpus is not None
    assert chrf.corpus is not None
    expected_bleu = BLEU(lowercase=True).corpus_score(hyps, [[r[0] for r in refs]]).score
    expected_chrf = CHRF(lowercase=True).corpus_score(hyps, [[r[0] for r in refs]]).score
    assert bleu.corpus(hyps, refs) == pytest.approx(expected_bleu / 100, abs=1e-12)
    assert chrf.corpus(hyps, refs) == pytest.approx(expected_chrf / 100, abs=1e-12)
    cased = build_scorer(scorer_config(type="bleu"), BuildContext("t"))
    assert cased.corpus is not None
    assert cased.corpus(hyps, refs) < bleu.corpus(hyps, refs)


def test_max_latency_takes_ms_and_reads_limit_as_its_old_spelling() -> None:
    with pytest.warns(
        ConfigWarning, match=r"scorers\[0\]\.limit: deprecated, write ms: 250 instead"
    ):
        config = parse_config(_config([{"type": "max_latency_ms", "limit": 250}]))
    assert config.task is not None
    (scorer,) = config.task.scorers
    assert scorer == scorer_config(type="max_latency_ms", ms=250)
    built = build_scorer(scorer, BuildContext("t"))
    fast = Response(case_id="1", model="m", key="k", text="x", latency_ms=249.0)
    slow = Response(case_id="1", model="m", key="k", text="x", latency_ms=251.0)
    case = Case(id="1", text="q", reference="")
    assert built(case, fast)["max_latency_ms"].passed
    assert not built(case, slow)["max_latency_ms"].passed
    with pytest.raises(ConfigError, match=r"scorers\[0\]\.ms: required key is missing"):
        parse_config(_config([{"type": "max_latency_ms"}]))


def test_cli_says_a_deprecated_spelling_once_as_a_warning(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tunegate.cli import app

    (tmp_path / "cases.jsonl").write_text('{"text": "q", "label": "a"}\n', encoding="utf-8")
    (tmp_path / "fn.py").write_text("def answer(text):\n    return text\n", encoding="utf-8")
    path = tmp_path / "tunegate.yaml"
    path.write_text(
        "dataset: {path: cases.jsonl}\n"
        "task: {type: generation, scorers: [{type: bleu, lowercase: true}]}\n"
        "models: {m: {type: python, function: 'fn:answer'}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    line = (
        f"warning: {path}: task.scorers[0].lowercase: deprecated, "
        "write case_sensitive: false instead"
    )
    assert line in " ".join(result.output.split())
    assert result.output.count("write case_sensitive") == 1
    assert "ConfigWarning" not in result.output


def test_a_lower_is_better_scorer_marks_its_metrics_for_comparisons() -> None:
    from tunegate.evaluation.scores import score_generic
    from tunegate.scoring.base import Score
    from tunegate.scoring.registry import BuiltScorer

    def words(case: Case, response: Response) -> dict[str, Score]:
        return {"words": Score(float(len((response.text or "").split())), True)}

    cases = [Case(id="1", text="q", reference="a b")]
    responses = [Response(case_id="1", model="m", key="k", text="a b c")]
    fewer = BuiltScorer("words", "custom", ("words",), words, higher_is_better=False)
    scored = score_generic("m", cases, responses, [fewer], None)
    assert scored.lower_is_better == frozenset({"words"})
    assert scored.values["words"].tolist() == [3.0]
    exact = build_scorer(scorer_config(type="exact_match"), BuildContext("t"))
    assert exact.higher_is_better
    assert score_generic("m", cases, responses, [exact], None).lower_is_better == frozenset()
