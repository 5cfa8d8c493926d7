"""Suites: a dataset, its task (what is measured) and when a case passes."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from tunegate.config.base import Float, Int, _Strict
from tunegate.config.scorers import (
    SCORER_CONFIGS,
    AnyScorerConfig,
    JudgeScorerConfig,
    PairwiseJudgeConfig,
    ScorerConfig,
    scorer_config,
)
from tunegate.data.case import FieldMap
from tunegate.data.formats import DataFormat
from tunegate.tasks import TASK_KINDS, TaskKind, task_kind


class DatasetConfig(_Strict):
    """Where the cases are and which fields hold what.

    ``path: builtin:general`` names tunegate's bundled general-knowledge set.
    """

    path: Path
    format: DataFormat = "auto"  # one Literal with the loaders (tunegate.data.formats)
    input_field: str = "text"
    label_field: str = "label"
    category_field: str | None = "category"
    id_field: str | None = "id"
    limit: Annotated[Int, Field(gt=0)] | None = None

    def field_map(self, *, label_required: bool = True) -> FieldMap:
        """The loader's field map (``label_required=False``: the task never reads the
        reference, so records may lack the label field)."""
        return FieldMap(
            input_field=self.input_field,
            label_field=self.label_field,
            category_field=self.category_field,
            id_field=self.id_field,
            label_required=label_required,
        )


class PassRule(_Strict):
    """When a case of a generation or tool-call suite passes: one metric against a bound
    (``pass: {metric: rougeL, min: 0.5}``) instead of every scorer passing."""

    metric: str
    min: Float | None = None
    max: Float | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> PassRule:
        if (self.min is None) == (self.max is None):
            raise ValueError("give min or max (one of them)")
        return self

    def describe(self) -> str:
        """``rougeL >= 0.5``."""
        if self.min is not None:
            return f"{self.metric} >= {self.min:g}"
        return f"{self.metric} <= {self.max:g}"


#: How a classification answer becomes a label (docs/labels.md; the same names as
#: ``tunegate.scoring.labels.PARSE_RULES``, which a test keeps in step).
ParseRuleName = Literal["word", "first", "exact", "regex", "substring"]


class LabelParse(_Strict):
    """A classification task's parse rule: ``parse: word`` (the default), ``first``,
    ``exact``, ``substring``, or ``parse: {rule: regex, pattern: "Sentiment: (\\w+)"}``
    (the pattern's group named ``label``, else its first group, holds the label)."""

    rule: ParseRuleName = "word"
    pattern: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _rule_name(cls, data: Any) -> Any:
        return {"rule": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _pattern(self) -> LabelParse:
        if self.rule != "regex":
            if self.pattern is not None:
                raise ValueError(f"pattern is for the regex rule, not {self.rule!r}")
            return self
        if self.pattern is None:
            raise ValueError("the regex rule needs a pattern with a capture group")
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {self.pattern!r}: {exc}") from None
        if compiled.groups < 1:
            raise ValueError(
                f"the pattern {self.pattern!r} needs a capture group (the label), e.g. 'is (\\w+)'"
            )
        return self


class TaskConfig(_Strict):
    """What is being measured.

    ``type`` is a task (classification, multiple_choice, generation, tool_call,
    perplexity) or, as a shorthand for a generation task with one scorer, a scorer
    type (``exact_match``, ``rouge``, ``json_schema``, ...).
    """

    type: str = "classification"
    labels: list[str] | None = None
    scorers: list[AnyScorerConfig] = Field(default_factory=list)
    prompt: str | None = None
    system: str | None = None
    target: Literal["input", "reference"] = "input"
    # generation / tool_call: when a case passes (default: every scorer passes)
    pass_: Annotated[PassRule | None, Field(alias="pass")] = None
    # classification: how an answer becomes a label (default: the word rule)
    parse: LabelParse | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    @field_validator("labels", mode="before")
    @classmethod
    def _numbers_as_text(cls, labels: Any) -> Any:
        # Data sets often use 0/1/2 as labels; the loaders read them as text.
        if isinstance(labels, list):
            return [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in labels]
        return labels

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str] | None) -> list[str] | None:
        if labels is None:
            return None
        if len(labels) < 2:
            raise ValueError("needs at least 2 labels")
        folded = [" ".join(lab.split()).casefold() for lab in labels]
        if any(not f for f in folded):
            raise ValueError("labels must not be empty strings")
        dupes = sorted({lab for lab, f in zip(labels, folded, strict=True) if folded.count(f) > 1})
        if dupes:
            raise ValueError(f"duplicate labels: {dupes}")
        return labels

    @model_validator(mode="before")
    @classmethod
    def _scorer_shorthand(cls, data: Any) -> Any:
        kind = data.get("type") if isinstance(data, dict) else None
        if isinstance(data, dict) and kind not in TASK_KINDS and kind in SCORER_CONFIGS:
            options = {k: v for k, v in data.items() if k not in ("prompt", "system", "scorers")}
            rest = {k: v for k, v in data.items() if k in ("prompt", "system")}
            return {**rest, "type": "generation", "scorers": [options, *data.get("scorers", [])]}
        return data

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in TASK_KINDS:
            known = [*TASK_KINDS.names(), *SCORER_CONFIGS.names()]
            close = difflib.get_close_matches(value, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = ", ".join(repr(k) for k in known)
            raise ValueError(f"unknown task type {value!r}{hint}; known: {listed}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TaskConfig:
        kind = self.kind
        if kind.needs_labels and not self.labels:
            raise ValueError(f"a {self.type} task needs labels: [...]")
        if not kind.needs_labels and self.labels:
            raise ValueError(f"labels are for {_kinds_with('needs_labels')} tasks, not {self.type}")
        if kind.own_metric and self.scorers:
            raise ValueError(f"a {self.type} task has its own metric; remove scorers")
        if self.target != "input" and not kind.has_target:
            raise ValueError(f"target chooses what a {_kinds_with('has_target')} task scores")
        if self.pass_ is not None and not kind.uses_scorers:
            raise ValueError(f"pass chooses when a generation case passes, not a {self.type} one")
        if self.parse is not None and not kind.needs_labels:
            raise ValueError(
                f"parse chooses how a classification answer becomes a label, not a {self.type} one"
            )
        return self

    @property
    def kind(self) -> TaskKind:
        """The task's kind: its metrics, formats, backend mode and scoring."""
        return task_kind(self.type)

    @property
    def scorer_list(self) -> list[ScorerConfig | JudgeScorerConfig]:
        """The per-output scorers of a generation/tool_call task (defaults: exact_match /
        tool_call); pairwise judges compare models and are in :attr:`pairwise_judges`."""
        own: list[ScorerConfig | JudgeScorerConfig] = [
            s for s in self.scorers if not isinstance(s, PairwiseJudgeConfig)
        ]
        default = self.kind.default_scorer
        if own or default is None:
            return own
        return [scorer_config(type=default)]

    @property
    def pairwise_judges(self) -> list[PairwiseJudgeConfig]:
        """The pairwise judges among the scorers."""
        return [s for s in self.scorers if isinstance(s, PairwiseJudgeConfig)]

    @property
    def label_list(self) -> list[str]:
        """The labels (classification) or the answer letters (multiple choice)."""
        return self.kind.labels(self.labels)


class SuiteConfig(_Strict):
    """A named dataset with its task, run on every model (or on ``models``).

    ``base`` and ``margin`` make it a regression suite: the candidate against its
    base model, per category, with any drop beyond ``margin`` flagged.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    dataset: DatasetConfig
    task: TaskConfig
    models: list[str] | None = None
    base: str | None = None
    margin: Annotated[Float, Field(ge=0, le=1)] = 0.05
    # Each case asked this many times of every model of the suite (a model's own
    # ``repeats`` wins): docs/cost.md.
    repeats: Annotated[Int, Field(ge=1, le=100)] = 1


def _kinds_with(flag: str) -> str:
    return " / ".join(k.name for k in TASK_KINDS.values() if getattr(k, flag))


def default_metric(task: TaskConfig) -> str:
    """A task's lead metric: macro-F1, accuracy, perplexity, or its first scorer's; for a
    task whose only scorers are pairwise judges, ``judge_preference`` (the judge's win
    rate), not the ``exact_match`` every such task also scores by default."""
    if task.scorers and all(isinstance(s, PairwiseJudgeConfig) for s in task.scorers):
        return "judge_preference"
    return task.kind.default_metric or suite_metrics(task)[0]


def suite_metrics(task: TaskConfig) -> list[str]:
    """The metric names a task reports (besides error_rate, pass_rate, latency)."""
    if task.kind.metrics:
        return list(task.kind.metrics)
    names: list[str] = []
    for scorer in task.scorer_list:  # each scorer's config declares its metrics
        if isinstance(scorer, ScorerConfig):
            names += scorer.metric_names()
        else:
            names.append(scorer.label)
    return names
