"""The structure of docs/architecture.md holds: import-linter's contracts (pyproject.toml)
are kept, no two packages import each other even counting every import, few modules sit
flat at the root, and no module is long."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tunegate"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_import_contracts_are_kept() -> None:
    proc = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=SRC.parents[1],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


def _package_graph() -> dict[str, set[str]]:
    """Top-level package -> the top-level packages it imports (every import: at the top,
    in functions, under TYPE_CHECKING)."""
    graph = grimp.build_graph("tunegate", cache_dir=None)
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        parts = module.split(".")
        if len(parts) < 2:
            continue  # the root package's lazy exports
        source = parts[1]
        for imported in graph.find_modules_directly_imported_by(module):
            target = imported.split(".")[1] if imported.count(".") else None
            if target is not None and target != source:
                edges.setdefault(source, set()).add(target)
    return edges


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_two_packages_import_each_other_counting_every_import() -> None:
    assert _cycle(_package_graph()) is None


def test_at_most_ten_modules_flat_at_the_root() -> None:
    flat = sorted(p.name for p in SRC.glob("*.py"))
    assert len(flat) <= 10, flat


@pytest.mark.parametrize("limit", [500])
def test_no_module_is_over_500_lines(limit: int) -> None:
    long = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit
    }
    assert not long, long
