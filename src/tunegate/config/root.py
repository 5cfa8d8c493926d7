"""A whole ``tunegate.yaml``: :class:`Config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, model_validator

from tunegate.config.base import Float, Int, Seed, _Strict
from tunegate.config.gate import CompareConfig, GateConfig, HumanConfig, JudgeSection
from tunegate.config.models import ModelConfig
from tunegate.config.scorers import _JUDGE_CLASSES, PairwiseJudgeConfig
from tunegate.config.sequential import SequentialConfig
from tunegate.config.tasks import DatasetConfig, SuiteConfig, TaskConfig, default_metric
from tunegate.config.tracking import TrackingConfig


class Config(_Strict):
    """A whole ``tunegate.yaml``."""

    name: str = "tunegate"
    seed: Seed = 0
    store: Path = Path(".tunegate/tunegate.db")
    dataset: DatasetConfig | None = None
    task: TaskConfig | None = None
    suites: list[SuiteConfig] = Field(default_factory=list)
    models: Annotated[dict[str, ModelConfig], Field(min_length=1)]
    compare: CompareConfig | None = None
    gate: GateConfig | None = None
    confidence: Annotated[Float, Field(gt=0.5, lt=1.0)] = 0.95
    bootstrap: Annotated[Int, Field(ge=100, le=1_000_000)] = 10_000
    judge: JudgeSection | None = None
    human: HumanConfig | None = None
    tracking: TrackingConfig | None = None  # docs/tracking.md
    # Send the main suite's cases in looks and stop when settled (docs/cost.md).
    sequential: SequentialConfig | None = None
    # The main suite's ``repeats`` (each case asked k times; docs/cost.md).
    repeats: Annotated[Int, Field(ge=1, le=100)] = 1

    @model_validator(mode="after")
    def _has_cases(self) -> Config:
        if (self.dataset is None) != (self.task is None):
            raise ValueError("dataset and task go together: give both, or use suites")
        if self.dataset is None and not self.suites:
            raise ValueError("needs a dataset and a task, or suites: [...]")
        names = [s.name for s in self.all_suites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate suite names: {dupes}")
        return self

    # The top-level dataset and task as a suite, built once per (dataset, task) pair.
    _main_suite: tuple[DatasetConfig, TaskConfig, SuiteConfig] | None = PrivateAttr(None)

    @property
    def all_suites(self) -> list[SuiteConfig]:
        """Every suite, the main one first (the top-level dataset and task, named ``main``)."""
        if self.dataset is None or self.task is None:
            return list(self.suites)
        built = self._main_suite
        # model_copy(update=...) may give the copy another dataset or task: rebuild then.
        if (
            built is None
            or built[0] is not self.dataset
            or built[1] is not self.task
            or built[2].repeats != self.repeats
        ):
            main = SuiteConfig(
                name="main", dataset=self.dataset, task=self.task, repeats=self.repeats
            )
            built = self._main_suite = (self.dataset, self.task, main)
        return [built[2], *self.suites]

    def is_main(self, suite: SuiteConfig) -> bool:
        """Whether ``suite`` is the main suite (the first of :attr:`all_suites`): the one
        place that decides it (suite names are unique)."""
        return suite.name == self.all_suites[0].name

    def repeats_of(self, suite: SuiteConfig, model: str) -> int:
        """How many times ``model`` is asked each case of ``suite`` (its own ``repeats``,
        else the suite's)."""
        own = getattr(self.models[model], "repeats", None) if model in self.models else None
        return int(own) if own is not None else suite.repeats

    @property
    def main_task(self) -> TaskConfig:
        """The main suite's task."""
        return self.all_suites[0].task

    @property
    def candidate(self) -> str:
        """The candidate: ``gate.candidate``, ``compare.candidate`` or the first model."""
        if self.gate and self.gate.candidate:
            return self.gate.candidate
        return self.compare.candidate if self.compare else next(iter(self.models))

    @property
    def primary_metric(self) -> str:
        """The main suite's lead metric (``compare.metric``, else the task's own)."""
        if self.compare and self.compare.metric:
            return self.compare.metric
        return default_metric(self.main_task)

    @property
    def level(self) -> float:
        """The confidence of every interval: ``gate.confidence`` or ``confidence``."""
        return self.gate.confidence if self.gate and self.gate.confidence else self.confidence

    @property
    def baselines(self) -> list[str]:
        """The baselines: ``compare.baselines`` or every other model (judges excepted)."""
        if self.compare and self.compare.baselines:
            return list(self.compare.baselines)
        judges = self.judge_only_models
        return [m for m in self.models if m != self.candidate and m not in judges]

    @property
    def judge_models(self) -> list[str]:
        """Every model that judges (in a suite's scorers or the ``judge:`` section)."""
        names = [self.judge.model] if self.judge is not None else []
        for suite in self.all_suites:
            names += [s.judge for s in suite.task.scorers if isinstance(s, _JUDGE_CLASSES)]
        return list(dict.fromkeys(names))

    @property
    def judge_only_models(self) -> list[str]:
        """Judges not otherwise listed as candidate or baseline: they only grade, they are
        not run on the suites (unless a suite's ``models`` names them)."""
        listed = {self.candidate}
        if self.compare is not None:
            listed.update(self.compare.baselines)
        if self.gate is not None and self.gate.candidate:
            listed.add(self.gate.candidate)
        return [m for m in self.judge_models if m not in listed]

    def pairwise_judges(self, suite: SuiteConfig) -> list[PairwiseJudgeConfig]:
        """The suite's pairwise judges, the top-level ``judge:`` section's included."""
        judges = list(suite.task.pairwise_judges)
        section = self.judge
        if (
            section is not None
            and suite.task.kind.judged
            and (section.suites is None or suite.name in section.suites)
        ):
            judges.append(section.as_scorer())
        return judges
