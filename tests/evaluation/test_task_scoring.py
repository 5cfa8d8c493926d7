"""tunegate.evaluation.kinds: the scoring and comparison functions the task kinds name,
reached through the kinds' registries and directly, on real answers checked against
scikit-learn."""

from __future__ import annotations

import math

import pytest
from sklearn.metrics import accuracy_score, f1_score

from tunegate.data import Case
from tunegate.evaluation.kinds import (
    COMPARE,
    NOTES,
    SCORE,
    ModelScoring,
    compare_labels,
    compare_models,
    compare_outputs,
    score_labels,
    score_outputs,
    score_perplexity_of,
    tokenizer_notes,
)
from tunegate.store import Response
from tunegate.tasks import TASK_KINDS

LABELS = ["yes", "no"]
CASES = [Case(id=f"c{i}", text=f"t{i}", reference=LABELS[i % 2]) for i in range(12)]


def _scoring(name: str, answers: list[str], **extra: object) -> ModelScoring:
    responses = [
        Response(case_id=c.id, model=name, key=f"{name}{i}", text=a, latency_ms=2.0)
        for i, (c, a) in enumerate(zip(CASES, answers, strict=True))
    ]
    data: dict[str, object] = {
        "name": name,
        "cases": CASES,
        "responses": responses,
        "labels": LABELS,
        "scorers": [],
        "pass_rule": None,
        "metrics": ["accuracy", "macro_f1"],
        "confidence": 0.95,
        "n_resamples": 500,
        "seed": 1,
    }
    data.update(extra)
    return ModelScoring(**data)  # type: ignore[arg-type]


def test_the_registry_names_these_functions() -> None:
    kinds = TASK_KINDS
    assert SCORE[kinds["classification"].score] is score_labels
    assert SCORE[kinds["multiple_choice"].score] is score_labels
    assert SCORE[kinds["generation"].score] is score_outputs
    assert SCORE[kinds["tool_call"].score] is score_outputs
    assert SCORE[kinds["perplexity"].score] is score_perplexity_of
    assert COMPARE[kinds["classification"].compare] is compare_labels
    assert COMPARE[kinds["generation"].compare] is compare_outputs
    assert NOTES[kinds["perplexity"].notes or ""] is tokenizer_notes
    for kind in kinds.values():  # every name a kind gives is registered
        assert kind.score in SCORE
        assert kind.compare in COMPARE
        assert kind.notes is None or kind.notes in NOTES


def test_score_labels_gives_sklearn_metrics_and_compare_labels_the_delta() -> None:
    refs = [c.reference for c in CASES]
    good = list(refs)
    good[0] = "no"
    bad = ["yes"] * 12
    cand, cand_result = score_labels(_scoring("ft", good))
    base, base_result = score_labels(_scoring("base", bad))
    assert cand_result.metrics["accuracy"].value == pytest.approx(accuracy_score(refs, good))
    assert cand_result.metrics["macro_f1"].value == pytest.approx(
        f1_score(refs, good, average="macro")
    )
    assert base_result.metrics["macro_f1"].value == pytest.approx(
        f1_score(refs, bad, average="macro", zero_division=0)
    )
    [acc] = compare_labels(
        cand, base, LABELS, ["accuracy"], confidence=0.95, n_resamples=500, seed=1
    )
    assert acc.delta == pytest.approx(11 / 12 - 6 / 12)
    # The kind's function, found by its name, is the same function.
    [again] = compare_models(
        TASK_KINDS["classification"],
        cand,
        base,
        LABELS,
        ["accuracy"],
        confidence=0.95,
        n_resamples=500,
        seed=1,
    )
    assert again == acc


def test_score_perplexity_of_reads_each_answers_log_probs() -> None:
    logs = [math.log(0.5), math.log(0.25)]
    responses = [
        Response(
            case_id=c.id,
            model="lm",
            key=f"k{i}",
            text="",
            output={
                "perplexity": math.sqrt(8),
                "logprob_sum": sum(logs),
                "n_tokens": 2,
                "tokenizer": "t",
            },
            latency_ms=1.0,
        )
        for i, c in enumerate(CASES)
    ]
    s = _scoring("lm", ["x"] * 12, metrics=["perplexity"])
    s = ModelScoring(**{**s.__dict__, "responses": responses})
    scored, result = score_perplexity_of(s)
    assert result.metrics["perplexity"].value == pytest.approx(math.sqrt(8), rel=1e-9)
    assert scored.lower_is_better == frozenset({"perplexity"})
