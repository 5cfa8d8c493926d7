"""BFCL loader and tool-call scoring on the real BFCL v4 files in ../shared/data/bfcl.

The ground truth itself, turned into calls, must score 100%; perturbed calls must
score as BFCL's AST checker would score them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tunegate.data import Case
from tunegate.data.bfcl import NO_CALL_CATEGORIES, bfcl_category, load_bfcl, to_openai_tools
from tunegate.errors import DataError
from tunegate.scoring.structured import (
    ToolCall,
    expected_to_calls,
    parse_tool_calls,
    score_tool_calls,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
BFCL = SHARED / "data" / "bfcl"
CATEGORIES = {
    "simple_python": ("simple", 400),
    "multiple": ("multiple", 200),
    "parallel": ("parallel", 200),
    "parallel_multiple": ("parallel_multiple", 200),
    "irrelevance": ("irrelevance", 240),
}
WITH_ANSWERS = ["simple_python", "multiple", "parallel", "parallel_multiple"]

needs_bfcl = pytest.mark.skipif(
    not (BFCL / "BFCL_v4_simple_python.json").is_file(),
    reason=f"reference data absent: {BFCL} (../shared is not beside this checkout)",
)


@cache
def cases(name: str) -> tuple[Case, ...]:
    return tuple(load_bfcl(BFCL / f"BFCL_v4_{name}.json"))


def score(case: Case, calls: list[ToolCall], **options: Any) -> Any:
    return score_tool_calls(
        calls, case.metadata["ground_truth"], functions=case.metadata["functions"], **options
    )


# --------------------------------------------------------------------------- loading


@needs_bfcl
@pytest.mark.parametrize("name", list(CATEGORIES))
def test_load_bfcl_categories(name: str) -> None:
    category, count = CATEGORIES[name]
    loaded = cases(name)
    assert len(loaded) == count
    assert {case.category for case in loaded} == {category}
    assert len({case.id for case in loaded}) == count
    raw = [json.loads(line) for line in (BFCL / f"BFCL_v4_{name}.json").read_text().splitlines()]
    for case, record in zip(loaded, raw, strict=True):
        assert case.id == record["id"]
        assert list(case.messages) == record["question"][0]
        assert case.text == record["question"][0][-1]["content"]
        assert case.metadata["functions"] == record["function"]
        assert json.loads(case.reference) == case.metadata["ground_truth"]
        assert case.source.endswith(f"BFCL_v4_{name}.json:{raw.index(record) + 1}")
    if name == "irrelevance":
        assert all(case.metadata["ground_truth"] == [] for case in loaded)


@needs_bfcl
def test_ground_truth_is_joined_by_id() -> None:
    answers = {
        record["id"]: record["ground_truth"]
        for record in map(
            json.loads,
            (BFCL / "possible_answer_BFCL_v4_parallel.json").read_text().splitlines(),
        )
    }
    for case in cases("parallel"):
        assert case.metadata["ground_truth"] == answers[case.id]
        assert len(case.metadata["ground_truth"]) >= 2


def test_bfcl_category_from_file_name() -> None:
    assert bfcl_category("x/BFCL_v4_simple_python.json") == "simple"
    assert bfcl_category("BFCL_v4_parallel_multiple.json") == "parallel_multiple"
    assert bfcl_category("possible_answer_BFCL_v3_live_multiple.json") == "live_multiple"
    assert bfcl_category("my_calls.jsonl") == "my_calls"
    assert "irrelevance" in NO_CALL_CATEGORIES


# --------------------------------------------------------------------------- ground truth


@needs_bfcl
@pytest.mark.parametrize("name", WITH_ANSWERS)
def test_ground_truth_scores_100_percent(name: str) -> None:
    failures = []
    for case in cases(name):
        result = score(case, expected_to_calls(case.metadata["ground_truth"]))
        if not result.passed or result.parts != {
            "name_accuracy": 1.0,
            "args_accuracy": 1.0,
            "count_match": 1.0,
        }:
            failures.append((case.id, result.detail))
    assert failures == []


@needs_bfcl
@pytest.mark.parametrize("name", WITH_ANSWERS)
def test_ground_truth_through_openai_tools_scores_100_percent(name: str) -> None:
    """Names renamed for the OpenAI API, sent back as tool_calls, parsed and scored."""
    for case in cases(name):
        calls = expected_to_calls(case.metadata["ground_truth"])
        output = {
            "tool_calls": [
                {
                    "type": "function",
                    "function": {
                        "name": call.name.replace(".", "_"),
                        "arguments": json.dumps(call.arguments),
                    },
                }
                for call in calls
            ]
        }
        parsed = parse_tool_calls(None, output)
        has_dots = any("." in call.name for call in calls)
        assert score(case, parsed).passed is not has_dots, case.id
        assert score(case, parsed, dots_as_underscores=True).passed, case.id


@needs_bfcl
def test_ground_truth_written_as_text_scores_100_percent() -> None:
    for case in cases("parallel_multiple"):
        calls = expected_to_calls(case.metadata["ground_truth"])
        text = "```json\n" + json.dumps([{"name": c.name, "arguments": c.arguments} for c in calls])
        assert score(case, parse_tool_calls(text + "\n```", None)).passed, case.id


@needs_bfcl
@pytest.mark.parametrize("name", WITH_ANSWERS)
def test_ground_truth_in_python_call_syntax_scores_100_percent(name: str) -> None:
    """BFCL's prompting format: ``[func(param=value), ...]``."""
    for case in cases(name):
        calls = expected_to_calls(case.metadata["ground_truth"])
        text = (
            "["
            + ", ".join(
                f"{c.name}({', '.join(f'{k}={v!r}' for k, v in c.arguments.items())})"
                for c in calls
            )
            + "]"
        )
        assert score(case, parse_tool_calls(text, None)).passed, (case.id, text)


