"""Which scorer outcomes are scorer errors (missing evidence) and which are failed answers."""

from __future__ import annotations

import asyncio
from typing import Any

from tunegate.data import Case
from tunegate.scoring.base import NO_ANSWER, Score
from tunegate.scoring.custom import run_custom
from tunegate.scoring.registry import BuiltScorer
from tunegate.store import Response

CASE = Case(id="c1", text="q", reference="a")


def _raises(case: Case, response: Response) -> dict[str, Score]:
    raise KeyError("missing field")


def test_a_built_in_scorer_that_raises_gives_scorer_errors_for_every_metric() -> None:
    scorer = BuiltScorer("rouge", "rouge", ("rougeL", "rouge1"), _raises)
    response = Response(case_id="c1", model="m", key="m/c1", text="a")
    scores = scorer(CASE, response)
    assert set(scores) == {"rougeL", "rouge1"}
    for score in scores.values():
        assert score.scorer_error  # today: Score.failure, read as a wrong answer
        assert not score.passed
        assert "scorer rouge failed: KeyError" in (score.detail or "")


def test_custom_scorer_problems_are_scorer_errors() -> None:
    def boom(case: Any, output: Any) -> float:
        raise RuntimeError("scorer bug")

    def word(case: Any, output: Any) -> str:
        return "yes"

    async def later(case: Any, output: Any) -> float:
        return 1.0

    def sync_returning_awaitable(case: Any, output: Any) -> Any:
        return later(case, output)

    for fn in (boom, word, sync_returning_awaitable):
        score = run_custom(fn, CASE, "a")
        assert score.scorer_error, fn.__name__
        assert score.value == 0.0
        assert not score.passed
    asyncio.run(later(CASE, "a"))  # the coroutine function itself works


def test_a_failing_check_is_a_wrong_answer_not_a_scorer_error() -> None:
    assert not run_custom(lambda case, output: False, CASE, "b").scorer_error
    assert not run_custom(lambda case, output: 0.1, CASE, "b").scorer_error
    assert not Score.failure(NO_ANSWER).scorer_error
    assert Score.error("x") != Score.failure("x")
