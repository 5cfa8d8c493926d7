"""A/B test two models on the same prompts: :func:`ab_test_models`, :func:`compare_results`.

The tutorial's shapes, with the statistics it leaves out: cases run concurrently
(bounded, through tunegate's runner), a failed call is kept apart from an
answer, and the win rate comes with its Wilson interval and a sign test on the
cases where the two models differ.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any

from tunegate.api._run import CallOptions, ModelLike, call_models, check_model
from tunegate.stats import latency_percentiles, sign_test, wilson_interval

__all__ = ["ABTestResults", "ab_test_models", "compare_results", "prompts_of"]


class ABTestResults(dict[str, Any]):
    """The dict :func:`ab_test_models` returns.

    It may also be awaited (``await ab_test_models(...)``, as in the tutorial,
    where the function is a coroutine): awaiting it returns the dict itself.
    """

    def __await__(self) -> Generator[Any, None, ABTestResults]:
        return self
        yield  # pragma: no cover - makes this a generator


def prompts_of(eval_cases: Iterable[Any], where: str = "eval_cases") -> list[str]:
    """The prompts of ``eval_cases``: dicts with a ``"prompt"`` or :class:`EvalCase` objects."""
    from tunegate.api.suite import EvalCase

    prompts = []
    for i, case in enumerate(eval_cases):
        if isinstance(case, EvalCase):
            prompts.append(case.input_prompt)
            continue
        if not isinstance(case, Mapping):
            raise TypeError(
                f"{where}[{i}] is a {type(case).__name__}; expected a dict with 'prompt'"
            )
        if "prompt" not in case:
            keys = ", ".join(map(repr, case)) or "none"
            raise ValueError(f"{where}[{i}] has no 'prompt' key (keys: {keys})")
        prompt = case["prompt"]
        if not isinstance(prompt, str):
            raise TypeError(f"{where}[{i}]['prompt'] is a {type(prompt).__name__}, not a string")
        prompts.append(prompt)
    return prompts


def ab_test_models(
    eval_cases: Iterable[Mapping[str, Any] | Any],
    model_a: ModelLike,
    model_b: ModelLike,
    *,
    concurrency: int = 8,
    options: CallOptions | None = None,
) -> ABTestResults:
    """Run both models on every case's ``"prompt"``, concurrently.

    ``model_a``/``model_b`` are functions of the prompt (sync or ``async def``) or
    model names for an OpenAI-compatible endpoint (``options`` sets ``base_url``,
    ``api_key_env``, ``timeout``, ``max_retries``). At most ``concurrency``
    requests per model are in flight; both models run at the same time.

    Returns ``{"model_a": [...], "model_b": [...], "latency_a": [...],
    "latency_b": [...], "errors_a": [...], "errors_b": [...], "prompts": [...]}``,
    lists in case order. Latencies are in seconds. A failed call leaves the
    output and latency ``None`` and says why in ``errors_*``; it never raises.
    """
    prompts = prompts_of(eval_cases)
    check_model(model_a, "model_a")
    check_model(model_b, "model_b")
    options = options or CallOptions(concurrency=concurrency)
    answers = call_models({"model_a": model_a, "model_b": model_b}, prompts, options)
    a, b = answers["model_a"], answers["model_b"]
    return ABTestResults(
        model_a=[x.text for x in a],
        model_b=[x.text for x in b],
        latency_a=[x.latency_s for x in a],
        latency_b=[x.latency_s for x in b],
        errors_a=[x.error for x in a],
        errors_b=[x.error for x in b],
        prompts=prompts,
    )


def _score(scorer: Callable[[str], Any], output: str, where: str) -> float | None:
    """The scorer's number, or ``None`` when it raised or gave NaN (counted as the worst)."""
    try:
        value = scorer(output)
    except Exception:
        return None
    if not isinstance(value, numbers.Real):
        raise TypeError(f"scorer returned {type(value).__name__} for {where}; expected a number")
    number = float(value)
    return None if math.isnan(number) else number


