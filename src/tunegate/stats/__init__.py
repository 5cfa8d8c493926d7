"""Statistics for comparing models on the same cases: bootstrap, McNemar, Wilson.

Everything here is numpy and the Python standard library (no scipy or statsmodels
at run time; the tests compare every function with them), synchronous and seeded:
each random function takes ``seed`` and draws from ``np.random.default_rng(seed)``,
so the same inputs and seed give the same result. Results are plain Python ``float``
and ``int`` values.

Degenerate inputs never warn or crash. With no cases (``n == 0``) a point estimate
or interval is NaN. With one case the bootstrap distribution is a single point, so
the interval collapses to the point estimate. NaN is used rather than ``None`` so
that every interval keeps the type ``tuple[float, float]``; renderers turn NaN
into "n/a".

Bootstrap intervals are percentile intervals: with ``alpha = 1 - confidence``, the
``100 * alpha / 2`` and ``100 * (1 - alpha / 2)`` percentiles (numpy's ``linear``
method) of the ``n_resamples`` bootstrap statistics.

Modules: ``common`` (types, checks, resampling kernels), ``bootstrap`` (intervals),
``paired`` (McNemar, sign test, Wilson, latency, sample size), ``distributions``
(normal quantile, chi-square survival, binomial CDF and test at p = 1/2).
"""

from __future__ import annotations

from tunegate.stats.bootstrap import (
    bootstrap_counts_ci,
    bootstrap_mean_ci,
    bootstrap_perplexity_ci,
    paired_bootstrap_counts,
    paired_bootstrap_mean_delta,
)
from tunegate.stats.common import CountMetric, FloatArray, IntArray
from tunegate.stats.paired import (
    McNemarResult,
    interval_standard_error,
    latency_percentiles,
    mcnemar_test,
    minimum_detectable_effect,
    required_cases,
    sign_test,
    wilson_interval,
    wins_ties_losses,
)

__all__ = [
    "CountMetric",
    "FloatArray",
    "IntArray",
    "McNemarResult",
    "bootstrap_counts_ci",
    "bootstrap_mean_ci",
    "bootstrap_perplexity_ci",
    "interval_standard_error",
    "latency_percentiles",
    "mcnemar_test",
    "minimum_detectable_effect",
    "paired_bootstrap_counts",
    "paired_bootstrap_mean_delta",
    "required_cases",
    "sign_test",
    "wilson_interval",
    "wins_ties_losses",
]
