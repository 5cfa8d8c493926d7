"""The models under test: one pydantic model per backend type, and their prices.

Each backend type is a config class registered by its ``type`` in
:data:`MODEL_CONFIGS`: the built-in ones here, a plugin's through the
``tunegate.models`` entry-point group (a :class:`BackendConfig` subclass with a
``build`` method; see docs/plugins.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SerializeAsAny, field_validator, model_validator
from pydantic_core import PydanticCustomError

from tunegate.config.base import ENV_NAME, Float, Int, Seed, _check_url, _Strict
from tunegate.config.plugins import by_type, class_checker, type_name
from tunegate.config.tasks import DatasetConfig
from tunegate.registry import Registry


class ShotsConfig(DatasetConfig):
    """k examples drawn (with the run's seed) from a train file for k-shot prompting."""

    k: Annotated[Int, Field(ge=1, le=64)]
    seed: Seed | None = None


class PriceConfig(_Strict):
    """What a model costs: per 1M input and output tokens, or per hour of serving.

    ``batch_input_per_1m``/``batch_output_per_1m``: the rates of a batched model
    (``batch: true``); half the token rates when not given (the OpenAI Batch API's 50%)."""

    input_per_1m: Annotated[Float, Field(ge=0)] | None = None
    output_per_1m: Annotated[Float, Field(ge=0)] | None = None
    per_hour: Annotated[Float, Field(ge=0)] | None = None
    batch_input_per_1m: Annotated[Float, Field(ge=0)] | None = None
    batch_output_per_1m: Annotated[Float, Field(ge=0)] | None = None
    # The currency of every price above (ISO 4217-style code); reports show it with
    # every cost, and costs in different currencies are never added or compared.
    currency: str = "USD"

    @field_validator("currency")
    @classmethod
    def _currency(cls, code: str) -> str:
        if len(code) != 3 or not (code.isascii() and code.isalpha() and code.isupper()):
            raise ValueError("a three-letter currency code in capitals, such as USD or EUR")
        return code

    @model_validator(mode="after")
    def _one_kind(self) -> PriceConfig:
        tokens = self.input_per_1m is not None or self.output_per_1m is not None
        if tokens == (self.per_hour is not None):
            raise ValueError("give input_per_1m/output_per_1m (per token) or per_hour, not both")
        if self.per_hour is not None and self.batch_prices_given:
            raise ValueError("batch_input_per_1m/batch_output_per_1m are per-token rates")
        return self

    @property
    def batch_prices_given(self) -> bool:
        """Whether the config gives a batch rate of its own."""
        return self.batch_input_per_1m is not None or self.batch_output_per_1m is not None

    def batched(self) -> PriceConfig:
        """The token rates of batched requests: the batch rates given, else half of each."""
        half = not self.batch_prices_given
        return self.model_copy(
            update={
                "input_per_1m": _half(self.input_per_1m) if half else self.batch_input_per_1m,
                "output_per_1m": _half(self.output_per_1m) if half else self.batch_output_per_1m,
            }
        )


def _half(rate: float | None) -> float | None:
    return None if rate is None else rate / 2.0


class _Transport(_Strict):
    price: PriceConfig | None = None
    concurrency: Annotated[Int, Field(ge=1, le=4096)] = 8
    timeout: Annotated[Float, Field(gt=0)] = 60.0
    max_retries: Annotated[Int, Field(ge=0, le=20)] = 4
    headers: dict[str, str] = Field(default_factory=dict)
    # Enters the cache identity: change it when the model behind the name changes
    # (a checkpoint hash, a deployment tag) so that no stored answer is reused.
    version: str | None = None
    # Each case asked this many times (stochastic models): per-case pass shares,
    # pass@k, pass^k, flakiness. Overrides the suite's ``repeats``.
    repeats: Annotated[Int, Field(ge=1, le=100)] | None = None
    # With several replicas (a list of URLs), ``concurrency`` is per replica and
    # this caps the sum.
    concurrency_total: Annotated[Int, Field(ge=1, le=65536)] | None = None
    # ``lean``: tunegate's own HTTP/1.1 client (default; ``aiohttp`` is its earlier
    # name and still accepted); ``sdk``: the openai SDK / httpx.
    transport: Literal["lean", "aiohttp", "sdk"] = "lean"

    def replicas(self) -> int:
        """How many endpoints serve the model (the length of its URL list)."""
        return 1

    def effective_concurrency(self) -> int:
        """Requests in flight at most: ``concurrency`` per replica, capped by
        ``concurrency_total``. The runner sends at this rate and the cost per hour
        divides stored latencies by it."""
        total = self.concurrency * self.replicas()
        return min(total, self.concurrency_total) if self.concurrency_total is not None else total


def _check_urls(value: str | list[str] | None) -> str | list[str] | None:
    """One URL, or a non-empty list of distinct URLs (replicas of one model)."""
    if not isinstance(value, list):
        return _check_url(value)
    if not value:
        raise ValueError("an empty list: give at least one URL")
    urls = [str(_check_url(v)) for v in value]
    if len(set(urls)) != len(urls):
        raise ValueError("the same URL is listed twice")
    return urls[0] if len(urls) == 1 else urls


class OpenAIModel(_Transport):
    """A chat model behind an OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp)."""

    type: Literal["openai"]
    model: str
    base_url: str | list[str] | None = None
    api_key_env: str | None = None
    system: str | None = None
    prompt: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    # Sent as they are, for server-specific parameters (vLLM's top_k, ...).
    extra_body: dict[str, Any] = Field(default_factory=dict)
    shots: ShotsConfig | None = None
    # The OpenAI Batch API (docs/cost.md): the cases sent as one batch per run (per look
    # of a sequential run), polled every ``batch_poll_interval`` seconds at first (backing
    # off to ten times that), completed within ``batch_window``; ``batch_wait``: seconds
    # this run waits for a batch before it records its cases as not answered (a re-run
    # collects the batch), None: until the batch ends.
    batch: bool = False
    batch_poll_interval: Annotated[Float, Field(gt=0, le=3600)] = 10.0
    batch_window: Annotated[str, Field(pattern=r"^[1-9][0-9]*h$")] = "24h"
    batch_wait: Annotated[Float, Field(gt=0)] | None = None

    _url = field_validator("base_url")(_check_urls)

    @model_validator(mode="after")
    def _batch_endpoint(self) -> OpenAIModel:
        if self.batch and isinstance(self.base_url, list):
            raise ValueError("batch: true sends one batch to one endpoint: give one base_url")
        return self

    def replicas(self) -> int:
        """How many endpoints serve the model (OpenAI's own when no ``base_url`` is given)."""
        return len(self.base_url) if isinstance(self.base_url, list) else 1

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
    url: str | list[str]
    method: Literal["POST", "PUT", "GET"] = "POST"
    body: Any = Field(default_factory=lambda: {"text": "{{ input }}"})
    response: str = "label"

    _url = field_validator("url")(_check_urls)

    def replicas(self) -> int:
        """How many endpoints serve the model (the length of its URL list)."""
        return len(self.url) if isinstance(self.url, list) else 1


class PythonModel(_Strict):
    """A Python function ``package.module:function`` (sync or async)."""

    type: Literal["python"]
    function: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")]
    concurrency: Annotated[Int, Field(ge=1, le=4096)] = 4
    timeout: Annotated[Float, Field(gt=0)] = 60.0
    max_retries: Annotated[Int, Field(ge=0, le=20)] = 0
    response: str | None = None
    price: PriceConfig | None = None
    # Enters the cache identity: change it when the model behind the name changes
    # (a checkpoint hash, a deployment tag) so that no stored answer is reused.
    version: str | None = None
    # Each case asked this many times (stochastic models): per-case pass shares,
    # pass@k, pass^k, flakiness. Overrides the suite's ``repeats``.
    repeats: Annotated[Int, Field(ge=1, le=100)] | None = None

    def effective_concurrency(self) -> int:
        """Calls in flight at most: ``concurrency`` (one process, no replicas)."""
        return self.concurrency


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
    batch_size: Annotated[Int, Field(ge=1, le=512)] = 8
    threads: Annotated[Int, Field(ge=1, le=256)] | None = None
    dtype: Literal["float32", "bfloat16"] = "float32"
    max_new_tokens: Annotated[Int, Field(ge=1, le=4096)] = 32
    stop: list[str] = Field(default_factory=list)
    price: PriceConfig | None = None
    # Enters the cache identity: change it when the model behind the name changes
    # (a checkpoint hash, a deployment tag) so that no stored answer is reused.
    version: str | None = None
    # Each case asked this many times (stochastic models): per-case pass shares,
    # pass@k, pass^k, flakiness. Overrides the suite's ``repeats``.
    repeats: Annotated[Int, Field(ge=1, le=100)] | None = None

    def effective_concurrency(self) -> int:
        """One: a local model answers in batches of ``batch_size``, one batch at a time."""
        return 1

    @model_validator(mode="after")
    def _one_source(self) -> HFModel:
        given = [k for k in ("path", "gguf_file", "gguf") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give only one of path, gguf_file and gguf (got {', '.join(given)})")
        if self.shots is not None and self.prompt is None:
            raise ValueError("shots need a prompt template (prompt: ... {{ input }} ...)")
        return self


class BackendConfig(_Strict):
    """The base of a plugin backend's config: what the runner and the reports read of
    every model (its price, the version entering its cache identity, how many requests
    it takes at once, its timeout and retries). A plugin's subclass adds its own options,
    sets ``type: Literal["its_name"]`` and defines
    ``build(self, name: str, context: BuildContext) -> Backend``
    (:mod:`tunegate.models.registry`)."""

    type: str
    price: PriceConfig | None = None
    # Enters the cache identity: change it when the model behind the name changes.
    version: str | None = None
    # Each case asked this many times (stochastic models): per-case pass shares,
    # pass@k, pass^k, flakiness. Overrides the suite's ``repeats``.
    repeats: Annotated[Int, Field(ge=1, le=100)] | None = None
    concurrency: Annotated[Int, Field(ge=1, le=4096)] = 4
    timeout: Annotated[Float, Field(gt=0)] = 60.0
    max_retries: Annotated[Int, Field(ge=0, le=20)] = 0

    def replicas(self) -> int:
        """How many endpoints serve the model (one, unless the plugin says otherwise)."""
        return 1

    def effective_concurrency(self) -> int:
        """Requests in flight at most (``concurrency``, unless the plugin says otherwise)."""
        return self.concurrency


#: Every model config class by ``type``: the built-in ones, then plugins' (entry-point
#: group ``tunegate.models``: ``my_type = "package.module:MyBackendConfig"``).
MODEL_CONFIGS: Registry[type[BaseModel]] = Registry(
    "model type", group="tunegate.models", check=class_checker(BackendConfig, "backend", "build")
)
for _cls in (OpenAIModel, HTTPModel, PythonModel, HFModel):
    MODEL_CONFIGS.add(str(type_name(_cls)), _cls)

#: A model of ``models:``: its class picked by ``type`` (a built-in one or a plugin's).
ModelConfig = Annotated[
    OpenAIModel | HTTPModel | PythonModel | HFModel | BackendConfig,
    by_type(MODEL_CONFIGS, what="model"),
    SerializeAsAny(),
]
#: The built-in model types (plugins add more: ``MODEL_CONFIGS.names()``).
MODEL_TYPES: tuple[str, ...] = ("openai", "http", "python", "hf")
