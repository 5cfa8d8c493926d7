"""The Python API's own modules imported directly (tunegate.api._named, ab, regression):
named scorers built from the registry, prompts of eval cases, paired summaries and the
cases needed, checked against the registry, numpy and the stats formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from tunegate.api._named import SCORERS, check_named, named_score
from tunegate.api.ab import prompts_of
from tunegate.api.regression import cases_needed, paired_summary


def test_named_scorers_follow_the_registry_defaults() -> None:
    assert set(SCORERS) >= {"exact_match", "exact_match_squad", "exact", "contains", "regex"}
    assert named_score("exact_match", "  PARIS ", ["paris"], 0.5).passed
    assert not named_score("exact_match", "Paris.", ["paris"], 0.5).passed
    assert named_score("exact_match_squad", "The Paris.", ["paris"], 0.5).passed
    assert not named_score("exact", "paris", ["Paris"], 0.5).passed
    # Per-value scorers: the first expected output that passes counts.
    assert named_score("contains", "I think Lyon", ["Paris", "lyon"], 0.5).passed
    assert named_score("regex", "code 123", [r"^x", r"\d{3}"], 0.5).passed
    assert not named_score("json", "{bad", [], 0.5).passed


def test_an_invalid_pattern_is_a_value_error() -> None:
    check_named("regex", [r"\d+"])
    with pytest.raises(ValueError, match="invalid regular expression"):
        check_named("regex", ["("])


def test_prompts_of_dicts_and_their_errors() -> None:
    assert prompts_of([{"prompt": "a"}, {"prompt": "b", "x": 1}]) == ["a", "b"]
    with pytest.raises(ValueError, match=r"cases\[1\] has no 'prompt' key \(keys: 'text'\)"):
        prompts_of([{"prompt": "a"}, {"text": "b"}], "cases")
    with pytest.raises(TypeError, match=r"eval_cases\[0\] is a str"):
        prompts_of(["a"])
    with pytest.raises(TypeError, match=r"\['prompt'\] is a int, not a string"):
        prompts_of([{"prompt": 3}])


def test_paired_summary_means_and_delta() -> None:
    a = [1.0, 0.0, 1.0, 1.0, 0.5]
    b = [0.0, 0.0, 1.0, 0.5, 0.5]
    out = paired_summary(a, b, confidence=0.95, n_resamples=1000, seed=0)
    assert out["a"] == pytest.approx(np.mean(a))
    assert out["b"] == pytest.approx(np.mean(b))
    assert out["delta"] == pytest.approx(np.mean(a) - np.mean(b))
    assert out["ci"][0] <= out["delta"] <= out["ci"][1]
    assert out["n"] == 5
    empty = paired_summary([], [], confidence=0.95, n_resamples=10, seed=0)
    assert empty["n"] == 0
    assert math.isnan(empty["delta"])


def test_cases_needed_is_the_power_formula() -> None:
    z = norm.ppf(0.975)
    se = 0.2 / (2 * z)
    mde = (z + norm.ppf(0.8)) * se
    assert cases_needed((-0.05, 0.15), 100, 0.05, 0.95) == math.ceil(100 * (mde / 0.05) ** 2)
    assert cases_needed((math.nan, math.nan), 100, 0.05, 0.95) is None
    assert cases_needed((0.0, 0.1), 0, 0.05, 0.95) is None
