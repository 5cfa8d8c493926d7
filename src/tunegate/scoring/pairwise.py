"""Pairwise judge statistics (pure): wins, ties, losses, win rates, position and length bias.

Each case is judged twice: once with the candidate shown first (as ``A``) and once
with the baseline shown first. The two verdicts are mapped back to models; when
they agree the case is a win, tie or loss for the candidate, when they disagree it
is *inconsistent* (counted as a tie, and counted apart). A case with a judge error
in either order is a judge error: it is counted, never a vote.

- win rate = (wins + (ties + inconsistent) / 2) / judged cases, with a percentile
  bootstrap interval over cases (:func:`tunegate.stats.bootstrap_mean_ci` of the
  per-case values 1 / 0.5 / 0);
- decisive win rate = wins / (wins + losses), with the two-sided sign test
  (:func:`tunegate.stats.sign_test`);
- position bias = share of decisive single verdicts (either order) that picked the
  output shown first (0.5 = none);
- length bias = share of decisive single verdicts between outputs of different
  lengths (in characters) that picked the longer one (0.5 = none).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tunegate.stats import bootstrap_mean_ci, sign_test

__all__ = ["Outcome", "PairJudgment", "outcome", "summarise", "summarise_by_category"]

Outcome = Literal["win", "tie", "loss", "inconsistent", "error"]
_VALUE = {"win": 1.0, "tie": 0.5, "inconsistent": 0.5, "loss": 0.0}


@dataclass(frozen=True)
class PairJudgment:
    """The two verdicts on one case (``A`` / ``B`` / ``tie``; None = judge error).

    ``candidate_first`` was given with the candidate as A, ``baseline_first`` with
    the baseline as A.
    """

    case_id: str
    category: str | None
    candidate_first: str | None
    baseline_first: str | None
    candidate_len: int
    baseline_len: int


def _candidate_side(verdict: str, candidate_is_a: bool) -> str:
    if verdict == "tie":
        return "tie"
    return "win" if (verdict == "A") == candidate_is_a else "loss"


def outcome(j: PairJudgment) -> Outcome:
    """The case's outcome for the candidate."""
    if j.candidate_first is None or j.baseline_first is None:
        return "error"
    first = _candidate_side(j.candidate_first, True)
    second = _candidate_side(j.baseline_first, False)
    if first != second:
        return "inconsistent"
    return "win" if first == "win" else "loss" if first == "loss" else "tie"


def _ratio(k: int, n: int) -> float | None:
    return k / n if n else None


def summarise(
    judgments: Sequence[PairJudgment],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Counts, win rates, sign test, position and length bias of ``judgments`` (JSON-ready)."""
    outcomes = [outcome(j) for j in judgments]
    counts = {k: outcomes.count(k) for k in ("win", "tie", "loss", "inconsistent", "error")}
    values = [_VALUE[o] for o in outcomes if o != "error"]
    n = len(values)
    win_rate: float | None = sum(values) / n if n else None
    ci: tuple[float, float] | None = None
    if n >= 2:
        lo, hi = bootstrap_mean_ci(
            values, n_resamples=n_resamples, confidence=confidence, seed=seed
        )
        ci = (lo, hi) if not math.isnan(lo) else None
    elif n == 1:
        ci = (values[0], values[0])
    wins, losses = counts["win"], counts["loss"]
    first_wins = decisive = longer_wins = length_decisive = 0
    for j in judgments:
        for verdict, candidate_is_a in ((j.candidate_first, True), (j.baseline_first, False)):
            if verdict not in ("A", "B"):
                continue
            decisive += 1
            first_wins += verdict == "A"
            a_len, b_len = (
                (j.candidate_len, j.baseline_len)
                if candidate_is_a
                else (j.baseline_len, j.candidate_len)
            )
            if a_len != b_len:
                length_decisive += 1
                longer_wins += (verdict == "A") == (a_len > b_len)
    return {
        "n": n,
        "wins": wins,
        "ties": counts["tie"],
        "losses": losses,
        "inconsistent": counts["inconsistent"],
        "errors": counts["error"],
        "win_rate": {"value": win_rate, "ci": ci},
        "decisive_win_rate": {
            "value": _ratio(wins, wins + losses),
            "n": wins + losses,
            "p_value": sign_test(wins, losses),
        },
        "position_bias": {"value": _ratio(first_wins, decisive), "n": decisive},
        "length_bias": {"value": _ratio(longer_wins, length_decisive), "n": length_decisive},
    }


def summarise_by_category(
    judgments: Sequence[PairJudgment],
    *,
    confidence: float = 0.95,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """:func:`summarise` within each category (sorted; cases without one left out)."""
    groups: dict[str, list[PairJudgment]] = {}
    for j in judgments:
        if j.category is not None:
            groups.setdefault(j.category, []).append(j)
    return {
        name: summarise(groups[name], confidence=confidence, n_resamples=n_resamples, seed=seed)
        for name in sorted(groups)
    }
