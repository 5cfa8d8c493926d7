"""The one registry of scorer types: what each measures and how it is built.

Every scorer type registers itself with :func:`scorer` (in
:mod:`tunegate.scoring.scorers`)::

    @scorer("rouge", metrics=("rougeL", "rouge1", "rouge2", "rougeLsum"))
    def _rouge(sc: RougeScorer, ctx: BuildContext) -> MultiScoreFn: ...

The YAML path (:func:`build_scorers`, from a task's ``scorers:``) and the Python API
(:func:`tunegate.api.suite.run_eval_suite`'s named scorers) both build scorers from
here, so a name means the same thing in both. The config model of each type is in
:mod:`tunegate.config.scorers`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunegate.config.scorers import SCORER_CLASSES, ScorerConfig
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.scoring.base import Score

if TYPE_CHECKING:  # config.tasks asks this registry for metric names: no import back
    from tunegate.config.tasks import TaskConfig

__all__ = [
    "BuildContext",
    "BuiltScorer",
    "ScorerKind",
    "WithCorpus",
    "build_scorer",
    "build_scorers",
    "scorer",
    "scorer_kind",
]

ScoreFn = Callable[[Case, Response], dict[str, Score]]
#: A corpus-level value of a scorer's main metric: (answers, references per case) -> value.
CorpusFn = Callable[[Sequence[str | None], Sequence[Sequence[str]]], float]
#: What a registered builder returns: one Score (a one-metric scorer) or a Score per
#: metric of the registration's ``metrics`` (unprefixed).
KindFn = Callable[[Case, Response], "Score | dict[str, Score]"]


@dataclass(frozen=True)
class WithCorpus:
    """What a builder returns when the suite-level value is not the mean of the cases."""

    fn: KindFn
    corpus: CorpusFn


@dataclass(frozen=True)
class BuildContext:
    """Where a scorer is configured (``tunegate.yaml: task.scorers[0]``, for messages) and
    the config's folder (``config_dir``), against which relative files are found."""

    where: str
    config_dir: Path | None = None


@dataclass(frozen=True)
class ScorerKind:
    """A registered scorer type.

    ``metrics`` empty: one metric, named by the scorer's label. Otherwise the metrics
    it reports, main one first, prefixed with ``name.`` when the scorer has a name.
    """

    name: str
    config: type[ScorerConfig]
    metrics: tuple[str, ...]
    higher_is_better: bool
    make: Callable[[Any, BuildContext], KindFn | WithCorpus]
    reads_tool_calls: bool = False

    def metric_names(self, sc: ScorerConfig) -> tuple[str, ...]:
        """The metric names a configured scorer reports, main one first."""
        if not self.metrics:
            return (sc.label,)
        return tuple(f"{sc.name}.{m}" if sc.name else m for m in self.metrics)


Maker = Callable[[Any, BuildContext], "KindFn | WithCorpus"]
_KINDS: dict[str, ScorerKind] = {}

#: The modules that register the built-in scorer types, named by import path: they
#: import this registry (``@scorer``), so the registry does not import them back.
BUILTIN_SCORER_MODULES = ("tunegate.scoring.scorers",)


def scorer(
    type_: str,
    *,
    metrics: tuple[str, ...] = (),
    higher_is_better: bool = True,
    reads_tool_calls: bool = False,
) -> Callable[[Maker], Maker]:
    """Register the builder of scorer type ``type_`` (its config model is
    :data:`tunegate.config.scorers.SCORER_CLASSES`'s entry).

    ``reads_tool_calls``: an answer holding no tool call is unparseable for it.
    """

    def register(
        make: Maker,
    ) -> Maker:
        if type_ in _KINDS:
            raise ValueError(f"scorer type {type_!r} is registered twice")
        _KINDS[type_] = ScorerKind(
            type_, SCORER_CLASSES[type_], metrics, higher_is_better, make, reads_tool_calls
        )
        return make

    return register


def scorer_kind(type_: str) -> ScorerKind:
    """The registration of a scorer type (KeyError for an unknown one)."""
    for module in BUILTIN_SCORER_MODULES:  # registers every built-in type (once)
        importlib.import_module(module)
    return _KINDS[type_]


@dataclass(frozen=True)
class BuiltScorer:
    """A configured scorer: its metric names (the first is the main one) and function."""

    label: str
    kind: str
    metrics: tuple[str, ...]
    fn: ScoreFn
    #: The main metric over the whole suite, where it is not the mean of the cases
    #: (corpus BLEU and chrF).
    corpus: CorpusFn | None = None
    reads_tool_calls: bool = False
    #: False: a lower value is better (comparisons and deltas read it that way).
    higher_is_better: bool = True

    def __call__(self, case: Case, response: Response) -> dict[str, Score]:
        """Scores by metric name; an exception becomes a failed score for every metric."""
        try:
            scores = self.fn(case, response)
        except Exception as exc:  # a scorer must never abort the run
            message = str(exc)
            why = f"scorer {self.label} failed: {type(exc).__name__}" + (
                f": {message}" if message else ""
            )
            return {m: Score.failure(why) for m in self.metrics}
        return scores


def build_scorer(sc: ScorerConfig, ctx: BuildContext) -> BuiltScorer:
    """One configured scorer, ready to call; configuration problems raise ConfigError."""
    kind = scorer_kind(sc.type)
    names = kind.metric_names(sc)
    made = kind.make(sc, ctx)
    extra: dict[str, Any] = {
        "reads_tool_calls": kind.reads_tool_calls,
        "higher_is_better": kind.higher_is_better,
    }
    fn: KindFn
    if isinstance(made, WithCorpus):
        fn, extra["corpus"] = made.fn, made.corpus
    else:
        fn = made
    if not kind.metrics:
        metric = names[0]

        def one(case: Case, response: Response) -> dict[str, Score]:
            result = fn(case, response)
            assert isinstance(result, Score)
            return {metric: result}

        return BuiltScorer(sc.label, sc.type, names, one, **extra)
    renamed = dict(zip(kind.metrics, names, strict=True))

    def many(case: Case, response: Response) -> dict[str, Score]:
        result = fn(case, response)
        assert isinstance(result, dict)
        return {renamed[m]: result[m] for m in kind.metrics}

    return BuiltScorer(sc.label, sc.type, names, many, **extra)


def build_scorers(
    task: TaskConfig, where: str, config_dir: Path | None = None
) -> list[BuiltScorer]:
    """The task's scorers, ready to call; configuration problems raise ConfigError.

    Judges are left out: their verdicts come from model calls (see :mod:`tunegate.evaluation.judging`).
    """
    return [
        build_scorer(sc, BuildContext(f"{where}.scorers[{i}]", config_dir))
        for i, sc in enumerate(task.scorer_list)
        if isinstance(sc, ScorerConfig)
    ]
