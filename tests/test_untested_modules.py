"""scripts/untested_modules.py: which modules of a package no test file imports directly,
and which of those a test reaches only through a package's re-export."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "untested_modules.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("untested_modules", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _project(tmp_path: Path) -> tuple[Path, Path]:
    src, tests = tmp_path / "src", tmp_path / "tests"
    _write(
        src,
        {
            "tunegate/__init__.py": "",
            "tunegate/__main__.py": "",
            "tunegate/top.py": "",
            "tunegate/lazy.py": "",
            "tunegate/by_string.py": "",
            "tunegate/alone.py": "",
            "tunegate/pkg/__init__.py": "from .inner import thing\n",
            "tunegate/pkg/inner.py": "thing = 1\n",
            "tunegate/pkg/sub.py": "",
            "tunegate/examples/demo.py": "",
        },
    )
    _write(
        tests,
        {
            "test_a.py": "from tunegate import top\nfrom tunegate.pkg import thing\n",
            "deep/test_b.py": """
                import importlib

                def test_x():
                    import tunegate.lazy
                    importlib.import_module("tunegate.by_string")
            """,
            "deep/conftest.py": "from tunegate.pkg.sub import nothing\n",
            "helper.py": "import tunegate.alone\n",  # not a test file
        },
    )
    return src, tests


def test_modules_not_imported_by_a_test_file_are_listed(tmp_path: Path) -> None:
    script = _script()
    src, tests = _project(tmp_path)
    assert set(script.source_modules(src)) == {
        "tunegate.top",
        "tunegate.lazy",
        "tunegate.by_string",
        "tunegate.alone",
        "tunegate.pkg.inner",
        "tunegate.pkg.sub",
    }
    missing = script.untested(src, tests)
    assert missing == ["tunegate.alone", "tunegate.pkg.inner"]
    assert script.reached_through_packages(missing, src, tests) == {"tunegate.pkg.inner"}


def test_the_command_prints_them_and_fails(tmp_path: Path) -> None:
    src, tests = _project(tmp_path)
    args = [sys.executable, str(SCRIPT), "--src", str(src), "--tests", str(tests)]
    done = subprocess.run([*args, "--why"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout.splitlines() == ["tunegate.alone", "tunegate.pkg.inner  (re-export)"]
    assert "2 of 6 module(s) not imported by any test" in done.stderr
    assert "1 of them reached through a package's re-export, 1 not at all" in done.stderr
    (tests / "test_c.py").write_text("import tunegate.alone\nimport tunegate.pkg.inner\n")
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout == ""
