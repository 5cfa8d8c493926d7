"""Human-evaluation batches with recorded order, the pairs file, and agreement numbers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from tunegate import (
    HumanEvalTask,
    compute_inter_annotator_agreement,
    create_human_eval_batch,
    write_pairs,
)

PANDALM = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "pairwise_human" / "testset-v1.json"
)


def test_tutorial_call_defaults_and_recorded_order() -> None:
    prompts = [f"prompt {i}" for i in range(40)]
    outs_a = [f"fine-tuned {i}" for i in range(40)]
    outs_b = [f"frontier {i}" for i in range(40)]
    tasks = create_human_eval_batch(prompts, outs_a, outs_b)

    assert len(tasks) == 40
    assert all(isinstance(t, HumanEvalTask) for t in tasks)
    assert tasks[0].criteria == ["correctness", "helpfulness", "safety", "format_adherence"]
    assert tasks[0].evaluator_id is None
    assert tasks[0].scores is None
    # The order is random per task (seeded) and recorded, so it can be undone.
    swaps = [t.swapped for t in tasks]
    assert 5 < sum(swaps) < 35
    rng = random.Random(0)
    assert swaps == [rng.random() < 0.5 for _ in range(40)]
    for i, task in enumerate(tasks):
        shown_first = outs_b[i] if task.swapped else outs_a[i]
        assert task.model_a_output == shown_first
        assert task.output_of("model_a") == outs_a[i]
        assert task.output_of("model_b") == outs_b[i]
        # A vote for the first position goes to whichever model was shown there.
        assert task.unblind("A") == ("model_b" if task.swapped else "model_a")
        assert task.unblind("b") == ("model_a" if task.swapped else "model_b")
        assert task.unblind("tie") == "tie"
    # The same seed gives the same order; another seed another one.
    assert [t.swapped for t in create_human_eval_batch(prompts, outs_a, outs_b)] == swaps
    assert [t.swapped for t in create_human_eval_batch(prompts, outs_a, outs_b, seed=1)] != swaps


def test_custom_criteria_names_and_bad_lengths() -> None:
    tasks = create_human_eval_batch(
        ["p"], ["a"], ["b"], ["tone"], model_names=("ft", "gpt"), ids=["case-7"], categories=["x"]
    )
    assert tasks[0].criteria == ["tone"]
    assert (tasks[0].id, tasks[0].model_a, tasks[0].model_b, tasks[0].category) == (
        "case-7",
        "ft",
        "gpt",
        "x",
    )
    with pytest.raises(ValueError, match="2 prompts but 1 model_b_outputs"):
        create_human_eval_batch(["p", "q"], ["a", "b"], ["b"])
    with pytest.raises(ValueError, match="position must be 'A' or 'B'"):
        tasks[0].unblind("C")
    with pytest.raises(ValueError, match="unknown model 'x'"):
        tasks[0].output_of("x")


def test_write_pairs_writes_the_annotation_apps_format_deblinded(tmp_path: Path) -> None:
    tasks = create_human_eval_batch(
        ["2+2?", "capital of France?", "hi"],
        ["4", "Paris", "hello"],
        ["5", "Lyon", "hey"],
        model_names=("finetuned", "gpt-4o-mini"),
        categories=["math", "geo", None],
    )
    assert any(t.swapped for t in tasks)  # the test must cover a swapped task
    path = write_pairs(tasks, tmp_path / "pairs.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {
        "id": "0",
        "prompt": "2+2?",
        "output_a": "4",
        "output_b": "5",
        "model_a": "finetuned",
        "model_b": "gpt-4o-mini",
        "category": "math",
    }
    assert [r["output_a"] for r in rows] == ["4", "Paris", "hello"]
    assert [r["output_b"] for r in rows] == ["5", "Lyon", "hey"]
    assert "category" not in rows[2]


def test_agreement_of_tutorial_dicts_matches_sklearn_and_statsmodels() -> None:
    votes = {
        "ann1": ["A", "A", "B", "tie", "A", "B", "B", "A", "A", "B"],
        "ann2": ["A", "B", "B", "tie", "A", "B", "A", "A", "A", "B"],
        "ann3": ["A", "A", "B", "A", "A", "B", "B", "A", "tie", "B"],
    }
    evaluations = [
        {"item_id": f"item{i}", "evaluator_id": who, "winner": label}
        for who, labels in votes.items()
        for i, label in enumerate(labels)
    ]
    result = compute_inter_annotator_agreement(evaluations)

    assert result["cohen_kappa"]["ann1|ann2"] == pytest.approx(
        cohen_kappa_score(votes["ann1"], votes["ann2"]), abs=1e-12
    )
    assert result["cohen_kappa"]["ann2|ann3"] == pytest.approx(
        cohen_kappa_score(votes["ann2"], votes["ann3"]), abs=1e-12
    )
    table, _ = aggregate_raters(np.array([votes[a] for a in votes]).T)
    assert result["fleiss_kappa"] == pytest.approx(fleiss_kappa(table), abs=1e-12)
    # Raw agreement by hand: agreeing pairs over all pairs, pooled over items.
    agreeing = sum(
        (a == b) + (a == c) + (b == c)
        for a, b, c in zip(votes["ann1"], votes["ann2"], votes["ann3"], strict=True)
    )
    assert result["percent"] == pytest.approx(agreeing / 30, abs=1e-12)
    assert result["n_items"] == 10
    assert result["n_annotators"] == 3
    assert isinstance(result["krippendorff_alpha"], float)


def test_agreement_rejects_votes_it_cannot_read() -> None:
    with pytest.raises(ValueError, match=r"evaluations\[1\] has no 'winner' key"):
        compute_inter_annotator_agreement(
            [
                {"item_id": 1, "evaluator_id": "a", "winner": "A"},
                {"item_id": 1, "evaluator_id": "b"},
            ]
        )
    with pytest.raises(ValueError, match=r"evaluations\[0\] has no 'evaluator_id' key"):
        compute_inter_annotator_agreement([{"item_id": 1, "winner": "A"}])
    with pytest.raises(ValueError, match="no evaluations"):
        compute_inter_annotator_agreement([])


def test_agreement_on_pandalm_human_annotations() -> None:
    if not PANDALM.is_file():
        pytest.skip(f"the reference data is absent: {PANDALM}")
    rows = json.loads(PANDALM.read_text(encoding="utf-8"))
    annotators = ("annotator1", "annotator2", "annotator3")
    evaluations = [
        {"item_id": row["idx"], "evaluator_id": who, "winner": row[who]}
        for row in rows
        for who in annotators
    ]
    result = compute_inter_annotator_agreement(evaluations)
    kappas = result["cohen_kappa"]
    assert round(kappas["annotator1|annotator2"], 4) == 0.8520
    assert round(kappas["annotator1|annotator3"], 4) == 0.8789
    assert round(kappas["annotator2|annotator3"], 4) == 0.8617
    assert round(result["fleiss_kappa"], 5) == 0.86418
    assert round(result["krippendorff_alpha"], 5) == 0.86422
    assert result["n_items"] == 999


def test_the_annotation_app_reads_the_pairs_file(tmp_path: Path) -> None:
    from tunegate.human.study import items_from_pairs

    tasks = create_human_eval_batch(
        ["q1", "q2", "q3", "q4"],
        ["a1", "a2", "a3", "a4"],
        ["b1", "b2", "b3", "b4"],
        model_names=("finetuned", "base"),
        categories=["x", "y", None, "x"],
    )
    items = items_from_pairs(write_pairs(tasks, tmp_path / "pairs.jsonl"))
    assert [(i.item_id, i.output_a, i.output_b, i.category) for i in items] == [
        ("0", "a1", "b1", "x"),
        ("1", "a2", "b2", "y"),
        ("2", "a3", "b3", None),
        ("3", "a4", "b4", "x"),
    ]
    assert {(i.model_a, i.model_b) for i in items} == {("finetuned", "base")}
