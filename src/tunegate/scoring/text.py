"""Text scoring: exact match, ROUGE (rouge-score), BLEU and chrF (sacrebleu).

Per-case scorers return a :class:`~tunegate.scoring.base.Score`; corpus metrics
return a plain ``float``. The numbers are the libraries' own: ROUGE comes from
``rouge_score.rouge_scorer`` and BLEU/chrF from ``sacrebleu``, called with the
options given here, so they match those packages to the last digit.

Conventions:

* A prediction of ``None`` (no text: the request failed) fails every per-case
  scorer with value 0; in a corpus metric it counts as an empty hypothesis.
* ``references`` may be one string or several acceptable references. Exact match
  passes if any reference matches; ROUGE takes the reference with the best
  F-measure (``rouge_scorer.score_multi``); BLEU and chrF count n-gram matches
  against all references at once, as sacrebleu does.
* Continuous per-case scores pass when ``value >= threshold``
  (:data:`~tunegate.scoring.base.DEFAULT_THRESHOLD` = 0.5 unless given).
* Corpus BLEU and chrF are on sacrebleu's 0-100 scale (the numbers papers quote);
  per-case BLEU and chrF values are divided by 100 to lie in ``[0, 1]``.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tunegate.scoring.base import DEFAULT_THRESHOLD, NO_ANSWER, Score
from tunegate.scoring.perplexity import calculate_perplexity, perplexity_of

if TYPE_CHECKING:
    from sacrebleu.metrics.bleu import BLEU
    from sacrebleu.metrics.chrf import CHRF

__all__ = [
    "ROUGE_TYPES",
    "calculate_perplexity",
    "corpus_bleu",
    "corpus_chrf",
    "exact_match",
    "exact_match_score",
    "normalize_answer",
    "perplexity_of",
    "rouge",
    "rouge_l_score",
    "sentence_bleu",
    "sentence_chrf",
]

#: The ROUGE variants :func:`rouge` computes by default.
ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")

References = str | Sequence[str]

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(?:a|an|the)\b", re.IGNORECASE)
_ROUGE_TYPE = re.compile(r"rouge(?:[1-9]|L|Lsum)")
_DETAIL_CHARS = 80


def _as_list(references: References) -> list[str]:
    return [references] if isinstance(references, str) else list(references)


def _short(text: str) -> str:
    return repr(text if len(text) <= _DETAIL_CHARS else text[: _DETAIL_CHARS - 3] + "...")


# --------------------------------------------------------------------------- exact match


def normalize_answer(
    text: str,
    *,
    strip: bool = True,
    casefold: bool = True,
    remove_punctuation: bool = False,
    remove_articles: bool = False,
) -> str:
    """Normalise an answer before exact comparison.

    Steps, in this order, each behind its flag:

    1. ``casefold``: ``text.casefold()`` (Unicode-aware lower-casing);
    2. ``remove_punctuation``: delete the ASCII punctuation characters of
       ``string.punctuation`` (deleted, not replaced: ``"new-york"`` -> ``"newyork"``);
    3. ``remove_articles``: replace the whole words ``a``, ``an``, ``the`` (any case)
       by a space;
    4. ``strip``: strip both ends and collapse each run of whitespace to one space.

    With all four on this is the SQuAD / NQ-open answer normalisation
    (lower, remove punctuation, remove articles, fix whitespace).

    >>> normalize_answer("The  Eiffel Tower!", remove_punctuation=True, remove_articles=True)
    'eiffel tower'
    """
    if casefold:
        text = text.casefold()
    if remove_punctuation:
        text = text.translate(_PUNCTUATION)
    if remove_articles:
        text = _ARTICLES.sub(" ", text)
    if strip:
        text = " ".join(text.split())
    return text


def exact_match(
    prediction: str | None,
    references: References,
    *,
    strip: bool = True,
    casefold: bool = True,
    remove_punctuation: bool = False,
    remove_articles: bool = False,
) -> Score:
    """1 if the normalised prediction equals any normalised reference, else 0.

    ``EM = max_r [normalize(prediction) == normalize(r)]`` with
    :func:`normalize_answer` and the same options on both sides.
    """
    if prediction is None:
        return Score.failure(NO_ANSWER)
    refs = _as_list(references)
    if not refs:
        return Score.failure("no reference answer to compare with")
    options = {
        "strip": strip,
        "casefold": casefold,
        "remove_punctuation": remove_punctuation,
        "remove_articles": remove_articles,
    }
    answer = normalize_answer(prediction, **options)
    if any(normalize_answer(ref, **options) == answer for ref in refs):
        return Score.from_bool(True)
    shown = ", ".join(_short(ref) for ref in refs[:5]) + (", ..." if len(refs) > 5 else "")
    return Score.from_bool(False, f"{_short(prediction)} matches none of [{shown}]")


def exact_match_score(
    predictions: Sequence[str | None],
    references: Sequence[References],
    *,
    strip: bool = True,
    casefold: bool = True,
    remove_punctuation: bool = False,
    remove_articles: bool = False,
) -> float:
    """Exact-match rate: the mean of :func:`exact_match` over the cases.

    ``EM = (1 / N) * sum_i max_r [normalize(predictions[i]) == normalize(r)]`` over
    the acceptable answers ``r`` in ``references[i]`` (one string or several), with
    :func:`normalize_answer` and the same options on both sides. The defaults only
    case-fold and collapse whitespace; ``remove_punctuation=True,
    remove_articles=True`` gives the SQuAD normalisation. A ``None`` prediction
    counts as a miss. NaN when there are no cases; :class:`ValueError` when the two
    sequences differ in length.
    """
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference entries")
    if not predictions:
        return math.nan
    total = 0.0
    for prediction, refs in zip(predictions, references, strict=True):
        total += exact_match(
            prediction,
            refs,
            strip=strip,
            casefold=casefold,
            remove_punctuation=remove_punctuation,
            remove_articles=remove_articles,
        ).value
    return total / len(predictions)


# --------------------------------------------------------------------------- ROUGE


@lru_cache(maxsize=32)
def _rouge_scorer(types: tuple[str, ...], use_stemmer: bool, split_summaries: bool) -> Any:
    for rouge_type in types:
        if not _ROUGE_TYPE.fullmatch(rouge_type):
            raise ValueError(
                f"unknown ROUGE type {rouge_type!r} (use rouge1..rouge9, rougeL or rougeLsum)"
            )
    if not types:
        raise ValueError("no ROUGE type requested")
    from rouge_score import rouge_scorer  # heavy (nltk): imported when scoring

    return rouge_scorer.RougeScorer(
        list(types), use_stemmer=use_stemmer, split_summaries=split_summaries
    )


def rouge(
    prediction: str | None,
    reference: References,
    types: Sequence[str] = ROUGE_TYPES,
    use_stemmer: bool = False,
    *,
    split_summaries: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Score]:
    """ROUGE scores of ``prediction`` against ``reference``, one :class:`Score` per type.

    For each type the value is the F-measure ``F = 2 P R / (P + R)`` (0 when
    ``P + R = 0``), where for ROUGE-N ``P`` and ``R`` are the clipped n-gram overlap
    divided by the prediction's and the reference's n-gram counts, and for ROUGE-L
    the longest common subsequence length divided by the token counts (ROUGE-Lsum:
    the summary-level union LCS over newline-separated sentences). ``parts`` holds
    ``precision`` and ``recall``.

    Computed by ``rouge_score.rouge_scorer.RougeScorer(types, use_stemmer,
    split_summaries).score(reference, prediction)``; with several references,
    ``score_multi`` keeps, per type, the reference with the highest F-measure.
    rouge-score's tokenizer lower-cases and keeps only ``[a-z0-9]`` runs, so text
    in other scripts scores 0 (use chrF for such languages).
    """
    type_tuple = tuple(types)
    scorer = _rouge_scorer(type_tuple, use_stemmer, split_summaries)
    if prediction is None:
        return {t: Score.failure(NO_ANSWER) for t in type_tuple}
    refs = _as_list(reference)
    if not refs:
        return {t: Score.failure("no reference to compare with") for t in type_tuple}
    if len(refs) == 1:
        result = scorer.score(refs[0], prediction)
    else:
        result = scorer.score_multi(refs, prediction)
    return {
        t: Score.from_value(
            result[t].fmeasure,
            threshold,
            parts={"precision": float(result[t].precision), "recall": float(result[t].recall)},
        )
        for t in type_tuple
    }


def rouge_l_score(
    prediction: str | None, reference: References, use_stemmer: bool = False
) -> float:
    """ROUGE-L F-measure of ``prediction`` against ``reference``, in ``[0, 1]``.

    With ``LCS`` the length of the longest common subsequence of the two token
    sequences, ``P = LCS / len(prediction tokens)``, ``R = LCS / len(reference
    tokens)`` and ``F = 2 P R / (P + R)`` (0 when ``P + R = 0``). Tokens are
    rouge-score's: lower-cased ``[a-z0-9]`` runs, Porter-stemmed if ``use_stemmer``.
    Equals ``rouge_score.rouge_scorer.RougeScorer(["rougeL"], use_stemmer)
    .score(reference, prediction)["rougeL"].fmeasure``; with several references the
    best F-measure is kept. 0 for a ``None`` prediction.
    """
    return rouge(prediction, reference, ("rougeL",), use_stemmer)["rougeL"].value


# --------------------------------------------------------------------------- BLEU, chrF


def _check_bleu_options(tokenize: str, smooth_method: str) -> None:
    from sacrebleu.metrics.bleu import BLEU

    if tokenize not in BLEU.TOKENIZERS:
        raise ValueError(
            f"unknown BLEU tokenizer {tokenize!r} (choose from {', '.join(BLEU.TOKENIZERS)})"
        )
    if smooth_method not in BLEU.SMOOTH_DEFAULTS:
        raise ValueError(
            f"unknown BLEU smoothing {smooth_method!r} "
            f"(choose from {', '.join(BLEU.SMOOTH_DEFAULTS)})"
        )


@lru_cache(maxsize=32)
def _bleu_metric(
    tokenize: str,
    smooth_method: str,
    smooth_value: float | None,
    lowercase: bool,
    max_ngram_order: int,
    effective_order: bool,
) -> BLEU:
    from sacrebleu.metrics.bleu import BLEU

    _check_bleu_options(tokenize, smooth_method)
    return BLEU(
        lowercase=lowercase,
        tokenize=tokenize,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        max_ngram_order=max_ngram_order,
        effective_order=effective_order,
    )


@lru_cache(maxsize=32)
def _chrf_metric(
    char_order: int, word_order: int, beta: int, lowercase: bool, eps_smoothing: bool
) -> CHRF:
    from sacrebleu.metrics.chrf import CHRF

    return CHRF(
        char_order=char_order,
        word_order=word_order,
        beta=beta,
        lowercase=lowercase,
        eps_smoothing=eps_smoothing,
    )


def _reference_streams(
    hyps: Sequence[str | None], refs_lists: Sequence[References]
) -> tuple[list[str], list[list[str | None]]]:
    """Per-hypothesis reference lists -> sacrebleu's reference streams (None-padded)."""
    if len(hyps) != len(refs_lists):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs_lists)} reference entries")
    per_case = [_as_list(refs) for refs in refs_lists]
    for position, refs in enumerate(per_case):
        if not refs:
            raise ValueError(f"hypothesis {position} has no reference")
    width = max(len(refs) for refs in per_case)
    streams: list[list[str | None]] = [
        [refs[k] if k < len(refs) else None for refs in per_case] for k in range(width)
    ]
    return ["" if hyp is None else hyp for hyp in hyps], streams


