"""tunegate.stats.paired against the reference libraries it no longer imports: McNemar
against statsmodels' ``mcnemar``, the sign test against ``scipy.stats.binomtest``, the
Wilson interval against statsmodels' ``proportion_confint``, the normal quantiles of
the sample-size arithmetic against ``scipy.stats.norm``."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import binomtest, norm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from tunegate.stats import (
    interval_standard_error,
    mcnemar_test,
    minimum_detectable_effect,
    required_cases,
    sign_test,
    wilson_interval,
)

pytestmark = pytest.mark.filterwarnings("error")


def outcomes(both: int, only_a: int, only_b: int, neither: int) -> tuple[list[bool], list[bool]]:
    a = [True] * both + [True] * only_a + [False] * only_b + [False] * neither
    b = [True] * both + [False] * only_a + [True] * only_b + [False] * neither
    return a, b


def discordant_pairs() -> list[tuple[int, int]]:
    rng = random.Random(11)
    pairs = [(b, c) for b in range(0, 30) for c in range(0, 30) if b + c]
    pairs += [(rng.randrange(0, 5000), rng.randrange(0, 5000)) for _ in range(300)]
    pairs += [(2500, 2400), (10, 1400), (0, 1500), (60_000, 59_000), (100_000, 1)]
    return pairs


def test_mcnemar_equals_statsmodels() -> None:
    for only_a, only_b in discordant_pairs():
        a, b = outcomes(7, only_a, only_b, 3)
        ours = mcnemar_test(a, b)
        exact = only_a + only_b < 25
        table = [[7, only_a], [only_b, 3]]
        reference = mcnemar(table, exact=exact, correction=True)
        assert ours.method == ("exact" if exact else "chi2")
        assert ours.statistic == float(reference.statistic), (only_a, only_b)
        expected = min(1.0, float(reference.pvalue))
        if expected < 1e-300:  # both underflow
            assert ours.p_value < 1e-300
        else:
            # chi2: erfc against scipy's chi2.sf, 1e-12 down to p = 1e-300 (see
            # test_distributions); exact: the binomial CDF of at most 24 trials.
            assert ours.p_value == pytest.approx(expected, rel=1e-12), (only_a, only_b)
        assert type(ours.p_value) is float
        assert type(ours.statistic) is float


def test_mcnemar_exact_small_tables_are_the_rational_value() -> None:
    # b + c < 25: p = min(1, 2 * sum_{i <= min(b, c)} C(b + c, i) / 2**(b + c)), exactly.
    for only_a, only_b in [(7, 2), (1, 0), (0, 24), (11, 13), (12, 12)]:
        n = only_a + only_b
        low = min(only_a, only_b)
        exact = min(1.0, 2 * sum(math.comb(n, i) for i in range(low + 1)) / 2**n)
        assert mcnemar_test(*outcomes(3, only_a, only_b, 4)).p_value == exact


def test_sign_test_equals_scipy_binomtest() -> None:
    rng = random.Random(12)
    pairs = [(w, lo) for w in range(0, 40) for lo in range(0, 40)]
    pairs += [(rng.randrange(0, 3000), rng.randrange(0, 3000)) for _ in range(200)]
    pairs += [(100_000, 99_000), (100_400, 99_600), (50, 150_000)]
    for wins, losses in pairs:
        ours = sign_test(wins, losses)
        if wins + losses == 0:
            assert ours == 1.0
            continue
        expected = float(binomtest(wins, wins + losses, 0.5).pvalue)
        if expected < 1e-300:
            assert ours < 1e-300
            continue
        rel = 1e-12 if expected >= 1e-50 else 2e-12  # scipy's far-tail error
        assert ours == pytest.approx(expected, rel=rel), (wins, losses)
        assert sign_test(losses, wins) == ours


def test_sign_test_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="counts"):
        sign_test(-1, 3)


def test_wilson_equals_statsmodels_to_1e_14() -> None:
    rng = random.Random(13)
    points = [(0, 1, 0.95), (1, 1, 0.95), (0, 10, 0.95), (10, 10, 0.99), (3, 10, 0.8)]
    for _ in range(1500):
        n = rng.randrange(1, 200_000)
        confidence = rng.choice([0.8, 0.9, 0.95, 0.99, 0.999, rng.uniform(0.5, 0.9999)])
        points.append((rng.randrange(0, n + 1), n, confidence))
    for successes, n, confidence in points:
        lo, hi = wilson_interval(successes, n, confidence)
        expected_lo, expected_hi = proportion_confint(
            successes, n, alpha=1 - confidence, method="wilson"
        )
        # Measured worst difference 1.2e-15.
        assert abs(lo - expected_lo) <= 1e-14, (successes, n, confidence)
        assert abs(hi - expected_hi) <= 1e-14, (successes, n, confidence)
        assert 0.0 <= lo <= hi <= 1.0


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("power", [0.5, 0.8, 0.9])
def test_sample_size_arithmetic_uses_normal_quantiles(confidence: float, power: float) -> None:
    z = float(norm.ppf(1 - (1 - confidence) / 2))
    se = interval_standard_error((0.1, 0.3), confidence)
    assert se == pytest.approx(0.2 / (2 * z), rel=1e-14)
    mde = minimum_detectable_effect(se, confidence, power)
    assert mde == pytest.approx((z + float(norm.ppf(power))) * se, rel=1e-14)
    assert required_cases(se, 100, mde / 2, confidence, power) == math.ceil(100 * 4.0)
