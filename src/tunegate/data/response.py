"""A model's :class:`Response` to one case: the answer or the error, with its latency and
tokens. It sits beside :class:`~tunegate.data.case.Case` because every stage reads it:
models make it, the runner stores it (:mod:`tunegate.store` re-exports it), scorers score it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_ANSWER_CHARS = 10_000_000
"""A stored answer text longer than this is cut here; ``extra["truncated_from"]`` keeps the length."""


@dataclass
class Response:
    """One model's answer (or error) for one case."""

    case_id: str
    model: str
    key: str
    text: str | None = None
    output: Any = None
    extra: dict[str, Any] | None = None
    error: str | None = None
    error_kind: str | None = None
    latency_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 1
    cached: bool = False
    # Where a reused answer was first received: that run's id and the time (epoch seconds).
    origin_run: str | None = None
    origin_at: float | None = None

    @property
    def ok(self) -> bool:
        """True when the model answered (the answer may still be wrong or unparseable)."""
        return self.error is None
