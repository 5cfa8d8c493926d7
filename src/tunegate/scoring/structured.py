"""Structured output scoring: JSON validity, JSON Schema compliance, tool calls.

JSON is read with :func:`parse_json`, which accepts the whole answer or the first
Markdown code fence (```` ```json ... ``` ````) in it. Schemas are checked by
``jsonschema`` (Draft 2020-12 unless the schema's ``$schema`` names another draft).

Tool calls are compared with expected calls written in the Berkeley Function
Calling Leaderboard (BFCL) "possible answer" form, with the rules of BFCL's AST
checker (see :func:`score_tool_calls`).
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, cast

from jsonschema import Draft202012Validator, SchemaError, validators
from jsonschema.exceptions import best_match
from referencing.exceptions import Unresolvable

from tunegate.scoring.base import NO_ANSWER, Score

__all__ = [
    "ExpectedCalls",
    "ToolCall",
    "compile_schema",
    "expected_to_calls",
    "json_schema",
    "json_valid",
    "parse_json",
    "parse_tool_calls",
    "score_tool_calls",
    "standardize_string",
]

#: Expected tool calls in BFCL possible-answer form:
#: ``[{function_name: {parameter: [acceptable values, ...]}}, ...]``.
ExpectedCalls = Sequence[Mapping[str, Mapping[str, Any]]]

_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)(?:^[ \t]*```|\Z)", re.DOTALL | re.MULTILINE)
_JSON_START = re.compile(r"[\[{]")
_STANDARDIZE = re.compile(r"[ ,./\-_*^]")
_DETAIL_CHARS = 200
_UNSET = object()


def _clip(text: str, limit: int = _DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- JSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> tuple[Any, str | None]:
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError as exc:  # NaN / Infinity
        return None, f"invalid JSON: {exc}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"


def parse_json(text: str | None) -> tuple[Any, str | None]:
    """Parse a model's JSON answer: ``(value, None)`` on success, ``(None, error)`` if not.

    Accepted: the whole answer (surrounding whitespace and a byte-order mark are
    ignored), or else the content of the first Markdown code fence that parses
    (```` ```json ```` or a bare ```` ``` ````; an unclosed fence runs to the end).
    ``NaN`` and ``Infinity`` are rejected (they are not JSON). A successful parse of
    ``null`` returns ``(None, None)``: test the error, not the value.
    """
    if text is None:
        return None, NO_ANSWER
    stripped = text.strip().lstrip("\ufeff").strip()
    if not stripped:
        return None, "empty output (expected JSON)"
    value, error = _loads(stripped)
    if error is None:
        return value, None
    for fence in _FENCE.finditer(stripped):
        fenced_value, fenced_error = _loads(fence.group(1).strip())
        if fenced_error is None:
            return fenced_value, None
    return None, error


def json_valid(text: str | None) -> Score:
    """1 if :func:`parse_json` parses the answer, else 0 with the parse error."""
    _, error = parse_json(text)
    return Score.from_bool(error is None, error)


@lru_cache(maxsize=128)
def _compile(schema_json: str, check_formats: bool) -> Any:
    schema = json.loads(schema_json)
    if not isinstance(schema, dict | bool):
        raise ValueError(
            f"a JSON schema must be an object or a boolean, got {type(schema).__name__}"
        )
    # An unknown $schema returns the sentinel instead of silently using the default.
    validator_class: Any = cast(Any, validators).validator_for(schema, default=_UNSET)
    if validator_class is _UNSET:
        validator_class = Draft202012Validator
        if isinstance(schema, dict) and "$schema" in schema:
            raise ValueError(f"invalid JSON schema: unknown $schema {schema['$schema']!r}")
    try:
        validator_class.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON schema at {exc.json_path}: {_clip(exc.message)}") from None
    format_checker = validator_class.FORMAT_CHECKER if check_formats else None
    return validator_class(schema, format_checker=format_checker)


def compile_schema(schema: Mapping[str, Any] | bool, *, check_formats: bool = False) -> Any:
    """Check ``schema`` against its meta-schema and return a ``jsonschema`` validator.

    The draft comes from ``$schema`` (Draft 2020-12 when absent). A schema that is
    not valid, or names an unknown ``$schema``, raises :class:`ValueError` naming the
    problem and its location. ``check_formats=True`` asserts ``format`` keywords
    (``email``, ``date-time``, ...), which the specification treats as annotations
    by default. Validators are cached by the schema's canonical JSON.
    """
    try:
        schema_json = json.dumps(schema, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid JSON schema: not JSON-serialisable ({exc})") from None
    return _compile(schema_json, check_formats)


def json_schema(
    text: str | None, schema: Mapping[str, Any] | bool, *, check_formats: bool = False
) -> Score:
    """1 if the answer parses as JSON and is valid under ``schema``, else 0.

    On failure ``detail`` is ``"<JSON path>: <validator message>"`` for the most
    relevant error (``jsonschema.exceptions.best_match``), e.g.
    ``"$.items[2].price: 'x' is not of type 'number'"``, and ``parts["errors"]``
    counts all violations. The schema is checked first (see :func:`compile_schema`);
    a broken schema raises :class:`ValueError` (a configuration error).
    """
    validator = compile_schema(schema, check_formats=check_formats)
    value, error = parse_json(text)
    if error is not None:
        return Score.failure(error)
    try:
        errors = list(validator.iter_errors(value))
    except Unresolvable as exc:  # the schema's $ref points nowhere: a configuration error
        raise ValueError(f"invalid JSON schema: unresolvable $ref ({exc})") from None
    if not errors:
        return Score(1.0, True, None, {"errors": 0.0})
    worst = best_match(errors)
    return Score.failure(
        f"{worst.json_path}: {_clip(worst.message)}", parts={"errors": float(len(errors))}
    )


# --------------------------------------------------------------------------- tool calls


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


def _json_values(text: str) -> Iterator[Any]:
    """Every top-level JSON object or array embedded in ``text``, left to right."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        match = _JSON_START.search(text, position)
        if match is None:
            return
        try:
            value, end = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            position = match.start() + 1
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


