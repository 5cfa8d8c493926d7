"""A Python function as a model: ``package.module:function``, sync or async."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.config import PythonModel
from tunegate.data import Case
from tunegate.errors import BackendError
from tunegate.models.answers import answer_at, completion_from_value
from tunegate.models.base import BackendDefaults, Completion, TransportError
from tunegate.models.registry import BuildContext
from tunegate.secrets import redact


def _local_file(config_dir: Path, module_name: str) -> Path | None:
    """The file ``module_name`` names inside the config's folder, if there is one."""
    base = config_dir.joinpath(*module_name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _prefer_config_dir(config_dir: Path, module_name: str) -> None:
    """Put the config's folder first on ``sys.path`` and drop a cached module of the same
    name that is not the folder's own file (another config's ``models.py`` loaded earlier in
    this process, or a namespace package of that name), so the config gets its own module."""
    folder = str(config_dir)
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
    local = _local_file(config_dir, module_name)
    cached = sys.modules.get(module_name)
    if local is None or cached is None:
        return
    cached_file = getattr(cached, "__file__", None)
    if cached_file is not None and Path(cached_file).resolve() == local:
        return
    top = module_name.split(".")[0]
    for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def import_function(spec: str, key: str, config_dir: Path | None = None) -> Callable[..., Any]:
    """Import ``package.module:function``; ``config_dir`` (the config's folder) is tried first,
    and a module file there wins over a module of the same name imported from elsewhere."""
    module_name, _, attr = spec.partition(":")
    if config_dir is not None:
        _prefer_config_dir(config_dir, module_name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendError(f"{key}: cannot import module {module_name!r} ({exc})") from None
    except KeyboardInterrupt:
        raise  # Ctrl-C during the import: the user stops tunegate
    except BaseException as exc:  # SystemExit too: the module is the user's
        raise BackendError(
            f"{key}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise BackendError(f"{key}: module {module_name!r} has no function {attr!r}")
    return fn  # type: ignore[no-any-return]


def source_hash(fn: Callable[..., Any]) -> str:
    """A hash of the function's whole module file and of the files it imports from its own
    folder (a rule table next to the function, a helper module of the same package),
    following those imports in turn; the function's own source when it has no file."""
    module = inspect.getmodule(fn)
    path = getattr(module, "__file__", None)
    digest = hashlib.sha256()
    if path is None or not Path(path).is_file():
        with contextlib.suppress(OSError, TypeError):
            digest.update(inspect.getsource(fn).encode())
        return digest.hexdigest()[:16]
    for file in local_sources(Path(path)):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def local_sources(start: Path) -> list[Path]:
    """``start`` and every Python file of its folder (or its subfolders) that it imports,
    transitively; imports of other packages (even tunegate's own) are not followed."""
    import ast

    if {"site-packages", "dist-packages"} & set(start.parts):
        return [start]  # an installed package: its version is its identity
    home = start.resolve().parent
    seen: set[Path] = set()
    todo = [start.resolve()]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        try:
            tree = ast.parse(file.read_bytes())
        except (OSError, SyntaxError, ValueError):
            continue
        # Absolute imports resolve from the file's folder or the root of its package.
        roots = [file.parent]
        while (roots[-1] / "__init__.py").is_file():
            roots.append(roots[-1].parent)
        wanted: list[tuple[list[Path], str]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                wanted += [(roots, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                where = roots if not node.level else [file.parents[node.level - 1]]
                base = node.module or ""
                wanted.append((where, base))
                wanted += [(where, f"{base}.{a.name}" if base else a.name) for a in node.names]
        for where, name in wanted:
            found = _local_module(where, [p for p in name.split(".") if p])
            if found is not None and found.is_relative_to(home):
                todo.append(found)
    return sorted(seen)


def _local_module(roots: list[Path], parts: list[str]) -> Path | None:
    """The file of module ``parts`` under one of ``roots`` (the longest prefix found)."""
    for root in roots:
        for i in range(len(parts), 0, -1):
            stem = root.joinpath(*parts[:i])
            for file in (stem.with_suffix(".py"), stem / "__init__.py"):
                if file.is_file():
                    return file.resolve()
    return None


def _takes_case(fn: Callable[..., Any]) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params:
        return False
    first = params[0]
    return first.name == "case" or first.annotation in (Case, "Case")


class PythonBackend(BackendDefaults):
    """Calls the function with the case text (or the :class:`Case` when its first parameter is
    named ``case`` or annotated ``Case``). Sync functions run in worker threads."""

    def __init__(self, name: str, config: PythonModel, config_dir: Path | None = None) -> None:
        super().__init__()
        self.name = name
        self.config = config
        self.concurrency = config.effective_concurrency()
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self.fn = import_function(config.function, f"models.{name}.function", config_dir)
        self._is_async = inspect.iscoroutinefunction(self.fn)
        self._takes_case = _takes_case(self.fn)
        self._source_hash = source_hash(self.fn)

    async def start(self) -> None:
        return None

    def identity(self) -> dict[str, Any]:
        # The source hash makes an edited module (or a local module it imports) miss the cache.
        return {"type": "python", "function": self.config.function, "source": self._source_hash}

    def render(self, case: Case) -> dict[str, Any]:
        if not self._takes_case:
            return {"input": case.text}
        return {
            "case": {
                "id": case.id,
                "text": case.text,
                "reference": case.reference,
                "messages": [dict(m) for m in case.messages],
                "category": case.category,
                "metadata": case.metadata,
            }
        }

    async def send(self, request: dict[str, Any]) -> Completion:
        if "case" in request:
            c = request["case"]
            arg: Any = Case(
                id=c["id"],
                text=c["text"],
                reference=c["reference"],
                messages=tuple(c["messages"]),
                category=c["category"],
                metadata=c["metadata"],
            )
        else:
            arg = request["input"]
        try:
            if self._is_async:
                value = await self.fn(arg)
            else:
                value = await asyncio.to_thread(self.fn, arg)
        except (KeyboardInterrupt, asyncio.CancelledError):
            raise
        except BaseException as exc:  # a SystemExit too: the function failed
            raise TransportError(
                redact(f"{self.config.function} raised {type(exc).__name__}: {exc}"),
                retryable=False,
                kind="model",
            ) from None
        if isinstance(value, Completion):
            return value
        if self.config.response is not None:
            return answer_at(value, self.config.response, retryable=False)
        return completion_from_value(value)

    async def aclose(self) -> None:
        return None


def build(name: str, spec: PythonModel, context: BuildContext) -> PythonBackend:
    """The backend of a Python-function model, imported from the config's folder."""
    return PythonBackend(name, spec, config_dir=context.config_dir)
