"""The scorers of a generation suite: one pydantic model per scorer type.

Each scorer type is a config class, registered by its ``type`` in
:data:`SCORER_CONFIGS` (the built-in ones here; a plugin's through the
``tunegate.scorers`` entry-point group). :data:`AnyScorerConfig` picks the class by
``type``, so each scorer accepts only its own options (``chrf`` has no ``tokenize``,
``exact_match`` no ``use_stemmer``). A class *declares* the metrics its scorer
reports (``metrics``, ``higher_is_better``), so the config knows a suite's metric
names without asking the scoring code; how each type scores lives in
:mod:`tunegate.scoring.registry`.

Case is one option everywhere: ``case_sensitive``. The spellings of earlier
versions (``casefold`` for ``exact_match``, ``lowercase`` for ``bleu``/``chrf``) are
still read, as deprecated aliases (:data:`DEPRECATED_OPTIONS`).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, SerializeAsAny, TypeAdapter, model_validator

from tunegate.config.base import Float, _Strict
from tunegate.config.plugins import by_type, class_checker, type_name
from tunegate.registry import Registry

#: Deprecated option spellings: ``{scorer type: {old key: new key}}``. A yes/no value
#: is negated (``casefold: true`` is ``case_sensitive: false``); a number is kept
#: (``limit: 500`` is ``ms: 500``: ``limit`` is a number of cases elsewhere).
DEPRECATED_OPTIONS: dict[str, dict[str, str]] = {
    "exact_match": {"casefold": "case_sensitive"},
    "bleu": {"lowercase": "case_sensitive"},
    "chrf": {"lowercase": "case_sensitive"},
    "max_latency_ms": {"limit": "ms"},
}


def renamed_value(value: Any) -> Any:
    """The value of a deprecated option under its new name."""
    return (not value) if isinstance(value, bool) else value


_Threshold = Annotated[Float, Field(ge=0, le=1)]


class ScorerConfig(_Strict):
    """What every non-judge scorer shares: its ``type`` and an optional report ``name``.

    A subclass declares what its scorer reports: ``metrics`` empty means one metric,
    named by :attr:`label`; otherwise the metrics, main one first (prefixed with
    ``name.`` when the scorer has a name). ``higher_is_better`` False: a lower value is
    better. ``reads_tool_calls``: an answer holding no tool call is unparseable for it.
    """

    type: str
    name: str | None = None

    #: The metric's name when ``name`` is not given (default: the type).
    default_label: ClassVar[str | None] = None
    #: The metrics the scorer reports, main one first (empty: one, named by the label).
    metrics: ClassVar[tuple[str, ...]] = ()
    #: False: a lower value of its metrics is better (comparisons read it that way).
    higher_is_better: ClassVar[bool] = True
    #: An answer holding no tool call is unparseable for it.
    reads_tool_calls: ClassVar[bool] = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _deprecated_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        renames = DEPRECATED_OPTIONS.get(str(data.get("type")), {})
        if not any(old in data for old in renames):
            return data
        data = dict(data)
        for old, new in renames.items():
            if old in data:
                value = data.pop(old)
                if new in data:
                    raise ValueError(f"give {new} only ({old} is its deprecated spelling)")
                data[new] = renamed_value(value)
        return data

    @model_validator(mode="after")
    def _one_type(self) -> ScorerConfig:
        if type(self) is ScorerConfig:
            raise ValueError(
                f"unknown scorer type {self.type!r}; build a scorer with scorer_config(type=...)"
            )
        return self

    @property
    def label(self) -> str:
        """The scorer's name in reports (``name``, else derived from the type)."""
        return self.name or self.default_label or self.type

    def metric_names(self) -> tuple[str, ...]:
        """The metric names this scorer reports, main one first."""
        if not self.metrics:
            return (self.label,)
        return tuple(f"{self.name}.{m}" if self.name else m for m in self.metrics)


