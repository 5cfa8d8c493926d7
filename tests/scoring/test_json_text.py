"""tunegate.scoring.json_text: a model's JSON answer, whole or in a Markdown fence."""

from __future__ import annotations

import pytest

from tunegate.scoring.base import NO_ANSWER
from tunegate.scoring.json_text import parse_json


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": [1, 2.5, null]}', {"a": [1, 2.5, None]}),
        ("\ufeff  [true]  \n", [True]),
        ('Here it is:\n```json\n{"ok": 1}\n```\nDone.', {"ok": 1}),
        ("```\n[1]\n```", [1]),
        ('```json\n{"bad": }\n```\n```\n{"good": 2}\n```', {"good": 2}),
        ('```json\n{"unclosed": 3}', {"unclosed": 3}),
    ],
)
def test_json_is_read_whole_or_from_the_first_fence_that_parses(text: str, value: object) -> None:
    assert parse_json(text) == (value, None)


def test_null_parses_with_no_error() -> None:
    assert parse_json("null") == (None, None)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, NO_ANSWER),
        ("   ", "empty output (expected JSON)"),
        ('{"a": 1', "invalid JSON: Expecting ',' delimiter at line 1 column 8"),
        ("[NaN]", "invalid JSON: NaN is not valid JSON"),
        ('{"x": Infinity}', "invalid JSON: Infinity is not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
    ],
)
def test_what_is_not_json_says_why(text: str | None, error: str) -> None:
    assert parse_json(text) == (None, error)
