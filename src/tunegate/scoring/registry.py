"""The builders of the scorer types: how each type named in ``scorers:`` scores.

A scorer type is a config class (:data:`tunegate.config.scorers.SCORER_CONFIGS`, which
declares its metrics) and a builder, found here by the same name. The built-in
builders are ``build_<type>`` in :mod:`tunegate.scoring.scorers`, imported on first
use; code adds one with :func:`scorer`::

    @scorer("word_count", config=WordCountScorer)
    def _word_count(sc: WordCountScorer, ctx: BuildContext) -> KindFn: ...

A plugin's scorer type (entry-point group ``tunegate.scorers``) is built by its
config class's ``build(ctx)`` method.

The YAML path (:func:`build_scorers`, from a task's scorer configs) and the Python API
(:func:`tunegate.api.suite.run_eval_suite`'s named scorers) both build scorers from
here, so a name means the same thing in both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.config.scorers import SCORER_CONFIGS, SCORER_TYPES, JudgeScorerConfig, ScorerConfig
from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.registry import Registry, UnknownNameError
from tunegate.scoring.base import Score

__all__ = [
    "BUILDERS",
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
#: What a builder returns: one Score (a one-metric scorer) or a Score per metric of
#: its config's ``metrics`` (unprefixed).
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


Maker = Callable[[Any, BuildContext], "KindFn | WithCorpus"]

#: The builder of each scorer type by name (the built-in ones imported on first use).
BUILDERS: Registry[Maker] = Registry("scorer builder")
for _type in SCORER_TYPES:
    BUILDERS.add_lazy(_type, f"tunegate.scoring.scorers:build_{_type}")


@dataclass(frozen=True)
class ScorerKind:
    """A scorer type: its config class (which declares its metrics) and its builder."""

    name: str
    config: type[ScorerConfig]
    make: Maker

    @property
    def metrics(self) -> tuple[str, ...]:
        """The metrics it reports, main one first (empty: one, named by the label)."""
        return self.config.metrics

    @property
    def higher_is_better(self) -> bool:
        """False: a lower value is better."""
        return self.config.higher_is_better

    @property
    def reads_tool_calls(self) -> bool:
        """An answer holding no tool call is unparseable for it."""
        return self.config.reads_tool_calls

    def metric_names(self, sc: ScorerConfig) -> tuple[str, ...]:
        """The metric names a configured scorer reports, main one first."""
        return sc.metric_names()


def scorer(
    type_: str,
    *,
    config: type[ScorerConfig] | None = None,
    metrics: tuple[str, ...] | None = None,
    higher_is_better: bool | None = None,
    reads_tool_calls: bool | None = None,
) -> Callable[[Maker], Maker]:
    """Register the builder of scorer type ``type_``; ``config`` registers its config
    class too (else it must be registered: a built-in or a plugin's).

    ``metrics``, ``higher_is_better`` and ``reads_tool_calls`` are declared by the
    config class; given here, they must agree with it (a ValueError otherwise).
    """

    def register(make: Maker) -> Maker:
        if config is not None:
            SCORER_CONFIGS.add(type_, config)
        declared = SCORER_CONFIGS.get(type_)
        given = {
            "metrics": metrics,
            "higher_is_better": higher_is_better,
            "reads_tool_calls": reads_tool_calls,
        }
        for option, value in given.items():
            if value is not None and value != getattr(declared, option):
                raise ValueError(
                    f"@scorer({type_!r}, {option}={value!r}): its config class "
                    f"{declared.__name__} declares {option} = {getattr(declared, option)!r}"
                )
        BUILDERS.add(type_, make)
        return make

    return register


def _built_by_config(sc: Any, ctx: BuildContext) -> KindFn | WithCorpus:
    """A plugin's scorer: its config class builds it."""
    made: KindFn | WithCorpus = sc.build(ctx)
    return made


def scorer_kind(type_: str) -> ScorerKind:
    """The scorer type called ``type_`` (:class:`~tunegate.registry.UnknownNameError`,
    a KeyError and a ConfigError, for an unknown one)."""
    config = SCORER_CONFIGS.get(type_)
    make = BUILDERS.find(type_)
    if make is None:
        if not callable(getattr(config, "build", None)):
            raise UnknownNameError(
                f"scorer type {type_!r} has no builder: register one with @scorer({type_!r}) "
                f"or give {config.__name__} a build(self, ctx) method"
            )
        make = _built_by_config
    return ScorerKind(type_, config, make)


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
        """Scores by metric name; an exception becomes a scorer error (:meth:`Score.error`)
        for every metric: the case is unscored, not failed."""
        try:
            scores = self.fn(case, response)
        except Exception as exc:  # a scorer must never abort the run
            message = str(exc)
            why = f"scorer {self.label} failed: {type(exc).__name__}" + (
                f": {message}" if message else ""
            )
            return {m: Score.error(why) for m in self.metrics}
        return scores


def build_scorer(sc: ScorerConfig, ctx: BuildContext) -> BuiltScorer:
    """One configured scorer, ready to call; configuration problems raise ConfigError."""
    kind = scorer_kind(sc.type)
    names = sc.metric_names()
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
            if not isinstance(result, Score):
                raise TypeError(
                    f"the {sc.type} scorer gave {type(result).__name__}, not one Score "
                    "(its config class declares one metric)"
                )
            return {metric: result}

        return BuiltScorer(sc.label, sc.type, names, one, **extra)
    renamed = dict(zip(kind.metrics, names, strict=True))

    def many(case: Case, response: Response) -> dict[str, Score]:
        result = fn(case, response)
        if not isinstance(result, dict) or set(result) != set(renamed):
            got = sorted(result) if isinstance(result, dict) else type(result).__name__
            raise TypeError(
                f"the {sc.type} scorer gave {got}, not the metrics its config class "
                f"declares {sorted(renamed)}"
            )
        return {renamed[m]: result[m] for m in kind.metrics}

    return BuiltScorer(sc.label, sc.type, names, many, **extra)


def build_scorers(
    scorers: Sequence[ScorerConfig | JudgeScorerConfig], where: str, config_dir: Path | None = None
) -> list[BuiltScorer]:
    """A task's scorers (``task.scorer_list``), ready to call; configuration problems
    raise ConfigError. ``where`` is the task's key (``suites.x.task``), for messages.

    Judges are left out: their verdicts come from model calls (see
    :mod:`tunegate.evaluation.judging`).
    """
    return [
        build_scorer(sc, BuildContext(f"{where}.scorers[{i}]", config_dir))
        for i, sc in enumerate(scorers)
        if isinstance(sc, ScorerConfig)
    ]
