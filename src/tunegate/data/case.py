"""What a test case is: :class:`Case`, and the :class:`FieldMap` that says which fields of a
record hold its parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]


@dataclass(frozen=True)
class Case:
    """One test case.

    ``messages`` is the conversation sent to chat models (without the reference
    assistant turn); ``text`` is the content of its last user message, used by
    backends that take plain text.
    """

    id: str
    text: str
    reference: str
    messages: tuple[Message, ...] = ()
    category: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def chat(self) -> list[Message]:
        """The input as chat messages (a single user turn when the source had none)."""
        if self.messages:
            return [dict(m) for m in self.messages]
        return [{"role": "user", "content": self.text}]


@dataclass(frozen=True)
class FieldMap:
    """Which fields of a JSONL/CSV record hold what."""

    input_field: str = "text"
    label_field: str = "label"
    category_field: str | None = "category"
    id_field: str | None = "id"
    #: False when the task never reads the reference (the perplexity of the input): a
    #: record may then lack the label field (its reference is ``""``).
    label_required: bool = True
