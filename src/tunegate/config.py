"""The ``tunegate.yaml`` schema, as pydantic models, and its loader.

Every error names the file and the key (``tunegate.yaml: models.zero-shot.base_url:
not a URL``). Relative paths are resolved against the config file's folder.
Secrets are never part of the config: it names environment variables
(``api_key_env``, ``${VAR}`` in header values) whose values are read at run time.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from tunegate.errors import ConfigError

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ValueError("not a URL (expected http:// or https://)")
    return value.rstrip("/")


class DatasetConfig(_Strict):
    """Where the cases are and which fields hold what.

    ``path: builtin:general`` names tunegate's bundled general-knowledge set.
    """

    path: Path
    format: Literal[
        "auto", "chat", "jsonl", "csv", "json", "parquet", "bfcl", "mmlu", "general"
    ] = "auto"
    input_field: str = "text"
    label_field: str = "label"
    category_field: str | None = "category"
    id_field: str | None = "id"
    limit: Annotated[int, Field(gt=0)] | None = None


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
TASK_TYPES = ("classification", "multiple_choice", "generation", "tool_call", "perplexity")


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


class PassRule(_Strict):
    """When a case of a generation or tool-call suite passes: one metric against a bound
    (``pass: {metric: rougeL, min: 0.5}``) instead of every scorer passing."""

    metric: str
    min: float | None = None
    max: float | None = None

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

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

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
        if isinstance(data, dict) and kind in SCORER_TYPES and kind not in TASK_TYPES:
            options = {k: v for k, v in data.items() if k not in ("prompt", "system", "scorers")}
            rest = {k: v for k, v in data.items() if k in ("prompt", "system")}
            return {**rest, "type": "generation", "scorers": [options, *data.get("scorers", [])]}
        return data

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in TASK_TYPES:
            known = TASK_TYPES + SCORER_TYPES
            close = difflib.get_close_matches(value, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            listed = ", ".join(repr(k) for k in known)
            raise ValueError(f"unknown task type {value!r}{hint}; known: {listed}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TaskConfig:
        if self.type == "classification" and not self.labels:
            raise ValueError("a classification task needs labels: [...]")
        if self.type != "classification" and self.labels:
            raise ValueError(f"labels are for classification tasks, not {self.type}")
        if self.type in ("multiple_choice", "perplexity") and self.scorers:
            raise ValueError(f"a {self.type} task has its own metric; remove scorers")
        if self.target != "input" and self.type != "perplexity":
            raise ValueError("target chooses what a perplexity task scores")
        if self.pass_ is not None and self.type not in ("generation", "tool_call"):
            raise ValueError(f"pass chooses when a generation case passes, not a {self.type} one")
        return self

    @property
    def scorer_list(self) -> list[ScorerConfig | JudgeScorerConfig]:
        """The per-output scorers of a generation/tool_call task (defaults: exact_match /
        tool_call); pairwise judges compare models and are in :attr:`pairwise_judges`."""
        own = [s for s in self.scorers if not isinstance(s, PairwiseJudgeConfig)]
        if own:
            return own
        if self.type == "generation":
            return [ScorerConfig(type="exact_match")]
        if self.type == "tool_call":
            return [ScorerConfig(type="tool_call")]
        return []

    @property
    def pairwise_judges(self) -> list[PairwiseJudgeConfig]:
        """The pairwise judges among the scorers."""
        return [s for s in self.scorers if isinstance(s, PairwiseJudgeConfig)]

    @property
    def label_list(self) -> list[str]:
        """The labels (classification) or the answer letters (multiple choice)."""
        if self.type == "multiple_choice":
            return ["A", "B", "C", "D"]
        return list(self.labels or [])


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
    margin: Annotated[float, Field(ge=0, le=1)] = 0.05


class ShotsConfig(DatasetConfig):
    """k examples drawn (with the run's seed) from a train file for k-shot prompting."""

    k: Annotated[int, Field(ge=1, le=64)]
    seed: int | None = None


class PriceConfig(_Strict):
    """What a model costs: per 1M input and output tokens, or per hour of serving."""

    input_per_1m: Annotated[float, Field(ge=0)] | None = None
    output_per_1m: Annotated[float, Field(ge=0)] | None = None
    per_hour: Annotated[float, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> PriceConfig:
        tokens = self.input_per_1m is not None or self.output_per_1m is not None
        if tokens == (self.per_hour is not None):
            raise ValueError("give input_per_1m/output_per_1m (per token) or per_hour, not both")
        return self


class _Transport(_Strict):
    price: PriceConfig | None = None
    concurrency: Annotated[int, Field(ge=1, le=4096)] = 8
    timeout: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=20)] = 4
    headers: dict[str, str] = Field(default_factory=dict)
    # Enters the cache identity: change it when the model behind the name changes
    # (a checkpoint hash, a deployment tag) so that no stored answer is reused.
    version: str | None = None


