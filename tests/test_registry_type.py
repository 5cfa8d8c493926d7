"""tunegate.registry: one registry type for backends, scorers and task kinds — names refused
twice, lazy ``module:attr`` entries, unknown names listing the known ones, and plugins
from an entry-point group read only when a name is not built in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from example_plugin import write_distribution

from tunegate.errors import ConfigError
from tunegate.registry import (
    DuplicateNameError,
    PluginError,
    Registry,
    UnknownNameError,
    import_path,
)


def _int_only(name: str, found: object) -> int:
    if not isinstance(found, int) or isinstance(found, bool):
        raise TypeError(f"names {found!r}, not a number")
    return found


def test_a_name_is_registered_once() -> None:
    numbers: Registry[int] = Registry("number")
    numbers.add("one", 1)
    with pytest.raises(DuplicateNameError, match="number 'one' is registered twice"):
        numbers.add("one", 11)
    with pytest.raises(DuplicateNameError, match="number 'one' is registered twice"):
        numbers.add_lazy("one", "math:pi")
    assert numbers.get("one") == 1  # the first registration stands


def test_a_lazy_entry_is_imported_on_first_use_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tg_lazy_entry.py").write_text("VALUE = 42\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tg_lazy_entry", raising=False)
    numbers: Registry[int] = Registry("number", check=_int_only)
    numbers.add_lazy("answer", "tg_lazy_entry:VALUE")
    numbers.add_lazy("wrong", "tg_lazy_entry:__name__")
    assert numbers.names() == ["answer", "wrong"]
    assert "answer" in numbers
    assert "tg_lazy_entry" not in sys.modules  # listed and asked about, not imported
    assert numbers.get("answer") == 42
    assert "tg_lazy_entry" in sys.modules
    with pytest.raises(TypeError, match="not a number"):
        numbers.get("wrong")  # what a lazy entry names is checked too
    monkeypatch.delitem(sys.modules, "tg_lazy_entry")


def test_an_unknown_name_lists_the_known_ones() -> None:
    kinds: Registry[str] = Registry("task type")
    for name in ("classification", "generation"):
        kinds.add(name, name.upper())
    with pytest.raises(UnknownNameError) as info:
        kinds.get("generaton")
    assert str(info.value) == (
        "unknown task type 'generaton' (did you mean 'generation'?; "
        "known: classification, generation)"
    )
    assert isinstance(info.value, ConfigError)  # exit code 2 in the CLI
    assert isinstance(info.value, KeyError)  # and a KeyError for dict-like callers
    with pytest.raises(KeyError, match="known: classification, generation"):
        kinds["zzz"]
    assert kinds.find("zzz") is None
    assert list(kinds) == ["classification", "generation"]
    assert kinds.items() == [("classification", "CLASSIFICATION"), ("generation", "GENERATION")]


def test_import_path_needs_module_and_attribute() -> None:
    assert import_path("math:pi") == pytest.approx(3.14159, abs=1e-5)
    assert import_path("os.path:join.__name__") == "join"
    with pytest.raises(ValueError, match="not of the form"):
        import_path("math.pi")


def _plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **points: str) -> Path:
    """A distribution giving ``points`` in group ``tunegate.test_numbers``, on sys.path."""
    root = write_distribution(
        tmp_path,
        "tg-number-plugin",
        {"tunegate.test_numbers": points},
        {"tg_number_plugin.py": "SEVEN = 7\nWORD = 'seven'\nimport_count = 1\n"},
    )
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delitem(sys.modules, "tg_number_plugin", raising=False)
    return root


def test_a_plugin_adds_a_name_and_is_imported_when_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugins(tmp_path, monkeypatch, seven="tg_number_plugin:SEVEN")
    numbers: Registry[int] = Registry("number", group="tunegate.test_numbers", check=_int_only)
    numbers.add("one", 1)
    assert numbers.get("one") == 1
    assert numbers.names() == ["one", "seven"]  # the group is read: names only
    assert "tg_number_plugin" not in sys.modules
    assert numbers.origin("seven") == (
        "entry point tunegate.test_numbers: seven = tg_number_plugin:SEVEN "
        "(package tg-number-plugin 1.0)"
    )
    assert numbers.origin("one") is None
    assert not numbers.registered("seven")
    assert numbers.get("seven") == 7
    assert "tg_number_plugin" in sys.modules
    with pytest.raises(DuplicateNameError, match="already given by entry point"):
        numbers.add("seven", 77)


def test_a_plugin_cannot_replace_a_built_in_and_is_read_only_for_other_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugins(tmp_path, monkeypatch, one="tg_number_plugin:SEVEN")
    numbers: Registry[int] = Registry("number", group="tunegate.test_numbers", check=_int_only)
    numbers.add("one", 1)
    assert numbers.get("one") == 1  # a built-in name: the group is not even read
    with pytest.raises(PluginError) as info:
        numbers.get("two")  # not built in: the group is read, and the clash refused
    assert str(info.value) == (
        "entry point tunegate.test_numbers: one = tg_number_plugin:SEVEN "
        "(package tg-number-plugin 1.0): 'one' is a built-in number; a plugin cannot "
        "replace it (rename it, or uninstall the package)"
    )
    assert numbers.get("one") == 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("tg_no_such_module:X", "cannot be loaded: ModuleNotFoundError: No module named"),
        ("tg_number_plugin:ABSENT", "cannot be loaded: AttributeError"),
        ("tg_number_plugin:WORD", "names 'seven', not a number"),
    ],
)
def test_a_broken_plugin_is_a_clear_error_naming_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    _plugins(tmp_path, monkeypatch, broken=value)
    numbers: Registry[int] = Registry("number", group="tunegate.test_numbers", check=_int_only)
    with pytest.raises(PluginError) as info:
        numbers.get("broken")
    message = str(info.value)
    assert message.startswith(
        f"entry point tunegate.test_numbers: broken = {value} (package tg-number-plugin 1.0): "
    )
    assert problem in message
    assert isinstance(info.value, ConfigError)  # exit code 2, no traceback in the CLI


def test_two_packages_giving_one_name_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _plugins(tmp_path / "a", monkeypatch, seven="tg_number_plugin:SEVEN")
    other = write_distribution(
        tmp_path / "b", "tg-other-plugin", {"tunegate.test_numbers": {"seven": "math:pi"}}
    )
    monkeypatch.syspath_prepend(str(other))
    numbers: Registry[Any] = Registry("number", group="tunegate.test_numbers")
    with pytest.raises(PluginError, match="'seven' is also given by entry point"):
        numbers.get("seven")
