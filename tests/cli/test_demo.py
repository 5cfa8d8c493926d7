"""tunegate.cli.demo: the bundled demo config and its optional OpenAI baseline."""

from __future__ import annotations

from tunegate.cli.demo import SYSTEM, demo_config_path, with_openai_baseline
from tunegate.config import OpenAIModel, load_config


def test_the_demo_config_is_bundled_and_valid() -> None:
    path = demo_config_path()
    assert path.name == "tunegate.yaml"
    assert path.is_file()
    config = load_config(path)
    assert config.candidate in config.models


def test_the_openai_baseline_is_added_as_a_priced_zero_shot_baseline() -> None:
    config = load_config(demo_config_path())
    extended = with_openai_baseline(config)
    name = "gpt-4o-mini-zero-shot"
    spec = extended.models[name]
    assert isinstance(spec, OpenAIModel)
    assert (spec.model, spec.api_key_env, spec.system) == ("gpt-4o-mini", "OPENAI_API_KEY", SYSTEM)
    assert spec.params == {"temperature": 0, "max_tokens": 5}
    assert spec.price is not None
    assert (spec.price.input_per_1m, spec.price.output_per_1m) == (0.15, 0.60)
    assert extended.candidate == config.candidate
    assert extended.baselines == [*config.baselines, name]
    assert name not in config.models  # the original is not changed