class OpenAIModel(_Transport):
    """A chat model behind an OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

    type: Literal["openai"]
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    system: str | None = None
    prompt: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # Sent as they are, for server-specific parameters (vLLM's top_k, ...).
    extra_body: dict[str, Any] = Field(default_factory=dict)
    shots: ShotsConfig | None = None

    _url = field_validator("base_url")(_check_url)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # A key pasted here would be stored with the run: reject it without echoing it.
        if value is not None and not ENV_NAME.fullmatch(value):
            raise PydanticCustomError(
                "secret_in_config",
                "must be the name of an environment variable (e.g. OPENAI_API_KEY), "
                "not the key itself",
            )
        return value

    @field_validator("params")
    @classmethod
    def _no_reserved_params(cls, params: dict[str, Any]) -> dict[str, Any]:
        reserved = sorted({"model", "messages", "stream"} & set(params))
        if reserved:
            raise ValueError(f"{reserved} cannot be set in params")
        return params


class HTTPModel(_Transport):
    """A custom HTTP service, e.g. ``POST /classify {"text": ...} -> {"label": ...}``."""

    type: Literal["http"]
    url: str
    method: Literal["POST", "PUT", "GET"] = "POST"
    body: Any = Field(default_factory=lambda: {"text": "{{ input }}"})
    response: str = "label"

    _url = field_validator("url")(_check_url)


class PythonModel(_Strict):
    """A Python function ``package.module:function`` (sync or async)."""

    type: Literal["python"]
    function: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    concurrency: Annotated[int, Field(ge=1, le=4096)] = 4
    timeout: Annotated[float, Field(gt=0)] = 60.0
    max_retries: Annotated[int, Field(ge=0, le=20)] = 0
    response: str | None = None
    price: PriceConfig | None = None
    # Enters the cache identity: change it when the model behind the name changes
    # (a checkpoint hash, a deployment tag) so that no stored answer is reused.
    version: str | None = None


class HFModel(_Strict):
    """A local causal LM: a checkpoint folder, a GGUF file or a packaged GGUF, plus an adapter.

    Classification scores every label by log-likelihood; ``shots`` puts k examples
    (rendered with the same ``prompt``) before each case.
    """

    type: Literal["hf"]
    path: Path | None = None
    gguf_file: Path | None = None
    gguf: str | None = None
    adapter: Path | None = None
    prompt: str | None = None
    shots: ShotsConfig | None = None
    batch_size: Annotated[int, Field(ge=1, le=512)] = 8
    threads: Annotated[int, Field(ge=1, le=256)] | None = None
    dtype: Literal["float32", "bfloat16"] = "float32"
    max_new_tokens: Annotated[int, Field(ge=1, le=4096)] = 32
    stop: list[str] = Field(default_factory=list)
    price: PriceConfig | None = None
    # Enters the cache identity: change it when the model behind the name changes
    # (a checkpoint hash, a deployment tag) so that no stored answer is reused.
    version: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> HFModel:
        given = [k for k in ("path", "gguf_file", "gguf") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of path, gguf_file and gguf (got {', '.join(given)})")
        if self.shots is not None and self.prompt is None:
            raise ValueError("shots need a prompt template (prompt: ... {{ input }} ...)")
        return self


_JUDGE_CLASSES = (JudgeScorerConfig, PairwiseJudgeConfig)

ModelConfig = Annotated[
    OpenAIModel | HTTPModel | PythonModel | HFModel, Field(discriminator="type")
]
_MODEL_CLASSES: dict[str, type[BaseModel]] = {
    "openai": OpenAIModel,
    "http": HTTPModel,
    "python": PythonModel,
    "hf": HFModel,
}
MODEL_TYPES = tuple(_MODEL_CLASSES)


class CompareConfig(_Strict):
    """Which model is the candidate and which are its baselines."""

    candidate: str
    baselines: list[str] = Field(default_factory=list)
    metric: str | None = None


GATE_METRICS = (
    "accuracy",
    "macro_f1",
    "micro_f1",
    "weighted_f1",
    "error_rate",
    "unparseable_rate",
    "pass_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "leakage",
    "cost_per_1k",
    "stopped_models",
    "human_preference",
    "judge_preference",
    "judge_score",
    "annotator_agreement",
    "position_bias",
    "exact_match",
    "rouge1",
    "rouge2",
    "rougeL",
    "rougeLsum",
    "bleu",
    "chrf",
    "json_valid",
    "schema_compliance",
    "tool_call_accuracy",
    "perplexity",
)

#: Operational limits: facts of the run, judged on the observed value by default.
OBSERVED_METRICS = (
    "error_rate",
    "unparseable_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "leakage",
    "cost_per_1k",
    "stopped_models",
)

#: Metrics that are facts of the run or not per case: no paired (min_delta) criteria.
_NOT_PAIRED = (
    *OBSERVED_METRICS,
    "human_preference",
    "judge_preference",
    "annotator_agreement",
    "position_bias",
)

#: Preference criteria: ``min`` on the candidate's win rate against ``vs``.
PREFERENCE_METRICS = ("human_preference", "judge_preference")

#: Criteria that rest on a judge's verdicts (``gate.trust_judge`` applies to them).
JUDGE_METRICS = ("judge_preference", "judge_score")


class Criterion(_Strict):
    """One go/no-go condition on the candidate.

    Exactly one threshold: ``min`` / ``max`` on the candidate's own value,
    ``min_delta`` (candidate minus ``vs``; negative = non-inferiority margin),
    ``max_drop`` (the candidate may be at most this much worse than ``vs``), or
    ``max_ratio`` (candidate / ``vs``, for latency).
    """

    metric: str
    vs: str | None = None
    suite: str | None = None
    category: str | None = None
    min: float | None = None
    max: float | None = None
    min_delta: float | None = None
    max_drop: Annotated[float, Field(ge=0)] | None = None
    max_ratio: Annotated[float, Field(gt=0)] | None = None
    judge: Literal["interval", "observed"] | None = None
    # annotator_agreement: which statistic (Fleiss' kappa by default)
    agreement: Literal["fleiss", "krippendorff_alpha"] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, metric: str) -> str:
        # Custom scorers add their own names: those are checked against the config later.
        if not re.fullmatch(r"[A-Za-z_][\w.-]*", metric):
            raise ValueError(f"invalid metric name {metric!r}")
        return metric

    @model_validator(mode="after")
    def _one_threshold(self) -> Criterion:
        given = [
            k
            for k in ("min", "max", "min_delta", "max_drop", "max_ratio")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "needs exactly one of min, max, min_delta, max_drop, max_ratio"
                + (f" (got {', '.join(given)})" if given else "")
            )
        relative = given[0] in ("min_delta", "max_drop", "max_ratio")
        latency = self.metric.startswith("latency_")
        if given[0] == "max_ratio" and not latency:
            raise ValueError(f"max_ratio compares latencies, not {self.metric}")
        if given[0] in ("min_delta", "max_drop") and self.metric in _NOT_PAIRED:
            raise ValueError(f"{given[0]} needs a metric compared case by case, not {self.metric}")
        if relative and self.vs is None:
            raise ValueError(f"{given[0]} compares with another model: add vs: <model>")
        if self.agreement is not None and self.metric != "annotator_agreement":
            raise ValueError("agreement chooses the statistic of annotator_agreement")
        if not relative and self.vs is not None and self.metric not in PREFERENCE_METRICS:
            raise ValueError(
                f"vs is only used with min_delta, max_drop or max_ratio, not {given[0]}"
            )
        return self


class TrustJudgeConfig(_Strict):
    """A judge-based criterion counts only when the judge agrees with the human majority:
    Cohen's kappa at least ``min_kappa`` on at least ``min_items`` items of the study."""

    min_kappa: Annotated[float, Field(ge=-1, le=1)] = 0.6
    min_items: Annotated[int, Field(ge=1)] = 50


