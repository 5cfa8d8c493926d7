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
    python scripts/untested_modules.py --why    # ... each marked "re-export" when a test
                                                # reaches it only through its package

A test that imports a name from a package (``from tunegate.stats import mcnemar_test``)
reaches the submodule the package's ``__init__`` re-exports it from
(``tunegate.stats.paired``), but does not import it directly: ``--why`` tells those
modules (tested through the package's old path, e.g. after a module became a package)
from the ones no test reaches at all.

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


def reexports(src: Path = REPO / "src", package: str = PACKAGE) -> dict[str, str]:
    """``package.sub.name`` -> the module a package ``__init__`` re-exports ``name`` from
    (``from .mod import name`` or ``from package.sub.mod import name`` in it)."""
    out: dict[str, str] = {}
    for init in sorted((src / package).rglob("__init__.py")):
        owner = ".".join(init.relative_to(src).parent.parts)
        tree = ast.parse(init.read_text(encoding="utf-8"), filename=str(init))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = owner.rsplit(".", node.level - 1)[0] if node.level > 1 else owner
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if not module.startswith(package + "."):
                continue
            for alias in node.names:
                out[f"{owner}.{alias.asname or alias.name}"] = module
    return out


def reached_through_packages(
    missing: Iterable[str],
    src: Path = REPO / "src",
    tests: Path = REPO / "tests",
    package: str = PACKAGE,
) -> set[str]:
    """Those of ``missing`` that a test reaches through a package's re-export."""
    imported = imported_modules(find_test_files(tests), package)
    via = reexports(src, package)
    reached = {via[name] for name in imported if name in via}
    return set(missing) & reached


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
    parser.add_argument(
        "--why", action="store_true", help='mark modules reached through a package "re-export"'
    )
    args = parser.parse_args(argv)
    missing = untested(args.src, args.tests)
    reached = reached_through_packages(missing, args.src, args.tests) if args.why else set()
    for name in missing:
        print(f"{name}  (re-export)" if name in reached else name)
    total = len(source_modules(args.src))
    print(f"{len(missing)} of {total} module(s) not imported by any test", file=sys.stderr)
    if args.why:
        print(
            f"{len(reached)} of them reached through a package's re-export, "
            f"{len(missing) - len(reached)} not at all",
            file=sys.stderr,
        )
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
