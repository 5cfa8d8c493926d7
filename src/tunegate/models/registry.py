"""Backends by ``type``: a lazy registry of builders.

Each entry names its builder by import path (``module:function``), so a backend's
module (and what it imports: the openai SDK, aiohttp, torch) loads only when a
model of that type is built. A builder takes the model's name, its config and the
:class:`BuildContext` of the suite, and returns a :class:`Backend`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.models.base import Backend


@dataclass(frozen=True)
class BuildContext:
    """What a builder may need beyond the model's own config."""

    suite: Any  # tunegate.config.SuiteConfig
    shots: Sequence[Case] = ()
    config_dir: Path | None = None


Builder = Callable[[str, Any, BuildContext], Backend]

_BUILDERS: dict[str, str | Builder] = {
    "openai": "tunegate.models.openai_chat:build",
    "http": "tunegate.models.http:build",
    "python": "tunegate.models.python_fn:build",
    "hf": "tunegate.models.local:build",
}


def register(type_: str, builder: str | Builder) -> None:
    """Add (or replace) the builder of models with ``type: type_``."""
    _BUILDERS[type_] = builder


def registered() -> list[str]:
    """The model types with a builder."""
    return sorted(_BUILDERS)


def builder(type_: str) -> Builder:
    """The builder of ``type_``, imported on first use."""
    entry = _BUILDERS.get(type_)
    if entry is None:
        raise ConfigError(f"no backend for model type {type_!r} (known: {', '.join(registered())})")
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = cast(Builder, getattr(importlib.import_module(module), attr))
        _BUILDERS[type_] = entry
    return entry


def build(name: str, spec: Any, context: BuildContext) -> Backend:
    """The backend of model ``name`` configured by ``spec`` (its ``type`` picks the builder)."""
    return builder(str(spec.type))(name, spec, context)