def standardize_string(text: str) -> str:
    """BFCL's string normal form: drop spaces and ``,./-_*^``, lower-case, ``'`` -> ``"``."""
    return _STANDARDIZE.sub("", text).lower().replace("'", '"')


@dataclass(frozen=True)
class _FunctionSpec:
    properties: dict[str, Any]
    required: tuple[str, ...]


def _function_specs(functions: Sequence[Mapping[str, Any]] | None) -> dict[str, _FunctionSpec]:
    specs: dict[str, _FunctionSpec] = {}
    for entry in functions or ():
        function = entry.get("function") if isinstance(entry.get("function"), Mapping) else entry
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise ValueError(f"a function description needs a 'name': {_clip(repr(entry), 80)}")
        parameters = function.get("parameters")
        parameters = parameters if isinstance(parameters, Mapping) else {}
        properties = parameters.get("properties")
        required = parameters.get("required")
        specs[function["name"]] = _FunctionSpec(
            dict(properties) if isinstance(properties, Mapping) else {},
            tuple(required) if isinstance(required, list) else (),
        )
    return specs


def _acceptable(values: Any) -> list[Any]:
    return list(values) if isinstance(values, list) else [values]


def _check_expected(expected: ExpectedCalls) -> list[tuple[str, dict[str, list[Any]]]]:
    parsed: list[tuple[str, dict[str, list[Any]]]] = []
    for position, entry in enumerate(expected):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ValueError(
                f"expected call {position} must be {{function_name: {{param: [values]}}}}, "
                f"got {_clip(repr(entry), 80)}"
            )
        ((name, params),) = entry.items()
        if not isinstance(params, Mapping):
            raise ValueError(f"expected call {position} ({name}): parameters must be a mapping")
        parsed.append((str(name), {str(k): _acceptable(v) for k, v in params.items()}))
    return parsed


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _matches(value: Any, candidate: Any, float_ok: bool) -> bool:
    """Does ``value`` equal one acceptable ``candidate`` (BFCL normalisation)?"""
    if isinstance(candidate, str):
        return isinstance(value, str) and standardize_string(value) == standardize_string(candidate)
    if isinstance(candidate, bool):
        return isinstance(value, bool) and value == candidate
    if _is_number(candidate):
        if not _is_number(value):
            return False
        if isinstance(value, float) and isinstance(candidate, int) and not float_ok:
            return False  # a float where an integer is expected
        return bool(value == candidate)
    if candidate is None:
        return value is None
    if isinstance(candidate, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(candidate)
            and all(_matches(v, c, float_ok) for v, c in zip(value, candidate, strict=True))
        )
    if isinstance(candidate, Mapping):
        return _dict_matches(value, candidate, float_ok)
    return bool(value == candidate)


