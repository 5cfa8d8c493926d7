"""Runaway answers do not stall scoring (issue 21 item 1): ROUGE, BLEU and chrF compare at
most MAX_COMPARED_CHARS characters (a longer answer fails them, saying why), and every
scorer reads an answer cut at the store's cap, as a re-run reads it back."""

from __future__ import annotations

import pytest

from tunegate.config.scorers import scorer_config
from tunegate.data import Case
from tunegate.scoring import scorers as scorers_module
from tunegate.scoring.registry import BuildContext, build_scorer
from tunegate.store import Response

CASE = Case(id="c", text="q", reference="the kettle is great")


def _scores(options: dict[str, object], answer: str) -> dict[str, tuple[bool, str | None]]:
    built = build_scorer(scorer_config(**options), BuildContext("task.scorers[0]"))
    response = Response(case_id="c", model="m", key="k", text=answer)
    return {k: (s.passed, s.detail) for k, s in built(CASE, response).items()}


@pytest.mark.parametrize("kind", ["rouge", "bleu", "chrf"])
def test_an_answer_over_the_comparison_cap_fails_saying_why(kind: str) -> None:
    answer = "the kettle is great " * (scorers_module.MAX_COMPARED_CHARS // 20 + 1)
    for passed, detail in _scores({"type": kind}, answer).values():
        assert not passed
        assert detail is not None
        assert "not compared" in detail
        assert f"{scorers_module.MAX_COMPARED_CHARS:,}" in detail
    short = _scores({"type": kind, "threshold": 0.1}, "the kettle is great")
    assert all(passed for passed, _ in short.values())


def test_corpus_scores_read_the_capped_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorers_module, "MAX_COMPARED_CHARS", 19)
    built = build_scorer(scorer_config(type="chrf"), BuildContext("task.scorers[0]"))
    assert built.corpus is not None
    capped = built.corpus(["the kettle is great and more and more"], [["the kettle is great"]])
    assert capped == pytest.approx(1.0)


def test_scorers_read_the_answer_as_the_store_keeps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorers_module, "MAX_ANSWER_CHARS", 10)
    scores = _scores({"type": "contains", "value": "tail"}, "0123456789 tail")
    assert scores == {"contains": (False, "'tail' not found in the output")}
