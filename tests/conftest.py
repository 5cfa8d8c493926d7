"""Shared fixtures: a temporary store, a fast retry policy and toy cases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tunegate.data import Case
from tunegate.runner import RetryPolicy
from tunegate.store import Store

MakeCases = Callable[..., list[Case]]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store in the test's temporary folder (``t.db``)."""
    with Store(tmp_path / "t.db") as db:
        yield db


@pytest.fixture
def fast_policy() -> RetryPolicy:
    """Retries without the production back-off, for tests where waiting is not the point."""
    return RetryPolicy(base_delay=0.01, max_delay=0.05)


@pytest.fixture
def make_cases() -> MakeCases:
    """``make_cases(n)``: ``n`` distinct chat cases whose references follow the toy model."""

    words = ["great", "terrible", "fine", "love", "awful", "okay"]
    labels = {"great": "positive", "love": "positive", "terrible": "negative", "awful": "negative"}

    def make(n: int, prefix: str = "case") -> list[Case]:
        cases = []
        for i in range(n):
            word = words[i % len(words)]
            text = f"{prefix} {i}: the product is {word}"
            cases.append(
                Case(
                    id=f"{prefix}-{i:03d}",
                    text=text,
                    reference=labels.get(word, "neutral"),
                    messages=(
                        {"role": "system", "content": "Classify the review."},
                        {"role": "user", "content": text},
                    ),
                )
            )
        return cases

    return make
