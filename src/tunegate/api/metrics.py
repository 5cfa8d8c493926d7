"""The tutorial's metric functions on plain values, with the CLI's implementations.

* :func:`exact_match_score` - the exact-match rate of predictions against references;
* :func:`rouge_l_score` - ROUGE-L F-measure, exactly rouge-score's;
* :func:`calculate_perplexity` - ``exp(-mean(log_probs))``.

Each is :mod:`tunegate.scoring.text`'s function, with one guard each on the call shape:
:func:`exact_match_score` takes two lists, and two strings raise :class:`TypeError` (a
string is a sequence of characters, so it would otherwise compare letter by letter);
:func:`rouge_l_score` compares one answer, and a list of answers (or anything but text)
raises :class:`TypeError`.
"""

from __future__ import annotations

from collections.abc import Sequence

from tunegate.scoring import text as _text
from tunegate.scoring.text import References, calculate_perplexity

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


def rouge_l_score(
    prediction: str | None, reference: References, use_stemmer: bool = False
) -> float:
    """ROUGE-L F-measure of one answer against one reference (or a list of acceptable
    references, the best kept), exactly rouge-score's; 0 for a ``None`` prediction. See
    :func:`tunegate.scoring.text.rouge_l_score`.

    Raises :class:`TypeError` when ``prediction`` is not a string (a list of answers is
    meant as ``[rouge_l_score(p, r) for p, r in zip(predictions, references)]``) or
    ``reference`` is neither a string nor a list of strings.
    """
    if prediction is not None and not isinstance(prediction, str):
        what = type(prediction).__name__
        hint = (
            "; for several answers, score each: "
            "[rouge_l_score(p, r) for p, r in zip(predictions, references)]"
            if isinstance(prediction, list | tuple)
            else ""
        )
        raise TypeError(
            f"rouge_l_score compares one answer, but prediction is not a string: "
            f"{_short(prediction)} ({what}){hint}"
        )
    refs = [reference] if isinstance(reference, str) else reference
    if not isinstance(refs, list | tuple) or not all(isinstance(r, str) for r in refs):
        raise TypeError(
            "rouge_l_score takes a reference string or a list of reference strings, but "
            f"reference is {_short(reference)}"
        )
    return _text.rouge_l_score(prediction, reference, use_stemmer)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
