"""Model backends behind one protocol, and the registry that builds them from the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.config import (
    Config,
    DatasetConfig,
    HFModel,
    HTTPModel,
    OpenAIModel,
    PythonModel,
    ShotsConfig,
)
from tunegate.data import Case, FieldMap, load_cases
from tunegate.errors import ConfigError
from tunegate.models.base import Backend, BatchBackend, Completion, TransportError, cache_key
from tunegate.models.http import HTTPBackend
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.models.prompting import check_template, draw_shots, render_template
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
    warnings: list[str] = field(default_factory=list)


def field_map(ds: DatasetConfig) -> FieldMap:
    """The loader's field map for a dataset section."""
    return FieldMap(
        input_field=ds.input_field,
        label_field=ds.label_field,
        category_field=ds.category_field,
        id_field=ds.id_field,
    )


def _draw(
    config: Config, key: str, shots: ShotsConfig, test_texts: set[str]
) -> tuple[list[Case], dict[str, Any]]:
    pool = load_cases(shots.path, shots.format, field_map(shots), labels=config.task.labels)
    seed = shots.seed if shots.seed is not None else config.seed
    try:
        drawn = draw_shots(pool, shots.k, seed, exclude=test_texts)
    except ValueError as exc:
        raise ConfigError(f"{key}.shots: {exc} in {shots.path}") from None
    meta = {"path": str(shots.path), "k": shots.k, "seed": seed, "ids": [s.id for s in drawn]}
    return drawn, meta


def _hf_backend(name: str, spec: HFModel, labels: Sequence[str], shots: Sequence[Case]) -> Backend:
    from tunegate.models.hf import HFBackend  # imports torch: only when a local model is used

    prompt = spec.prompt
    if shots and prompt is not None:
        prefix = "".join(f"{render_template(prompt, s)} {s.reference}\n\n" for s in shots)
        prompt = "{% raw %}" + prefix + "{% endraw %}" + prompt
    backend: Backend = HFBackend(
        name,
        path=spec.path,
        gguf_file=spec.gguf_file,
        gguf=spec.gguf,
        adapter=spec.adapter,
        prompt=prompt,
        labels=list(labels),
        mode="classify",
        batch_size=spec.batch_size,
        threads=spec.threads,
        dtype=spec.dtype,
        max_new_tokens=spec.max_new_tokens,
        stop=spec.stop,
    )
    return backend


def build_backends(
    config: Config, cases: Sequence[Case], config_dir: Path | None = None
) -> BuiltModels:
    """One backend per configured model; k-shot examples are drawn here with the run's seed."""
    built = BuiltModels(backends={})
    test_texts = {c.text for c in cases}
    for name, spec in config.models.items():
        key = f"models.{name}"
        for tkey in ("prompt", "system"):
            template = getattr(spec, tkey, None)
            problem = check_template(template) if isinstance(template, str) else None
            if problem:
                raise ConfigError(f"{key}.{tkey}: {problem}")
        shots: list[Case] = []
        shots_spec = getattr(spec, "shots", None)
        if shots_spec is not None:
            shots, shots_meta = _draw(config, key, shots_spec, test_texts)
            built.meta[name] = {"shots": shots_meta}
        backend: Backend
        if isinstance(spec, OpenAIModel):
            backend = OpenAIChatBackend(name, spec, shots)
        elif isinstance(spec, HTTPModel):
            backend = HTTPBackend(name, spec)
        elif isinstance(spec, PythonModel):
            backend = PythonBackend(name, spec, search_path=config_dir)
        else:
            backend = _hf_backend(name, spec, config.task.labels, shots)
            warnings = list(getattr(backend, "warnings", []))
            if warnings:
                built.meta.setdefault(name, {})["warnings"] = warnings
                built.warnings.extend(warnings)
        built.backends[name] = backend
    return built
