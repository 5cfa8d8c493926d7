"""How each task kind scores and compares its models: the functions that
:data:`tunegate.tasks.TASK_KINDS` names by import path (``tunegate.evaluation.kinds:...``).

:mod:`tunegate.tasks` names them by path instead of importing them, so the registry
(imported by the config) never imports :mod:`tunegate.evaluation.scores` (which imports the
config): no import cycle, and the scoring modules load only when a run scores.
"""

from __future__ import annotations

from typing import Any

from tunegate.evaluation.compare import compare_classification, compare_generic
from tunegate.evaluation.scores import (
    ScoredModel,
    classification_result,
    generic_result,
    score_classification,
    score_generic,
    score_perplexity,
)
from tunegate.results import Comparison, ModelResult
from tunegate.tasks import ModelScoring

__all__ = [
    "compare_labels",
    "compare_outputs",
    "score_labels",
    "score_outputs",
    "score_perplexity_of",
]


def score_labels(s: ModelScoring) -> tuple[ScoredModel, ModelResult]:
    """Classification and multiple choice: the answer is a label (or letter)."""
    rule = s.label_parse
    scored = (
        score_classification(s.name, s.cases, s.responses, s.labels)
        if rule is None
        else score_classification(
            s.name, s.cases, s.responses, s.labels, rule=rule.rule, pattern=rule.pattern
        )
    )
    result = classification_result(
        scored,
        s.cases,
        s.labels,
        confidence=s.confidence,
        n_resamples=s.n_resamples,
        seed=s.seed,
    )
    return scored, result


def score_outputs(s: ModelScoring) -> tuple[ScoredModel, ModelResult]:
    """Generation and tool calls: every output scored by the suite's scorers."""
    scored = score_generic(s.name, s.cases, s.responses, s.scorers, s.pass_rule)
    return scored, _generic(scored, s)


def score_perplexity_of(s: ModelScoring) -> tuple[ScoredModel, ModelResult]:
    """Perplexity: the model's own perplexity of each text."""
    scored = score_perplexity(s.name, s.responses)
    return scored, _generic(scored, s)


def _generic(scored: ScoredModel, s: ModelScoring) -> ModelResult:
    return generic_result(
        scored,
        s.cases,
        s.metrics,
        confidence=s.confidence,
        n_resamples=s.n_resamples,
        seed=s.seed,
    )


def compare_labels(*args: Any, **kwargs: Any) -> list[Comparison]:
    """Classification: paired comparison with McNemar and per-class metrics."""
    return compare_classification(*args, **kwargs)


def compare_outputs(cand: Any, base: Any, labels: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """Every other kind: paired comparison of the metrics (labels are not used)."""
    return compare_generic(cand, base, *args, **kwargs)
