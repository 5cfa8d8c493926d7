"""Backends by ``type``: a lazy registry of builders.

Each built-in entry names its builder by import path (``module:function``), so a
backend's module (and what it imports: the openai SDK, aiohttp, torch) loads only
when a model of that type is built. A builder takes the model's name, its config and
the :class:`BuildContext` of the suite, and returns a :class:`Backend`.

A plugin's model type (entry-point group ``tunegate.models``, read by
:data:`tunegate.config.models.MODEL_CONFIGS`) is built by its config class's
``build(name, context)`` method; code may also :func:`register` a builder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.config.models import MODEL_CONFIGS
from tunegate.data import Case
from tunegate.models.base import Backend
from tunegate.registry import Registry, UnknownNameError


@dataclass(frozen=True)
class BuildContext:
    """What a builder may need beyond the model's own config."""

    suite: Any  # tunegate.config.SuiteConfig
    shots: Sequence[Case] = ()
    config_dir: Path | None = None


Builder = Callable[[str, Any, BuildContext], Backend]

#: The builder of each model type by name (the built-in ones imported on first use).
BACKENDS: Registry[Builder] = Registry("model type")
BACKENDS.add_lazy("openai", "tunegate.models.openai_chat:build")
BACKENDS.add_lazy("http", "tunegate.models.http:build")
BACKENDS.add_lazy("python", "tunegate.models.python_fn:build")
BACKENDS.add_lazy("hf", "tunegate.models.local:build")


def register(type_: str, builder: str | Builder) -> None:
    """Add the builder of models with ``type: type_`` (a function, or its import path
    ``"module:function"``, imported on first use); a type with a builder already is an
    error (:class:`~tunegate.registry.DuplicateNameError`)."""
    if isinstance(builder, str):
        BACKENDS.add_lazy(type_, builder)
    else:
        BACKENDS.add(type_, builder)


def registered() -> list[str]:
    """The model types with a registered builder (plugins' types are in
    ``MODEL_CONFIGS.names()``)."""
    return sorted(BACKENDS.names())


def _built_by_config(name: str, spec: Any, context: BuildContext) -> Backend:
    """A plugin's backend: its config class builds it."""
    backend: Backend = spec.build(name, context)
    return backend


def builder(type_: str) -> Builder:
    """The builder of ``type_``, imported on first use."""
    found = BACKENDS.find(type_)
    if found is not None:
        return found
    if callable(getattr(MODEL_CONFIGS.find(type_), "build", None)):  # a plugin's type
        return _built_by_config
    known = sorted({*BACKENDS.names(), *MODEL_CONFIGS.names()})
    raise UnknownNameError(f"no backend for model type {type_!r} (known: {', '.join(known)})")


def build(name: str, spec: Any, context: BuildContext) -> Backend:
    """The backend of model ``name`` configured by ``spec`` (its ``type`` picks the builder)."""
    return builder(str(spec.type))(name, spec, context)
