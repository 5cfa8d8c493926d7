"""Model backends behind one protocol, and the registry that builds them from the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.config import Config, ShotsConfig, SuiteConfig
from tunegate.data import Case, load_cases
from tunegate.errors import ConfigError
from tunegate.models.base import Backend, BatchBackend, Completion, TransportError, cache_key
from tunegate.models.prompting import check_template, draw_shots
from tunegate.models.registry import BuildContext, build

__all__ = [
    "Backend",
    "BatchBackend",
    "Completion",
    "TransportError",
    "build_backends",
    "cache_key",
]


@dataclass
class BuiltModels:
    """The backends of a run and what was decided while building them (e.g. drawn shots)."""

    backends: dict[str, Backend]
    meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def suite_models(config: Config, suite: SuiteConfig) -> list[str]:
    """The models a suite runs on: ``models``, else candidate and ``base``, else all
    (models that only judge excepted)."""
    if suite.models:
        return list(suite.models)
    if suite.base is not None:
        return list(dict.fromkeys([config.candidate, suite.base]))
    judges = config.judge_only_models
    return [m for m in config.models if m not in judges]


def _draw(
    config: Config, key: str, shots: ShotsConfig, test_texts: set[str]
) -> tuple[list[Case], dict[str, Any]]:
    pool = load_cases(
        shots.path,
        shots.format,
        shots.field_map(),
        labels=config.main_task.labels,
    )
    seed = shots.seed if shots.seed is not None else config.seed
    try:
        drawn = draw_shots(pool, shots.k, seed, exclude=test_texts)
    except ValueError as exc:
        raise ConfigError(f"{key}.shots: {exc} in {shots.path}") from None
    meta = {"path": str(shots.path), "k": shots.k, "seed": seed, "ids": [s.id for s in drawn]}
    return drawn, meta


def build_backends(
    config: Config,
    cases: Sequence[Case],
    config_dir: Path | None = None,
    suite: SuiteConfig | None = None,
) -> BuiltModels:
    """One backend per model of ``suite`` (default: the main suite).

    k-shot examples are drawn here with the run's seed; they apply to the main
    suite only (they carry its labels).
    """
    suite = suite or config.all_suites[0]
    main = config.is_main(suite)
    built = BuiltModels(backends={})
    test_texts = {c.text for c in cases}
    for name in suite_models(config, suite):
        spec = config.models[name]
        key = f"models.{name}"
        for tkey in ("prompt", "system"):
            template = getattr(spec, tkey, None)
            problem = check_template(template) if isinstance(template, str) else None
            if problem:
                raise ConfigError(f"{key}.{tkey}: {problem}")
        shots: list[Case] = []
        shots_spec = getattr(spec, "shots", None)
        if shots_spec is not None and main:
            shots, shots_meta = _draw(config, key, shots_spec, test_texts)
            built.meta[name] = {"shots": shots_meta}
        backend = build(name, spec, BuildContext(suite, shots, config_dir))
        warnings = [w for w in backend.warnings if w not in built.warnings]
        if warnings:
            built.meta.setdefault(name, {})["warnings"] = warnings
            built.warnings.extend(warnings)
        if backend.tokenizer_name:
            built.meta.setdefault(name, {})["tokenizer"] = backend.tokenizer_name
        if spec.version is not None:
            # The runner adds it to the cache identity (see runner.model_identity).
            backend.version = spec.version
        built.backends[name] = backend
    return built