@needs_bfcl
def test_irrelevance_passes_only_without_a_call() -> None:
    for case in cases("irrelevance"):
        assert score(case, parse_tool_calls("I cannot help with that.", None)).passed
        function = case.metadata["functions"][0]
        call = ToolCall(function["name"], dict.fromkeys(function["parameters"]["required"], 1))
        result = score(case, [call])
        assert not result.passed
        assert result.detail == f"expected no call, got 1 call: {function['name']}"


# --------------------------------------------------------------------------- perturbations


def wrong_value(acceptable: list[Any]) -> Any:
    """A value of the same type that none of the acceptable values equals."""
    sample = next(value for value in acceptable if value != "")
    if isinstance(sample, bool):
        return not sample if all(v == sample for v in acceptable if v != "") else "neither"
    if isinstance(sample, int | float):
        return max(v for v in acceptable if isinstance(v, int | float)) + 1000
    if isinstance(sample, str):
        return "zzz definitely not " + sample
    if isinstance(sample, list):
        return [*sample, "zzz extra"]
    if isinstance(sample, dict):
        return {"zzz_unexpected_key": 1}
    return "zzz"


@needs_bfcl
@pytest.mark.parametrize("name", WITH_ANSWERS)
def test_a_wrong_value_fails(name: str) -> None:
    checked = 0
    for case in cases(name):
        truth = case.metadata["ground_truth"]
        calls = expected_to_calls(truth)
        for index, call in enumerate(calls):
            for param in call.arguments:
                broken = copy.deepcopy(calls)
                acceptable = next(iter(truth[index].values()))[param]
                broken[index] = ToolCall(
                    call.name, {**call.arguments, param: wrong_value(acceptable)}
                )
                result = score(case, broken)
                assert not result.passed, (case.id, param)
                assert result.parts["args_accuracy"] < 1.0
                checked += 1
                break  # one parameter per call is enough
    assert checked >= len(cases(name))


@needs_bfcl
def test_a_missing_required_argument_fails() -> None:
    checked = 0
    for case in cases("simple_python"):
        (expected,) = case.metadata["ground_truth"]
        (name,) = expected
        required = case.metadata["functions"][0]["parameters"]["required"]
        (call,) = expected_to_calls(case.metadata["ground_truth"])
        for param in required:
            if param in call.arguments:
                arguments = {k: v for k, v in call.arguments.items() if k != param}
                result = score(case, [ToolCall(name, arguments)])
                assert not result.passed, (case.id, param)
                assert result.detail == f"missing required argument '{param}' in {name}"
                checked += 1
    assert checked > 400


