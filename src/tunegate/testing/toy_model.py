"""The toy "model" of the loopback servers: keyword sentiment of the last user message."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, Final

Message = dict[str, Any]
Reply = str | dict[str, Any]
Answer = Callable[[list[Message]], Reply]
"""Chat messages -> reply text (or, for chat completions, a whole assistant message dict)."""


# ---------------------------------------------------------------------------
# The toy model
# ---------------------------------------------------------------------------

POSITIVE_WORDS: Final = frozenset(
    {
        "amazing",
        "awesome",
        "best",
        "excellent",
        "fantastic",
        "good",
        "great",
        "happy",
        "love",
        "loved",
        "perfect",
        "recommend",
        "wonderful",
    }
)
NEGATIVE_WORDS: Final = frozenset(
    {
        "awful",
        "bad",
        "broken",
        "disappointed",
        "disappointing",
        "hate",
        "horrible",
        "poor",
        "refund",
        "terrible",
        "waste",
        "worst",
    }
)
_WORD = re.compile(r"[a-z]+")


def keyword_sentiment(text: str) -> str:
    """``"positive"``, ``"negative"`` or ``"neutral"`` by counting keywords.

    score = #words in :data:`POSITIVE_WORDS` - #words in :data:`NEGATIVE_WORDS`
    (lower-cased, letters only, no negation handling); > 0 is positive, < 0 is
    negative, 0 is neutral. The label words themselves are not keywords, so a
    prompt listing the labels does not move the answer.
    """
    words = _WORD.findall(text.lower())
    score = sum(w in POSITIVE_WORDS for w in words) - sum(w in NEGATIVE_WORDS for w in words)
    if score > 0:
        return "positive"
    if score < 0:
        return "negative"
    return "neutral"


def _content_text(content: Any) -> str:
    """Text of a message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def last_user_text(messages: Sequence[Message]) -> str:
    """Content of the last ``user`` message (``""`` when there is none)."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def sentiment_answer(messages: list[Message]) -> str:
    """The default answer: :func:`keyword_sentiment` of the last user message."""
    return keyword_sentiment(last_user_text(messages))


def _tokens(text: str) -> int:
    return len(text.split())
