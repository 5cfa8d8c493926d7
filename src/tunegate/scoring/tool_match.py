"""Tool calls against expected calls in BFCL "possible answer" form, with the rules of
BFCL's AST checker (see :func:`score_tool_calls`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunegate.scoring.base import Score
from tunegate.scoring.json_text import (
    _STANDARDIZE,
    _clip,
)
from tunegate.scoring.tool_calls import (
    ExpectedCalls,
    ToolCall,
    parse_tool_calls,
)


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
