"""``rouge_l_score`` compares one answer (issue 20): a list of answers, or a value that is
not text, is a TypeError that says what to write (it was a raw AttributeError from inside
rouge-score: ``'list' object has no attribute 'lower'``)."""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from tunegate import rouge_l_score


def test_one_answer_is_rouge_scores_number() -> None:
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(
        "the cat was on the mat", "the cat sat on the mat"
    )["rougeL"]
    assert rouge_l_score("the cat sat on the mat", "the cat was on the mat") == expected.fmeasure
    assert rouge_l_score("the cat", ["a dog", "the cat"]) == 1.0  # the best reference
    assert rouge_l_score(None, "the cat") == 0.0


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [(["the cat"], ["the cat"]), (("the cat",), "the cat"), (["the cat"], "the cat")],
)
def test_a_list_of_answers_is_a_type_error_that_says_what_to_write(
    prediction: object, reference: object
) -> None:
    with pytest.raises(TypeError) as raised:
        rouge_l_score(prediction, reference)  # type: ignore[arg-type]
    message = str(raised.value)
    assert "rouge_l_score compares one answer" in message
    assert "[rouge_l_score(p, r) for p, r in zip(predictions, references)]" in message


@pytest.mark.parametrize(
    ("prediction", "reference", "named"),
    [
        (3, "a", "prediction is not a string: 3 (int)"),
        ("a", 5, "reference is 5"),
        ("a", [["a"]], "reference is [['a']]"),
        ("a", [b"a"], "reference is [b'a']"),
    ],
)
def test_values_that_are_not_text_are_a_type_error(
    prediction: object, reference: object, named: str
) -> None:
    with pytest.raises(TypeError, match="rouge_l_score") as raised:
        rouge_l_score(prediction, reference)  # type: ignore[arg-type]
    assert named in str(raised.value)
