"""The JSON report's writer: the same document as ``json.dumps``, readable, fast, no NaN."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import pytest

from tunegate.jsonable import jsonable
from tunegate.report.json_report import dumps_report


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


def test_dumps_report_is_faster_than_indent() -> None:
    data = _document(20_000)

    def best_of_three(write: Any) -> float:  # the machine is shared: the fastest of 3
        times = []
        for _ in range(3):
            started = time.perf_counter()
            write(data)
            times.append(time.perf_counter() - started)
        return min(times)

    assert json.loads(dumps_report(data)) == data
    assert best_of_three(dumps_report) < best_of_three(
        lambda d: json.dumps(d, indent=2, ensure_ascii=False)
    )
