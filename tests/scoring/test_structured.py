"""Structured scoring: JSON parsing, JSON Schema, tool-call parsing and BFCL-style matching."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import pytest

from tunegate.scoring.base import NO_ANSWER, Score, safe_score
from tunegate.scoring.structured import (
    ToolCall,
    compile_schema,
    expected_to_calls,
    json_schema,
    json_valid,
    parse_json,
    parse_tool_calls,
    score_tool_calls,
    standardize_string,
)

# --------------------------------------------------------------------------- JSON


def test_parse_json_plain_and_whitespace() -> None:
    assert parse_json(' \ufeff{"a": [1, 2]}\n') == ({"a": [1, 2]}, None)
    assert parse_json("null") == (None, None)
    assert parse_json("3") == (3, None)


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        'Here you go:\n\n```JSON\n{"a": 1}\n```\nAnything else?',
        '```json\n{"a": 1}',  # unclosed fence (truncated answer)
        '```python\nprint(1)\n```\nand\n```json\n{"a": 1}\n```',  # first fence that parses
    ],
)
def test_parse_json_reads_a_fenced_block(text: str) -> None:
    assert parse_json(text) == ({"a": 1}, None)


def test_parse_json_errors() -> None:
    value, error = parse_json('{"a": 1,\n "b": }')
    assert value is None
    assert error == "invalid JSON: Expecting value at line 2 column 7"
    assert parse_json('{"x": NaN}')[1] == "invalid JSON: NaN is not valid JSON"
    assert parse_json(None) == (None, NO_ANSWER)
    assert parse_json("   ")[1] == "empty output (expected JSON)"
    assert parse_json("The answer is {a: 1}")[1] is not None


def test_json_valid() -> None:
    assert json_valid('{"ok": true}') == Score(1.0, True)
    bad = json_valid("{'single': 'quotes'}")
    assert (bad.value, bad.passed) == (0.0, False)
    assert bad.detail is not None
    assert bad.detail.startswith("invalid JSON: Expecting property name")


ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["customer", "items"],
    "properties": {
        "customer": {"type": "string"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "price"],
                "properties": {"sku": {"type": "string"}, "price": {"type": "number"}},
            },
        },
    },
}


def test_json_schema_valid_and_nested_failure_path() -> None:
    good = {"customer": "Ann", "items": [{"sku": "a", "price": 1}, {"sku": "b", "price": 2.5}]}
    assert json_schema(json.dumps(good), ORDER_SCHEMA).passed
    bad = {
        "customer": "Ann",
        "items": [{"sku": "a", "price": 1}, {"sku": "b", "price": 2}, {"sku": "c", "price": "9"}],
    }
    score = json_schema(f"```json\n{json.dumps(bad)}\n```", ORDER_SCHEMA)
    assert not score.passed
    assert score.detail == "$.items[2].price: '9' is not of type 'number'"
    assert score.parts == {"errors": 1.0}


def test_json_schema_missing_property_and_error_count() -> None:
    score = json_schema('{"items": [{"sku": 1, "price": 1}]}', ORDER_SCHEMA)
    assert not score.passed
    assert score.parts["errors"] == 2.0  # 'customer' missing, sku not a string
    assert score.detail is not None


def test_json_schema_invalid_json_is_a_failed_score() -> None:
    score = json_schema("not json", ORDER_SCHEMA)
    assert not score.passed
    assert score.detail is not None
    assert score.detail.startswith("invalid JSON")
    assert json_schema(None, ORDER_SCHEMA).detail == NO_ANSWER


def test_broken_schema_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match=r"invalid JSON schema at \$\.properties\.price\.type"):
        json_schema("{}", {"type": "object", "properties": {"price": {"type": "numbr"}}})
    with pytest.raises(ValueError, match=r"unknown \$schema 'https://example\.com/s'"):
        compile_schema({"$schema": "https://example.com/s"})
    with pytest.raises(ValueError, match=r"unresolvable \$ref"):
        json_schema('{"a": 1}', {"properties": {"a": {"$ref": "#/$defs/missing"}}})
    with pytest.raises(ValueError, match="must be an object or a boolean"):
        compile_schema([1, 2])  # type: ignore[arg-type]


def test_json_schema_draft_follows_dollar_schema() -> None:
    # Tuple-style "items" (an array) is valid in draft-07 but not in 2020-12.
    tuple_schema: dict[str, Any] = {"items": [{"type": "integer"}, {"type": "string"}]}
    with pytest.raises(ValueError, match="invalid JSON schema"):
        compile_schema(tuple_schema)
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **tuple_schema}
    assert json_schema('[1, "a"]', draft7).passed
    assert json_schema("[1, 2]", draft7).detail == "$[1]: 2 is not of type 'string'"
    # 2020-12 keyword prefixItems works by default
    prefix = {"prefixItems": [{"type": "integer"}, {"type": "string"}]}
    assert json_schema('[1, "a"]', prefix).passed
    assert not json_schema("[1, 2]", prefix).passed


def test_json_schema_formats_are_annotations_unless_asked() -> None:
    schema = {"type": "string", "format": "date"}
    assert json_schema('"not a date"', schema).passed
    assert not json_schema('"not a date"', schema, check_formats=True).passed
    assert json_schema('"2024-02-29"', schema, check_formats=True).passed
    assert json_schema("1", True).passed
    assert not json_schema("1", False).passed


# --------------------------------------------------------------------------- parsing calls


def openai_output(*calls: tuple[str, Any]) -> dict[str, Any]:
    return {
        "tool_calls": [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            for i, (name, arguments) in enumerate(calls)
        ]
    }


def test_parse_tool_calls_from_openai_output() -> None:
    output = openai_output(
        ("get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ("get_time", {"tz": "UTC"}),  # some servers send an object
        ("ping", ""),
    )
    assert parse_tool_calls("ignored text", output) == [
        ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}),
        ToolCall("get_time", {"tz": "UTC"}),
        ToolCall("ping", {}),
    ]


def test_parse_tool_calls_malformed_arguments_are_flagged() -> None:
    (bad,) = parse_tool_calls(None, openai_output(("f", '{"a": 1')))
    assert bad.name == "f"
    assert bad.error is not None
    assert bad.error.startswith("arguments of f are not valid JSON")
    (not_object,) = parse_tool_calls(None, openai_output(("f", "[1, 2]")))
    assert not_object.error == "arguments of f must be a JSON object, got list"
    (nameless,) = parse_tool_calls(None, {"tool_calls": [{"function": {"name": None}}]})
    assert nameless.error == "tool call without a function name"
    (junk,) = parse_tool_calls(None, {"tool_calls": [42]})
    assert junk.error == "unreadable tool call 42"


def test_parse_tool_calls_legacy_function_call_and_empty_output() -> None:
    legacy = {"function_call": {"name": "f", "arguments": '{"x": 1}'}}
    assert parse_tool_calls(None, legacy) == [ToolCall("f", {"x": 1})]
    # no structured calls: fall back to the text
    text = '{"name": "g", "arguments": {}}'
    assert parse_tool_calls(text, {"tool_calls": []}) == [ToolCall("g", {})]
    assert parse_tool_calls(text, None) == [ToolCall("g", {})]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "f", "arguments": {"a": 1}}', [ToolCall("f", {"a": 1})]),
        ('```json\n{"name": "f", "arguments": {"a": 1}}\n```', [ToolCall("f", {"a": 1})]),
        (
            'I will call both.\n[{"name": "f", "arguments": {"a": 1}}, '
            '{"name": "g", "parameters": {"b": "x"}}]',
            [ToolCall("f", {"a": 1}), ToolCall("g", {"b": "x"})],
        ),
        (
            '<tool_call>\n{"name": "f", "arguments": "{\\"a\\": 2}"}\n</tool_call>\n'
            '<tool_call>{"name": "g", "arguments": {}}</tool_call>',
            [ToolCall("f", {"a": 2}), ToolCall("g", {})],
        ),
        (
            '{"tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}',
            [ToolCall("f", {})],
        ),
        ("The weather is {sunny} and [warm].", []),
        ('{"name": "not a call, no arguments"}', []),
        ('Result: {"temperature": 21, "unit": "C"}', []),
        ("", []),
    ],
)
def test_parse_tool_calls_from_text(text: str, expected: list[ToolCall]) -> None:
    assert parse_tool_calls(text, None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('get_weather(city="Paris")', [ToolCall("get_weather", {"city": "Paris"})]),
        (
            '[math.factorial(number=5), f(xs=[1, 2.5], opts={"a": None}, flag=True)]',
            [
                ToolCall("math.factorial", {"number": 5}),
                ToolCall("f", {"xs": [1, 2.5], "opts": {"a": None}, "flag": True}),
            ],
        ),
        ("```python\n[g(a='x')]\n```", [ToolCall("g", {"a": "x"})]),
        ("[]", []),
        ("Sure, I can do that.", []),
        ("Paris", []),
        ("[1, f(a=1)]", []),
        ("obj.method()(a=1)", []),
    ],
)
def test_parse_tool_calls_python_syntax(text: str, expected: list[ToolCall]) -> None:
    assert parse_tool_calls(text, None) == expected


def test_python_syntax_calls_with_unusable_arguments_are_flagged() -> None:
    (positional,) = parse_tool_calls("f(1, b=2)", None)
    assert positional.error == "call to f uses positional arguments"
    (variable,) = parse_tool_calls("f(a=x)", None)
    assert variable.error == "argument 'a' of f is not a literal"
    (splat,) = parse_tool_calls("f(**kw)", None)
    assert splat.error == "call to f uses **kwargs"
    assert not score_tool_calls([variable], [{"f": {"a": [1]}}]).passed


# --------------------------------------------------------------------------- scoring calls

WEATHER = [{"get_weather": {"city": ["New York", "new york city"], "unit": ["celsius", ""]}}]
WEATHER_FUNCTIONS = [
    {
        "name": "get_weather",
        "parameters": {
            "type": "dict",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def test_standardize_string() -> None:
    assert standardize_string("New York, NY") == standardize_string("new york ny") == "newyorkny"
    assert standardize_string("a-b_c.d/e*f^g") == "abcdefg"
    assert standardize_string("It's") == 'it"s'


def test_score_tool_calls_pass_and_parts() -> None:
    score = score_tool_calls([ToolCall("get_weather", {"city": "NEW YORK"})], WEATHER)
    assert score == Score(
        1.0, True, None, {"name_accuracy": 1.0, "args_accuracy": 1.0, "count_match": 1.0}
    )


def test_score_tool_calls_wrong_value() -> None:
    score = score_tool_calls([ToolCall("get_weather", {"city": "NYC"})], WEATHER)
    assert not score.passed
    assert score.value == 0.0
    assert (
        score.detail == "value 'NYC' for 'city' not in ['New York', 'new york city'] (get_weather)"
    )
    assert score.parts == {"name_accuracy": 1.0, "args_accuracy": 0.0, "count_match": 1.0}


def test_score_tool_calls_missing_required_and_unexpected_argument() -> None:
    missing = score_tool_calls([ToolCall("get_weather", {"unit": "celsius"})], WEATHER)
    assert missing.detail == "expected argument 'city' (from the reference call) in get_weather"
    expected = [{"get_weather": {"city": ["Paris"], "unit": ["celsius"]}}]
    no_unit = score_tool_calls([ToolCall("get_weather", {"city": "Paris"})], expected)
    assert no_unit.detail == "expected argument 'unit' (from the reference call) in get_weather"
    # With the function description: 'unit' is optional there, so the reference is named.
    described = score_tool_calls(
        [ToolCall("get_weather", {"city": "Paris"})], expected, functions=WEATHER_FUNCTIONS
    )
    assert described.detail == ("expected argument 'unit' (from the reference call) in get_weather")
    extra = score_tool_calls([ToolCall("get_weather", {"city": "New York", "days": 3})], WEATHER)
    assert extra.detail == "unexpected argument 'days' in get_weather"


def test_schema_required_overrides_an_empty_acceptable_value() -> None:
    expected = [{"get_weather": {"city": ["Paris", ""]}}]
    assert score_tool_calls([ToolCall("get_weather", {})], expected).passed
    score = score_tool_calls([ToolCall("get_weather", {})], expected, functions=WEATHER_FUNCTIONS)
    assert score.detail == "missing required argument 'city' in get_weather"


def test_optional_argument_may_be_omitted_or_given() -> None:
    assert score_tool_calls([ToolCall("get_weather", {"city": "new york"})], WEATHER).passed
    assert score_tool_calls(
        [ToolCall("get_weather", {"city": "new york", "unit": "Celsius"})], WEATHER
    ).passed
    assert not score_tool_calls(
        [ToolCall("get_weather", {"city": "new york", "unit": "kelvin"})], WEATHER
    ).passed


def test_irrelevance_expects_no_call() -> None:
    assert score_tool_calls([], []) == Score(
        1.0, True, None, {"name_accuracy": 1.0, "args_accuracy": 1.0, "count_match": 1.0}
    )
    score = score_tool_calls([ToolCall("get_weather", {"city": "x"})], [])
    assert not score.passed
    assert score.detail == "expected no call, got 1 call: get_weather"
    assert score.parts == {"name_accuracy": 0.0, "args_accuracy": 0.0, "count_match": 0.0}


def test_extra_missing_and_wrong_name_calls() -> None:
    good = ToolCall("get_weather", {"city": "New York"})
    extra = score_tool_calls([good, ToolCall("foo", {})], WEATHER)
    assert not extra.passed
    assert extra.detail == "expected 1 call, got 2; unexpected call to foo"
    assert extra.parts == {"name_accuracy": 1.0, "args_accuracy": 1.0, "count_match": 0.0}
    none = score_tool_calls([], WEATHER)
    assert none.detail == "expected 1 call, got 0; missing call to get_weather"
    wrong = score_tool_calls([ToolCall("get_wether", {"city": "New York"})], WEATHER)
    assert wrong.detail == "missing call to get_weather; unexpected call to get_wether"
    assert wrong.parts == {"name_accuracy": 0.0, "args_accuracy": 0.0, "count_match": 1.0}
    duplicate = score_tool_calls([good, good], WEATHER)
    assert not duplicate.passed


def test_malformed_call_reports_its_error() -> None:
    calls = parse_tool_calls(None, openai_output(("get_weather", "{city: NY}")))
    score = score_tool_calls(calls, WEATHER)
    assert not score.passed
    assert score.detail is not None
    assert score.detail.startswith("arguments of get_weather are not valid JSON")


PARALLEL = [
    {"spotify.play": {"artist": ["Taylor Swift"], "duration": [20]}},
    {"spotify.play": {"artist": ["Maroon 5"], "duration": [15]}},
]


def test_parallel_calls_in_any_order() -> None:
    calls = [
        ToolCall("spotify.play", {"artist": "maroon 5", "duration": 15}),
        ToolCall("spotify.play", {"artist": "Taylor Swift", "duration": 20}),
    ]
    assert score_tool_calls(calls, PARALLEL).passed
    assert score_tool_calls(calls[::-1], PARALLEL).passed
    half = score_tool_calls(
        [calls[0], ToolCall("spotify.play", {"artist": "ABBA", "duration": 20})], PARALLEL
    )
    assert half.parts == {"name_accuracy": 1.0, "args_accuracy": 0.5, "count_match": 1.0}
    assert half.detail == "value 'ABBA' for 'artist' not in ['Taylor Swift'] (spotify.play)"


def test_matching_is_one_to_one_not_greedy() -> None:
    # The first expectation accepts either call; a greedy match gives it the first
    # call and leaves nothing for the second expectation.
    expected = [{"f": {"x": [1, 2]}}, {"f": {"x": [1]}}]
    calls = [ToolCall("f", {"x": 1}), ToolCall("f", {"x": 2})]
    assert score_tool_calls(calls, expected).passed
    # but one call cannot satisfy two expectations
    twice = score_tool_calls([ToolCall("f", {"x": 2}), ToolCall("f", {"x": 2})], expected)
    assert not twice.passed
    assert twice.parts["args_accuracy"] == 0.5
    assert twice.detail == "value 2 for 'x' not in [1] (f)"


def test_dots_as_underscores() -> None:
    call = ToolCall("spotify_play", {"artist": "Taylor Swift", "duration": 20})
    expected = PARALLEL[:1]
    assert not score_tool_calls([call], expected).passed
    assert score_tool_calls([call], expected, dots_as_underscores=True).passed


@pytest.mark.parametrize(
    ("value", "acceptable", "declared", "ok"),
    [
        (5, [5.0], "float", True),  # int acceptable for float
        (5, [5.0], None, True),
        (5.0, [5], "integer", False),  # float for an integer
        (5.0, [5], None, False),
        (5.0, [5], "float", True),
        (True, [1], "integer", False),  # a bool is not a number
        (1, [True], "boolean", False),
        (True, [True], "boolean", True),
        ("5", [5], "integer", False),
        ([1, 2], [[1, 2]], "array", True),
        ((1, 2), [[1, 2]], "tuple", True),
        ([2, 1], [[1, 2]], "array", False),
        ([1], [[1, 2]], "array", False),
        (["New York, NY", "LA"], [["new york ny", "la"]], "array", True),
        ([1, 2], [[1.5, 2.0]], "array", False),
        ([1, 2], [[1.0, 2.0]], "array", True),
        ({"name": "John Doe", "age": 3}, [{"name": ["john doe"], "age": [3, ""]}], "dict", True),
        ({"name": "John Doe"}, [{"name": ["john doe"], "age": [3, ""]}], "dict", True),
        ({"age": 3}, [{"name": ["john doe"], "age": [3]}], "dict", False),
        ({"name": "J", "x": 1}, [{"name": ["j"]}], "dict", False),
        ([{"a": "X"}, {"a": "y"}], [[{"a": ["x"]}, {"a": ["Y"]}]], "array", True),
        (None, [None], "float", True),
        ("It's here", ['it"s here'], "string", True),
    ],
)
def test_value_rules(value: Any, acceptable: list[Any], declared: str | None, ok: bool) -> None:
    expected = [{"f": {"p": acceptable}}]
    functions = None
    if declared is not None:
        properties = {"p": {"type": declared}}
        functions = [{"name": "f", "parameters": {"type": "dict", "properties": properties}}]
    score = score_tool_calls([ToolCall("f", {"p": value})], expected, functions=functions)
    assert score.passed is ok, score.detail


def test_openai_tool_definitions_are_accepted_as_functions() -> None:
    tools = [{"type": "function", "function": WEATHER_FUNCTIONS[0]}]
    score = score_tool_calls(
        [ToolCall("get_weather", {})], [{"get_weather": {"city": [""]}}], functions=tools
    )
    assert score.detail == "missing required argument 'city' in get_weather"


def test_malformed_expectations_raise() -> None:
    with pytest.raises(ValueError, match="expected call 0"):
        score_tool_calls([], [{"f": {}, "g": {}}])
    with pytest.raises(ValueError, match="parameters must be a mapping"):
        score_tool_calls([], [{"f": ["x"]}])  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="needs a 'name'"):
        score_tool_calls([], [{"f": {}}], functions=[{"description": "no name"}])


def test_expected_to_calls_picks_first_non_empty_values() -> None:
    expected = [
        {"f": {"a": ["", "x"], "b": [""], "c": [{"k": ["", "v"], "z": [""]}], "d": [[{"q": [1]}]]}}
    ]
    assert expected_to_calls(expected) == [
        ToolCall("f", {"a": "x", "c": {"k": "v"}, "d": [{"q": 1}]})
    ]
    assert score_tool_calls(expected_to_calls(expected), expected).passed


def test_safe_score_turns_exceptions_into_failed_scores() -> None:
    def boom(text: str) -> Score:
        raise KeyError(text)

    assert safe_score(boom, "x") == Score(0.0, False, "scorer error: KeyError: 'x'")
    assert safe_score(json_valid, "{}") == Score(1.0, True)
    not_a_score = cast(Callable[..., Score], lambda: 1.0)
    assert safe_score(not_a_score).detail == "scorer error: returned float, not a Score"
