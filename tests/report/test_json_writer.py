"""The JSON report's writer: the same document as ``json.dumps``, readable, no NaN.

Its speed against ``json.dumps(indent=2)`` is a figure printed by
``benchmarks/report_speed.py``, not a timed test here."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tunegate.jsonable import jsonable
from tunegate.report.json_report import _ONE_LINE_MEMBERS, dumps_report


def _document(n: int) -> dict[str, Any]:
    return {
        "name": 'run \u00e9\u4e2d "quoted" </script>',
        "metrics": {"f1": {"value": 0.5, "ci": [0.4, 0.6]}, "empty": {}, "none": []},
        "cases": [
            {"id": f"c{i}", "answer": "NaN Infinity", "score": i / 3, "ok": i % 2 == 0}
            for i in range(n)
        ],
        "by_id": {f"c{i}": {"n": i} for i in range(n)},
    }


def test_dumps_report_is_the_same_document_and_indented() -> None:
    data = _document(100)
    text = dumps_report(data)
    assert json.loads(text) == data
    assert text.endswith("}\n")
    assert text.startswith('{\n  "name": "run \u00e9\u4e2d')  # not ASCII-escaped
    lines = text.splitlines()
    # a short object is indented member by member; a long list has one case per line
    assert '      "value": 0.5,' in lines
    assert (
        '    {"id": "c7", "answer": "NaN Infinity", "score": 2.3333333333333335, "ok": false},'
        in lines
    )
    assert '    "c3": {"n": 3},' in lines
    assert '  "metrics": {' in lines
    assert '    "empty": {},' in lines


def test_dumps_report_refuses_nan_left_in() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps_report({"x": [float("nan")]})


def test_jsonable_cleans_nested_values() -> None:
    class Label(str):
        pass

    value = {1: (1.5, math.inf, [-math.inf, math.nan]), "s": Label("a"), "n": None, "b": True}
    assert jsonable(value) == {"1": [1.5, None, [None, None]], "s": "a", "n": None, "b": True}
    assert json.dumps(jsonable(value), allow_nan=False)


def test_short_documents_are_written_exactly_as_indent_2() -> None:
    # No list or object longer than the one-line limit: the text is json.dumps's, byte
    # for byte (its speed against indent= is a figure of benchmarks/report_speed.py).
    data = _document(_ONE_LINE_MEMBERS)
    assert dumps_report(data) == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_long_lists_and_objects_have_one_member_per_line() -> None:
    n = 5_000
    data = {"suites": [_document(n)], "empty": [], "n": n}
    text = dumps_report(data)
    assert json.loads(text) == json.loads(json.dumps(data, indent=2))
    lines = text.splitlines()
    pad = " " * 8  # {} -> suites [] -> [0] {} -> cases [] / by_id {}: members at depth 4
    case_lines = [line for line in lines if line.startswith(pad + '{"id": "c')]
    assert len(case_lines) == n
    for i, line in enumerate(case_lines):
        member = json.loads(line.strip().rstrip(","))
        assert member == data["suites"][0]["cases"][i]
        assert line.endswith(",") == (i < n - 1)
    by_id = [line for line in lines if line.startswith(pad + '"c')]
    assert len(by_id) == n
    assert by_id[-1] == pad + f'"c{n - 1}": {{"n": {n - 1}}}'
    # The short members around them are indented as indent=2 would.
    assert '          "value": 0.5,' in lines
    assert '        "empty": {},' in lines
    assert '  "empty": [],' in lines
