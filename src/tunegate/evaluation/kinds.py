"""How each task kind scores, compares and annotates its models.

:class:`tunegate.tasks.TaskKind` is metadata: it names its functions (``score``,
``compare``, ``notes``) and they are registered here, under those names, in three
registries (:data:`SCORE`, :data:`COMPARE`, :data:`NOTES`). A new task kind registers
its functions here and names them in its :class:`~tunegate.tasks.TaskKind`.
:func:`score_model`, :func:`compare_models` and :func:`suite_notes` run a kind's
functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunegate.evaluation.compare import compare_classification, compare_generic
from tunegate.evaluation.scores import (
    ScoredModel,
    classification_result,
    generic_result,
    score_classification,
    score_generic,
    score_perplexity,
)
from tunegate.registry import Registry
from tunegate.results import Comparison, ModelResult
from tunegate.tasks import TaskKind

if TYPE_CHECKING:
    from tunegate.config.tasks import LabelParse, PassRule
    from tunegate.data import Case
    from tunegate.data.response import Response
    from tunegate.runner import ModelRun
    from tunegate.scoring.registry import BuiltScorer

__all__ = [
    "COMPARE",
    "NOTES",
    "SCORE",
    "ModelScoring",
    "compare_labels",
    "compare_models",
    "compare_outputs",
    "score_labels",
    "score_model",
    "score_outputs",
    "score_perplexity_of",
    "suite_notes",
    "tokenizer_notes",
]


@dataclass(frozen=True)
class ModelScoring:
    """What scoring one model of a suite needs."""

    name: str
    cases: Sequence[Case]
    responses: Sequence[Response]
    labels: list[str]
    scorers: list[BuiltScorer]
    pass_rule: PassRule | None
    metrics: list[str]
    confidence: float
    n_resamples: int
    seed: int
    label_parse: LabelParse | None = None  # classification: the parse rule (default: word)


ScoreFn = Callable[[ModelScoring], tuple[ScoredModel, ModelResult]]
CompareFn = Callable[..., list[Comparison]]
NotesFn = Callable[[str, Mapping[str, "ModelRun"]], list[str]]

#: A kind's ``score`` function by name: one model's scores and result.
SCORE: Registry[ScoreFn] = Registry("task scoring function")
#: A kind's ``compare`` function by name: the candidate against a baseline.
COMPARE: Registry[CompareFn] = Registry("task comparison function")
#: A kind's ``notes`` function by name: notes on a suite's runs.
NOTES: Registry[NotesFn] = Registry("task notes function")


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


def tokenizer_notes(suite: str, runs: Mapping[str, ModelRun]) -> list[str]:
    """Perplexities per token of different vocabularies are not comparable."""
    tokenizers = {
        name: next(
            (r.output["tokenizer"] for r in run.responses if isinstance(r.output, dict)), None
        )
        for name, run in runs.items()
    }
    if len({t for t in tokenizers.values() if t is not None}) <= 1:
        return []
    listed = ", ".join(f"{m}: {t}" for m, t in tokenizers.items())
    return [
        f"{suite}: the models use different tokenizers ({listed}); their "
        "perplexities are per token of different vocabularies and not comparable"
    ]


for _score in (score_labels, score_outputs, score_perplexity_of):
    SCORE.add(_score.__name__, _score)
COMPARE.add("compare_labels", compare_labels)
COMPARE.add("compare_outputs", compare_outputs)
NOTES.add("tokenizer_notes", tokenizer_notes)


def score_model(kind: TaskKind, s: ModelScoring) -> tuple[ScoredModel, ModelResult]:
    """One model of a suite of ``kind`` scored by the kind's ``score`` function."""
    return SCORE.get(kind.score)(s)


def compare_models(
    kind: TaskKind,
    cand: ScoredModel,
    base: ScoredModel,
    labels: list[str],
    *args: Any,
    **kwargs: Any,
) -> list[Comparison]:
    """The candidate against a baseline, by the kind's ``compare`` function."""
    return COMPARE.get(kind.compare)(cand, base, labels, *args, **kwargs)


def suite_notes(kind: TaskKind, suite: str, runs: Mapping[str, ModelRun]) -> list[str]:
    """The kind's notes on a suite's runs (none when it names no ``notes`` function)."""
    return NOTES.get(kind.notes)(suite, runs) if kind.notes is not None else []
