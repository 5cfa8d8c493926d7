"""The scorers of a generation suite: one pydantic model per scorer type."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, model_validator

from tunegate.config.base import _Strict

ScorerType = Literal[
    "exact_match",
    "rouge",
    "bleu",
    "chrf",
    "json",
    "json_schema",
    "tool_call",
    "contains",
    "regex",
    "equals",
    "max_latency_ms",
    "custom",
]
SCORER_TYPES: tuple[str, ...] = get_args(ScorerType)


class ScorerConfig(_Strict):
    """One scorer of a generation suite; options apply to the types that use them."""

    type: ScorerType
    name: str | None = None
    # exact_match (SQuAD-style normalisation options)
    strip: bool = True
    casefold: bool = True
    remove_punctuation: bool = False
    remove_articles: bool = False
    # rouge
    use_stemmer: bool = False
    # bleu / chrf
    tokenize: str = "13a"
    lowercase: bool = False
    # json_schema: inline, or a file
    schema_: Annotated[Any, Field(alias="schema")] = None
    schema_file: Path | None = None
    # contains / regex / equals
    value: str | None = None
    case_sensitive: bool = False
    negate: bool = False
    # max_latency_ms
    limit: Annotated[float, Field(gt=0)] | None = None
    # custom: package.module:function or file.py:function
    function: str | None = None
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _needed_options(self) -> ScorerConfig:
        needs = {
            "contains": "value",
            "regex": "value",
            "equals": "value",
            "max_latency_ms": "limit",
            "custom": "function",
        }
        key = needs.get(self.type)
        if key is not None and getattr(self, key) is None:
            raise ValueError(f"a {self.type} scorer needs {key}")
        if self.type == "json_schema" and (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("a json_schema scorer needs exactly one of schema and schema_file")
        if self.type == "regex" and self.value is not None:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None
        return self

    @property
    def label(self) -> str:
        """The scorer's name in reports (``name``, else derived from the type)."""
        if self.name:
            return self.name
        if self.type == "custom" and self.function:
            return self.function.rsplit(":", 1)[-1]
        return {
            "json": "json_valid",
            "json_schema": "schema_compliance",
            "tool_call": "tool_call_accuracy",
        }.get(self.type, self.type)


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
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5

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
_ALL_SCORER_TYPES = (*SCORER_TYPES, *JUDGE_SCORER_TYPES)
AnyScorerConfig = Annotated[
    ScorerConfig | JudgeScorerConfig | PairwiseJudgeConfig, Field(discriminator="type")
]


_JUDGE_CLASSES = (JudgeScorerConfig, PairwiseJudgeConfig)
