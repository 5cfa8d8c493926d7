"""scripts/import_cycles.py: the import graph of src/tunegate, drawn from the AST, and its
cycles; the package itself has none among the imports that run on import."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "import_cycles.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "tunegate" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_tunegate_has_no_import_cycle() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 cycle(s)" in done.stdout
    assert "cycle:" not in done.stdout


def test_tunegate_has_no_import_cycle_with_function_level_imports() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--lazy"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert " 0 cycle(s)" in done.stdout
    assert "cycle:" not in done.stdout


def test_task_kinds_name_their_scoring_functions_by_path() -> None:
    """The registry names the scoring code instead of importing it (that broke the
    config -> tasks -> evaluate -> config cycle): every name resolves to a function,
    and importing the config does not import the scoring code."""
    from tunegate.tasks import TASK_KINDS, FunctionRef

    for kind in TASK_KINDS.values():
        for ref in (kind.score, kind.compare):
            assert isinstance(ref, FunctionRef)
            assert callable(ref.resolve()), ref.path
    code = (
        "import sys, tunegate.config, tunegate.tasks\n"
        "print(sorted(m for m in ('tunegate.evaluation.scores', 'tunegate.evaluation.compare', "
        "'tunegate.evaluation.kinds') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_graph_has_every_kind_of_import(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from tunegate import b\nfrom tunegate.sub.c import thing\n",
            "b.py": "import tunegate.sub\ndef f():\n    from . import a\n",
            "sub/__init__.py": "from .c import thing\n",
            "sub/c.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from tunegate.a import x\nthing = 1\n"
            ),
        },
    )
    graph = _script().import_graph(root)
    assert graph["tunegate.a"] == {"tunegate.b": "top", "tunegate.sub.c": "top"}
    assert graph["tunegate.b"] == {"tunegate.sub": "top", "tunegate.a": "lazy"}
    assert graph["tunegate.sub"] == {"tunegate.sub.c": "top"}
    assert graph["tunegate.sub.c"] == {"tunegate.a": "typing"}


def test_cycles_are_found_and_named(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from tunegate.b import y\nx = 1\n",
            "b.py": "from tunegate.c import z\ny = 1\n",
            "c.py": "from tunegate.a import x\nz = 1\n",
            "d.py": "def f():\n    from tunegate.e import w\n",
            "e.py": "from tunegate.d import f\nw = 1\n",
        },
    )
    script = _script()
    graph = script.import_graph(root)
    assert script.cycles(graph, {"top"}) == [
        ["tunegate.a", "tunegate.b", "tunegate.c", "tunegate.a"]
    ]
    assert script.cycles(graph, {"top", "lazy"}) == [
        ["tunegate.a", "tunegate.b", "tunegate.c", "tunegate.a"],
        ["tunegate.d", "tunegate.e", "tunegate.d"],
    ]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert "cycle: tunegate.a -> tunegate.b -> tunegate.c -> tunegate.a" in done.stdout
