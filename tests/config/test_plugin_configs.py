"""tunegate.config.plugins: a config field whose class its ``type`` picks from a registry —
built-in and plugin classes validated alike (unknown keys refused at their key path),
dumped as their own class, a plugin class checked against its entry point's name."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
from example_plugin import write_distribution
from pydantic import BaseModel, ConfigDict, SerializeAsAny, ValidationError

from tunegate.config.load import parse_config
from tunegate.config.models import MODEL_CONFIGS, BackendConfig
from tunegate.config.plugins import by_type, class_checker, known_types, type_name
from tunegate.config.scorers import SCORER_CONFIGS, ScorerConfig
from tunegate.errors import ConfigError
from tunegate.registry import PluginError, Registry


class Widget(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str


class Gear(Widget):
    type: Literal["gear"]
    teeth: int = 8


WIDGETS: Registry[type[BaseModel]] = Registry(
    "widget type", group="tunegate.test_widgets", check=class_checker(Widget, "widget", "spin")
)
WIDGETS.add("gear", Gear)


class Machine(BaseModel):
    parts: list[Annotated[Widget, by_type(WIDGETS, what="widget"), SerializeAsAny()]]


PLUGIN = """
from typing import Literal
from tg_test_plugins_base import Widget

class Spring(Widget):
    type: Literal["spring"]
    stiffness: float = 1.0

    def spin(self) -> str:
        return "boing"

class Misnamed(Widget):
    type: Literal["cog"]

    def spin(self) -> str:
        return ""

class Still(Widget):
    type: Literal["still"]
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_distribution(
        tmp_path,
        "tg-widget-plugin",
        {
            "tunegate.test_widgets": {
                "spring": "tg_widget_plugin:Spring",
                "misnamed": "tg_widget_plugin:Misnamed",
                "still": "tg_widget_plugin:Still",
            }
        },
        {"tg_widget_plugin.py": PLUGIN},
    )
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, "tg_widget_plugin", raising=False)
    monkeypatch.setitem(sys.modules, "tg_test_plugins_base", sys.modules[__name__])
    monkeypatch.setattr(WIDGETS, "_plugins", None)  # read the group again
    monkeypatch.setattr(WIDGETS, "_loaded", {})


def test_type_name_reads_the_literal() -> None:
    assert type_name(Gear) == "gear"
    assert type_name(Widget) is None  # type: str
    assert type_name(ScorerConfig) is None


@pytest.mark.usefixtures("plugin")
def test_a_plugin_class_is_validated_and_dumped_like_a_built_in() -> None:
    machine = Machine.model_validate(
        {"parts": [{"type": "gear", "teeth": 12}, {"type": "spring", "stiffness": 2.5}]}
    )
    gear, spring = machine.parts
    assert isinstance(gear, Gear)
    assert gear.teeth == 12
    assert type(spring).__name__ == "Spring"
    assert spring.spin() == "boing"  # type: ignore[attr-defined]
    assert machine.model_dump() == {
        "parts": [{"type": "gear", "teeth": 12}, {"type": "spring", "stiffness": 2.5}]
    }
    assert Machine.model_validate({"parts": [gear]}).parts[0] is gear  # kept as is
    with pytest.raises(ValidationError) as info:
        Machine.model_validate({"parts": [{"type": "gear"}, {"type": "spring", "stifness": 3}]})
    [error] = info.value.errors()
    assert error["loc"] == ("parts", 1, "stifness")  # the key path, through the plugin class
    assert error["type"] == "extra_forbidden"


@pytest.mark.usefixtures("plugin")
def test_an_unknown_or_missing_type_names_the_known_ones_plugins_included() -> None:
    with pytest.raises(ValidationError) as info:
        Machine.model_validate({"parts": [{"type": "sprong"}, {"teeth": 3}, "gear"]})
    unknown, missing, not_a_mapping = info.value.errors()
    assert unknown["type"] == "type_unknown"
    assert unknown["msg"] == "unknown widget type 'sprong' (did you mean 'spring'?)"
    assert missing["type"] == "type_missing"
    assert missing["msg"] == "widget needs a 'type' (one of: gear, misnamed, spring, still)"
    assert not_a_mapping["type"] == "dict_type"
    assert known_types((WIDGETS,)) == ["gear", "misnamed", "spring", "still"]


@pytest.mark.usefixtures("plugin")
@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("misnamed", "Misnamed.type must be Literal['misnamed'] (the entry point's name)"),
        ("still", "Still has no spin() method"),
    ],
)
def test_a_plugin_class_must_match_its_entry_point(name: str, problem: str) -> None:
    with pytest.raises(PluginError) as info:
        Machine.model_validate({"parts": [{"type": name}]})
    assert str(info.value).startswith(f"entry point tunegate.test_widgets: {name} = ")
    assert problem in str(info.value)


def test_a_plugin_class_must_subclass_the_base() -> None:
    check = class_checker(BackendConfig, "backend", "build")
    with pytest.raises(TypeError, match="not a BackendConfig subclass"):
        check("echo", Gear)
    with pytest.raises(TypeError, match="not a BackendConfig subclass"):
        check("echo", "a string")


def test_the_configs_registries_hold_the_built_in_types() -> None:
    assert [MODEL_CONFIGS.registered(t) for t in ("openai", "http", "python", "hf")] == [True] * 4
    assert SCORER_CONFIGS.get("rouge").metrics == ("rougeL", "rouge1", "rouge2", "rougeLsum")
    assert MODEL_CONFIGS.group == "tunegate.models"
    assert SCORER_CONFIGS.group == "tunegate.scorers"


def test_the_loader_names_the_type_key_and_suggests_a_known_type() -> None:
    data = {
        "dataset": {"path": "x.jsonl"},
        "task": {"type": "generation", "scorers": [{"type": "rogue"}, {"name": "n"}]},
        "models": {"m": {"type": "opennai", "model": "x"}, "p": {"function": "a:b"}},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="t.yaml")
    lines = str(info.value).splitlines()
    assert "t.yaml: models.m.type: unknown model type 'opennai' (did you mean 'openai'?)" in lines
    assert any(
        line.startswith("t.yaml: models.p.type: model needs a 'type' (one of: ") for line in lines
    )
    assert (
        "t.yaml: task.scorers[0].type: unknown scorer type 'rogue' (did you mean 'rouge'?)" in lines
    )
    assert any(
        line.startswith("t.yaml: task.scorers[1].type: scorer needs a 'type'") for line in lines
    )
