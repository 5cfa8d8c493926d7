"""Perplexity: tunegate's one formula, ``exp(-sum log p / tokens)``.

Every perplexity tunegate reports comes from :func:`perplexity_of`: a text's (local
models, ``/v1/completions`` with ``echo``), a suite's over all its tokens, and
:func:`calculate_perplexity`'s from a list of per-token log-probabilities (the
Python API). The bootstrap of :func:`tunegate.stats.bootstrap_perplexity_ci`
applies the same formula to each resample, vectorised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["calculate_perplexity", "perplexity_of"]

#: Largest log-probability accepted as 0 (rounding in a float32 log-softmax).
_LOGPROB_TOLERANCE = 1e-4


def calculate_perplexity(log_probs: Sequence[float] | npt.ArrayLike) -> float:
    """Perplexity of a text from its per-token log-probabilities.

    ``PPL = exp(-(1 / N) * sum_i log p_i)`` with natural logarithms: the exponential
    of the mean negative log-likelihood per token. ``log_probs`` is a sequence or a
    one-dimensional numpy array of ``log p_i`` (each ``<= 0``). A token with
    probability 0 (``-inf``) or a mean that overflows gives ``inf``.

    Raises :class:`ValueError`, never returns NaN: for no tokens, for more than one
    dimension, for NaN or ``+inf``, and for positive values (probabilities above 1;
    these are usually negative log-likelihoods passed by mistake).

    >>> round(calculate_perplexity([math.log(0.5), math.log(0.25)]), 6)
    2.828427
    """
    try:
        values = np.asarray(log_probs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"log_probs must be a sequence of numbers ({exc})") from None
    if values.ndim != 1:
        raise ValueError(
            f"log_probs must be one-dimensional (one log-probability per token), "
            f"got shape {values.shape}"
        )
    if values.size == 0:
        raise ValueError("cannot compute perplexity: log_probs is empty (no tokens)")
    if np.isnan(values).any():
        raise ValueError("log_probs contains NaN")
    highest = float(values.max())
    if highest > _LOGPROB_TOLERANCE:
        raise ValueError(
            f"log_probs must be natural-log probabilities (<= 0), found {highest!r}; "
            "pass log p, not the negative log-likelihood -log p"
        )
    return perplexity_of(float(values.sum()), int(values.size))


def perplexity_of(logprob_sum: float, n_tokens: int) -> float:
    """``exp(-logprob_sum / n_tokens)``: tunegate's one perplexity formula.

    Of one text (its tokens' natural-log probabilities summed) or of a corpus (summed
    over every text, ``n_tokens`` counting every scored token). NaN for no tokens;
    ``inf`` for a token of probability 0 or a mean that overflows.

    >>> round(perplexity_of(math.log(0.5) + math.log(0.25), 2), 6)
    2.828427
    """
    if n_tokens <= 0:
        return math.nan
    mean = logprob_sum / n_tokens
    if math.isinf(mean):
        return math.inf
    try:
        return math.exp(-mean)
    except OverflowError:
        return math.inf
