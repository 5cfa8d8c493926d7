"""List the modules of ``src/tunegate`` that no test file imports directly.

A test file is ``tests/**/test_*.py`` or ``tests/**/conftest.py``. It imports a module
directly when it names it in an import statement anywhere in the file (at the top, inside a
function, under ``if TYPE_CHECKING:``): ``import tunegate.a.b``, ``from tunegate.a.b import
x`` and ``from tunegate.a import b`` (``b`` a submodule) all import ``tunegate.a.b``. A
string ``"tunegate.a.b"`` given to ``importlib.import_module`` counts too. Importing a
package does not count for the modules inside it: each needs its own test.

Packages' ``__init__`` and ``__main__`` modules are not listed (they re-export or start
the CLI); nor is anything under ``tunegate/examples`` (example projects, exercised by the
tests that run them).

    python scripts/untested_modules.py          # one module per line; exit 1 if any

Exit code 0 when every module is imported by some test, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = "tunegate"
EXEMPT_PARTS = ("examples",)


def source_modules(src: Path = REPO / "src", package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` by dotted name, without ``__init__``/``__main__`` and
    without the example projects."""
    out: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__") or any(p in EXEMPT_PARTS for p in parts[1:]):
            continue
        out[".".join(parts)] = path
    return out


def find_test_files(
    tests: Path = REPO / "tests",
) -> list[Path]:
    """The test modules and conftest files under ``tests``."""
    found = [*tests.rglob("test_*.py"), *tests.rglob("conftest.py")]
    return sorted(path for path in found if "__pycache__" not in path.parts)


def _named(tree: ast.AST, package: str) -> Iterator[str]:
    """Every dotted name an import in ``tree`` could mean, with each ``from`` name joined to
    its module (``from a import b`` yields ``a`` and ``a.b``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                yield f"{node.module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith(package + ".")
        ):
            yield node.args[0].value


def imported_modules(files: Iterable[Path], package: str = PACKAGE) -> set[str]:
    """The dotted names of ``package``'s modules that ``files`` import directly."""
    names: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names.update(n for n in _named(tree, package) if n.split(".")[0] == package)
    return names


def untested(
    src: Path = REPO / "src", tests: Path = REPO / "tests", package: str = PACKAGE
) -> list[str]:
    """The modules of ``package`` that no test file imports directly, sorted."""
    imported = imported_modules(find_test_files(tests), package)
    return sorted(name for name in source_modules(src, package) if name not in imported)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=REPO / "src")
    parser.add_argument("--tests", type=Path, default=REPO / "tests")
    args = parser.parse_args(argv)
    missing = untested(args.src, args.tests)
    for name in missing:
        print(name)
    total = len(source_modules(args.src))
    print(f"{len(missing)} of {total} module(s) not imported by any test", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
