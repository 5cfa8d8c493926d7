"""tunegate.testing.toy_model and tunegate.testing.servers: the toy model the loopback
servers answer with, and tests/servers.py as a re-export of the testing module."""

from __future__ import annotations

import servers

import tunegate.testing.servers as testing_servers
from tunegate.testing.toy_model import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    keyword_sentiment,
    last_user_text,
    sentiment_answer,
)


def test_keyword_sentiment_counts_keywords() -> None:
    good, bad = sorted(POSITIVE_WORDS)[0], sorted(NEGATIVE_WORDS)[0]
    assert keyword_sentiment(f"so {good}!") == "positive"
    assert keyword_sentiment(f"{bad.upper()} indeed") == "negative"
    assert keyword_sentiment(f"{good} but {bad}") == "neutral"
    assert keyword_sentiment(f"{good} {good} {bad}") == "positive"
    # The label words are not keywords: a prompt listing them does not move the answer.
    assert keyword_sentiment("positive, negative or neutral?") == "neutral"


def test_the_last_user_message_decides() -> None:
    good = sorted(POSITIVE_WORDS)[0]
    messages = [
        {"role": "system", "content": "Classify."},
        {"role": "user", "content": [{"type": "text", "text": f"it is {good}"}]},
        {"role": "assistant", "content": "ok"},
    ]
    assert last_user_text(messages) == f"it is {good}"
    assert sentiment_answer(messages) == "positive"
    assert last_user_text([{"role": "system", "content": "x"}]) == ""


def test_tests_servers_re_exports_the_testing_module() -> None:
    assert servers.__all__
    for name in servers.__all__:
        assert getattr(servers, name) is getattr(testing_servers, name), name