@needs_bfcl
def test_omitting_an_optional_argument_passes() -> None:
    checked = 0
    for case in cases("simple_python"):
        (expected,) = case.metadata["ground_truth"]
        ((name, params),) = expected.items()
        required = set(case.metadata["functions"][0]["parameters"]["required"])
        (call,) = expected_to_calls(case.metadata["ground_truth"])
        optional = [p for p, acc in params.items() if "" in acc and p not in required]
        for param in optional:
            if param in call.arguments:
                arguments = {k: v for k, v in call.arguments.items() if k != param}
                assert score(case, [ToolCall(name, arguments)]).passed, (case.id, param)
                checked += 1
    assert checked > 100


@needs_bfcl
@pytest.mark.parametrize("name", WITH_ANSWERS)
def test_an_extra_call_fails(name: str) -> None:
    for case in cases(name):
        calls = expected_to_calls(case.metadata["ground_truth"])
        result = score(case, [*calls, calls[0]])
        assert not result.passed
        assert result.parts["count_match"] == 0.0
        assert result.parts["args_accuracy"] == 1.0
        assert result.detail is not None
        assert f"unexpected call to {calls[0].name}" in result.detail


@needs_bfcl
@pytest.mark.parametrize("name", ["parallel", "parallel_multiple"])
def test_parallel_calls_in_any_order_pass(name: str) -> None:
    for case in cases(name):
        calls = expected_to_calls(case.metadata["ground_truth"])
        assert score(case, calls[::-1]).passed, case.id
        assert score(case, calls[1:] + calls[:1]).passed, case.id


@needs_bfcl
@pytest.mark.parametrize("name", WITH_ANSWERS)
def test_a_wrong_function_name_fails(name: str) -> None:
    for case in cases(name):
        calls = expected_to_calls(case.metadata["ground_truth"])
        renamed = [ToolCall(calls[0].name + "_v2", calls[0].arguments), *calls[1:]]
        result = score(case, renamed)
        assert not result.passed
        assert result.parts["name_accuracy"] < 1.0
        assert result.detail is not None
        assert f"unexpected call to {calls[0].name}_v2" in result.detail


@needs_bfcl
def test_string_normalisation_like_upstream() -> None:
    case = next(c for c in cases("simple_python") if c.id == "simple_python_0")
    # base/height are integers; unit is an optional string ("units" or omitted)
    good = ToolCall("calculate_triangle_area", {"base": 10, "height": 5, "unit": "U-N_I.T/S"})
    assert score(case, [good]).passed
    floaty = ToolCall("calculate_triangle_area", {"base": 10.0, "height": 5})
    assert not score(case, [floaty]).passed  # a float for an integer parameter
    city = ToolCall("get_weather", {"city": "New York, NY"})
    assert score_tool_calls([city], [{"get_weather": {"city": ["new york ny"]}}]).passed


# --------------------------------------------------------------------------- errors


