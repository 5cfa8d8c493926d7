"""Time the bootstrap: 10,000 resamples of 10,000 cases.

Run: ``.venv/bin/python benchmarks/stats_speed.py [--cases N] [--resamples B] [--repeat R]``

Measures (a) a macro-F1 interval via confusion counts, (b) a paired macro-F1 delta,
(c) a paired mean delta of continuous per-case scores, on simulated data (three
labels plus unparseable answers; continuous scores with ties only by chance). Prints
the best of ``--repeat`` runs, and resampled cases per second (resamples x cases / s).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from tunegate.scoring.classification import count_metric, n_count_cells
from tunegate.stats import bootstrap_counts_ci, paired_bootstrap_counts, paired_bootstrap_mean_delta


def best_time(run: Callable[[], tuple[float, ...]], repeat: int) -> tuple[float, tuple[float, ...]]:
    """Best wall-clock time of ``repeat`` runs, and the last result."""
    best = float("inf")
    result: tuple[float, ...] = ()
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--labels", type=int, default=3)
    args = parser.parse_args()
    n, n_resamples, n_labels = args.cases, args.resamples, args.labels
    n_cells = n_count_cells(n_labels)

    rng = np.random.default_rng(0)
    truth = rng.integers(0, n_labels, size=n)

    def system(accuracy: float) -> npt.NDArray[np.int64]:
        guess = rng.integers(0, n_labels + 1, size=n)  # n_labels = no valid label
        predicted = np.where(rng.random(n) < accuracy, truth, guess)
        codes: npt.NDArray[np.int64] = truth * (n_labels + 1) + predicted
        return codes

    codes_a, codes_b = system(0.75), system(0.70)
    scores_a = rng.beta(5, 2, size=n)
    scores_b = np.clip(scores_a - 0.02 + rng.normal(0, 0.1, size=n), 0, 1)
    macro_f1 = count_metric("macro_f1")

    benchmarks: list[tuple[str, Callable[[], tuple[float, ...]]]] = [
        (
            "(a) macro-F1 CI via counts",
            lambda: bootstrap_counts_ci(codes_a, n_cells, macro_f1, n_resamples=n_resamples),
        ),
        (
            "(b) paired macro-F1 delta",
            lambda: paired_bootstrap_counts(
                codes_a, codes_b, n_cells, macro_f1, n_resamples=n_resamples
            ),
        ),
        (
            "(c) paired mean delta (continuous)",
            lambda: paired_bootstrap_mean_delta(scores_a, scores_b, n_resamples=n_resamples),
        ),
    ]
    print(f"{n_resamples:,} resamples x {n:,} cases, {n_labels} labels, best of {args.repeat}")
    for name, run in benchmarks:
        seconds, result = best_time(run, args.repeat)
        rate = n_resamples * n / seconds
        shown = ", ".join(f"{value:.4f}" for value in result)
        print(f"{name:<38} {seconds:7.3f} s  {rate:14,.0f} cases/s  -> ({shown})")
    from tunegate.stats.distributions import binom_half_two_sided

    def sign_tests() -> tuple[float, ...]:
        values = [binom_half_two_sided(k, 200_000) for k in range(99_000, 100_000, 50)]
        return (values[0], binom_half_two_sided(4_999_000, 10_000_000))

    seconds, result = best_time(sign_tests, args.repeat)
    shown = ", ".join(f"{value:.4g}" for value in result)
    print(f"{'(d) 20 sign tests n=200k + one n=10^7':<38} {seconds:7.3f} s  -> ({shown})")


if __name__ == "__main__":
    main()