class ExactMatchScorer(ScorerConfig):
    """The normalised answer equals a reference. By default whitespace is stripped and
    collapsed and case is ignored; ``remove_punctuation`` and ``remove_articles`` add
    the rest of SQuAD's normalisation."""

    type: Literal["exact_match"]
    strip: bool = True
    case_sensitive: bool = False
    remove_punctuation: bool = False
    remove_articles: bool = False


class RougeScorer(ScorerConfig):
    """ROUGE-1/2/L/Lsum F-measures; a case passes on ``rougeL >= threshold``."""

    type: Literal["rouge"]
    use_stemmer: bool = False
    threshold: _Threshold = 0.5
    metrics: ClassVar[tuple[str, ...]] = ("rougeL", "rouge1", "rouge2", "rougeLsum")


class BleuScorer(ScorerConfig):
    """Sentence BLEU / 100 (sacrebleu); passes at ``>= threshold``."""

    type: Literal["bleu"]
    tokenize: str = "13a"
    case_sensitive: bool = True
    threshold: _Threshold = 0.5


class ChrfScorer(ScorerConfig):
    """Sentence chrF / 100 (sacrebleu); passes at ``>= threshold``."""

    type: Literal["chrf"]
    case_sensitive: bool = True
    threshold: _Threshold = 0.5


class JsonScorer(ScorerConfig):
    """The answer (or its first fenced code block) is valid JSON."""

    type: Literal["json"]
    default_label: ClassVar[str | None] = "json_valid"


class JsonSchemaScorer(ScorerConfig):
    """The answer is JSON valid against a schema: inline (``schema``) or a file."""

    type: Literal["json_schema"]
    schema_: Annotated[Any, Field(alias="schema")] = None
    schema_file: Path | None = None
    default_label: ClassVar[str | None] = "schema_compliance"

    @model_validator(mode="after")
    def _one_schema(self) -> JsonSchemaScorer:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("a json_schema scorer needs exactly one of schema and schema_file")
        return self


class ToolCallScorer(ScorerConfig):
    """The answer's tool calls match the reference calls."""

    type: Literal["tool_call"]
    default_label: ClassVar[str | None] = "tool_call_accuracy"
    reads_tool_calls: ClassVar[bool] = True


class _Assertion(ScorerConfig):
    """``value`` may refer to the case: a template such as ``"{{ reference }}"`` is
    rendered per case (``reference``, ``input``, ``id``, ``category``, ``metadata`` and
    each metadata field; see :mod:`tunegate.scoring.values`)."""

    value: str
    case_sensitive: bool = False
    negate: bool = False


class ContainsScorer(_Assertion):
    """``value`` occurs in the answer."""

    type: Literal["contains"]


