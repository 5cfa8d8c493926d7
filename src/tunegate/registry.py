"""One registry type for everything found by name: backends, scorers, task kinds.

A :class:`Registry` maps names to entries of one type. An entry is given as the
object itself or, lazily, as ``"package.module:attribute"``, imported the first time
the name is asked for (so ``tunegate --help`` does not import torch to know that
``hf`` is a model type). A name is registered once: a second registration is an
error, never a silent replacement.

A registry may also read an entry-point group (``tunegate.models``,
``tunegate.scorers``): an installed package adds names there. The group is read only
when a name is not built in (or when every name is listed), and a plugin's entry
point is imported only when its name is asked for. A plugin that cannot be loaded, is
not what the registry holds, or names a built-in is a :class:`PluginError` naming the
entry point (exit code 2, no traceback).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from tunegate.errors import ConfigError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = ["DuplicateNameError", "PluginError", "Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(ConfigError, KeyError):
    """A name no entry has; the message lists the known names (a KeyError too)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(ValueError):
    """A name registered twice."""


class PluginError(ConfigError):
    """An installed plugin (an entry point) that cannot be used; the message names it."""


@dataclass(frozen=True)
class _Lazy:
    """An entry named by import path, imported on first use."""

    path: str


def import_path(path: str) -> object:
    """The object ``"package.module:attribute"`` names (imports the module)."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"{path!r} is not of the form 'package.module:attribute'")
    found: object = importlib.import_module(module)
    for part in attr.split("."):
        found = getattr(found, part)
    return found


def _describe(point: EntryPoint) -> str:
    dist = point.dist
    package = f" (package {dist.name} {dist.version})" if dist is not None else ""
    return f"entry point {point.group}: {point.name} = {point.value}{package}"


class Registry(Generic[T]):
    """Entries of one type by name.

    ``what`` names an entry in messages (``"model type"``). ``check`` turns what a
    lazy entry or an entry point loads into an entry, raising ``TypeError`` or
    ``ValueError`` when it is not one. ``group`` is the entry-point group plugins add
    names through.
    """

    def __init__(
        self,
        what: str,
        *,
        check: Callable[[str, object], T] | None = None,
        group: str | None = None,
    ) -> None:
        self.what = what
        self.group = group
        self._check = check
        self._entries: dict[str, T | _Lazy] = {}
        self._plugins: dict[str, EntryPoint] | None = None  # the group, once read
        self._loaded: dict[str, T] = {}  # the plugins asked for, loaded

    # ---------------------------------------------------------------- registering

    def add(self, name: str, entry: T) -> T:
        """Register ``entry`` as ``name`` (a name already registered is an error)."""
        self._refuse_duplicate(name)
        self._entries[name] = entry
        return entry

    def add_lazy(self, name: str, path: str) -> None:
        """Register ``name`` as the object ``"package.module:attribute"``, imported when
        ``name`` is first asked for."""
        self._refuse_duplicate(name)
        self._entries[name] = _Lazy(path)

    def _refuse_duplicate(self, name: str) -> None:
        if name in self._entries:
            raise DuplicateNameError(f"{self.what} {name!r} is registered twice")
        if self._plugins and name in self._plugins:
            raise DuplicateNameError(
                f"{self.what} {name!r} is already given by {_describe(self._plugins[name])}"
            )

    # ------------------------------------------------------------------- looking up

    def find(self, name: str) -> T | None:
        """The entry called ``name``, or None; a plugin's is loaded on first use."""
        entry = self._entries.get(name)
        if entry is None:
            if name in self._loaded:
                return self._loaded[name]
            point = self._read_plugins().get(name)
            if point is None:
                return None
            self._loaded[name] = self._load(name, point)
            return self._loaded[name]
        if isinstance(entry, _Lazy):
            found = import_path(entry.path)
            entry = self._check(name, found) if self._check is not None else cast(T, found)
            self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry called ``name``; an unknown name raises :class:`UnknownNameError`
        listing the known ones."""
        found = self.find(name)
        if found is None:
            raise UnknownNameError(f"unknown {self.what} {name!r}{self.hint(name)}")
        return found

    def hint(self, name: str) -> str:
        """`` (did you mean 'x'?; known: ...)`` for an unknown ``name``."""
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1)
        mean = f"did you mean {close[0]!r}?; " if close else ""
        return f" ({mean}known: {', '.join(known)})"

    def names(self) -> list[str]:
        """Every name: the registered ones in order, then the plugins' (sorted)."""
        return [*self._entries, *sorted(set(self._read_plugins()) - set(self._entries))]

    def registered(self, name: str) -> bool:
        """Whether ``name`` is registered in this process (built in, or added by code),
        as opposed to a plugin's: reads no entry point."""
        return name in self._entries

    def origin(self, name: str) -> str | None:
        """The entry point that gives ``name`` (for messages); None for a registered name."""
        if name in self._entries:
            return None
        point = self._read_plugins().get(name)
        return _describe(point) if point is not None else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._entries or name in self._read_plugins())

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def values(self) -> list[T]:
        """Every entry (lazy ones and plugins loaded)."""
        return [self.get(name) for name in self.names()]

    def items(self) -> list[tuple[str, T]]:
        """Every (name, entry) pair (lazy ones and plugins loaded)."""
        return [(name, self.get(name)) for name in self.names()]

    # ------------------------------------------------------------------ plugins

    def _read_plugins(self) -> dict[str, EntryPoint]:
        """The group's entry points by name (read once; nothing imported)."""
        if self._plugins is not None:
            return self._plugins
        if self.group is None:
            self._plugins = {}
            return self._plugins
        from importlib.metadata import entry_points

        found: dict[str, EntryPoint] = {}
        for point in entry_points(group=self.group):
            if point.name in found and found[point.name].value != point.value:
                raise PluginError(
                    f"{_describe(point)}: the {self.what} {point.name!r} is also given by "
                    f"{_describe(found[point.name])}; uninstall one of them"
                )
            found[point.name] = point
        clash = sorted(set(found) & set(self._entries))
        if clash:
            point = found[clash[0]]
            raise PluginError(
                f"{_describe(point)}: {point.name!r} is a built-in {self.what}; a plugin "
                "cannot replace it (rename it, or uninstall the package)"
            )
        self._plugins = found
        return found

    def _load(self, name: str, point: EntryPoint) -> T:
        """What a plugin's entry point names, checked."""
        try:
            found = point.load()
        except Exception as exc:  # any failure of a third-party import: a clear message
            raise PluginError(
                f"{_describe(point)}: cannot be loaded: {type(exc).__name__}: {exc}"
            ) from None
        if self._check is None:
            return cast(T, found)
        try:
            return self._check(name, found)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"{_describe(point)}: {exc}") from None