def _latency_ms(values: Sequence[Any]) -> list[float]:
    return [float(v) * 1000.0 for v in values if v is not None]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def compare_results(
    results: Mapping[str, Any],
    scorer: Callable[[str], Any],
    *,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """Per-case wins, ties and losses of model A against model B, with their uncertainty.

    ``scorer(output) -> number`` scores one answer; A wins a case when its score is
    higher. A case where either model has no answer (a failed call: ``None``) is
    left out and counted in ``"excluded"``: a transport error is not a prediction.
    A scorer that raises (or returns NaN) on an answer scores it below any number,
    so a malformed answer loses to a scoreable one (both malformed: a tie).

    Returns the tutorial's ``"model_a_win_rate"``, ``"model_b_win_rate"``,
    ``"tie_rate"`` (fractions of the ``"n"`` compared cases), ``"avg_latency_a_ms"``
    and ``"avg_latency_b_ms"`` (means over answered calls), plus:

    * ``"wins_a"``, ``"wins_b"``, ``"ties"``, ``"n"``, ``"excluded"``,
      ``"scorer_errors_a"``, ``"scorer_errors_b"``;
    * ``"model_a_win_rate_ci"``, ``"model_b_win_rate_ci"``: Wilson intervals at
      ``confidence``;
    * ``"sign_test_p_value"``: the exact two-sided sign test on the decisive cases
      (``wins_a`` of ``wins_a + wins_b`` against 1/2, :func:`tunegate.stats.sign_test`);
    * ``"latency_a_ms"``, ``"latency_b_ms"``: ``{"p50", "p95", "p99"}`` (numpy's linear
      percentiles, :func:`tunegate.stats.latency_percentiles`);
    * ``"conclusion"``: one sentence saying what the evidence supports.
    """
    for key in ("model_a", "model_b"):
        if key not in results:
            raise ValueError(f"results has no {key!r} key (keys: {', '.join(map(repr, results))})")
    outputs_a, outputs_b = list(results["model_a"]), list(results["model_b"])
    if len(outputs_a) != len(outputs_b):
        raise ValueError(f"{len(outputs_a)} outputs of model_a but {len(outputs_b)} of model_b")
    wins_a = wins_b = ties = excluded = errors_a = errors_b = 0
    for i, (out_a, out_b) in enumerate(zip(outputs_a, outputs_b, strict=True)):
        if out_a is None or out_b is None:
            excluded += 1
            continue
        score_a = _score(scorer, out_a, f"model_a's output {i}")
        score_b = _score(scorer, out_b, f"model_b's output {i}")
        errors_a += score_a is None
        errors_b += score_b is None
        low = -math.inf
        a = low if score_a is None else score_a
        b = low if score_b is None else score_b
        if a > b:
            wins_a += 1
        elif b > a:
            wins_b += 1
        else:
            ties += 1
    n = wins_a + wins_b + ties
    lat_a = _latency_ms(results.get("latency_a", []))
    lat_b = _latency_ms(results.get("latency_b", []))
    p_value = sign_test(wins_a, wins_b)
    return {
        "model_a_win_rate": wins_a / n if n else math.nan,
        "model_b_win_rate": wins_b / n if n else math.nan,
        "tie_rate": ties / n if n else math.nan,
        "avg_latency_a_ms": _mean(lat_a),
        "avg_latency_b_ms": _mean(lat_b),
        "model_a_win_rate_ci": wilson_interval(wins_a, n, confidence),
        "model_b_win_rate_ci": wilson_interval(wins_b, n, confidence),
        "sign_test_p_value": p_value,
        "latency_a_ms": latency_percentiles(lat_a),
        "latency_b_ms": latency_percentiles(lat_b),
        "wins_a": wins_a,
        "wins_b": wins_b,
        "ties": ties,
        "n": n,
        "excluded": excluded,
        "scorer_errors_a": errors_a,
        "scorer_errors_b": errors_b,
        "conclusion": _conclusion(wins_a, wins_b, ties, p_value, 1.0 - confidence),
    }


def _conclusion(wins_a: int, wins_b: int, ties: int, p_value: float, alpha: float) -> str:
    decisive = wins_a + wins_b
    counts = f"model_a wins {wins_a}, model_b wins {wins_b}, {ties} ties"
    if decisive == 0:
        return f"{counts}: no case separates the models"
    leader = "model_a" if wins_a > wins_b else "model_b"
    if p_value < alpha and wins_a != wins_b:
        return f"{counts}: {leader} is better (sign test p={p_value:.3g})"
    return (
        f"{counts}: no significant difference (sign test p={p_value:.3g}); "
        "more cases are needed to tell"
    )