class RegexScorer(_Assertion):
    """``re.search(value, answer)`` finds a match."""

    type: Literal["regex"]

    @model_validator(mode="after")
    def _compiles(self) -> RegexScorer:
        if "{{" in self.value or "{%" in self.value:
            return self  # a template: compiled per case once rendered (validate checks)
        try:
            re.compile(self.value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None
        return self


class EqualsScorer(_Assertion):
    """The stripped answer equals ``value``."""

    type: Literal["equals"]


class ContainsReferenceScorer(ScorerConfig):
    """One of the case's references (``metadata.references``, else the reference) occurs
    in the answer."""

    type: Literal["contains_reference"]
    case_sensitive: bool = False
    negate: bool = False


class MaxLatencyScorer(ScorerConfig):
    """The call took at most ``ms`` milliseconds."""

    type: Literal["max_latency_ms"]
    ms: Annotated[Float, Field(gt=0)]
    negate: bool = False


class CustomScorer(ScorerConfig):
    """A function ``package.module:function`` or ``file.py:function``."""

    type: Literal["custom"]
    function: str
    threshold: _Threshold = 0.5

    @property
    def label(self) -> str:
        """``name``, else the function's name."""
        return self.name or self.function.rsplit(":", 1)[-1]


#: The built-in scorer config classes, in the order the docs list them.
_BUILTIN_SCORERS: tuple[type[ScorerConfig], ...] = (
    ExactMatchScorer,
    RougeScorer,
    BleuScorer,
    ChrfScorer,
    JsonScorer,
    JsonSchemaScorer,
    ToolCallScorer,
    ContainsScorer,
    RegexScorer,
    EqualsScorer,
    ContainsReferenceScorer,
    MaxLatencyScorer,
    CustomScorer,
)

JudgeScale = Literal["pass_fail", "1-5", "1-10"]


class JudgeScorerConfig(_Strict):
    """A pointwise judge: a model of ``models:`` grades each output with a rubric.

    The verdict on ``scale`` is normalised to [0, 1] (the ``judge_score`` metric);
    a case passes when it reaches ``threshold``. ``rubric`` is a template with
    ``{{ input }}``, ``{{ output }}`` and ``{{ reference }}`` (default: one per scale).
    """

    type: Literal["judge"]
    judge: str
    name: str | None = None
    rubric: str | None = None
    scale: JudgeScale = "pass_fail"
    threshold: _Threshold = 0.5

    @property
    def label(self) -> str:
        """The metric's name (``name``, else ``judge_score``)."""
        return self.name or "judge_score"


class PairwiseJudgeConfig(_Strict):
    """A pairwise judge: the candidate against each baseline, case by case, in both orders.

    ``rubric`` is a template with ``{{ input }}``, ``{{ output_a }}``,
    ``{{ output_b }}`` and ``{{ reference }}``.
    """

    type: Literal["pairwise_judge"]
    judge: str
    name: str | None = None
    rubric: str | None = None

    @property
    def label(self) -> str:
        """The judge's name in reports (``name``, else ``<judge model>``)."""
        return self.name or self.judge


JUDGE_SCORER_TYPES = ("judge", "pairwise_judge")
_JUDGE_CLASSES = (JudgeScorerConfig, PairwiseJudgeConfig)

#: Every scorer config class by ``type``: the built-in ones, then plugins' (entry-point
#: group ``tunegate.scorers``: ``my_type = "package.module:MyScorerConfig"``, a
#: :class:`ScorerConfig` subclass with ``type: Literal["my_type"]`` and a
#: ``build(self, ctx)`` method; see docs/plugins.md).
SCORER_CONFIGS: Registry[type[ScorerConfig]] = Registry(
    "scorer type", group="tunegate.scorers", check=class_checker(ScorerConfig, "scorer", "build")
)
for _cls in _BUILTIN_SCORERS:
    SCORER_CONFIGS.add(str(type_name(_cls)), _cls)
#: The judges, which are not built by the scorer registry (their verdicts are model calls).
JUDGE_CONFIGS: Registry[type[_Strict]] = Registry("judge scorer type")
for _judge in _JUDGE_CLASSES:
    JUDGE_CONFIGS.add(str(type_name(_judge)), _judge)

#: The built-in scorer types (plugins add more: ``SCORER_CONFIGS.names()``).
SCORER_TYPES: tuple[str, ...] = tuple(str(type_name(c)) for c in _BUILTIN_SCORERS)
_ALL_SCORER_TYPES = (*SCORER_TYPES, *JUDGE_SCORER_TYPES)

#: A scorer of a task's ``scorers:`` list: its class picked by ``type`` (a built-in
#: scorer, a plugin's, or a judge).
AnyScorerConfig = Annotated[
    ScorerConfig | JudgeScorerConfig | PairwiseJudgeConfig,
    by_type(SCORER_CONFIGS, JUDGE_CONFIGS, what="scorer"),
    SerializeAsAny(),
]
#: A non-judge scorer (what :func:`scorer_config` builds).
AnyScorer = Annotated[ScorerConfig, by_type(SCORER_CONFIGS, what="scorer"), SerializeAsAny()]


@functools.cache
def _one_scorer() -> TypeAdapter[ScorerConfig]:
    """Built on first use: what ``import tunegate.config`` need not pay (startup)."""
    return TypeAdapter(AnyScorer)


def scorer_config(**options: Any) -> ScorerConfig:
    """A scorer's config from its options: ``scorer_config(type="rouge", use_stemmer=True)``.

    Raises pydantic's ``ValidationError`` on an unknown type or an option the type lacks.
    """
    return _one_scorer().validate_python(options)
