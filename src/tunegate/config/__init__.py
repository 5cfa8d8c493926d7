"""The ``tunegate.yaml`` schema, as pydantic models, and its loader.

One module per job: :mod:`~tunegate.config.scorers` (one model per scorer type),
:mod:`~tunegate.config.tasks` (datasets, tasks, suites),
:mod:`~tunegate.config.models` (one model per backend type),
:mod:`~tunegate.config.gate` (compare, gate, judge and human sections),
:mod:`~tunegate.config.root` (the whole file), :mod:`~tunegate.config.plugins` (config
classes picked by ``type``, plugins' included) and :mod:`~tunegate.config.load`
(reading, cross-checks, paths, error messages).

Every error names the file and the key (``tunegate.yaml: models.zero-shot.base_url:
not a URL``). Relative paths are resolved against the config file's folder.
Secrets are never part of the config: it names environment variables
(``api_key_env``, ``${VAR}`` in header values) whose values are read at run time.
"""

from __future__ import annotations

from tunegate.config.base import ENV_REF, suggest
from tunegate.config.gate import (
    OBSERVED_METRICS,
    CompareConfig,
    Criterion,
    GateConfig,
    HumanConfig,
    JudgeSection,
    TrustJudgeConfig,
)
from tunegate.config.load import load_config, parse_config
from tunegate.config.models import (
    MODEL_CONFIGS,
    MODEL_TYPES,
    BackendConfig,
    HFModel,
    HTTPModel,
    ModelConfig,
    OpenAIModel,
    PriceConfig,
    PythonModel,
    ShotsConfig,
)
from tunegate.config.root import Config
from tunegate.config.scorers import (
    SCORER_CONFIGS,
    SCORER_TYPES,
    AnyScorerConfig,
    JudgeScorerConfig,
    PairwiseJudgeConfig,
    ScorerConfig,
)
from tunegate.config.tasks import (
    DatasetConfig,
    PassRule,
    SuiteConfig,
    TaskConfig,
    default_metric,
    suite_metrics,
)
from tunegate.tasks import TASK_TYPES

__all__ = [
    "ENV_REF",
    "MODEL_CONFIGS",
    "MODEL_TYPES",
    "OBSERVED_METRICS",
    "SCORER_CONFIGS",
    "SCORER_TYPES",
    "TASK_TYPES",
    "AnyScorerConfig",
    "BackendConfig",
    "CompareConfig",
    "Config",
    "Criterion",
    "DatasetConfig",
    "GateConfig",
    "HFModel",
    "HTTPModel",
    "HumanConfig",
    "JudgeScorerConfig",
    "JudgeSection",
    "ModelConfig",
    "OpenAIModel",
    "PairwiseJudgeConfig",
    "PassRule",
    "PriceConfig",
    "PythonModel",
    "ScorerConfig",
    "ShotsConfig",
    "SuiteConfig",
    "TaskConfig",
    "TrustJudgeConfig",
    "default_metric",
    "load_config",
    "parse_config",
    "suggest",
    "suite_metrics",
]
