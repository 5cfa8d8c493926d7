"""Old import path of the multiple-choice sources (tests and docs use it): they live in
:mod:`tunegate.data.mmlu`, :mod:`tunegate.data.general` and
:mod:`tunegate.data.multiple_choice`."""

from __future__ import annotations

from tunegate.data.general import GENERAL_KNOWLEDGE, load_general_jsonl
from tunegate.data.mmlu import load_multiple_choice_csv, mmlu_category
from tunegate.data.multiple_choice import CHOICE_CONTINUATIONS, LETTERS, format_multiple_choice

__all__ = [
    "CHOICE_CONTINUATIONS",
    "GENERAL_KNOWLEDGE",
    "LETTERS",
    "format_multiple_choice",
    "load_general_jsonl",
    "load_multiple_choice_csv",
    "mmlu_category",
]