def write(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


QUESTION = {
    "id": "simple_python_0",
    "question": [[{"role": "user", "content": "Area of a 10 by 5 triangle?"}]],
    "function": [
        {"name": "area", "parameters": {"type": "dict", "properties": {}, "required": []}}
    ],
}
ANSWER = {"id": "simple_python_0", "ground_truth": [{"area": {"base": [10]}}]}


def test_answers_are_found_beside_the_questions(tmp_path: Path) -> None:
    questions = write(tmp_path / "BFCL_v4_simple_python.json", [QUESTION])
    write(tmp_path / "possible_answer_BFCL_v4_simple_python.json", [ANSWER])
    (case,) = load_bfcl(questions)
    assert case.metadata["ground_truth"] == ANSWER["ground_truth"]
    assert case.category == "simple"
    nested = tmp_path / "nested"
    (nested / "possible_answer").mkdir(parents=True)
    questions = write(nested / "BFCL_v4_simple_python.json", [QUESTION])
    write(nested / "possible_answer" / "BFCL_v4_simple_python.json", [ANSWER])
    assert load_bfcl(questions)[0].metadata["ground_truth"] == ANSWER["ground_truth"]


def test_missing_answer_file_is_an_error_except_for_irrelevance(tmp_path: Path) -> None:
    questions = write(tmp_path / "BFCL_v4_simple_python.json", [QUESTION])
    with pytest.raises(DataError, match="no possible-answer file for category 'simple'"):
        load_bfcl(questions)
    irrelevance = write(tmp_path / "BFCL_v4_irrelevance.json", [QUESTION])
    assert load_bfcl(irrelevance)[0].metadata["ground_truth"] == []


@pytest.mark.parametrize(
    ("questions", "answers", "message"),
    [
        (["{not json"], [ANSWER], "BFCL_v4_simple_python.json:1: invalid JSON"),
        ([QUESTION, QUESTION], [ANSWER], ":2: duplicate id 'simple_python_0' (first on line 1)"),
        ([{**QUESTION, "id": "other"}], [ANSWER], ":1: no possible answer with id 'other'"),
        ([{**QUESTION, "question": [[], []]}], [ANSWER], ":1: multi-turn entries (2 turns)"),
        ([{**QUESTION, "question": [[{"role": "user"}]]}], [ANSWER], "needs a string 'role'"),
        ([{**QUESTION, "function": {"name": "x"}}], [ANSWER], ":1: 'function' must be a list"),
        (["", {"id": 3}], [ANSWER], ":2: missing string 'id'"),
        (
            [QUESTION],
            ['{"id": "simple_python_0", "ground_truth": {}}'],
            "answers.json:1: 'ground_truth'",
        ),
        (
            [QUESTION],
            [{"id": "simple_python_0", "ground_truth": [{"area": {"base": 10}}]}],
            "answers.json:1: ground_truth[0] must map each parameter to a list",
        ),
    ],
)
def test_errors_name_file_and_line(
    tmp_path: Path, questions: list[Any], answers: list[Any], message: str
) -> None:
    question_file = write(tmp_path / "BFCL_v4_simple_python.json", questions)
    answer_file = write(tmp_path / "answers.json", answers)
    with pytest.raises(DataError) as info:
        load_bfcl(question_file, answer_file)
    assert message in str(info.value)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.json: file not found"):
        load_bfcl(tmp_path / "nope.json", tmp_path / "nope.json")
    empty = write(tmp_path / "BFCL_v4_irrelevance.json", [])
    with pytest.raises(DataError, match="no cases"):
        load_bfcl(empty)


def test_limit(tmp_path: Path) -> None:
    second = {**QUESTION, "id": "simple_python_1"}
    questions = write(tmp_path / "BFCL_v4_irrelevance.json", [QUESTION, second])
    assert [c.id for c in load_bfcl(questions, limit=1)] == ["simple_python_0"]


def test_to_openai_tools_converts_types_and_names() -> None:
    functions: list[dict[str, Any]] = [
        {
            "name": "math.hypot",
            "description": "d",
            "parameters": {
                "type": "dict",
                "properties": {
                    "x": {"type": "float"},
                    "point": {"type": "tuple", "items": {"type": "float"}},
                    "opts": {"type": "dict", "properties": {"type": {"type": "any"}}},
                },
                "required": ["x"],
            },
        }
    ]
    (tool,) = to_openai_tools(functions)
    assert tool == {
        "type": "function",
        "function": {
            "name": "math_hypot",
            "description": "d",
            "parameters": {
                "type": "object",
                "properties": {
                    "x": {"type": "number"},
                    "point": {"type": "array", "items": {"type": "number"}},
                    "opts": {"type": "object", "properties": {"type": {}}},
                },
                "required": ["x"],
            },
        },
    }
    assert (
        to_openai_tools(functions, dots_to_underscores=False)[0]["function"]["name"] == "math.hypot"
    )
    assert functions[0]["parameters"]["type"] == "dict"  # the input is not modified