class GateConfig(_Strict):
    """The go/no-go decision: every criterion must pass for SHIP."""

    candidate: str | None = None
    criteria: Annotated[list[Criterion], Field(min_length=1)]
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] | None = None
    trust_judge: TrustJudgeConfig | None = None


class JudgeSection(_Strict):
    """A top-level pairwise judge: ``model`` compares the candidate with its baselines on
    every case of ``suites`` (default: every generation suite)."""

    model: str
    suites: list[str] | None = None
    rubric: str | None = None
    name: str | None = None

    def as_scorer(self) -> PairwiseJudgeConfig:
        """The same judge as a suite's ``pairwise_judge`` scorer."""
        return PairwiseJudgeConfig(
            type="pairwise_judge", judge=self.model, rubric=self.rubric, name=self.name
        )


class HumanConfig(_Strict):
    """Where the run's human evaluation is: the study ``study`` in the store (default: the
    latest study made from this run)."""

    study: str | None = None


class Config(_Strict):
    """A whole ``tunegate.yaml``."""

    name: str = "tunegate"
    seed: int = 0
    store: Path = Path(".tunegate/tunegate.db")
    dataset: DatasetConfig | None = None
    task: TaskConfig | None = None
    suites: list[SuiteConfig] = Field(default_factory=list)
    models: Annotated[dict[str, ModelConfig], Field(min_length=1)]
    compare: CompareConfig | None = None
    gate: GateConfig | None = None
    confidence: Annotated[float, Field(gt=0.5, lt=1.0)] = 0.95
    bootstrap: Annotated[int, Field(ge=100, le=1_000_000)] = 10_000
    judge: JudgeSection | None = None
    human: HumanConfig | None = None

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

    @property
    def all_suites(self) -> list[SuiteConfig]:
        """Every suite, the main one first (the top-level dataset and task, named ``main``)."""
        if self.dataset is not None and self.task is not None:
            main = SuiteConfig(name="main", dataset=self.dataset, task=self.task)
            return [main, *self.suites]
        return list(self.suites)

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
            and suite.task.type == "generation"
            and (section.suites is None or suite.name in section.suites)
        ):
            judges.append(section.as_scorer())
        return judges