def corpus_bleu(
    hyps: Sequence[str | None],
    refs_lists: Sequence[References],
    tokenize: str = "13a",
    *,
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    max_ngram_order: int = 4,
    effective_order: bool = False,
) -> float:
    """Corpus BLEU on sacrebleu's 0-100 scale (NaN for an empty corpus).

    ``BLEU = 100 * BP * exp(mean_n log p_n)`` for ``n = 1..max_ngram_order``, where
    ``p_n`` is the corpus-wide clipped n-gram precision (clipped by the maximum count
    over the references) and ``BP = min(1, exp(1 - r / c))`` with ``c`` the total
    hypothesis length and ``r`` the sum of the closest reference lengths.

    ``refs_lists[i]`` holds the reference(s) of ``hyps[i]`` (one string or a list;
    the number may vary between cases). This is the per-case layout, transposed
    here into sacrebleu's reference streams. ``None`` hypotheses count as empty.
    ``effective_order=True`` leaves n-gram orders without any match out of the
    mean. Computed by ``sacrebleu.metrics.BLEU(...).corpus_score``.
    """
    if not hyps and not refs_lists:
        return math.nan
    hypotheses, streams = _reference_streams(hyps, refs_lists)
    from sacrebleu.metrics.bleu import BLEU

    _check_bleu_options(tokenize, smooth_method)
    metric = BLEU(
        lowercase=lowercase,
        tokenize=tokenize,
        smooth_method=smooth_method,
        smooth_value=smooth_value,
        max_ngram_order=max_ngram_order,
        effective_order=effective_order,
    )
    return float(metric.corpus_score(hypotheses, streams).score)  # type: ignore[arg-type]


