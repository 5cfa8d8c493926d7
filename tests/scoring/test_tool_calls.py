"""tunegate.scoring.tool_calls: function calls out of an answer (OpenAI tool_calls, JSON in
the text, BFCL's Python call syntax); malformed calls carry an error, nothing raises."""

from __future__ import annotations

import json

import pytest

from tunegate.scoring.tool_calls import ToolCall, parse_tool_calls


def test_openai_tool_calls_in_the_output_win_over_the_text() -> None:
    output = {
        "tool_calls": [
            {"type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
            {"type": "function", "function": {"name": "g", "arguments": {"y": [2]}}},
        ]
    }
    calls = parse_tool_calls('{"name": "ignored", "arguments": {}}', output)
    assert calls == [ToolCall("f", {"x": 1}), ToolCall("g", {"y": [2]})]
    legacy = {"function_call": {"name": "h", "arguments": ""}}
    assert parse_tool_calls(None, legacy) == [ToolCall("h", {})]


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        ('{"name": "f", "arguments": {"a": 1}}', [ToolCall("f", {"a": 1})]),
        ('Sure:\n```json\n[{"name": "f", "parameters": {"a": 1}}]\n```', [ToolCall("f", {"a": 1})]),
        (
            '<tool_call>{"name": "f", "arguments": {}}</tool_call> and '
            '<tool_call>{"name": "g", "arguments": {"b": "c"}}</tool_call>',
            [ToolCall("f", {}), ToolCall("g", {"b": "c"})],
        ),
        (
            '[get_weather(city="Paris"), math.factorial(number=5)]',
            [ToolCall("get_weather", {"city": "Paris"}), ToolCall("math.factorial", {"number": 5})],
        ),
        ("```python\nf(x=[1, 2])\n```", [ToolCall("f", {"x": [1, 2]})]),
        ("I cannot help with that.", []),
        ("", []),
        (None, []),
        ("[]", []),
    ],
)
def test_calls_from_the_text(text: str | None, calls: list[ToolCall]) -> None:
    assert parse_tool_calls(text) == calls


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"name": "f", "arguments": "{not json"}', "arguments of f are not valid JSON"),
        ('{"name": "f", "arguments": [1]}', "arguments of f must be a JSON object, got list"),
        ("f(1)", "call to f uses positional arguments"),
        ("f(**kw)", "call to f uses **kwargs"),
        ("f(x=y)", "argument 'x' of f is not a literal"),
    ],
)
def test_malformed_calls_come_back_with_an_error(text: str, error: str) -> None:
    [call] = parse_tool_calls(text)
    assert call.error is not None
    assert call.error.startswith(error)
    assert call.arguments == {}


def test_a_call_without_a_name_is_an_error() -> None:
    output = {"tool_calls": [{"type": "function", "function": {"name": "", "arguments": "{}"}}]}
    [call] = parse_tool_calls(None, output)
    assert call.error == "tool call without a function name"
    # An unclosed nesting does not raise. (Kept short: the scan is quadratic in the
    # number of "[" / "{", about 1 s for 8,000 and 15 s for 50,000 on this machine.)
    assert parse_tool_calls("[" * 2_000) == []
    assert parse_tool_calls(json.dumps({"name": "f", "arguments": {"deep": [[[1]]]}})) == [
        ToolCall("f", {"deep": [[[1]]]})
    ]


def test_stray_braces_bound_the_search_for_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """A million ``{`` (a looping server) must not be decoded a million times: each failed
    attempt costs up to the answer's length, so the search stops after a bounded number."""
    import json as json_module

    from tunegate.scoring import tool_calls

    attempts = 0

    class Counting(json_module.JSONDecoder):
        def raw_decode(self, s: str, idx: int = 0) -> tuple[object, int]:
            nonlocal attempts
            attempts += 1
            return super().raw_decode(s, idx)

    monkeypatch.setattr(tool_calls.json, "JSONDecoder", Counting)
    assert tool_calls.parse_tool_calls("{" * 1_000_000) == []
    assert attempts == tool_calls.MAX_FAILED_DECODES
    # A call after a few stray braces is still found.
    attempts = 0
    calls = tool_calls.parse_tool_calls("{ {x} " + '{"name": "f", "arguments": {"a": 1}}')
    assert [c.name for c in calls] == ["f"]
    assert attempts == 3
