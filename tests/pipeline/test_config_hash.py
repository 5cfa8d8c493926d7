"""The config hash in a run's facts: the same for the same evaluation settings, whatever
the run is reported to."""

from __future__ import annotations

from typing import Any

from tunegate.config import parse_config
from tunegate.pipeline.facts import config_hash


def _config(**extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "dataset": {"path": "x.jsonl"},
        "task": {"labels": ["positive", "negative"]},
        "models": {"a": {"type": "openai", "model": "m", "prompt": "{{ input }}"}},
    }
    config.update(extra)
    return config


def test_where_a_run_is_tracked_does_not_change_the_hash() -> None:
    plain = config_hash(parse_config(_config()))
    tracked = _config(tracking={"mlflow": {"uri": "http://127.0.0.1:5000", "experiment": "e"}})
    other = _config(tracking={"mlflow": {"uri": "sqlite:///elsewhere.db"}})
    assert config_hash(parse_config(tracked)) == plain
    assert config_hash(parse_config(other)) == plain


def test_an_evaluation_setting_changes_the_hash() -> None:
    plain = config_hash(parse_config(_config()))
    changed = _config()
    changed["models"]["a"]["model"] = "m2"
    assert config_hash(parse_config(changed)) != plain
    assert len(plain) == 64
