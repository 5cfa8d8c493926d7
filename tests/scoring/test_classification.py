"""Classification scoring: label parsing, and metrics that must equal scikit-learn's bit for
bit (tunegate computes them with numpy from confusion counts; scikit-learn is only the
reference here)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from tunegate.scoring.classification import (
    COUNT_METRICS,
    ClassificationReport,
    LabelParser,
    classification_report,
    confusion_codes,
    count_metric,
    metrics_from_counts,
    n_count_cells,
    normalize,
    parse_label,
)

pytestmark = pytest.mark.filterwarnings("error")

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TWEETEVAL = SHARED / "data" / "sentiment" / "tweeteval"
SENTIMENT = ["negative", "neutral", "positive"]
NO_LABEL = "<no valid label>"  # the tests' own stand-in for None when calling sklearn


def random_cases(
    seed: int,
) -> tuple[list[str], list[str], list[str | None], list[bool]]:
    """Random labels (2-6), true labels from a subset, predictions with None/errors."""
    rng = np.random.default_rng(seed)
    n_labels = int(rng.integers(2, 7))
    labels = [f"class {chr(ord('A') + i)}" for i in range(n_labels)]
    # Restrict true and predicted labels to random subsets so that some classes are
    # absent from y_true, from y_pred, or from both.
    true_pool = rng.choice(labels, size=int(rng.integers(1, n_labels + 1)), replace=False)
    pred_pool = rng.choice(labels, size=int(rng.integers(1, n_labels + 1)), replace=False)
    n = int(rng.integers(1, 80))
    y_true = [str(label) for label in rng.choice(true_pool, size=n)]
    y_pred: list[str | None] = []
    errors: list[bool] = []
    for truth in y_true:
        draw = rng.random()
        if draw < 0.1:
            y_pred.append(None)
            errors.append(True)
        elif draw < 0.25:
            y_pred.append(None)
            errors.append(False)
        elif draw < 0.6:
            y_pred.append(truth)
            errors.append(False)
        else:
            y_pred.append(str(rng.choice(pred_pool)))
            errors.append(False)
    return labels, y_true, y_pred, errors


def sklearn_inputs(y_pred: list[str | None]) -> list[str]:
    return [NO_LABEL if pred is None else pred for pred in y_pred]


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Positive.", "positive"),
        ("  NEGATIVE \n", "negative"),
        ("very-positive!!", "very positive"),
        ("«neutral»", "neutral"),
        ("a+b=c $5", "a b c 5"),
        ("Straße", "strasse"),
        ("", ""),
        ("...", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


# --------------------------------------------------------------------------- parse_label


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Positive.", "positive"),
        ("  NEGATIVE ", "negative"),
        ("The sentiment is neutral", "neutral"),
        ("Sentiment: **positive**", "positive"),
        ("'negative'", "negative"),
        ("positive or negative", None),
        ("positive, negative", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("positively", None),
        ("The review is positively glowing", None),
        ("unpositive", None),
        ("positive positive", "positive"),
        ("I don't know", None),
    ],
)
def test_parse_label_sentiment(answer: str | None, expected: str | None) -> None:
    assert parse_label(answer, SENTIMENT) == expected


MULTI_WORD = ["positive", "very positive", "negative", "Very Negative"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("very positive", "very positive"),
        ("Very-Positive!", "very positive"),
        ("The answer: very positive.", "very positive"),
        ("positive", "positive"),
        ("It is positive, not very", "positive"),
        ("very negative", "Very Negative"),
        ("positive and very positive", None),
        ("very positive or very negative", None),
        ("very", None),
    ],
)
def test_parse_label_multi_word(answer: str, expected: str | None) -> None:
    assert parse_label(answer, MULTI_WORD) == expected


def test_parse_label_returns_configured_spelling() -> None:
    labels = ["Not_Spam", "SPAM"]
    assert parse_label("not spam", labels) == "Not_Spam"
    assert parse_label("This is spam.", labels) == "SPAM"
    assert parse_label("It's not spam.", labels) == "Not_Spam"  # "spam" lies inside
    assert parse_label("spam or not spam", labels) is None


def test_label_parser_matches_parse_label() -> None:
    parser = LabelParser(MULTI_WORD)
    for answer in ["very positive", "positive", "meh", None, "very negative!"]:
        assert parser(answer) == parse_label(answer, MULTI_WORD)


@pytest.mark.parametrize("labels", [[], ["yes", "Yes!"], ["ok", "..."]])
def test_label_parser_rejects_bad_label_sets(labels: list[str]) -> None:
    with pytest.raises(ValueError, match="label"):
        LabelParser(labels)


# --------------------------------------------------------------------------- report


@pytest.mark.parametrize("seed", range(24))
def test_report_equals_sklearn(seed: int) -> None:
    labels, y_true, y_pred, errors = random_cases(seed)
    report = classification_report(y_true, y_pred, labels, errors)
    pred = sklearn_inputs(y_pred)
    common = {"labels": labels, "zero_division": 0}

    assert report.n == len(y_true)
    assert report.accuracy == accuracy_score(y_true, pred)
    assert report.macro_f1 == f1_score(y_true, pred, average="macro", **common)
    assert report.micro_f1 == f1_score(y_true, pred, average="micro", **common)
    assert report.weighted_f1 == f1_score(y_true, pred, average="weighted", **common)
    macro_p, macro_r, _, _ = precision_recall_fscore_support(
        y_true, pred, average="macro", **common
    )
    assert report.macro_precision == macro_p
    assert report.macro_recall == macro_r
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, pred, average=None, **common
    )
    for i, label in enumerate(labels):
        stats = report.per_class[label]
        assert (stats.precision, stats.recall, stats.f1, stats.support) == (
            precision[i],
            recall[i],
            f1[i],
            support[i],
        )
    assert report.error_rate == sum(errors) / len(y_true)
    n_unparseable = sum(p is None and not e for p, e in zip(y_pred, errors, strict=True))
    assert report.unparseable_rate == n_unparseable / len(y_true)


@st.composite
def labelled_cases(
    draw: st.DrawFn,
) -> tuple[list[str], list[str], list[str | None], list[bool]]:
    """A label set (1-12 labels, some absent from the truth, the predictions or both) and
    1-60 cases whose predictions may be any label, unparseable (None) or an error."""
    names = st.text(alphabet="abcXYZé -_0", min_size=1, max_size=4)
    labels = draw(st.lists(names, min_size=1, max_size=12, unique=True))
    true_pool = draw(st.lists(st.sampled_from(labels), min_size=1, unique=True))
    pred_pool: list[str | None] = [None, *labels]
    n = draw(st.integers(min_value=1, max_value=60))
    y_true = draw(st.lists(st.sampled_from(true_pool), min_size=n, max_size=n))
    y_pred = draw(st.lists(st.sampled_from(pred_pool), min_size=n, max_size=n))
    errors = [pred is None and draw(st.booleans()) for pred in y_pred]
    return labels, y_true, y_pred, errors


@settings(max_examples=300, deadline=None)
@given(labelled_cases())
def test_report_property_equals_sklearn_bit_for_bit(
    case: tuple[list[str], list[str], list[str | None], list[bool]],
) -> None:
    labels, y_true, y_pred, errors = case
    report = classification_report(y_true, y_pred, labels, errors)
    pred = sklearn_inputs(y_pred)
    common = {"labels": labels, "zero_division": 0}

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, pred, average=None, **common
    )
    macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
        y_true, pred, average="macro", **common
    )
    expected = {
        "accuracy": accuracy_score(y_true, pred),
        "macro_f1": macro_f1,
        "micro_f1": f1_score(y_true, pred, average="micro", **common),
        "weighted_f1": f1_score(y_true, pred, average="weighted", **common),
        "macro_precision": macro_p,
        "macro_recall": macro_r,
    }
    for name, value in expected.items():
        assert getattr(report, name) == value, name  # ==, not approximately
        assert type(getattr(report, name)) is float
    assert list(report.per_class) == labels
    for i, label in enumerate(labels):
        stats = report.per_class[label]
        assert stats.precision == precision[i], label
        assert stats.recall == recall[i], label
        assert stats.f1 == f1[i], label
        assert stats.support == support[i], label
        assert type(stats.support) is int
    with warnings.catch_warnings():
        # scikit-learn 1.9 warns about a 1 x 1 matrix even when ``labels`` is given.
        warnings.filterwarnings("ignore", "A single label was found", UserWarning)
        block = confusion_matrix(y_true, pred, labels=labels)
    assert [row[: len(labels)] for row in report.confusion] == block.tolist()
    assert [row[len(labels)] for row in report.confusion] == [
        sum(p is None and not e for t, p, e in zip(y_true, y_pred, errors, strict=True) if t == x)
        for x in labels
    ]
    assert [row[len(labels) + 1] for row in report.confusion] == [
        sum(e for t, e in zip(y_true, errors, strict=True) if t == x) for x in labels
    ]
    assert report.n == len(y_true)
    assert report.error_rate == sum(errors) / len(y_true)
    assert report.unparseable_rate == (sum(p is None for p in y_pred) - sum(errors)) / len(y_true)


def test_report_single_class_and_single_case_equal_sklearn() -> None:
    for y_true, y_pred in [(["a"], ["a"]), (["a"], [None]), (["a", "a"], [None, "a"])]:
        report = classification_report(y_true, y_pred, ["a"])
        pred = sklearn_inputs(y_pred)
        assert report.macro_f1 == f1_score(y_true, pred, labels=["a"], average="macro")
        assert report.accuracy == accuracy_score(y_true, pred)
        assert (
            report.per_class["a"].recall
            == precision_recall_fscore_support(
                y_true, pred, labels=["a"], average=None, zero_division=0
            )[1][0]
        )


def test_no_valid_label_is_not_a_phantom_class() -> None:
    y_true = ["a", "a", "b", "b"]
    y_pred: list[str | None] = ["a", None, "b", None]
    report = classification_report(y_true, y_pred, ["a", "b"])
    # Per class: precision 1, recall 1/2, F1 2/3. A phantom third class would add a
    # 0 to the macro mean (2/9 instead of 2/3).
    assert report.macro_f1 == pytest.approx(2 / 3)
    assert report.accuracy == 0.5
    assert set(report.per_class) == {"a", "b"}


@pytest.mark.parametrize("seed", range(12))
def test_confusion_matrix(seed: int) -> None:
    labels, y_true, y_pred, errors = random_cases(seed)
    report = classification_report(y_true, y_pred, labels, errors)
    n_labels = len(labels)
    confusion = np.asarray(report.confusion)
    assert confusion.shape == (n_labels, n_labels + 2)
    expected = confusion_matrix(y_true, sklearn_inputs(y_pred), labels=labels)
    assert np.array_equal(confusion[:, :n_labels], expected)
    for i, label in enumerate(labels):
        rows = [k for k, truth in enumerate(y_true) if truth == label]
        assert confusion[i, n_labels] == sum(y_pred[k] is None and not errors[k] for k in rows)
        assert confusion[i, n_labels + 1] == sum(errors[k] for k in rows)
    assert confusion.sum() == len(y_true)
    assert report.confusion_columns == [*labels, "unparseable", "error"]
    # The confusion matrix and the count codes describe the same cells.
    counts = np.bincount(
        confusion_codes(y_true, y_pred, labels), minlength=n_count_cells(n_labels)
    ).reshape(n_labels, n_labels + 1)
    assert np.array_equal(counts[:, :n_labels], confusion[:, :n_labels])
    assert np.array_equal(counts[:, n_labels], confusion[:, n_labels:].sum(axis=1))


def test_report_without_errors_argument() -> None:
    report = classification_report(["a", "b"], ["a", None], ["a", "b"])
    assert report.unparseable_rate == 0.5
    assert report.error_rate == 0.0
    assert report.confusion == [[1, 0, 0, 0], [0, 0, 1, 0]]


def test_report_single_case_and_empty() -> None:
    one = classification_report(["b"], ["b"], ["a", "b"])
    assert (one.accuracy, one.macro_f1, one.micro_f1, one.weighted_f1) == (1.0, 0.5, 1.0, 1.0)

    empty = classification_report([], [], ["a", "b"])
    assert empty.n == 0
    assert math.isnan(empty.accuracy)
    assert math.isnan(empty.macro_f1)
    assert empty.confusion == [[0, 0, 0, 0], [0, 0, 0, 0]]
    assert empty.per_class["a"].support == 0


def test_report_is_plain_data() -> None:
    labels, y_true, y_pred, errors = random_cases(3)
    report = classification_report(y_true, y_pred, labels, errors)
    assert isinstance(report, ClassificationReport)
    as_dict = report.to_dict()
    json.dumps(as_dict)  # only plain Python values
    assert type(as_dict["macro_f1"]) is float
    assert type(as_dict["per_class"][labels[0]]["support"]) is int
    assert all(type(v) is int for row in as_dict["confusion"] for v in row)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "errors", "match"),
    [
        (["a"], ["a", "b"], None, "cases"),
        (["c"], ["a"], None, "y_true"),
        (["a"], ["c"], None, "y_pred"),
        (["a"], ["a"], [True], "errors"),
        (["a"], [None], [True, False], "errors"),
    ],
)
def test_report_rejects_inconsistent_input(
    y_true: list[str], y_pred: list[str | None], errors: list[bool] | None, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        classification_report(y_true, y_pred, ["a", "b"], errors)


def test_report_rejects_duplicate_labels() -> None:
    with pytest.raises(ValueError, match="distinct"):
        classification_report(["a"], ["a"], ["a", "a"])


# --------------------------------------------------------------------------- counts


def test_confusion_codes() -> None:
    codes = confusion_codes(["a", "b", "c", "c"], ["b", None, "c", "a"], ["a", "b", "c"])
    # code = true_index * (L + 1) + pred_index, pred_index L = no valid label
    assert codes.tolist() == [0 * 4 + 1, 1 * 4 + 3, 2 * 4 + 2, 2 * 4 + 0]
    assert codes.dtype == np.int64
    assert confusion_codes([], [], ["a"]).shape == (0,)


@pytest.mark.parametrize("seed", range(40))
def test_metrics_from_counts_equal_sklearn_exactly(seed: int) -> None:
    labels, y_true, y_pred, _ = random_cases(seed)
    n_labels = len(labels)
    counts = np.bincount(
        confusion_codes(y_true, y_pred, labels), minlength=n_count_cells(n_labels)
    )[np.newaxis, :]
    metrics = metrics_from_counts(counts)
    assert set(metrics) == set(COUNT_METRICS)
    assert all(values.shape == (1,) for values in metrics.values())
    pred = sklearn_inputs(y_pred)
    common = {"labels": labels, "zero_division": 0}
    macro_p, macro_r, _, _ = precision_recall_fscore_support(
        y_true, pred, average="macro", **common
    )
    expected = {
        "accuracy": accuracy_score(y_true, pred),
        "macro_f1": f1_score(y_true, pred, average="macro", **common),
        "micro_f1": f1_score(y_true, pred, average="micro", **common),
        "weighted_f1": f1_score(y_true, pred, average="weighted", **common),
        "macro_precision": macro_p,
        "macro_recall": macro_r,
    }
    for name, value in expected.items():
        assert metrics[name][0] == value, name  # exact, not approximate


def test_class_absent_everywhere_counts_as_zero_in_macro() -> None:
    # sklearn: a label with tp + fp + fn == 0 gets F1 = 0 (zero_division=0) and is
    # still averaged; check that the installed version behaves so and we match it.
    labels = ["a", "b", "c"]
    y_true, y_pred = ["a", "a", "b"], ["a", "a", "b"]
    expected = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    assert expected == pytest.approx(2 / 3)
    counts = np.bincount(confusion_codes(y_true, y_pred, labels), minlength=12)
    assert metrics_from_counts(counts)["macro_f1"][0] == expected


def test_metrics_from_counts_is_row_wise() -> None:
    rows = []
    singles = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        row = rng.integers(0, 20, size=12)
        row[rng.random(12) < 0.3] = 0
        rows.append(row)
        singles.append(metrics_from_counts(row))
    batch = metrics_from_counts(np.stack(rows))
    for name in COUNT_METRICS:
        assert batch[name].shape == (10,)
        assert batch[name].tolist() == [single[name][0] for single in singles]


def test_metrics_from_counts_empty_row_is_nan() -> None:
    metrics = metrics_from_counts(np.zeros((2, 6), dtype=np.int64))
    assert all(np.isnan(values).all() for values in metrics.values())


@pytest.mark.parametrize("shape", [(1, 5), (3,), (2, 2, 6)])
def test_metrics_from_counts_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"counts|cells"):
        metrics_from_counts(np.zeros(shape, dtype=np.int64))


def test_count_metric() -> None:
    counts = np.array([[3, 1, 0, 2, 4, 1], [1, 1, 1, 1, 1, 1]])
    macro = count_metric("macro_f1")
    assert macro(counts).tolist() == metrics_from_counts(counts)["macro_f1"].tolist()
    with pytest.raises(ValueError, match="unknown"):
        count_metric("f2")


# --------------------------------------------------------------------------- reference


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split()


def test_tweeteval_reference_values() -> None:
    """Published TweetEval sentiment result of the RoBERTa-Twitter baseline."""
    if not TWEETEVAL.is_dir():
        pytest.skip(f"shared reference data not found at {TWEETEVAL}")
    mapping = dict(
        line.split("\t")
        for line in (TWEETEVAL / "mapping.txt").read_text(encoding="utf-8").splitlines()
        if line.strip()
    )
    labels = [mapping[key] for key in sorted(mapping, key=int)]
    y_true = [mapping[v] for v in read_lines(TWEETEVAL / "test_labels.txt")]
    y_pred: list[str | None] = [
        mapping[v] for v in read_lines(TWEETEVAL / "predictions_roberta_twitter_test.txt")
    ]
    assert labels == ["negative", "neutral", "positive"]
    assert len(y_true) == len(y_pred) == 12284

    report = classification_report(y_true, y_pred, labels)
    assert round(report.macro_f1, 5) == 0.72314
    assert round(report.accuracy, 5) == 0.72322

    counts = np.bincount(confusion_codes(y_true, y_pred, labels), minlength=12)
    assert metrics_from_counts(counts)["macro_f1"][0] == report.macro_f1
