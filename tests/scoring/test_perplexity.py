"""tunegate.scoring.perplexity: the one perplexity formula, checked by hand and against
torch's cross-entropy (the mean negative log-likelihood per token)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunegate.scoring.perplexity import calculate_perplexity, perplexity_of


def test_perplexity_is_exp_of_the_mean_negative_log_likelihood() -> None:
    probs = [0.5, 0.25, 0.125, 1.0]
    logs = [math.log(p) for p in probs]
    # Geometric mean of 1/p: (2 * 4 * 8 * 1) ** (1/4) = 64 ** 0.25
    assert calculate_perplexity(logs) == pytest.approx(64**0.25, rel=1e-12)
    assert calculate_perplexity(np.array(logs)) == pytest.approx(64**0.25, rel=1e-12)
    assert perplexity_of(sum(logs), 4) == pytest.approx(64**0.25, rel=1e-12)
    assert calculate_perplexity([0.0, 0.0]) == 1.0


def test_it_equals_torch_cross_entropy_on_random_logits() -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(12, 50, generator=gen, dtype=torch.float64)
    targets = torch.randint(0, 50, (12,), generator=gen)
    nll = torch.nn.functional.cross_entropy(logits, targets)
    token_logs = torch.log_softmax(logits, dim=-1)[torch.arange(12), targets]
    assert calculate_perplexity(token_logs.tolist()) == pytest.approx(
        math.exp(float(nll)), rel=1e-12
    )


def test_corpus_perplexity_pools_tokens_not_texts() -> None:
    a = [math.log(0.5)] * 2  # a text of perplexity 2 over 2 tokens
    b = [math.log(0.1)] * 8  # a text of perplexity 10 over 8 tokens
    pooled = perplexity_of(sum(a) + sum(b), 10)
    assert pooled == pytest.approx(math.exp(-(2 * math.log(0.5) + 8 * math.log(0.1)) / 10))
    assert pooled != pytest.approx((2 + 10) / 2)


def test_edge_values_inf_and_nan() -> None:
    assert calculate_perplexity([math.log(0.5), -math.inf]) == math.inf
    assert perplexity_of(-1e308 * 10, 1) == math.inf
    assert perplexity_of(-1000.0, 1) == math.inf  # exp overflow
    assert math.isnan(perplexity_of(0.0, 0))
    assert calculate_perplexity([5e-5]) == pytest.approx(math.exp(-5e-5))  # float32 rounding


@pytest.mark.parametrize(
    ("log_probs", "message"),
    [
        ([], "empty"),
        ([[-1.0, -2.0]], "one-dimensional"),
        ([-1.0, math.nan], "NaN"),
        ([-1.0, 2.3], "pass log p, not the negative log-likelihood"),
        (["a"], "sequence of numbers"),
    ],
)
def test_bad_log_probs_are_refused_never_nan(log_probs: list[object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        calculate_perplexity(log_probs)  # type: ignore[arg-type]
