"""Four-choice questions as one standard prompt: the answer letters, reading a choice
letter, and :func:`format_multiple_choice` / :func:`as_multiple_choice` for the cases the
MMLU CSV and general-knowledge sources give (question in ``text``, letter in
``reference``, ``metadata["choices"]``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tunegate.data.case import Case
from tunegate.errors import DataError

#: The answer letters, in choice order.
LETTERS = ("A", "B", "C", "D")
#: What a local model's next tokens are scored on after :func:`format_multiple_choice`'s
#: ``"Answer:"`` (one log-likelihood per letter, the highest wins).
CHOICE_CONTINUATIONS = tuple(f" {letter}" for letter in LETTERS)


def letter(raw: Any) -> str | None:
    """The answer letter (``A``-``D``, surrounding space and case ignored), or None."""
    if not isinstance(raw, str):
        return None
    value = raw.strip().upper()
    return value if value in LETTERS else None


def _choices(case: Case) -> dict[str, str]:
    raw = case.metadata.get("choices")
    if isinstance(raw, Mapping) and all(isinstance(raw.get(k), str) for k in LETTERS):
        return {k: str(raw[k]) for k in LETTERS}
    if (
        isinstance(raw, Sequence)
        and not isinstance(raw, str)
        and len(raw) == len(LETTERS)
        and all(isinstance(c, str) for c in raw)
    ):
        return dict(zip(LETTERS, (str(c) for c in raw), strict=True))
    where = f" ({case.source})" if case.source else ""
    raise DataError(
        f"case {case.id!r}{where}: not a multiple-choice case "
        "(metadata['choices'] must give the four choices A-D)"
    )


def format_multiple_choice(case: Case) -> str:
    """The standard zero-shot multiple-choice prompt for ``case``::

        Question: <question>
        A. <choice A>
        B. <choice B>
        C. <choice C>
        D. <choice D>
        Answer:

    The prompt ends right after ``"Answer:"`` without a space, so a local model is
    scored by the log-likelihood of each of :data:`CHOICE_CONTINUATIONS`
    (``" A"`` ... ``" D"``, the space belongs to the letter's token) and the most
    likely letter is its answer; a chat model is asked to reply with the letter.
    ``metadata["choices"]`` may be a mapping ``{"A": ..., ...}`` or a list of four
    strings. Raises :class:`~tunegate.errors.DataError` for a case without four
    choices.
    """
    choices = _choices(case)
    lines = [f"Question: {case.text.strip()}"]
    lines.extend(f"{letter}. {choices[letter]}" for letter in LETTERS)
    lines.append("Answer:")
    return "\n".join(lines)


def as_multiple_choice(case: Case) -> Case:
    """``case`` with :func:`format_multiple_choice`'s prompt as its text and only user turn
    (the bare question kept in ``metadata["question"]``), so every backend sees the same
    standard prompt."""
    text = format_multiple_choice(case)
    metadata = {**case.metadata, "question": case.text}
    return replace(
        case, text=text, messages=({"role": "user", "content": text},), metadata=metadata
    )
