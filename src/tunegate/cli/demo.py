"""The bundled offline demo: where its config lives and the optional OpenAI baseline."""

from __future__ import annotations

from pathlib import Path

from tunegate.config import CompareConfig, Config, OpenAIModel, PriceConfig

EXAMPLES = Path(__file__).parents[1] / "examples"
SYSTEM = (
    "Classify the sentiment of the following product review. "
    "Respond with exactly one word: positive, negative, or neutral."
)


def demo_config_path() -> Path:
    """The demo's tunegate.yaml inside the installed package."""
    return EXAMPLES / "sentiment" / "tunegate.yaml"


def with_openai_baseline(config: Config, model: str = "gpt-4o-mini") -> Config:
    """``config`` plus ``gpt-4o-mini`` zero-shot (key from OPENAI_API_KEY) as a baseline."""
    name = f"{model}-zero-shot"
    spec = OpenAIModel(
        type="openai",
        model=model,
        api_key_env="OPENAI_API_KEY",
        system=SYSTEM,
        params={"temperature": 0, "max_tokens": 5},
        concurrency=16,
        # OpenAI's list price for gpt-4o-mini (USD per 1M tokens).
        price=PriceConfig(input_per_1m=0.15, output_per_1m=0.60),
    )
    compare = CompareConfig(
        candidate=config.candidate, baselines=[*config.baselines, name], metric=None
    )
    return config.model_copy(update={"models": {**config.models, name: spec}, "compare": compare})
