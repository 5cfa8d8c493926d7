"""The label convention of local models (see :mod:`tunegate.models.hf`): how a label
or continuation is split from its prompt and tokenized, and perplexity from log-probs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def split_continuation(prompt: str, label: str) -> tuple[str, str]:
    """(context, continuation) for scoring ``label`` after ``prompt`` (see the module doc)."""
    if not label:
        raise ValueError("labels must be non-empty strings")
    context = prompt.rstrip(" ")
    if not context or context.endswith(("\n", "\t")):
        return context, label
    return context, " " + label


def encode_label(tokenizer: Any, prompt: str, label: str) -> tuple[list[int], list[int]]:
    """(context token ids with special tokens, label token ids) for one prompt and label."""
    context, continuation = split_continuation(prompt, label)
    ctx: list[int] = list(tokenizer(context)["input_ids"])
    full: list[int] = list(tokenizer(context + continuation)["input_ids"])
    if len(full) > len(ctx) and full[: len(ctx)] == ctx:
        return ctx, full[len(ctx) :]
    return ctx, list(tokenizer(continuation, add_special_tokens=False)["input_ids"])


def perplexity(logprobs: np.ndarray) -> float:
    """``exp(-mean(logprobs))``; NaN for an empty array (a text with no scored token).

    The formula is :func:`tunegate.scoring.text.calculate_perplexity`'s, which
    raises instead of returning NaN for an empty array.
    """
    if logprobs.size == 0:
        return float("nan")
    from tunegate.scoring.text import calculate_perplexity  # keeps this import cheap

    return calculate_perplexity(logprobs)


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    return text if cut < 0 else text[:cut]
