"""Four-choice questions as one standard prompt: the answer letters, reading a choice
letter, and :func:`format_multiple_choice` / :func:`as_multiple_choice` for the cases the
MMLU CSV and general-knowledge sources give (question in ``text``, letter in
``reference``, ``metadata["choices"]``).

How each kind of model answers such a case:

* a chat or HTTP model is shown the lettered prompt (:func:`format_multiple_choice`) and
  asked for the letter, which :func:`letter` reads;
* a local (``hf``) model is not shown the letters: it scores each choice's *text* after
  ``Question: <question>\\nAnswer:`` (``tunegate.tasks.MULTIPLE_CHOICE_PROMPT``, the bare
  question kept in ``metadata["question"]``), i.e. ``log P(" " + choice | prompt)``
  summed over the choice's tokens, and answers the letter of the most likely choice
  (every choice's log-probability kept in ``extra.choice_logprobs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from tunegate.data.case import Case
from tunegate.errors import DataError

#: The answer letters, in choice order.
LETTERS = ("A", "B", "C", "D")
#: The letters as continuations of :func:`format_multiple_choice`'s ``"Answer:"`` (the
#: space belongs to the letter's token), for a harness that scores the letters of the
#: lettered prompt. tunegate's local models do not: they score the choices' texts (see
#: the module docstring).
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

    This is what chat and HTTP models are shown, and asked to reply with the letter;
    local models score the choices' texts after ``Question: <question>\\nAnswer:``
    instead (see the module docstring). The prompt ends right after ``"Answer:"``
    without a space. ``metadata["choices"]`` may be a mapping ``{"A": ..., ...}`` or a
    list of four strings. Raises :class:`~tunegate.errors.DataError` for a case without
    four choices.
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
