"""Repeated sampling (``repeats: k``): every answer of every repeat scored like the
first, then per case the share of passing answers and per model the mean share,
pass@k, pass^k and flakiness, with cluster-bootstrap intervals (cases resampled,
never answers: :mod:`tunegate.stats.repeats`).

A case with a missing answer in any repeat (a failed request, an unparseable answer)
has no share: it is left out of the figures and counted (``missing_cases``); the gate
holds a criterion on these figures INCONCLUSIVE while any case is missing.
Judges grade the first answer only, so a repeat passes by the suite's own scorers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunegate.config.tasks import LabelParse, PassRule
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.evaluation.scores import ScoredModel, score_classification, score_generic
from tunegate.scoring.scorers import BuiltScorer
from tunegate.stats.repeats import REPEAT_METRICS, per_case_repeat_values, repeat_summary

#: Task scoring functions whose answers pass or fail (perplexity has no pass/fail).
_PASS_FAIL = ("score_labels", "score_outputs")


def _score_once(
    score: str,
    cases: Sequence[Case],
    responses: Sequence[Response],
    labels: Sequence[str],
    scorers: Sequence[BuiltScorer],
    pass_rule: PassRule | None,
    label_parse: LabelParse | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One repeat's answers: (passed, missing) per case."""
    scored: ScoredModel
    if score == "score_labels":
        if label_parse is None:
            scored = score_classification("repeat", cases, responses, labels)
        else:
            scored = score_classification(
                "repeat",
                cases,
                responses,
                labels,
                rule=label_parse.rule,
                pattern=label_parse.pattern,
            )
        missing = np.array([p is None for p in scored.predictions], dtype=bool)
    else:
        scored = score_generic("repeat", cases, responses, scorers, pass_rule)
        unparseable = scored.unparseable or [False] * len(cases)
        missing = np.array(
            [e or u for e, u in zip(scored.errors, unparseable, strict=True)], dtype=bool
        )
    return np.asarray(scored.correct, dtype=bool) & ~missing, missing


def repeat_result(
    score: str,
    cases: Sequence[Case],
    repeats: Sequence[Sequence[Response]],
    *,
    labels: Sequence[str],
    scorers: Sequence[BuiltScorer],
    pass_rule: PassRule | None,
    label_parse: LabelParse | None,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> dict[str, Any] | None:
    """The repeat figures of one model (JSON-ready), or None when the model was asked
    each case once or its task has no pass/fail (perplexity)."""
    k = len(repeats[0]) if repeats else 0
    if k < 2 or score not in _PASS_FAIL:
        return None
    n = len(cases)
    passed = np.zeros((n, k), dtype=bool)
    missing = np.zeros((n, k), dtype=bool)
    for r in range(k):
        answers = [per_case[r] for per_case in repeats]
        passed[:, r], missing[:, r] = _score_once(
            score, cases, answers, labels, scorers, pass_rule, label_parse
        )
    complete: np.ndarray = np.asarray(~missing.any(axis=1), dtype=bool)
    summary = repeat_summary(
        passed[complete], n_resamples=n_resamples, confidence=confidence, seed=seed
    )
    flaky: list[float] = (
        per_case_repeat_values(passed[complete])["flakiness"].tolist() if complete.any() else []
    )
    complete_ids = [c.id for c, ok in zip(cases, complete, strict=True) if ok]
    metrics: dict[str, dict[str, Any]] = {}
    for name in REPEAT_METRICS:
        value, ci = summary[name]
        defined = bool(complete.any())
        metrics[name] = {"value": value if defined else None, "ci": list(ci) if defined else None}
    return {
        "k": k,
        "n_cases": n,
        "complete_cases": int(complete.sum()),
        "missing_cases": int(n - complete.sum()),
        "missing_answers": int(missing.sum()),
        "metrics": metrics,
        # per case: how many of its k answers passed (None: an answer is missing)
        "passed": {
            c.id: (int(passed[i].sum()) if complete[i] else None) for i, c in enumerate(cases)
        },
        "flaky_cases": [cid for cid, f in zip(complete_ids, flaky, strict=True) if f],
        "resampled": "cases (cluster bootstrap)",
        # Per case, each repeat in order (the drill-down): its outcome (1 pass, 0 fail,
        # None missing: a failed request or an unparseable answer) and its answer text
        # (None for a failed request).
        "outcomes": {
            c.id: [None if missing[i, r] else int(passed[i, r]) for r in range(k)]
            for i, c in enumerate(cases)
        },
        "answers": {
            c.id: [a.text if a.error is None else None for a in repeats[i]]
            for i, c in enumerate(cases)
        },
    }
