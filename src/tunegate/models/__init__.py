"""Model backends behind one protocol, and the registry that builds them from the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.config import Config, DatasetConfig, HTTPModel, OpenAIModel, PythonModel
from tunegate.data import Case, FieldMap, load_cases
from tunegate.errors import ConfigError
from tunegate.models.base import Backend, BatchBackend, Completion, TransportError, cache_key
from tunegate.models.http import HTTPBackend
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.models.prompting import check_template, draw_shots
from tunegate.models.python_fn import PythonBackend

__all__ = [
    "Backend",
    "BatchBackend",
    "Completion",
    "TransportError",
    "build_backends",
    "cache_key",
    "field_map",
]


@dataclass
class BuiltModels:
    """The backends of a run and what was decided while building them (e.g. drawn shots)."""

    backends: dict[str, Backend]
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)


def field_map(ds: DatasetConfig) -> FieldMap:
    """The loader's field map for a dataset section."""
    return FieldMap(
        input_field=ds.input_field,
        label_field=ds.label_field,
        category_field=ds.category_field,
        id_field=ds.id_field,
    )


def build_backends(
    config: Config, cases: Sequence[Case], config_dir: Path | None = None
) -> BuiltModels:
    """One backend per configured model; k-shot examples are drawn here with the run's seed."""
    built = BuiltModels(backends={})
    test_texts = {c.text for c in cases}
    labels = config.task.labels
    for name, spec in config.models.items():
        key = f"models.{name}"
        for tkey in ("prompt", "system"):
            template = getattr(spec, tkey, None)
            problem = check_template(template) if isinstance(template, str) else None
            if problem:
                raise ConfigError(f"{key}.{tkey}: {problem}")
        backend: Backend
        if isinstance(spec, OpenAIModel):
            shots: list[Case] = []
            if spec.shots is not None:
                pool = load_cases(
                    spec.shots.path, spec.shots.format, field_map(spec.shots), labels=labels
                )
                seed = spec.shots.seed if spec.shots.seed is not None else config.seed
                try:
                    shots = draw_shots(pool, spec.shots.k, seed, exclude=test_texts)
                except ValueError as exc:
                    raise ConfigError(f"{key}.shots: {exc} in {spec.shots.path}") from None
                built.meta[name] = {
                    "shots": {
                        "path": str(spec.shots.path),
                        "k": spec.shots.k,
                        "seed": seed,
                        "ids": [s.id for s in shots],
                    }
                }
            backend = OpenAIChatBackend(name, spec, shots)
        elif isinstance(spec, HTTPModel):
            backend = HTTPBackend(name, spec)
        elif isinstance(spec, PythonModel):
            backend = PythonBackend(name, spec, search_path=config_dir)
        else:  # pragma: no cover - the config schema admits no other type
            raise ConfigError(f"{key}.type: unsupported")
        built.backends[name] = backend
    return built
