"""tunegate.models.answers: reading an answer out of a JSON reply at a dotted path."""

from __future__ import annotations

import pytest

from tunegate.models.answers import answer_at, completion_from_value, describe, extract
from tunegate.models.base import TransportError

REPLY = {"result": {"label": "positive", "scores": [0.9, 0.1]}, "choices": [{"text": "hi"}]}


def test_extract_follows_keys_and_list_indexes() -> None:
    assert extract(REPLY, "result.label") == "positive"
    assert extract(REPLY, "choices.0.text") == "hi"
    assert extract(REPLY, "result.scores.-1") == 0.1
    for path in ("result.missing", "choices.1.text", "choices.x", "result.label.deeper"):
        with pytest.raises(KeyError):
            extract(REPLY, path)


def test_completion_keeps_text_and_structured_output() -> None:
    assert completion_from_value("yes").text == "yes"
    assert completion_from_value("yes").output is None
    structured = completion_from_value({"a": "é"})
    assert structured.text == '{"a": "é"}'
    assert structured.output == {"a": "é"}
    number = completion_from_value(3)
    assert (number.text, number.output) == ("3", 3)
    assert completion_from_value(None).text is None


def test_a_missing_answer_is_a_malformed_response_naming_the_path_and_shape() -> None:
    assert answer_at(REPLY, "result.label", retryable=False).text == "positive"
    with pytest.raises(TransportError) as info:
        answer_at(REPLY, "label", retryable=True)
    err = info.value
    assert str(err) == "malformed response: no 'label' in an object with keys 'result', 'choices'"
    assert err.retryable
    assert err.kind == "malformed"
    assert describe([1, 2]) == "a JSON list"
    assert describe({str(i): i for i in range(10)}).count(",") == 7  # first 8 keys only