def default_metric(task: TaskConfig) -> str:
    """A task's lead metric: macro-F1, accuracy, perplexity, or its first scorer's."""
    if task.type == "classification":
        return "macro_f1"
    if task.type == "multiple_choice":
        return "accuracy"
    if task.type == "perplexity":
        return "perplexity"
    return suite_metrics(task)[0]


def suite_metrics(task: TaskConfig) -> list[str]:
    """The metric names a task reports (besides error_rate, pass_rate, latency)."""
    if task.type == "classification":
        return ["accuracy", "macro_f1", "micro_f1", "weighted_f1"]
    if task.type == "multiple_choice":
        return ["accuracy"]
    if task.type == "perplexity":
        return ["perplexity"]
    names: list[str] = []
    for scorer in task.scorer_list:
        if scorer.type == "rouge":
            prefix = f"{scorer.name}." if scorer.name else ""
            names += [f"{prefix}{t}" for t in ("rougeL", "rouge1", "rouge2", "rougeLsum")]
        else:
            names.append(scorer.label)
    return names


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path) -> Config:
    """Read, validate and resolve a config file; raise :class:`ConfigError` on any problem."""
    from tunegate.yamlio import load_yaml_file

    p = Path(path)
    return parse_config(load_yaml_file(p), source=p)


