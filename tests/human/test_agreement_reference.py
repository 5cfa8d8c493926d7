"""The agreement kernels and intervals against their reference libraries on random data.

- the Cohen's kappa kernel behind every Cohen and calibration interval
  (``kappa_from_codes``) equals scikit-learn's ``cohen_kappa_score``;
- the intervals are percentiles over *every* bootstrap resample, recomputed here with
  scikit-learn, undefined resamples counted at both ends of kappa's range;
- Krippendorff's alpha on partial overlap equals the ``krippendorff`` package on a
  reliability matrix built here from the raw votes; Fleiss' kappa equals statsmodels.
"""

from __future__ import annotations

import math
import warnings

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from tunegate.human.agreement import (
    RatingMatrix,
    agreement_values,
    agreement_with_intervals,
    bootstrap_interval,
    cluster_bootstrap_indices,
    kappa_from_codes,
)
from tunegate.human.calibration import LABELS, calibrate


def _sklearn_kappa(x: np.ndarray, y: np.ndarray) -> float | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(cohen_kappa_score(x, y))
    return value if math.isfinite(value) else None


def _pair(rng: np.random.Generator, case: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Two label vectors: partial agreement, one rater using fewer labels, or one label."""
    n_labels = int(rng.integers(2, 5))
    n = int(rng.integers(2, 41))
    x = rng.integers(0, n_labels, size=n)
    agree = rng.random(n) < rng.uniform(0.0, 1.0)
    y = np.where(agree, x, rng.integers(0, n_labels, size=n))
    if case % 4 == 1:  # unequal label sets: y never uses the last labels
        y = np.minimum(y, max(0, n_labels - 3))
    elif case % 4 == 2:  # x uses a single label (kappa 0 or undefined)
        x = np.full(n, int(rng.integers(0, n_labels)))
    elif case % 4 == 3:  # skewed: mostly one label on both sides
        common = rng.random(n) < 0.85
        x = np.where(common, 0, x)
        y = np.where(common & (rng.random(n) < 0.9), 0, y)
    return x.astype(np.int64), y.astype(np.int64), n_labels


def test_kappa_kernel_equals_sklearn_on_random_labels() -> None:
    # Catches e.g. chance agreement from the row marginals twice (outer(rows, rows)), a
    # confusion matrix transposed with unequal label sets, or an undefined kappa given a
    # number (0 or 1) instead of None.
    rng = np.random.default_rng(20)
    undefined = partial = 0
    for case in range(600):
        x, y, n_labels = _pair(rng, case)
        expected = _sklearn_kappa(x, y)
        got = kappa_from_codes(x, y, n_labels)
        if expected is None:
            undefined += 1
            assert got is None, (x, y)
        else:
            partial += 0.0 < float(np.mean(x == y)) < 1.0
            assert got == pytest.approx(expected, abs=1e-12), (x, y)
    assert undefined > 10
    assert partial > 300


def test_calibration_interval_is_percentiles_of_every_resample_by_sklearn() -> None:
    rng = np.random.default_rng(7)
    for trial in range(3):
        n = int(rng.integers(8, 40))
        human = rng.choice(LABELS, size=n, p=[0.6, 0.3, 0.1])
        judge = np.where(rng.random(n) < 0.8, human, rng.choice(LABELS, size=n))
        items = [f"i{k}" for k in range(n)]
        majority = dict(zip(items, map(str, human), strict=True))
        verdicts: dict[str, str | None] = dict(zip(items, map(str, judge), strict=True))
        out = calibrate("j", verdicts, majority, n_resamples=200, seed=trial, level=0.9)
        kappas = [
            _sklearn_kappa(human[rows], judge[rows])
            for rows in cluster_bootstrap_indices(items, None, 200, trial)
        ]
        defined = [k for k in kappas if k is not None]
        missing = len(kappas) - len(defined)
        lo = np.quantile(defined + [-1.0] * missing, 0.05)
        hi = np.quantile(defined + [1.0] * missing, 0.95)
        assert out["cohen_kappa"]["ci"] == pytest.approx([lo, hi], abs=1e-12)
        assert out["cohen_kappa"]["undefined_resamples"] == missing


def test_degenerate_resamples_widen_the_interval_instead_of_being_dropped() -> None:
    # 12 items both 'a', one both 'b': kappa 1, but a third of the resamples miss the one
    # 'b' item and leave kappa undefined. Dropping them gave [1.000, 1.000].
    items = [f"i{k}" for k in range(13)]
    labels = ["a"] * 12 + ["b"]
    majority = dict(zip(items, labels, strict=True))
    verdicts: dict[str, str | None] = dict(zip(items, labels, strict=True))
    out = calibrate("j", verdicts, majority, n_resamples=1000, seed=0)
    assert out["cohen_kappa"]["value"] == 1.0
    assert 250 < out["cohen_kappa"]["undefined_resamples"] < 450
    assert out["cohen_kappa"]["ci"] == [-1.0, 1.0]
    votes = [(i, ann, lab) for i, lab in zip(items, labels, strict=True) for ann in ("x", "y")]
    agreed = agreement_with_intervals(votes, n_resamples=1000, seed=0)
    for block in (agreed["cohen"]["x|y"], agreed["fleiss"]):
        assert block["value"] == pytest.approx(1.0)
        assert block["ci"][0] == -1.0
        assert block["undefined_resamples"] > 250


def test_bootstrap_interval_counts_undefined_resamples_at_both_ends() -> None:
    values: list[float | None] = [0.1 * k for k in range(10)] * 9 + [None] * 10
    ci, undefined = bootstrap_interval(values, 0.8)
    assert undefined == 10
    defined = [0.1 * k for k in range(10)] * 9
    assert ci == pytest.approx(
        [np.quantile(defined + [-1.0] * 10, 0.1), np.quantile(defined + [1.0] * 10, 0.9)]
    )
    # Two undefined resamples of 100 sit beyond a 90% interval's 5% tails: no effect.
    few: list[float | None] = [0.5 + 0.001 * k for k in range(98)] + [None, None]
    lo, hi = bootstrap_interval(few, 0.9)[0] or (0.0, 0.0)
    assert 0.5 < lo < hi < 0.6
    assert bootstrap_interval([], 0.95) == (None, 0)


def _random_partial_votes(seed: int) -> list[tuple[str, str, str]]:
    """Items rated by 1-4 of five annotators (different subsets), three labels."""
    rng = np.random.default_rng(seed)
    annotators = ["ann", "bob", "cy", "dee", "eve"]
    votes = []
    for i in range(int(rng.integers(15, 60))):
        truth = rng.choice(["a", "b", "tie"])
        raters = rng.choice(annotators, size=int(rng.integers(1, 5)), replace=False)
        for ann in raters:
            label = truth if rng.random() < 0.65 else rng.choice(["a", "b", "tie"])
            votes.append((f"item{i}", str(ann), str(label)))
    return votes


def test_krippendorff_alpha_on_partial_overlap_equals_the_package() -> None:
    # Catches a missing rating passed as a label (-1 code) instead of NaN, units and
    # annotators swapped, or only the items every annotator rated being kept.
    for seed in range(25):
        votes = _random_partial_votes(seed)
        items = sorted({i for i, _, _ in votes}, key=lambda s: int(s[4:]))
        annotators = sorted({a for _, a, _ in votes})
        code = {"a": 0.0, "b": 1.0, "tie": 2.0}
        data = np.full((len(annotators), len(items)), np.nan)
        for item, ann, label in votes:
            data[annotators.index(ann), items.index(item)] = code[label]
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        got = agreement_values(votes)["krippendorff_alpha"]
        assert got == pytest.approx(expected, abs=1e-12), seed


def test_fleiss_kappa_equals_statsmodels_on_random_full_overlap() -> None:
    # Catches a table of counts per annotator instead of per item, or the items with
    # the most ratings not all kept.
    rng = np.random.default_rng(3)
    for _ in range(25):
        n_items, n_raters, n_labels = (int(v) for v in rng.integers([5, 2, 2], [50, 6, 5]))
        codes = rng.integers(0, n_labels, size=(n_items, n_raters))
        votes = [
            (f"i{r}", f"r{c}", f"L{codes[r, c]}") for r in range(n_items) for c in range(n_raters)
        ]
        table = np.stack([(codes == k).sum(axis=1) for k in range(n_labels)], axis=1)
        expected = fleiss_kappa(table, method="fleiss")
        assert agreement_values(votes)["fleiss_kappa"] == pytest.approx(expected, abs=1e-12)


def test_bootstrap_cohen_intervals_use_the_sklearn_kernel() -> None:
    votes = _random_partial_votes(11)
    matrix = RatingMatrix.from_votes(votes)
    out = agreement_with_intervals(votes, n_resamples=80, seed=4, level=0.9)
    for pair, block in out["cohen"].items():
        j, k = (matrix.annotators.index(a) for a in pair.split("|"))
        kappas: list[float | None] = []
        for rows in cluster_bootstrap_indices(matrix.items, None, 80, 4):
            x, y = matrix.codes[rows, j], matrix.codes[rows, k]
            both = (x >= 0) & (y >= 0)
            kappas.append(_sklearn_kappa(x[both], y[both]) if both.sum() >= 2 else None)
        if block["value"] is None:
            assert block["ci"] is None
            continue
        assert block["ci"] == pytest.approx(bootstrap_interval(kappas, 0.9)[0], abs=1e-12)


def test_small_sample_warnings_below_the_documented_minimum() -> None:
    from tunegate.human.agreement import MIN_ITEMS
    from tunegate.human.report import small_sample_warnings

    def study(n_agree: int, n_judge: int) -> dict[str, object]:
        block = {"value": 0.8, "ci": [0.5, 1.0], "undefined_resamples": 7}
        return {
            "study": "s",
            "n_resamples": 1000,
            "agreement": {"n_items": n_agree, "fleiss": block, "cohen": {}},
            "judges": [{"judge": "g", "n_items": n_judge, "cohen_kappa": block}],
        }

    assert MIN_ITEMS == 30  # the number docs/human-eval.md states
    few = small_sample_warnings(study(29, 13))
    assert len(few) == 2
    assert "annotator agreement rests on 29 items (fewer than 30)" in few[0]
    assert "judge g's Cohen's κ against the human majority rests on 13 items" in few[1]
    assert "7 of 1,000 resamples left it undefined" in few[1]
    enough = small_sample_warnings(study(30, 30))
    assert enough == [
        "study s: judge g's Cohen's κ; 7 of 1,000 resamples left it undefined "
        "(one label everywhere) and count at both ends of its range"
    ]
