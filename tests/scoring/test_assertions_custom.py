"""Quick assertions (promptfoo-like) and user-written custom scorers."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.scoring.assertions import (
    contains,
    contains_all,
    contains_any,
    equals,
    max_latency_ms,
    regex,
    starts_with,
)
from tunegate.scoring.base import NO_ANSWER, Score
from tunegate.scoring.custom import load_scorer, run_custom

# --------------------------------------------------------------------------- assertions


def test_contains() -> None:
    assert contains("Your REFUND is on its way", "refund").passed
    assert not contains("Your REFUND is on its way", "refund", case_sensitive=True).passed
    missing = contains("hello", "refund")
    assert (missing.value, missing.passed, missing.detail) == (
        0.0,
        False,
        "'refund' not found in the output",
    )
    assert contains("hello", "refund", negate=True) == Score(1.0, True)
    negated = contains("a refund", "Refund", negate=True)
    assert negated.detail == "the output contains 'Refund' (negated check)"


def test_contains_any_and_all() -> None:
    assert contains_any("the cat sat", ["dog", "CAT"]).passed
    assert not contains_any("the cat sat", ["dog", "cow"]).passed
    assert contains_any("the cat sat", ["dog", "cow"], negate=True).passed
    assert contains_all("the cat sat", ["cat", "sat"]).passed
    partial = contains_all("the cat sat", ["cat", "mat"])
    assert partial.detail == "missing from the output: ['mat']"
    assert contains_all("the cat sat", ["cat", "mat"], negate=True).passed
    assert not contains_all("the cat sat", ["cat", "sat"], negate=True).passed


def test_starts_with_and_equals() -> None:
    assert starts_with("  Yes, because", "Yes").passed
    assert not starts_with("yes, because", "Yes").passed
    assert starts_with("yes, because", "Yes", case_sensitive=False).passed
    assert starts_with("No.", "Yes", negate=True).passed
    assert equals("positive", "positive").passed
    assert not equals(" positive\n", "positive").passed
    assert equals(" positive\n", "positive", strip=True).passed
    assert equals("Positive", "positive", case_sensitive=False).passed
    assert not equals("positive", "positive", negate=True).passed
    assert equals("negative", "positive").detail == "the output 'negative' is not 'positive'"


def test_regex() -> None:
    assert regex("Order #12345 shipped", r"#\d{5}\b").passed
    assert not regex("Order #123 shipped", r"#\d{5}\b").passed
    assert regex("ORDER", "order", case_sensitive=False).passed
    assert not regex("ORDER", "order").passed
    negated = regex("call 555-1234 now", r"\d{3}-\d{4}", negate=True)
    assert negated.detail == r"/\d{3}-\d{4}/ matches '555-1234' (negated check)"
    with pytest.raises(ValueError, match="invalid regular expression '\\(unclosed'"):
        regex("text", "(unclosed")


def test_max_latency() -> None:
    assert max_latency_ms(250.0, 500).passed
    assert max_latency_ms(500, 500).passed
    slow = max_latency_ms(1234.5, 1000)
    assert (slow.passed, slow.detail) == (False, "latency 1234.5 ms > limit 1000 ms")
    assert max_latency_ms(1234.5, 1000, negate=True).passed
    assert max_latency_ms(None, 1000).detail == "no latency recorded"
    assert not max_latency_ms(None, 1000, negate=True).passed


@pytest.mark.parametrize("negate", [False, True])
def test_missing_answer_fails_every_check_even_negated(negate: bool) -> None:
    checks = [
        contains(None, "x", negate=negate),
        contains_any(None, ["x"], negate=negate),
        contains_all(None, ["x"], negate=negate),
        starts_with(None, "x", negate=negate),
        regex(None, "x", negate=negate),
        equals(None, "x", negate=negate),
    ]
    for score in checks:
        assert (score.passed, score.detail) == (False, NO_ANSWER)


# --------------------------------------------------------------------------- custom scorers

CASE = Case(id="c1", text="Is this good?", reference="positive", metadata={"lang": "en"})


def test_keyword_convention_passes_only_declared_names() -> None:
    seen: dict[str, Any] = {}

    def scorer(*, output: str | None, case: Case) -> float:
        seen.update(output=output, case=case)
        return 1.0 if output == case.reference else 0.0

    assert run_custom(scorer, CASE, "positive") == Score(1.0, True)
    assert seen == {"output": "positive", "case": CASE}
    assert run_custom(scorer, CASE, "negative") == Score(0.0, False)


def test_raw_output_and_kwargs() -> None:
    def wants_raw(output: str | None, raw: Any = None) -> bool:
        return raw == {"tool_calls": []} and output is None

    assert run_custom(wants_raw, CASE, None, {"tool_calls": []}).passed

    def takes_all(**kwargs: Any) -> tuple[float, str]:
        return 0.75, ",".join(sorted(kwargs))

    assert run_custom(takes_all, CASE, "x") == Score(0.75, True, "case,output,raw")


def test_positional_convention_for_other_names() -> None:
    def scorer(example: Case, response: str | None) -> bool:
        return example.id == "c1" and response == "ok"

    assert run_custom(scorer, CASE, "ok").passed
    assert not run_custom(scorer, CASE, "no").passed
    assert run_custom(lambda c, o: 0.9, CASE, "x").value == 0.9


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        (1.0, Score(1.0, True)),
        (0.25, Score(0.25, False)),
        (0.5, Score(0.5, True)),
        (1, Score(1.0, True)),
        (True, Score(1.0, True)),
        (False, Score(0.0, False)),
        (np.float32(0.5), Score(0.5, True)),
        (np.bool_(True), Score(1.0, True)),
        ((0.8, "close enough"), Score(0.8, True, "close enough")),
        ((False, "wrong label"), Score(0.0, False, "wrong label")),
        ({"score": 0.3, "reason": "partly"}, Score(0.3, False, "partly")),
        ({"score": 0.3, "reason": "lenient", "pass": True}, Score(0.3, True, "lenient")),
        ({"score": 1.0}, Score(1.0, True)),
        (Score(0.4, True, "own", {"k": 1.0}), Score(0.4, True, "own", {"k": 1.0})),
    ],
)
def test_return_conventions(returned: Any, expected: Score) -> None:
    assert run_custom(lambda case, output: returned, CASE, "x") == expected


@pytest.mark.parametrize(
    ("returned", "detail"),
    [
        (1.5, "returned score 1.5, outside [0, 1]"),
        (-0.1, "returned score -0.1, outside [0, 1]"),
        (math.nan, "returned score nan, outside [0, 1]"),
        (None, "returned NoneType; expected a number in [0, 1], a bool"),
        ("0.9", "returned str; expected"),
        ([0.9], "returned list; expected"),
        ((0.9, "a", "b"), "returned a tuple of 3 items; expected (score, explanation)"),
        (("high", "why"), "returned a score of type str; expected a number or a bool"),
        ({"reason": "no score"}, "returned a dict without 'score' (keys: ['reason'])"),
        ({"score": 0.9, "pass": "yes"}, "returned 'pass' of type str; expected a bool"),
    ],
)
def test_bad_return_values_fail_with_the_reason(returned: Any, detail: str) -> None:
    def scorer(case: Case, output: str | None) -> Any:
        return returned

    score = run_custom(scorer, CASE, "x")
    assert (score.value, score.passed) == (0.0, False)
    assert score.detail is not None
    assert score.detail.startswith("custom scorer ")
    assert "scorer" in score.detail.split()[2]  # names the function
    assert detail in score.detail


def test_exceptions_and_async_functions_fail_with_the_reason() -> None:
    def broken(case: Case, output: str | None) -> float:
        return 1 / 0

    score = run_custom(broken, CASE, "x")
    assert score.passed is False
    assert score.detail is not None
    assert score.detail.endswith("broken raised ZeroDivisionError: division by zero")

    def quits(case: Case, output: str | None) -> float:
        raise SystemExit(0)  # would end tunegate with exit 0 (read as SHIP) if it escaped

    exited = run_custom(quits, CASE, "x")
    assert exited.passed is False
    assert exited.detail is not None
    assert exited.detail.endswith("quits raised SystemExit: 0")

    def interrupted(case: Case, output: str | None) -> float:
        raise KeyboardInterrupt  # Ctrl-C is the user's, not the scorer's: it stops the run

    with pytest.raises(KeyboardInterrupt):
        run_custom(interrupted, CASE, "x")

    async def asynchronous(case: Case, output: str | None) -> float:
        return 1.0

    failed = run_custom(asynchronous, CASE, "x")
    assert failed.detail is not None
    assert failed.detail.endswith("returned an awaitable; it must be synchronous")


def test_custom_threshold() -> None:
    assert not run_custom(lambda case, output: 0.6, CASE, "x", threshold=0.7).passed
    assert run_custom(lambda case, output: 0.7, CASE, "x", threshold=0.7).passed


MODULE_SOURCE = textwrap.dedent(
    """
    import math

    def exact(case, output):
        return output == case.reference

    class Holder:
        @staticmethod
        def lenient(*, output, case):
            return {"score": 0.5, "reason": "half"}

    async def asynchronous(case, output):
        return 1.0

    NOT_CALLABLE = 3
    """
)


@pytest.fixture
def scorer_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package = tmp_path / "my_scorers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "checks.py").write_text(MODULE_SOURCE)
    (tmp_path / "broken_import.py").write_text("raise RuntimeError('bad module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_scorers.checks"


def test_load_scorer_from_module(scorer_module: str) -> None:
    exact = load_scorer(f"{scorer_module}:exact")
    assert run_custom(exact, CASE, "positive").passed
    lenient = load_scorer(f"{scorer_module}:Holder.lenient")
    assert run_custom(lenient, CASE, "x") == Score(0.5, True, "half")


def test_load_scorer_from_file(tmp_path: Path) -> None:
    (tmp_path / "local_score.py").write_text(MODULE_SOURCE)
    by_base = load_scorer("local_score.py:exact", config_dir=tmp_path)
    assert run_custom(by_base, CASE, "positive").passed
    absolute = load_scorer(f"{tmp_path / 'local_score.py'}:exact")
    assert absolute is by_base  # the file is loaded once


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_colon", "expected 'package.module:function'"),
        ("mod:", "expected 'package.module:function'"),
        ("not_a_module_xyz:f", "cannot import module 'not_a_module_xyz'"),
        ("my_scorers.checks:missing", "has no attribute 'missing'"),
        ("my_scorers.checks:NOT_CALLABLE", "'NOT_CALLABLE' is not callable"),
        ("my_scorers.checks:asynchronous", "must be a synchronous function, not async"),
        ("broken_import:f", "importing 'broken_import' raised RuntimeError: bad module"),
        ("missing_file.py:f", "missing_file.py not found"),
    ],
)
def test_load_scorer_errors_name_the_spec(scorer_module: str, spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_scorer(spec)
    assert f"custom scorer {spec!r}" in str(info.value)
    assert message in str(info.value)
