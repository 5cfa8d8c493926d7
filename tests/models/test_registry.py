"""tunegate.models.registry: backends by ``type``, builders imported on first use."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from tunegate.config import parse_config
from tunegate.errors import ConfigError
from tunegate.models import registry
from tunegate.models.registry import BuildContext, build, builder, register, registered
from tunegate.registry import DuplicateNameError, Registry


def test_every_model_type_of_the_config_has_a_builder() -> None:
    assert registered() == ["hf", "http", "openai", "python"]


def test_an_unknown_type_names_the_known_ones() -> None:
    # Installed plugins (the example plugin's `echo` in the dev environment) are listed too.
    with pytest.raises(
        ConfigError,
        match=r"no backend for model type 'grpc' \(known: (.+, )?hf, http, openai, python",
    ):
        builder("grpc")


def test_a_builder_is_imported_on_first_use_and_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(registry, "BACKENDS", Registry("model type"))
    (tmp_path / "tunegate_test_fake_backend.py").write_text(
        "made = []\n"
        "def make(name, spec, context):\n"
        "    made.append((name, spec.type))\n"
        "    return 'backend'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    register("fake", "tunegate_test_fake_backend:make")
    assert "tunegate_test_fake_backend" not in sys.modules  # named, not imported
    assert "fake" in registered()
    spec = SimpleNamespace(type="fake")
    assert build("m1", spec, BuildContext(suite=None)) == "backend"
    module = sys.modules.pop("tunegate_test_fake_backend")
    assert module.made == [("m1", "fake")]
    assert builder("fake") is module.make  # resolved once, kept
    with pytest.raises(DuplicateNameError, match="model type 'fake' is registered twice"):
        register("fake", module.make)


def test_a_python_model_builds_through_the_registry(tmp_path: Any) -> None:
    (tmp_path / "echo_model.py").write_text("def answer(text):\n    return text.upper()\n")
    config = parse_config(
        {
            "dataset": {"path": "x.jsonl"},
            "task": {"labels": ["a", "b"]},
            "models": {"echo": {"type": "python", "function": "echo_model:answer"}},
        },
        source=tmp_path / "tunegate.yaml",
    )
    backend = build(
        "echo", config.models["echo"], BuildContext(suite=config.all_suites[0], config_dir=tmp_path)
    )
    assert type(backend).__module__ == "tunegate.models.python_fn"