def parse_config(data: Any, source: str | Path = "tunegate.yaml") -> Config:
    """Validate an already-parsed mapping; paths are resolved against ``source``'s folder."""
    src = Path(source)
    if data is None:
        raise ConfigError(f"{src}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: expected a mapping of keys at the top level")
    if not data.get("suites"):
        absent = [k for k in ("dataset", "task") if k not in data]
        if absent:
            raise ConfigError("\n".join(f"{src}: {k}: required key is missing" for k in absent))
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(src, exc)) from None
    _check_references(src, config)
    return _resolve_paths(config, src.resolve().parent)


def _check_pass_rule(src: Path, where: str, suite: SuiteConfig) -> list[str]:
    """``pass.metric`` names one of the suite's metrics."""
    rule = suite.task.pass_
    known = suite_metrics(suite.task)
    if rule is None or rule.metric in known:
        return []
    return [
        f"{src}: {where}.pass.metric: {rule.metric!r} is not a metric of suite {suite.name}"
        f"{_suggest(rule.metric, known)}"
    ]


def _check_references(src: Path, config: Config) -> None:
    names = list(config.models)
    problems: list[str] = []
    if config.compare:
        refs = [("compare.candidate", config.compare.candidate)] + [
            (f"compare.baselines[{i}]", b) for i, b in enumerate(config.compare.baselines)
        ]
        for key, ref in refs:
            if ref not in config.models:
                problems.append(f"{src}: {key}: no model named {ref!r}{_suggest(ref, names)}")
        if config.compare.candidate in config.compare.baselines:
            problems.append(f"{src}: compare.baselines: the candidate cannot be its own baseline")
    if config.gate:
        gate_refs = [("gate.candidate", config.gate.candidate)] + [
            (f"gate.criteria[{i}].vs", c.vs) for i, c in enumerate(config.gate.criteria)
        ]
        for gate_key, gate_ref in gate_refs:
            if gate_ref is not None and gate_ref not in config.models:
                problems.append(
                    f"{src}: {gate_key}: no model named {gate_ref!r}{_suggest(gate_ref, names)}"
                )
        if (
            config.compare
            and config.gate.candidate
            and config.gate.candidate != config.compare.candidate
        ):
            problems.append(
                f"{src}: gate.candidate: {config.gate.candidate!r} differs from "
                f"compare.candidate {config.compare.candidate!r}"
            )
        for i, crit in enumerate(config.gate.criteria):
            if crit.vs is not None and crit.vs == config.candidate:
                problems.append(
                    f"{src}: gate.criteria[{i}].vs: the candidate cannot be compared with itself"
                )
    suites = {suite.name: suite for suite in config.all_suites}
    if config.dataset is not None:
        problems += _check_pass_rule(src, "task", config.all_suites[0])
    for i, suite in enumerate(config.suites):
        suite_refs: list[tuple[str, str | None]] = [(f"suites[{i}].base", suite.base)]
        suite_refs += [(f"suites[{i}].models[{j}]", m) for j, m in enumerate(suite.models or [])]
        for where, model_ref in suite_refs:
            if model_ref is not None and model_ref not in config.models:
                problems.append(
                    f"{src}: {where}: no model named {model_ref!r}{_suggest(model_ref, names)}"
                )
        problems += _check_pass_rule(src, f"suites[{i}].task", suite)
        labels = [sc.label for sc in suite.task.scorer_list]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            problems.append(
                f"{src}: suites[{i}].task.scorers: two scorers named {dupes}; give one a name"
            )
    if config.compare and config.compare.metric:
        known = [*suite_metrics(config.main_task), "pass_rate"]
        if config.compare.metric not in known:
            problems.append(
                f"{src}: compare.metric: {config.compare.metric!r} is not a metric of the "
                f"main suite{_suggest(config.compare.metric, known)}"
            )
    for i, c in enumerate(config.gate.criteria if config.gate else []):
        suite_cfg = suites.get(c.suite) if c.suite is not None else config.all_suites[0]
        if suite_cfg is None:
            problems.append(
                f"{src}: gate.criteria[{i}].suite: no suite named {c.suite!r}"
                f"{_suggest(str(c.suite), list(suites))}"
            )
            continue
        known = list(dict.fromkeys([*GATE_METRICS, *suite_metrics(suite_cfg.task)]))
        if c.metric not in known:
            problems.append(
                f"{src}: gate.criteria[{i}].metric: unknown metric {c.metric!r}"
                f"{_suggest(c.metric, known)}"
            )
    problems += _check_judges(src, config, names, suites)
    for name, model in config.models.items():
        for header, value in getattr(model, "headers", {}).items():
            if not ENV_REF.search(value) and header.lower() in {"authorization", "x-api-key"}:
                problems.append(
                    f"{src}: models.{name}.headers.{header}: put secrets in an environment "
                    f"variable and write it as ${{VAR}}, not in the config"
                )
    if problems:
        raise ConfigError("\n".join(problems))


