"""The tutorial's metric functions on plain values, with the CLI's implementations.

* :func:`exact_match_score` - the exact-match rate of predictions against references;
* :func:`rouge_l_score` - ROUGE-L F-measure, exactly rouge-score's;
* :func:`calculate_perplexity` - ``exp(-mean(log_probs))``.

Each is :mod:`tunegate.scoring.text`'s function; :func:`exact_match_score` adds one
guard: two strings instead of two lists raise :class:`TypeError` (a string is a
sequence of characters, so it would otherwise compare letter by letter).
"""

from __future__ import annotations

from collections.abc import Sequence

from tunegate.scoring import text as _text
from tunegate.scoring.text import References, calculate_perplexity, rouge_l_score

__all__ = ["calculate_perplexity", "exact_match_score", "rouge_l_score"]


def exact_match_score(
    predictions: Sequence[str | None],
    references: Sequence[References],
    *,
    strip: bool = True,
    casefold: bool = True,
    remove_punctuation: bool = False,
    remove_articles: bool = False,
) -> float:
    """Exact-match rate: ``(1 / N) * sum_i max_r [normalize(p_i) == normalize(r)]``.

    ``predictions`` is a list of answers and ``references`` a list of the same
    length whose items are one acceptable answer or a list of them. The defaults
    only case-fold and collapse whitespace; ``remove_punctuation=True,
    remove_articles=True`` gives the SQuAD normalisation. A ``None`` prediction
    counts as a miss; NaN with no cases. See
    :func:`tunegate.scoring.text.exact_match_score`.

    Raises :class:`TypeError` when ``predictions`` or ``references`` is a single
    string (``exact_match_score(["Paris"], ["Lyons"])`` is meant), and
    :class:`ValueError` when the lists differ in length.
    """
    for name, value in (("predictions", predictions), ("references", references)):
        if isinstance(value, str | bytes):
            raise TypeError(
                f"exact_match_score takes two lists, but {name} is a string ({value[:40]!r}); "
                f"to compare one answer write exact_match_score([prediction], [reference])"
            )
    return _text.exact_match_score(
        predictions,
        references,
        strip=strip,
        casefold=casefold,
        remove_punctuation=remove_punctuation,
        remove_articles=remove_articles,
    )
