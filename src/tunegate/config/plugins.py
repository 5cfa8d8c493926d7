"""Config models chosen by ``type`` through a registry: built-in ones and plugins'.

A model's (``models: {m: {type: ...}}``) and a scorer's (``scorers: [{type: ...}]``)
config class is found by its ``type`` in a :class:`~tunegate.registry.Registry` of
config classes, which reads the entry-point groups ``tunegate.models`` and
``tunegate.scorers``: an installed package adds a type by naming its pydantic config
class there. A plugin's class is validated like a built-in one (unknown keys refused,
errors naming the key path), because it *is* one: the same dispatch serves both.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, PlainValidator
from pydantic_core import PydanticCustomError

from tunegate.registry import Registry

__all__ = ["ConfigRegistry", "by_type", "class_checker", "known_types", "type_name"]


def type_name(cls: type[BaseModel]) -> str | None:
    """The one value of a config class's ``type: Literal["x"]`` field, else None."""
    field = cls.model_fields.get("type")
    if field is None or typing.get_origin(field.annotation) is not typing.Literal:
        return None
    values = typing.get_args(field.annotation)
    return str(values[0]) if len(values) == 1 else None


def class_checker(
    base: type[BaseModel], what: str, needs: str | None = None
) -> Callable[[str, object], Any]:
    """The check of a registry of config classes: what an entry point names must be a
    subclass of ``base`` whose ``type`` is ``Literal[name]`` (and, when ``needs`` is
    given, has that method)."""

    def check(name: str, found: object) -> Any:
        if not (isinstance(found, type) and issubclass(found, base)):
            raise TypeError(f"names {found!r}, not a {base.__name__} subclass ({what} config)")
        declared = type_name(found)
        if declared != name:
            raise ValueError(
                f"{found.__name__}.type must be Literal[{name!r}] (the entry point's name), "
                f"not {declared!r}"
            )
        if needs is not None and not callable(getattr(found, needs, None)):
            raise TypeError(f"{found.__name__} has no {needs}() method")
        return found

    return check


ConfigRegistry = Registry[type[BaseModel]]


def known_types(registries: tuple[ConfigRegistry, ...]) -> list[str]:
    """Every type of ``registries`` (built-in ones first, then plugins')."""
    return [name for registry in registries for name in registry.names()]


def _dispatch(registries: tuple[ConfigRegistry, ...], what: str) -> Callable[[Any], Any]:
    """A validator picking the config class by the value's ``type``."""

    def find(kind: object) -> type[BaseModel] | None:
        if not isinstance(kind, str):
            return None
        for registry in registries:
            found = registry.find(kind)
            if found is not None:
                return found
        return None

    def validate(value: Any) -> Any:
        if isinstance(value, BaseModel):
            cls = find(getattr(value, "type", None))
            if cls is not None and isinstance(value, cls):
                return value  # already validated (a config built in Python)
        if not isinstance(value, dict):
            raise PydanticCustomError("dict_type", "Input should be a valid dictionary")
        kind = value.get("type")
        if kind is None:
            listed = ", ".join(known_types(registries))
            raise PydanticCustomError(
                "type_missing",
                "{what} needs a 'type' (one of: {known})",
                {"what": what, "known": listed},
            )
        cls = find(kind)
        if cls is None:
            raise PydanticCustomError(
                "type_unknown",
                "unknown {what} type {kind}{hint}",
                {
                    "what": what,
                    "kind": repr(kind),
                    "hint": _hint(str(kind), known_types(registries)),
                },
            )
        return cls.model_validate(value)

    return validate


def _hint(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (one of: {', '.join(known)})"


def by_type(*registries: ConfigRegistry, what: str) -> PlainValidator:
    """The validator of a field whose class its ``type`` names in ``registries`` (asked
    in order): ``Annotated[Base, by_type(REGISTRY, what="scorer"), SerializeAsAny()]``
    (``SerializeAsAny``: dumped as that class, not as ``Base``)."""
    return PlainValidator(_dispatch(registries, what))
