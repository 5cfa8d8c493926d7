"""Local models in every kind of suite, with the real Gemma weights: perplexity with its
tokenizer recorded, multiple choice by choice log-likelihood, generation scored by
exact match — each checked against a direct computation on the same model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import needs_weights

from tunegate.config import parse_config
from tunegate.data.general import load_general_jsonl
from tunegate.data.multiple_choice import LETTERS
from tunegate.models.hf import LocalLM, resolve_gguf
from tunegate.pipeline.flow import RunOptions, run

pytestmark = pytest.mark.usefixtures("weights")

TEXTS = [
    "The cat sat on the mat.",
    "Paris is the capital of France.",
    "mat the on sat cat The.",
    "Water boils at one hundred degrees Celsius at sea level.",
    "Colorless green ideas sleep furiously.",
]


@pytest.fixture(scope="module")
def weights() -> None:
    needs_weights()


def _run(tmp_path: Path, suite: dict[str, Any]) -> Any:
    config = parse_config(
        {
            "name": "local-suites",
            "bootstrap": 1000,
            "suites": [suite],
            "models": {"base": {"type": "hf", "gguf": "gemma3-270m", "prompt": "{{ input }}"}},
        },
        source=tmp_path / "tunegate.yaml",
    )
    return run(config, RunOptions(store_path=tmp_path / "t.db"))


def test_perplexity_suite_matches_the_model_and_records_the_tokenizer(
    tmp_path: Path, base_lm: LocalLM
) -> None:
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": "-"}) + "\n" for t in TEXTS))
    result = _run(
        tmp_path, {"name": "ppl", "dataset": {"path": str(data)}, "task": {"type": "perplexity"}}
    )
    suite = result.main
    rows = [r for r in suite.cases if r.model == "base"]
    direct = base_lm.perplexity(TEXTS)
    assert [r.scores["perplexity"] for r in rows] == pytest.approx(direct, rel=1e-6)
    # Word salad is less likely than the sentence it was made from.
    assert rows[2].scores["perplexity"] > rows[0].scores["perplexity"]
    logprobs = base_lm.token_logprobs(TEXTS)
    corpus = math.exp(-sum(float(lp.sum()) for lp in logprobs) / sum(lp.size for lp in logprobs))
    estimate = suite.models["base"].metrics["perplexity"]
    assert estimate.value == pytest.approx(corpus, rel=1e-6)
    assert estimate.ci is not None
    assert estimate.ci[0] <= estimate.value <= estimate.ci[1]
    assert result.model_meta["base"]["tokenizer"] == resolve_gguf("gemma3-270m").name


def test_multiple_choice_by_the_log_likelihood_of_each_choice(
    tmp_path: Path, base_lm: LocalLM
) -> None:
    result = _run(
        tmp_path,
        {
            "name": "general",
            "dataset": {"path": "builtin:general", "limit": 12},
            "task": {"type": "multiple_choice"},
        },
    )
    cases = load_general_jsonl()[:12]
    prompts = [f"Question: {case.text}\nAnswer:" for case in cases]
    choices = [[case.metadata["choices"][letter] for letter in LETTERS] for case in cases]
    batched = base_lm.choice_logprobs(prompts, choices)
    expected = []
    for prompt, options, row in zip(prompts, choices, batched, strict=True):
        # All pairs scored in shared batches = each case's choices scored on its own.
        [alone] = base_lm.label_logprobs([prompt], options)
        assert row == pytest.approx(alone, abs=1e-3)
        expected.append(LETTERS[int(np.argmax(alone))])
    rows = [r for r in result.main.cases if r.model == "base"]
    assert [r.prediction for r in rows] == expected
    accuracy = np.mean([e == c.reference for e, c in zip(expected, cases, strict=True)])
    assert result.main.models["base"].metrics["accuracy"].value == pytest.approx(accuracy)


def test_generation_suite_scores_what_the_model_generates(tmp_path: Path, base_lm: LocalLM) -> None:
    data = tmp_path / "qa.jsonl"
    qa = [("What is the capital of France?", ["Paris"]), ("2 + 2 =", ["4", "four"])]
    data.write_text("".join(json.dumps({"text": q, "label": a}) + "\n" for q, a in qa))
    result = _run(
        tmp_path,
        {
            "name": "qa",
            "dataset": {"path": str(data)},
            "task": {
                "type": "generation",
                "prompt": "Q: {{ input }}\nA:",
                "scorers": [{"type": "exact_match"}, {"type": "rouge"}],
            },
        },
    )
    generated = base_lm.generate([f"Q: {q}\nA:" for q, _ in qa], max_new_tokens=32)
    rows = [r for r in result.main.cases if r.model == "base"]
    assert [r.answer for r in rows] == generated
    for row, (_, answers) in zip(rows, qa, strict=True):
        folded = " ".join(str(row.answer).split()).casefold()
        assert row.scores["exact_match"] == float(folded in [a.casefold() for a in answers])


def test_perplexity_of_the_reference_given_the_input(tmp_path: Path, base_lm: LocalLM) -> None:
    pairs = [("Q: What is the capital of France?\nA:", "Paris"), ("Q: 2 + 2 =\nA:", "4")]
    data = tmp_path / "qa.jsonl"
    data.write_text("".join(json.dumps({"text": q, "label": a}) + "\n" for q, a in pairs))
    result = _run(
        tmp_path,
        {
            "name": "ref",
            "dataset": {"path": str(data)},
            "task": {"type": "perplexity", "target": "reference"},
        },
    )
    rows = [r for r in result.main.cases if r.model == "base"]
    for row, (prompt, answer) in zip(rows, pairs, strict=True):
        # Directly: every token of "prompt answer", keeping those after the prompt's.
        [full] = base_lm.token_logprobs([f"{prompt} {answer}"])
        n_prompt = len(base_lm.encode([prompt])[0])
        tail = full[n_prompt - 1 :]
        assert row.scores["perplexity"] == pytest.approx(math.exp(-tail.mean()), rel=1e-4)
