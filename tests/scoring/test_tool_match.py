"""tunegate.scoring.tool_match: BFCL's AST-checker rules for matching calls to expected
calls, checked on hand-made cases."""

from __future__ import annotations

import json

import pytest

from tunegate.data import Case
from tunegate.scoring.tool_calls import ToolCall
from tunegate.scoring.tool_match import (
    expected_to_calls,
    holds_no_call,
    score_tool_calls,
    standardize_string,
)

WEATHER = [{"get_weather": {"city": ["New York", "NYC"], "unit": ["", "celsius"]}}]
FUNCTIONS = [
    {
        "name": "get_weather",
        "parameters": {
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def test_standardize_string_is_bfcls_normal_form() -> None:
    assert standardize_string("New-York, N.Y. it's") == 'newyorknyit"s'


def test_a_matching_call_passes_with_full_parts() -> None:
    score = score_tool_calls([ToolCall("get_weather", {"city": "new york"})], WEATHER)
    assert score.passed
    assert score.value == 1.0
    assert score.parts == {"name_accuracy": 1.0, "args_accuracy": 1.0, "count_match": 1.0}


@pytest.mark.parametrize(
    ("calls", "detail"),
    [
        ([ToolCall("get_weather", {"city": "Boston"})], "value 'Boston' for 'city' not in"),
        ([ToolCall("get_weather", {"unit": "celsius"})], "argument 'city'"),
        ([ToolCall("get_weather", {"city": "NYC", "day": 1})], "day"),
        (
            [ToolCall("get_weather", {"city": "NYC"}), ToolCall("foo", {})],
            "unexpected call to foo",
        ),
        ([], "get_weather"),
    ],
)
def test_what_fails_is_named(calls: list[ToolCall], detail: str) -> None:
    score = score_tool_calls(calls, WEATHER, functions=FUNCTIONS)
    assert not score.passed
    assert score.value == 0.0
    assert score.detail is not None
    assert detail in score.detail


def test_parallel_calls_match_in_any_order_one_to_one() -> None:
    expected = [{"f": {"x": [1]}}, {"f": {"x": [2]}}]
    both = score_tool_calls([ToolCall("f", {"x": 2}), ToolCall("f", {"x": 1})], expected)
    assert both.passed
    twice = score_tool_calls([ToolCall("f", {"x": 1}), ToolCall("f", {"x": 1})], expected)
    assert not twice.passed
    assert twice.parts["name_accuracy"] == 1.0
    assert twice.parts["args_accuracy"] == 0.5


def test_numbers_booleans_and_dotted_names() -> None:
    assert score_tool_calls([ToolCall("f", {"v": 2})], [{"f": {"v": [2.0]}}]).passed
    assert not score_tool_calls([ToolCall("f", {"v": 1})], [{"f": {"v": [True]}}]).passed
    dotted = [{"math.factorial": {"n": [5]}}]
    assert not score_tool_calls([ToolCall("math_factorial", {"n": 5})], dotted).passed
    assert score_tool_calls(
        [ToolCall("math_factorial", {"n": 5})], dotted, dots_as_underscores=True
    ).passed


def test_no_call_expected() -> None:
    assert score_tool_calls([], []).passed
    score = score_tool_calls([ToolCall("f", {})], [])
    assert not score.passed
    assert score.detail == "expected no call, got 1 call: f"


def test_a_malformed_expectation_raises() -> None:
    with pytest.raises(ValueError, match=r"expected call 0 must be \{function_name"):
        score_tool_calls([], [{"f": {}, "g": {}}])


def test_expected_to_calls_and_holds_no_call() -> None:
    # The first acceptable value that is not "" (may be omitted) per parameter.
    assert expected_to_calls(WEATHER) == [
        ToolCall("get_weather", {"city": "New York", "unit": "celsius"})
    ]
    assert expected_to_calls([{"f": {"opt": [""]}}]) == [ToolCall("f", {})]
    case = Case(id="c", text="q", reference=json.dumps(WEATHER))
    assert holds_no_call(case, "The weather is nice.")
    assert not holds_no_call(case, '{"name": "get_weather", "arguments": {"city": "NYC"}}')
    irrelevant = Case(id="c", text="q", reference="[]")
    assert not holds_no_call(irrelevant, "no call")
    assert not holds_no_call(Case(id="c", text="q", reference="not json"), "x")
