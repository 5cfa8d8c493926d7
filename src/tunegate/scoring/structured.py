"""Structured output scoring: JSON validity, JSON Schema compliance, tool calls.

JSON is read with :func:`parse_json`, which accepts the whole answer or the first
Markdown code fence (```` ```json ... ``` ````) in it. Schemas are checked by
``jsonschema`` (Draft 2020-12 unless the schema's ``$schema`` names another draft).

Tool calls are compared with expected calls written in the Berkeley Function
Calling Leaderboard (BFCL) "possible answer" form, with the rules of BFCL's AST
checker (see :func:`score_tool_calls`).

The parts: :mod:`~tunegate.scoring.json_text` (JSON out of an answer),
:mod:`~tunegate.scoring.tool_calls` (calls out of an answer),
:mod:`~tunegate.scoring.tool_match` (calls against expected calls); the JSON
scorers are here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

from tunegate.scoring.base import Score
from tunegate.scoring.json_text import (
    _UNSET,
    _clip,
    parse_json,
)
from tunegate.scoring.tool_calls import (
    ExpectedCalls,
    ToolCall,
    parse_tool_calls,
)
from tunegate.scoring.tool_match import (
    expected_to_calls,
    holds_no_call,
    score_tool_calls,
    standardize_string,
)

__all__ = [
    "ExpectedCalls",
    "ToolCall",
    "compile_schema",
    "expected_to_calls",
    "holds_no_call",
    "json_schema",
    "json_valid",
    "parse_json",
    "parse_tool_calls",
    "score_tool_calls",
    "standardize_string",
]


def json_valid(text: str | None) -> Score:
    """1 if :func:`parse_json` parses the answer, else 0 with the parse error."""
    _, error = parse_json(text)
    return Score.from_bool(error is None, error)


@lru_cache(maxsize=128)
def _compile(schema_json: str, check_formats: bool) -> Any:
    # jsonschema is imported here: not on the path to a run's first request.
    from jsonschema import Draft202012Validator, SchemaError, validators

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
    from jsonschema.exceptions import best_match
    from referencing.exceptions import Unresolvable

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
