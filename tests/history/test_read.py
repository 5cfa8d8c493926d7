"""tunegate.history.read: tolerant readers of a stored run's JSON (a value of the wrong
type or a non-finite number reads as absent, never raises)."""

from __future__ import annotations

import math

from tunegate.history.read import (
    ci_of,
    delta_of,
    dict_of,
    estimate_of,
    float_of,
    int_of,
    list_of,
    model_names,
    str_of,
)


def test_scalars_of_the_wrong_type_read_as_none() -> None:
    assert float_of(0.5) == 0.5
    assert float_of(3) == 3.0
    assert [float_of(v) for v in (True, "0.5", None, math.nan, math.inf)] == [None] * 5
    assert int_of(4) == 4
    assert [int_of(v) for v in (False, 4.0, "4")] == [None] * 3
    assert str_of(None) is None
    assert str_of(12) == "12"
    assert dict_of([1]) == {}
    assert list_of({"a": 1}) == []


def test_intervals_and_estimates() -> None:
    assert ci_of([0.1, 0.3]) == (0.1, 0.3)
    assert ci_of((0, 1)) == (0.0, 1.0)
    assert [ci_of(v) for v in ([0.1], [0.1, None], "ab", [math.nan, 1])] == [None] * 4
    assert estimate_of({"value": 0.8, "ci": [0.7, 0.9]}) == (0.8, (0.7, 0.9))
    assert estimate_of({"value": None}) == (None, None)
    assert estimate_of(0.25) == (0.25, None)


def test_delta_is_later_minus_earlier_when_both_exist() -> None:
    assert delta_of(0.5, 0.75) == 0.25
    assert delta_of(None, 0.75) is None
    assert delta_of(0.5, None) is None


def test_model_names_of_a_stored_suite() -> None:
    assert model_names({"models": {"ft": {}, "base": {}}}) == ["ft", "base"]
    assert model_names({}) == []
    # A model seen only in the case rows comes after the summary's, once.
    cases = [{"model": "ft"}, {"model": "late"}, {"model": "late"}, "junk", {"other": 1}]
    assert model_names({"models": {"ft": {}}, "cases": cases}) == ["ft", "late"]
