"""Tool calls out of an answer: OpenAI ``tool_calls`` in the structured output, JSON
in the text, or Python call syntax (see :func:`parse_tool_calls`)."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunegate.scoring.json_text import (
    _FENCE,
    _JSON_START,
    _clip,
    _loads,
)

#: Expected tool calls in BFCL possible-answer form:
#: ``[{function_name: {parameter: [acceptable values, ...]}}, ...]``.
ExpectedCalls = Sequence[Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class ToolCall:
    """One function call made by a model.

    ``error`` is set when the call is malformed (e.g. its arguments are not a JSON
    object); such a call never matches an expected call and the error is reported.
    """

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _make_call(name: Any, arguments: Any) -> ToolCall:
    if not isinstance(name, str) or not name:
        return ToolCall(str(name or ""), {}, "tool call without a function name")
    if arguments is None:
        return ToolCall(name, {})
    if isinstance(arguments, str):
        if not arguments.strip():
            return ToolCall(name, {})
        parsed, error = _loads(arguments)
        if error is not None:
            return ToolCall(name, {}, f"arguments of {name} are not valid JSON ({error})")
        arguments = parsed
    if not isinstance(arguments, Mapping):
        return ToolCall(
            name, {}, f"arguments of {name} must be a JSON object, got {type(arguments).__name__}"
        )
    return ToolCall(name, dict(arguments))


def _call_from_mapping(item: Mapping[str, Any]) -> ToolCall | None:
    """A call from ``{"type": "function", "function": {...}}`` or ``{"name", "arguments"}``."""
    function = item.get("function")
    if isinstance(function, Mapping) and "name" in function:
        return _make_call(function.get("name"), function.get("arguments"))
    if isinstance(item.get("name"), str):
        for key in ("arguments", "parameters"):
            if key in item:
                return _make_call(item["name"], item[key])
    return None


def _calls_from_value(value: Any) -> list[ToolCall] | None:
    """The calls a decoded JSON value holds, or ``None`` when it holds none."""
    if isinstance(value, Mapping):
        nested = value.get("tool_calls")
        if isinstance(nested, list):
            return _calls_from_value(nested)
        call = _call_from_mapping(value)
        return None if call is None else [call]
    if isinstance(value, list):
        calls = [
            call
            for item in value
            if isinstance(item, Mapping) and (call := _call_from_mapping(item)) is not None
        ]
        return calls or None
    return None


def _calls_from_output(output: Any) -> list[ToolCall] | None:
    if isinstance(output, Mapping):
        tool_calls = output.get("tool_calls")
        if isinstance(tool_calls, list) and tool_calls:
            return [
                (_call_from_mapping(item) if isinstance(item, Mapping) else None)
                or ToolCall("", {}, f"unreadable tool call {_clip(repr(item), 80)}")
                for item in tool_calls
            ]
        function_call = output.get("function_call")
        if isinstance(function_call, Mapping):
            return [_make_call(function_call.get("name"), function_call.get("arguments"))]
        return None
    if isinstance(output, list) and output:
        return _calls_from_value(output)
    return None


#: Failed decode attempts after which the rest of an answer is not searched for JSON.
#: Each failure costs up to the answer's length (the decoder's error message counts the
#: lines before it), so without a bound an answer of a million ``{`` took minutes;
#: a real answer holds a few stray braces at most.
MAX_FAILED_DECODES = 256


def _json_values(text: str) -> Iterator[Any]:
    """Every top-level JSON object or array embedded in ``text``, left to right (the
    search stops after :data:`MAX_FAILED_DECODES` places that do not decode)."""
    decoder = json.JSONDecoder()
    position = 0
    failures = 0
    while failures < MAX_FAILED_DECODES:
        match = _JSON_START.search(text, position)
        if match is None:
            return
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            position = match.start() + 1
            failures += 1
            continue
        yield value
        position = end


def parse_tool_calls(completion_text: str | None, output: Any = None) -> list[ToolCall]:
    """The function calls in a model's answer (an empty list: no call).

    1. ``output`` (``Completion.output``): OpenAI ``{"tool_calls": [{"type":
       "function", "function": {"name": ..., "arguments": "<JSON string>"}}, ...]}``
       (arguments may also be an object), or a legacy ``{"function_call": {...}}``.
       When it holds calls the text is not read.
    2. Otherwise the text: every JSON value embedded in it (inside a code fence,
       ``<tool_call>`` tags or prose) that is a call ``{"name": ..., "arguments":
       {...}}`` (``"parameters"`` is accepted for ``"arguments"``), a list of calls,
       or an OpenAI-shaped call or ``{"tool_calls": [...]}``.
    3. If the text holds no such JSON: the Python call syntax of BFCL's prompting
       mode, ``[get_weather(city="Paris"), math.factorial(number=5)]`` (or one bare
       call), when it is the whole answer or the whole of its first code fence.
       Arguments must be keyword arguments with literal values.

    Never raises: a call whose arguments are not a JSON object (or not literal
    keyword arguments) comes back with :attr:`ToolCall.error` set.
    """
    structured = _calls_from_output(output)
    if structured is not None:
        return structured
    if not completion_text:
        return []
    calls: list[ToolCall] = []
    for value in _json_values(completion_text):
        calls.extend(_calls_from_value(value) or ())
    return calls or _python_calls(completion_text)


def _dotted_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        prefix = _dotted_name(node.value)
        return None if prefix is None else f"{prefix}.{node.attr}"
    return None


def _python_call(node: ast.Call, name: str) -> ToolCall:
    if node.args:
        return ToolCall(name, {}, f"call to {name} uses positional arguments")
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            return ToolCall(name, {}, f"call to {name} uses **kwargs")
        try:
            arguments[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return ToolCall(name, {}, f"argument '{keyword.arg}' of {name} is not a literal")
    return ToolCall(name, arguments)


def _python_calls(text: str) -> list[ToolCall]:
    """Calls written as a Python expression: one call, or a list/tuple of calls."""
    stripped = text.strip()
    fence = _FENCE.search(stripped)
    source = fence.group(1).strip() if fence else stripped
    try:
        tree = ast.parse(source, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return []
    nodes = tree.elts if isinstance(tree, ast.List | ast.Tuple) else [tree]
    if not nodes or not all(isinstance(node, ast.Call) for node in nodes):
        return []
    calls: list[ToolCall] = []
    for node in nodes:
        assert isinstance(node, ast.Call)
        name = _dotted_name(node.func)
        if name is None:
            return []
        calls.append(_python_call(node, name))
    return calls