def _check_judges(
    src: Path, config: Config, names: list[str], suites: dict[str, SuiteConfig]
) -> list[str]:
    """Judges name models, rubrics compile, the ``judge:`` section names generation suites."""
    from tunegate.scoring.judge import check_rubric

    problems: list[str] = []
    offset = 1 if config.dataset is not None else 0
    for i, suite in enumerate(config.all_suites):
        where = "task" if i < offset else f"suites[{i - offset}].task"
        for j, sc in enumerate(suite.task.scorers):
            if not isinstance(sc, _JUDGE_CLASSES):
                continue
            key = f"{src}: {where}.scorers[{j}]"
            if sc.judge not in config.models:
                problems.append(
                    f"{key}.judge: no model named {sc.judge!r}{_suggest(sc.judge, names)}"
                )
            if suite.task.type != "generation":
                problems.append(f"{key}: judges grade generation suites, not {suite.task.type}")
            kind: Literal["pointwise", "pairwise"] = (
                "pairwise" if isinstance(sc, PairwiseJudgeConfig) else "pointwise"
            )
            problem = check_rubric(sc.rubric, kind) if sc.rubric is not None else None
            if problem:
                problems.append(f"{key}.rubric: {problem}")
    section = config.judge
    if section is not None:
        if section.model not in config.models:
            problems.append(
                f"{src}: judge.model: no model named {section.model!r}"
                f"{_suggest(section.model, names)}"
            )
        for k, name in enumerate(section.suites or []):
            found = suites.get(name)
            if found is None:
                problems.append(
                    f"{src}: judge.suites[{k}]: no suite named {name!r}"
                    f"{_suggest(name, list(suites))}"
                )
            elif found.task.type != "generation":
                problems.append(
                    f"{src}: judge.suites[{k}]: {name} is a {found.task.type} suite; "
                    "judges grade generation suites"
                )
        problem = check_rubric(section.rubric, "pairwise") if section.rubric else None
        if problem:
            problems.append(f"{src}: judge.rubric: {problem}")
        if section.suites is None and not any(
            s.task.type == "generation" for s in config.all_suites
        ):
            problems.append(f"{src}: judge: there is no generation suite to judge")
    return problems