def _dict_matches(value: Any, candidate: Mapping[str, Any], float_ok: bool) -> bool:
    """A dict argument against a BFCL acceptable dict ``{key: [acceptable values]}``."""
    if not isinstance(value, Mapping):
        return False
    for key, item in value.items():
        if key not in candidate:
            return False
        if not any(_matches(item, c, float_ok) for c in _acceptable(candidate[key])):
            return False
    return all(key in value or "" in _acceptable(acc) for key, acc in candidate.items())


def _float_ok(declared: Any) -> bool:
    """Whether the declared type admits a float (``float``/``number`` or an array of them)."""
    if not isinstance(declared, Mapping):
        return False
    kind = declared.get("type")
    if kind in ("float", "number"):
        return True
    items = declared.get("items")
    return (
        kind in ("array", "tuple")
        and isinstance(items, Mapping)
        and items.get("type")
        in (
            "float",
            "number",
        )
    )


def _check_call(
    call: ToolCall, name: str, params: dict[str, list[Any]], spec: _FunctionSpec | None
) -> str | None:
    """Why ``call`` does not satisfy the expected call, or ``None`` if it does."""
    if call.error is not None:
        return call.error
    required = spec.required if spec is not None else ()
    for param in required:
        if param not in call.arguments:
            return f"missing required argument '{param}' in {name}"
    for param, value in call.arguments.items():
        if param not in params:
            return f"unexpected argument '{param}' in {name}"
        declared = spec.properties.get(param) if spec is not None else None
        float_ok = _float_ok(declared) or (
            declared is None and any(isinstance(c, float) for c in params[param])
        )
        if not any(_matches(value, c, float_ok) for c in params[param]):
            shown = [c for c in params[param] if c != ""]
            return _clip(f"value {value!r} for '{param}' not in {shown!r} ({name})")
    for param, acceptable in params.items():
        if param not in call.arguments and "" not in acceptable:
            # Not required by the schema (checked above): the reference call has it.
            return f"expected argument '{param}' (from the reference call) in {name}"
    return None


def _same_name(called: str, expected: str, dots_as_underscores: bool) -> bool:
    return called == expected or (dots_as_underscores and called == expected.replace(".", "_"))


