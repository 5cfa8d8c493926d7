"""Classification scoring: answer parsing, the classification report, count metrics.

Conventions shared with :mod:`tunegate.stats`:

* ``labels`` is the configured label set in its configured order. Every metric is
  taken over exactly this set, as scikit-learn does with ``labels=labels`` and
  ``zero_division=0``.
* A prediction of ``None`` means "no valid label": the answer could not be parsed
  (unparseable) or the request failed (a transport error, flagged in ``errors``).
  It counts as wrong for its true class (a false negative of that class) and as a
  false positive of no class, so it never adds a phantom class to the macro average.

Notation used in the formulas below, for a class ``k``: ``tp_k`` = cases of class
``k`` predicted ``k``; ``support_k`` = cases whose true label is ``k``;
``predicted_k`` = cases predicted ``k``; ``n`` = number of cases; ``L`` = number of
labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from tunegate.scoring.labels import DEFAULT_RULE, LabelParser, normalize

__all__ = [
    "CONFUSION_EXTRA_COLUMNS",
    "COUNT_METRICS",
    "ClassStats",
    "ClassificationReport",
    "LabelParser",
    "classification_report",
    "confusion_codes",
    "count_metric",
    "metrics_from_counts",
    "n_count_cells",
    "normalize",
    "parse_label",
]

#: Names of the two confusion-matrix columns that follow the predicted labels.
CONFUSION_EXTRA_COLUMNS: tuple[str, str] = ("unparseable", "error")

#: Keys of the dictionary returned by :func:`metrics_from_counts`.
COUNT_METRICS: tuple[str, ...] = (
    "accuracy",
    "macro_f1",
    "micro_f1",
    "weighted_f1",
    "macro_precision",
    "macro_recall",
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- parsing
# The parse rules live in tunegate.scoring.labels; LabelParser and normalize are
# re-exported here, where they have always been imported from.


@lru_cache(maxsize=64)
def _parser_for(labels: tuple[str, ...], rule: str, pattern: str | None) -> LabelParser:
    return LabelParser(labels, rule, pattern)


def parse_label(
    answer: str | None,
    labels: Sequence[str],
    rule: str = DEFAULT_RULE,
    pattern: str | None = None,
) -> str | None:
    """Map a model's answer to one of ``labels``; ``None`` means unparseable.

    ``rule`` is one of :data:`~tunegate.scoring.labels.PARSE_RULES` (``pattern``: the
    ``regex`` rule's pattern). The default, ``word``, on normalised text (see
    :func:`normalize`):

    1. if the whole answer equals a label, that label;
    2. otherwise find every whole-word occurrence of every label in the answer's
       words, drop an occurrence lying inside a longer label's occurrence (with
       labels ``positive`` and ``very positive``, "very positive" is only the
       latter), and return the label if exactly one distinct label remains and no
       occurrence of it is negated (a negation word such as ``not``, ``no``,
       ``never`` or ``n't`` among the five words before it, in the same clause);
    3. no label, several different labels, or a negated one: ``None``.

    A label inside a word does not count ("positively" is not ``positive``).
    The label is returned as configured, not normalised. The parser for a given
    label set is built once and cached; use :class:`LabelParser` directly in loops
    over many label sets.

    >>> parse_label("The sentiment is Neutral.", ["negative", "neutral", "positive"])
    'neutral'
    >>> parse_label("positive or negative", ["negative", "neutral", "positive"]) is None
    True
    >>> parse_label("Not positive", ["negative", "neutral", "positive"]) is None
    True
    >>> parse_label("Not positive", ["negative", "neutral", "positive"], "substring")
    'positive'
    """
    return _parser_for(tuple(labels), rule, pattern)(answer)


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class ClassStats:
    """Per-class scores (``zero_division=0``).

    ``precision = tp / predicted``, ``recall = tp / support``,
    ``f1 = 2 tp / (support + predicted)``; ``support`` = number of true cases.
    """

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class ClassificationReport:
    """Classification scores over a fixed label set.

    ``confusion[i][j]``: cases of true label ``labels[i]`` predicted ``labels[j]``
    for ``j < L``; column ``L`` counts unparseable answers and column ``L + 1``
    transport errors (see :attr:`confusion_columns`). Rates are fractions of ``n``.
    With ``n == 0`` every score and rate is NaN.
    """

    labels: list[str]
    n: int
    accuracy: float
    macro_f1: float
    micro_f1: float
    weighted_f1: float
    macro_precision: float
    macro_recall: float
    per_class: dict[str, ClassStats]
    confusion: list[list[int]]
    unparseable_rate: float
    error_rate: float

    @property
    def confusion_columns(self) -> list[str]:
        """Column names of :attr:`confusion`: the labels, then unparseable and error."""
        return [*self.labels, *CONFUSION_EXTRA_COLUMNS]

    def to_dict(self) -> dict[str, Any]:
        """The report as plain Python values (NaN stays a float NaN)."""
        return asdict(self)


def _check_labels(labels: Sequence[str]) -> list[str]:
    label_list = list(labels)
    if not label_list:
        raise ValueError("labels must not be empty")
    if len(set(label_list)) != len(label_list):
        raise ValueError(f"labels must be distinct, got {label_list!r}")
    return label_list


def _check_predictions(
    y_true: Sequence[str], y_pred: Sequence[str | None], label_set: set[str]
) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} cases but y_pred has {len(y_pred)}")
    for position, (truth, pred) in enumerate(zip(y_true, y_pred, strict=True)):
        if truth not in label_set:
            raise ValueError(f"y_true[{position}] = {truth!r} is not one of the labels")
        if pred is not None and pred not in label_set:
            raise ValueError(
                f"y_pred[{position}] = {pred!r} is not one of the labels "
                "(use None for an answer with no valid label)"
            )


def classification_report(
    y_true: Sequence[str],
    y_pred: Sequence[str | None],
    labels: Sequence[str],
    errors: Sequence[bool] | None = None,
) -> ClassificationReport:
    """Score predictions against true labels over the configured label set.

    ``y_pred[i] is None`` means no valid label: unparseable, or a transport error
    when ``errors[i]`` is true (an error must have ``y_pred[i] is None``). Such a
    case is a false negative of its true class and a false positive of no class.

    Formulas (scikit-learn, ``labels=labels``, ``zero_division=0``; a ratio with a
    zero denominator is 0):

    * ``accuracy = sum_k tp_k / n`` (unparseable answers and errors are wrong);
    * ``f1_k = 2 tp_k / (support_k + predicted_k)``;
      ``macro_f1 = mean_k f1_k`` over all ``L`` labels, including labels absent
      from both ``y_true`` and ``y_pred`` (they score 0);
    * ``micro_f1 = 2 sum_k tp_k / (n + sum_k predicted_k)``;
    * ``weighted_f1 = sum_k support_k f1_k / n``;
    * ``macro_precision = mean_k tp_k / predicted_k``,
      ``macro_recall = mean_k tp_k / support_k``;
    * ``unparseable_rate``, ``error_rate``: fraction of the ``n`` cases.

    Every score is computed from the confusion counts (``np.bincount`` of
    :func:`confusion_codes`, through :func:`metrics_from_counts`) with numpy, in the
    same floating-point operations as scikit-learn's ``precision_recall_fscore_support``
    / ``f1_score`` / ``accuracy_score`` / ``confusion_matrix`` with ``labels=labels``,
    ``zero_division=0`` and ``None`` mapped to a string that is not a label. The tests
    assert bit-for-bit equality with scikit-learn on random inputs.
    """
    label_list = _check_labels(labels)
    _check_predictions(y_true, y_pred, set(label_list))
    n = len(y_true)
    error_flags = [False] * n if errors is None else [bool(flag) for flag in errors]
    if len(error_flags) != n:
        raise ValueError(f"errors has {len(error_flags)} entries but there are {n} cases")
    for position, (pred, failed) in enumerate(zip(y_pred, error_flags, strict=True)):
        if failed and pred is not None:
            raise ValueError(f"errors[{position}] is set but y_pred[{position}] = {pred!r}")

    n_labels = len(label_list)
    index = {label: i for i, label in enumerate(label_list)}
    extra = [[0, 0] for _ in range(n_labels)]
    codes: list[int] = []
    for truth, pred, failed in zip(y_true, y_pred, error_flags, strict=True):
        row = index[truth]
        if pred is None:
            extra[row][1 if failed else 0] += 1
            codes.append(row * (n_labels + 1) + n_labels)
        else:
            codes.append(row * (n_labels + 1) + index[pred])
    n_errors = sum(error_flags)
    n_unparseable = sum(pred is None for pred in y_pred) - n_errors

    if n == 0:
        nan = math.nan
        return ClassificationReport(
            labels=label_list,
            n=0,
            accuracy=nan,
            macro_f1=nan,
            micro_f1=nan,
            weighted_f1=nan,
            macro_precision=nan,
            macro_recall=nan,
            per_class={label: ClassStats(nan, nan, nan, 0) for label in label_list},
            confusion=[[0] * (n_labels + 2) for _ in label_list],
            unparseable_rate=nan,
            error_rate=nan,
        )

    counts = np.bincount(np.asarray(codes, dtype=np.int64), minlength=n_count_cells(n_labels))
    averages = {name: float(values[0]) for name, values in metrics_from_counts(counts).items()}
    cells = counts.reshape(n_labels, n_labels + 1)
    tp, support, predicted, f1 = _class_counts(cells[np.newaxis, :, :].astype(np.float64))
    precision = _ratio(tp, predicted)[0]
    recall = _ratio(tp, support)[0]
    return ClassificationReport(
        labels=label_list,
        n=n,
        accuracy=averages["accuracy"],
        macro_f1=averages["macro_f1"],
        micro_f1=averages["micro_f1"],
        weighted_f1=averages["weighted_f1"],
        macro_precision=averages["macro_precision"],
        macro_recall=averages["macro_recall"],
        per_class={
            label: ClassStats(
                precision=float(precision[i]),
                recall=float(recall[i]),
                f1=float(f1[0, i]),
                support=int(support[0, i]),
            )
            for i, label in enumerate(label_list)
        },
        confusion=[
            [int(count) for count in cells[i, :n_labels]] + extra[i] for i in range(n_labels)
        ],
        unparseable_rate=n_unparseable / n,
        error_rate=n_errors / n,
    )


# --------------------------------------------------------------------------- counts


def n_count_cells(n_labels: int) -> int:
    """Number of confusion cells ``L * (L + 1)`` used by :func:`confusion_codes`."""
    return n_labels * (n_labels + 1)


def confusion_codes(
    y_true: Sequence[str], y_pred: Sequence[str | None], labels: Sequence[str]
) -> IntArray:
    """Encode each case as its confusion cell, for the count-based bootstrap.

    ``code = true_index * (L + 1) + pred_index`` with ``pred_index = L`` for "no
    valid label" (unparseable or error, which score the same). Codes lie in
    ``[0, L * (L + 1))``; ``np.bincount(codes, minlength=L * (L + 1))`` is the count
    vector :func:`metrics_from_counts` takes.
    """
    label_list = _check_labels(labels)
    _check_predictions(y_true, y_pred, set(label_list))
    n_labels = len(label_list)
    index = {label: i for i, label in enumerate(label_list)}
    codes = [
        index[truth] * (n_labels + 1) + (n_labels if pred is None else index[pred])
        for truth, pred in zip(y_true, y_pred, strict=True)
    ]
    return np.asarray(codes, dtype=np.int64).reshape(len(codes))


def _n_labels_from_cells(n_cells: int) -> int:
    n_labels = (math.isqrt(4 * n_cells + 1) - 1) // 2
    if n_labels < 1 or n_labels * (n_labels + 1) != n_cells:
        raise ValueError(f"{n_cells} count cells is not L * (L + 1) for any L >= 1")
    return n_labels


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """``numerator / denominator`` with 0 where the denominator is 0 (zero_division=0)."""
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, numerator / safe)


def _class_counts(cells: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``tp``, ``support``, ``predicted`` and ``f1`` per class, each of shape ``(B, L)``.

    ``cells`` has shape ``(B, L, L + 1)``: ``cells[b, t, p]`` cases of true label ``t``
    predicted ``p`` (``p = L``: no valid label). ``f1 = 2 tp / (support + predicted)``,
    0 where the denominator is 0 (scikit-learn's ``2.0 * tp / (1.0 * support +
    predicted)``, the same operations in the same order).
    """
    n_labels = cells.shape[1]
    labelled = cells[:, :, :n_labels]
    tp = np.diagonal(labelled, axis1=1, axis2=2)
    support = cells.sum(axis=2)
    predicted = labelled.sum(axis=1)
    return tp, support, predicted, _ratio(2.0 * tp, support + predicted)


def metrics_from_counts(counts: npt.ArrayLike) -> dict[str, FloatArray]:
    """Classification metrics from confusion-cell counts, vectorised over rows.

    ``counts`` has shape ``(B, L * (L + 1))`` (or ``(L * (L + 1),)``, read as one
    row): row ``b`` holds, at index ``t * (L + 1) + p``, the number of cases of true
    label ``t`` predicted ``p`` (``p = L``: no valid label), as produced by
    ``np.bincount(confusion_codes(...))``. Returns arrays of shape ``(B,)`` for
    :data:`COUNT_METRICS` (same formulas as :func:`classification_report`; the tests
    assert exact equality with scikit-learn's with ``labels=labels`` and
    ``zero_division=0``):

    * ``accuracy = sum_k tp_k / n``;
    * ``macro_f1 = mean_k 2 tp_k / (support_k + predicted_k)`` (0 when the
      denominator is 0; such a class still counts in the mean);
    * ``micro_f1 = 2 sum_k tp_k / (n + sum_k predicted_k)``;
    * ``weighted_f1 = sum_k support_k f1_k / n``;
    * ``macro_precision = mean_k tp_k / predicted_k``;
      ``macro_recall = mean_k tp_k / support_k``.

    A row with no cases (``n == 0``) gives NaN for every metric.
    """
    array = np.asarray(counts)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise ValueError(f"counts must have shape (B, L * (L + 1)), got {array.shape}")
    n_rows, n_cells = array.shape
    n_labels = _n_labels_from_cells(n_cells)
    cells = array.astype(np.float64).reshape(n_rows, n_labels, n_labels + 1)
    tp, support, predicted, f1 = _class_counts(cells)
    n = support.sum(axis=1)
    tp_total = tp.sum(axis=1)

    empty = n == 0
    safe_n = np.where(empty, 1.0, n)
    result = {
        "accuracy": tp_total / safe_n,
        "macro_f1": f1.mean(axis=1),
        "micro_f1": _ratio(2.0 * tp_total, n + predicted.sum(axis=1)),
        "weighted_f1": (f1 * support).sum(axis=1) / safe_n,
        "macro_precision": _ratio(tp, predicted).mean(axis=1),
        "macro_recall": _ratio(tp, support).mean(axis=1),
    }
    return {name: np.where(empty, np.nan, values) for name, values in result.items()}


def count_metric(name: str) -> Callable[[npt.NDArray[Any]], FloatArray]:
    """The metric ``name`` of :data:`COUNT_METRICS` as a function of a counts array.

    Suited as the ``metric`` argument of :func:`tunegate.stats.bootstrap_counts_ci`.
    """
    if name not in COUNT_METRICS:
        raise ValueError(f"unknown count metric {name!r}; choose from {COUNT_METRICS}")

    def metric(counts: npt.NDArray[Any]) -> FloatArray:
        return metrics_from_counts(counts)[name]

    metric.__name__ = name
    metric.__doc__ = f"{name} of each row of confusion-cell counts (see metrics_from_counts)."
    return metric
