"""Build the import graph of ``src/tunegate`` from the source (AST, nothing is imported)
and report its cycles.

An edge ``a -> b`` means module ``a`` imports ``b`` (``import tunegate.b``,
``from tunegate import b``, ``from tunegate.b import name``, relative imports alike).
Edges are of three kinds: ``top`` (run when ``a`` is imported), ``lazy`` (inside a
function: run when it is called) and ``typing`` (under ``if TYPE_CHECKING:``).

    python scripts/import_cycles.py            # cycles among top-level imports
    python scripts/import_cycles.py --lazy     # ... and function-level ones too
    python scripts/import_cycles.py --edges    # print every edge as well

Exit code 0 without a cycle, 1 with one (each printed as ``a -> b -> ... -> a``).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "tunegate"


def modules(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Every module of ``package`` under ``root`` by dotted name (a package by its own name)."""
    out: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Each import statement with its kind (top, lazy or typing)."""

    def walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, kind
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, "typing" if kind == "typing" else "lazy")
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for part in child.body:
                    yield from walk(ast.Module(body=[part], type_ignores=[]), "typing")
                for part in child.orelse:
                    yield from walk(ast.Module(body=[part], type_ignores=[]), kind)
            else:
                yield from walk(child, kind)

    yield from walk(tree, "top")


def _targets(
    node: ast.Import | ast.ImportFrom, name: str, is_package: bool, known: set[str]
) -> list[str]:
    """The modules of ``known`` that one import statement in module ``name`` imports."""
    if isinstance(node, ast.Import):
        found = []
        for alias in node.names:
            dotted = alias.name
            while dotted and dotted not in known:
                dotted = dotted.rpartition(".")[0]
            if dotted:
                found.append(dotted)
        return found
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        source = ".".join([*base, node.module] if node.module else base)
    else:
        source = node.module or ""
    if not source.startswith(PACKAGE):
        return []
    found = []
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        if sub in known:  # ``from tunegate import store``: the module itself
            found.append(sub)
        else:
            dotted = source
            while dotted and dotted not in known:
                dotted = dotted.rpartition(".")[0]
            if dotted:
                found.append(dotted)
    return found


def import_graph(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """``graph[a][b]`` is the strongest kind of ``a``'s imports of ``b`` (top > lazy > typing)."""
    mods = modules(root)
    known = set(mods)
    rank = {"top": 0, "lazy": 1, "typing": 2}
    graph: dict[str, dict[str, str]] = {m: {} for m in mods}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        for node, kind in _imports(tree):
            for target in _targets(node, name, is_package, known):
                if target == name:
                    continue
                old = graph[name].get(target)
                if old is None or rank[kind] < rank[old]:
                    graph[name][target] = kind
    return graph


def cycles(graph: dict[str, dict[str, str]], kinds: set[str]) -> list[list[str]]:
    """One cycle through each strongly connected component (Tarjan) of the graph's
    edges of ``kinds``, as ``[a, b, ..., a]``, sorted."""
    edges = {a: sorted(b for b, k in out.items() if k in kinds) for a, out in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def strongconnect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, []):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return sorted(_cycle_in(c, edges) for c in components)


def _cycle_in(component: list[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    members = set(component)
    start = component[0]
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in edges[v]:
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in parents:
                    parents[w] = v
                    nxt.append(w)
        frontier = nxt
    return [*component, component[0]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lazy", action="store_true", help="count function-level imports too")
    parser.add_argument("--edges", action="store_true", help="print every edge")
    parser.add_argument("--root", type=Path, default=ROOT, help="the folder holding tunegate/")
    args = parser.parse_args(argv)
    graph = import_graph(args.root)
    kinds = {"top", "lazy"} if args.lazy else {"top"}
    if args.edges:
        for a in sorted(graph):
            for b, kind in sorted(graph[a].items()):
                print(f"{a} -> {b} ({kind})")
    found = cycles(graph, kinds)
    n_edges = sum(1 for out in graph.values() for k in out.values() if k in kinds)
    what = "top-level and lazy" if args.lazy else "top-level"
    print(f"{len(graph)} modules, {n_edges} {what} import edges, {len(found)} cycle(s)")
    for cycle in found:
        print("cycle: " + " -> ".join(cycle))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