def _resolve_paths(config: Config, base: Path) -> Config:
    def fix(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else base / p

    models: dict[str, Any] = {}
    for name, model in config.models.items():
        update: dict[str, Any] = {}
        shots = getattr(model, "shots", None)
        if shots is not None:
            update["shots"] = shots.model_copy(update={"path": fix(shots.path)})
        if isinstance(model, HFModel):
            for key in ("path", "gguf_file", "adapter"):
                value = getattr(model, key)
                if value is not None:
                    update[key] = fix(value)
        models[name] = model.model_copy(update=update) if update else model

    def fix_dataset(ds: DatasetConfig) -> DatasetConfig:
        if str(ds.path) == "builtin:general":
            from tunegate.mmlu import GENERAL_KNOWLEDGE

            return ds.model_copy(update={"path": GENERAL_KNOWLEDGE, "format": "general"})
        return ds.model_copy(update={"path": fix(ds.path)})

    def fix_task(task: TaskConfig) -> TaskConfig:
        scorers = [
            sc.model_copy(update={"schema_file": fix(sc.schema_file)})
            if isinstance(sc, ScorerConfig) and sc.schema_file is not None
            else sc
            for sc in task.scorers
        ]
        return task.model_copy(update={"scorers": scorers})

    suites = [
        suite.model_copy(
            update={"dataset": fix_dataset(suite.dataset), "task": fix_task(suite.task)}
        )
        for suite in config.suites
    ]
    changes: dict[str, Any] = {"models": models, "store": fix(config.store), "suites": suites}
    if config.dataset is not None and config.task is not None:
        changes["dataset"] = fix_dataset(config.dataset)
        changes["task"] = fix_task(config.task)
    return config.model_copy(update=changes)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(options)})"


def suggest(word: str, options: list[str]) -> str:
    """`` (did you mean 'x'?)``, or `` (known: a, b)`` when nothing is close."""
    return _suggest(word, options)


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` (for did-you-mean hints)."""
    model: type[BaseModel] | None = Config
    if len(loc) >= 3 and loc[0] == "models" and loc[2] in _MODEL_CLASSES:
        model, loc = _MODEL_CLASSES[str(loc[2])], loc[3:]
    for part in loc:
        if isinstance(part, int):  # an item of a list: the list's element model applies
            continue
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return []
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
    return list(model.model_fields) if model is not None else []


def _format_errors(src: Path, exc: ValidationError) -> str:
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # A discriminated union adds the tag (e.g. "openai") to the location: drop it.
        key = ""
        for i, part in enumerate(loc):
            if i == 2 and loc[0] == "models" and part in MODEL_TYPES:
                continue
            if i >= 2 and loc[i - 2] == "scorers" and part in _ALL_SCORER_TYPES:
                continue  # the scorer union's tag
            key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
        key = key or "(top level)"
        kind = err["type"]
        if kind == "extra_forbidden":
            known = [k for k in _allowed_keys(loc[:-1]) if k != "type"]
            message = f"unknown key{_suggest(str(loc[-1]), known)}"
        elif kind == "missing":
            message = "required key is missing"
        elif kind in {"union_tag_invalid", "union_tag_not_found"} and "scorers" in loc:
            given = err.get("input", {}).get("type") if isinstance(err.get("input"), dict) else None
            message = (
                f"unknown scorer type {given!r}" if given is not None else "scorer needs a 'type'"
            ) + f"{_suggest(str(given), list(_ALL_SCORER_TYPES))}"
            key = key if key.endswith(".type") else f"{key}.type"
        elif kind in {"union_tag_invalid", "union_tag_not_found"}:
            given = err.get("input", {}).get("type") if isinstance(err.get("input"), dict) else None
            message = (
                f"unknown model type {given!r}" if given is not None else "model needs a 'type'"
            ) + f" (one of: {', '.join(MODEL_TYPES)})"
            key = key if key.endswith(".type") else f"{key}.type"
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            if (
                "input" in err
                and kind not in {"dict_type", "model_type", "secret_in_config"}
                and _short(err["input"])
            ):
                message += f" (got {err['input']!r})"
        lines.append(f"{src}: {key}: {message}")
    return "\n".join(lines)


def _short(value: Any) -> bool:
    return isinstance(value, (int, float, str, bool)) and len(repr(value)) <= 60