def _max_matching(edges: list[list[int]], n_calls: int) -> list[int | None]:
    """Maximum bipartite matching (augmenting paths): expected index -> call index."""
    owner: list[int | None] = [None] * n_calls  # call -> expected

    def augment(j: int, seen: set[int]) -> bool:
        for i in edges[j]:
            if i in seen:
                continue
            seen.add(i)
            current = owner[i]
            if current is None or augment(current, seen):
                owner[i] = j
                return True
        return False

    for j in range(len(edges)):
        augment(j, set())
    assignment: list[int | None] = [None] * len(edges)
    for i, matched in enumerate(owner):
        if matched is not None:
            assignment[matched] = i
    return assignment


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def score_tool_calls(
    calls: Sequence[ToolCall],
    expected: ExpectedCalls,
    *,
    functions: Sequence[Mapping[str, Any]] | None = None,
    dots_as_underscores: bool = False,
) -> Score:
    """Score function calls against expected calls (BFCL AST-checker rules).

    ``expected`` is BFCL's possible answer: ``[{name: {param: [acceptable...]}}]``.
    An empty list means no call should be made ("irrelevance"): the case passes
    only if ``calls`` is empty. Otherwise it passes when the calls can be paired
    one-to-one with the expected calls (order ignored; a maximum bipartite
    matching, so one call never satisfies two expectations) and there are no extra
    calls. A call satisfies an expected call when:

    * the names are equal (``dots_as_underscores``: ``math_factorial`` also
      satisfies ``math.factorial``, for APIs that forbid dots in names);
    * every expected parameter whose acceptable values do not include ``""`` is
      present (``""`` = may be omitted), as is every parameter the function
      description (``functions``, if given) lists as ``required``;
    * no argument is unexpected (absent from the expected parameters);
    * every value equals an acceptable one: strings after
      :func:`standardize_string`; booleans only as booleans; numbers by value, an
      integer being acceptable for a float (a float for an integer only when the
      description declares ``float``/``number``); lists element-wise and dicts
      key-wise (dict acceptable values are ``{key: [acceptable...]}``), recursively.

    ``value`` is 1 or 0. ``parts``: ``name_accuracy`` (fraction of expected
    function names found among the calls, as a multiset), ``args_accuracy``
    (fraction of expected calls satisfied in the matching), ``count_match``
    (1 if the numbers of calls agree). With no expected call all three are 1 if
    no call was made, else 0. ``detail`` lists what failed, e.g.
    ``"missing required argument 'unit' in get_weather"`` (the function description
    requires it), ``"expected argument 'unit' (from the reference call) in get_weather"``,
    ``"unexpected call to foo"``,
    ``"value 'NYC' for 'city' not in ['New York', 'new york city'] (get_weather)"``.
    A malformed ``expected`` or ``functions`` raises :class:`ValueError`.
    """
    wanted = _check_expected(expected)
    specs = _function_specs(functions)
    n_calls, n_wanted = len(calls), len(wanted)

    if not wanted:
        if not calls:
            return Score(
                1.0, True, None, {"name_accuracy": 1.0, "args_accuracy": 1.0, "count_match": 1.0}
            )
        names = ", ".join(call.name or "<unnamed>" for call in calls)
        return Score.failure(
            f"expected no call, got {_plural(n_calls, 'call')}: {names}",
            parts={"name_accuracy": 0.0, "args_accuracy": 0.0, "count_match": 0.0},
        )

    def key(name: str) -> str:
        return name.replace(".", "_") if dots_as_underscores else name

    wanted_names = Counter(key(name) for name, _ in wanted)
    called_names = Counter(key(call.name) for call in calls)
    names_found = sum(min(count, called_names[name]) for name, count in wanted_names.items())

    reasons: dict[tuple[int, int], str | None] = {}
    edges: list[list[int]] = []
    for j, (name, params) in enumerate(wanted):
        row: list[int] = []
        for i, call in enumerate(calls):
            if _same_name(call.name, name, dots_as_underscores):
                reason = _check_call(call, name, params, specs.get(name))
                reasons[i, j] = reason
                if reason is None:
                    row.append(i)
        edges.append(row)
    assignment = _max_matching(edges, n_calls)
    n_matched = sum(i is not None for i in assignment)

    problems: list[str] = []
    if n_calls != n_wanted:
        problems.append(f"expected {_plural(n_wanted, 'call')}, got {n_calls}")
    used = {i for i in assignment if i is not None}
    for j, (name, _) in enumerate(wanted):
        if assignment[j] is not None:
            continue
        candidate = next((i for i in range(n_calls) if i not in used and (i, j) in reasons), None)
        if candidate is None:
            problems.append(f"missing call to {name}")
            continue
        used.add(candidate)
        problems.append(reasons[candidate, j] or f"call to {name} does not match")
    for i, call in enumerate(calls):
        if i not in used:
            problems.append(call.error or f"unexpected call to {call.name or '<unnamed>'}")

    passed = n_matched == n_wanted and n_calls == n_wanted
    parts = {
        "name_accuracy": names_found / n_wanted,
        "args_accuracy": n_matched / n_wanted,
        "count_match": 1.0 if n_calls == n_wanted else 0.0,
    }
    return Score(1.0 if passed else 0.0, passed, None if passed else "; ".join(problems), parts)


def _first_acceptable(candidate: Any) -> Any:
    """Turn one acceptable value into a concrete value (dicts: first option per key)."""
    if isinstance(candidate, Mapping):
        concrete: dict[str, Any] = {}
        for key, options in candidate.items():
            chosen = [option for option in _acceptable(options) if option != ""]
            if chosen:
                concrete[key] = _first_acceptable(chosen[0])
        return concrete
    if isinstance(candidate, list):
        return [_first_acceptable(item) for item in candidate]
    return candidate


def expected_to_calls(expected: ExpectedCalls) -> list[ToolCall]:
    """The calls a perfect model would make: the first acceptable non-``""`` value per
    parameter (a parameter whose only acceptable value is ``""`` is left out)."""
    calls: list[ToolCall] = []
    for name, params in _check_expected(expected):
        arguments: dict[str, Any] = {}
        for param, acceptable in params.items():
            chosen = [value for value in acceptable if value != ""]
            if chosen:
                arguments[param] = _first_acceptable(chosen[0])
        calls.append(ToolCall(name, arguments))
    return calls


def holds_no_call(case: Any, text: str | None, output: Any = None) -> bool:
    """True when an answer holds no function call although the case expects one (the
    answer is unparseable as tool calls, e.g. a summary from a model not meant for the
    suite). An answer to a case that expects no call is never unparseable."""
    expected = case.metadata.get("ground_truth")
    if expected is None:
        try:
            expected = json.loads(case.reference)
        except (TypeError, ValueError):
            return False
    if not expected:
        return False
    return not parse_tool_calls(text, output)