def sentence_bleu(
    hyp: str | None,
    refs: References,
    *,
    tokenize: str = "13a",
    smooth_method: str = "exp",
    smooth_value: float | None = None,
    lowercase: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> Score:
    """Sentence BLEU / 100 (sacrebleu ``sentence_bleu``: effective order, exp smoothing).

    Same formula as :func:`corpus_bleu` on one segment, with n-gram orders that have
    no match left out of the mean (effective order) and the chosen smoothing.
    ``parts``: ``brevity_penalty`` and ``precision_1`` .. ``precision_4`` (in [0, 1]).
    """
    if hyp is None:
        return Score.failure(NO_ANSWER)
    ref_list = _as_list(refs)
    if not ref_list:
        return Score.failure("no reference to compare with")
    metric = _bleu_metric(tokenize, smooth_method, smooth_value, lowercase, 4, True)
    result = metric.sentence_score(hyp, ref_list)
    parts = {"brevity_penalty": float(result.bp)}
    for order, precision in enumerate(result.precisions, start=1):
        parts[f"precision_{order}"] = float(precision) / 100
    return Score.from_value(float(result.score) / 100, threshold, parts=parts)


def corpus_chrf(
    hyps: Sequence[str | None],
    refs_lists: Sequence[References],
    *,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
    eps_smoothing: bool = False,
) -> float:
    """Corpus chrF (``word_order=2``: chrF++) on sacrebleu's 0-100 scale.

    ``chrF = 100 * (1 + beta^2) P R / (beta^2 P + R)`` where ``P`` and ``R`` are the
    character n-gram (``1..char_order``, whitespace removed) and word n-gram
    (``1..word_order``) precision and recall, averaged over the orders, from
    statistics summed over the corpus. ``eps_smoothing=True`` reproduces the
    official chrF++.py; the default (False) is sacrebleu's default.
    ``refs_lists`` is per case, as in :func:`corpus_bleu`.
    """
    if not hyps and not refs_lists:
        return math.nan
    from sacrebleu.metrics.chrf import CHRF

    hypotheses, streams = _reference_streams(hyps, refs_lists)
    metric = CHRF(
        char_order=char_order,
        word_order=word_order,
        beta=beta,
        lowercase=lowercase,
        eps_smoothing=eps_smoothing,
    )
    return float(metric.corpus_score(hypotheses, streams).score)  # type: ignore[arg-type]


def sentence_chrf(
    hyp: str | None,
    refs: References,
    *,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
    eps_smoothing: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
) -> Score:
    """Sentence chrF / 100 (sacrebleu ``sentence_chrf``); formula as :func:`corpus_chrf`."""
    if hyp is None:
        return Score.failure(NO_ANSWER)
    ref_list = _as_list(refs)
    if not ref_list:
        return Score.failure("no reference to compare with")
    metric = _chrf_metric(char_order, word_order, beta, lowercase, eps_smoothing)
    result = metric.sentence_score(hyp, ref_list)
    return Score.from_value(float(result.score) / 100, threshold)
