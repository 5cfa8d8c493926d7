"""Python-function models load the config folder's own module, whatever else this process
imported under the same name before."""

from __future__ import annotations

import sys
from pathlib import Path

from tunegate.models.python_fn import import_function


def _folder(root: Path, name: str, answer: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "models.py").write_text(f"def tuned(text):\n    return {answer!r}\n")
    return folder


def test_two_configs_with_a_module_of_the_same_name_each_get_their_own(tmp_path: Path) -> None:
    first = _folder(tmp_path, "one", "first")
    second = _folder(tmp_path, "two", "second")
    assert import_function("models:tuned", "k", first)("x") == "first"
    assert import_function("models:tuned", "k", second)("x") == "second"
    assert import_function("models:tuned", "k", first)("x") == "first"


def test_a_namespace_package_of_the_same_name_does_not_shadow_the_module(tmp_path: Path) -> None:
    # A folder named like the module, on sys.path, imported first as a namespace package
    # (as a tests/models/ folder is when tests/ is on the path).
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "models").mkdir(parents=True)
    sys.path.append(str(elsewhere))
    sys.modules.pop("models", None)
    try:
        import models  # noqa: F401  (the namespace package)

        folder = _folder(tmp_path, "project", "mine")
        assert import_function("models:tuned", "k", folder)("x") == "mine"
    finally:
        sys.path.remove(str(elsewhere))
        sys.modules.pop("models", None)
