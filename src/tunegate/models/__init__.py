"""Model backends behind one protocol, and the registry that builds them from the config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.config import (
    Config,
    HFModel,
    HTTPModel,
    OpenAIModel,
    PythonModel,
    ShotsConfig,
    SuiteConfig,
)
from tunegate.data import Case, load_cases
from tunegate.errors import ConfigError
from tunegate.models.base import Backend, BatchBackend, Completion, TransportError, cache_key
from tunegate.models.http import HTTPBackend
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.models.prompting import check_template, draw_shots, render_template
from tunegate.models.python_fn import PythonBackend
from tunegate.suites import field_map

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


#: What a multiple-choice question asks of a chat model.
MULTIPLE_CHOICE_SYSTEM = (
    "Answer the multiple-choice question with the letter (A, B, C or D) of the correct choice only."
)

#: How a local model is asked a multiple-choice question: the log-likelihood of each
#: choice's text after this prompt decides (the most likely choice is the answer).
MULTIPLE_CHOICE_PROMPT = "Question: {{ question }}\nAnswer:"

#: The default prompt of a local model in a tool-calling suite.
TOOL_CALL_PROMPT = (
    "You can call these functions (JSON descriptions):\n{{ functions | tojson }}\n\n"
    'Reply with a JSON list of calls, e.g. [{"name": "f", "arguments": {"x": 1}}], '
    "or [] when no function fits the request.\n\nRequest: {{ input }}\nCalls:"
)


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
        shots.format,  # type: ignore[arg-type]
        field_map(shots),
        labels=config.main_task.labels,
    )
    seed = shots.seed if shots.seed is not None else config.seed
    try:
        drawn = draw_shots(pool, shots.k, seed, exclude=test_texts)
    except ValueError as exc:
        raise ConfigError(f"{key}.shots: {exc} in {shots.path}") from None
    meta = {"path": str(shots.path), "k": shots.k, "seed": seed, "ids": [s.id for s in drawn]}
    return drawn, meta


def _hf_backend(name: str, spec: HFModel, suite: SuiteConfig, shots: Sequence[Case]) -> Backend:
    from tunegate.models.hf import HFBackend  # imports torch: only when a local model is used

    task = suite.task
    prompt = task.prompt or spec.prompt
    if task.type == "multiple_choice":
        prompt = task.prompt or MULTIPLE_CHOICE_PROMPT
    elif task.type == "tool_call":
        prompt = task.prompt or TOOL_CALL_PROMPT
    elif task.type == "perplexity":
        prompt = task.prompt or "{{ input }}"
    if shots and prompt is not None:
        prefix = "".join(f"{render_template(prompt, s)} {s.reference}\n\n" for s in shots)
        prompt = "{% raw %}" + prefix + "{% endraw %}" + prompt
    mode = {
        "classification": "classify",
        "multiple_choice": "choice",
        "perplexity": "perplexity",
    }.get(task.type, "generate")
    backend: Backend = HFBackend(
        name,
        path=spec.path,
        gguf_file=spec.gguf_file,
        gguf=spec.gguf,
        adapter=spec.adapter,
        prompt=prompt,
        labels=task.label_list if mode in ("classify", "choice") else None,
        mode=mode,  # type: ignore[arg-type]
        batch_size=spec.batch_size,
        threads=spec.threads,
        dtype=spec.dtype,
        max_new_tokens=spec.max_new_tokens,
        stop=spec.stop,
        trained_prompt_warning=task.type == "classification",
        perplexity_of=task.target,
    )
    return backend


def _openai_spec(spec: OpenAIModel, suite: SuiteConfig) -> OpenAIModel:
    task = suite.task
    update: dict[str, Any] = {}
    if task.system is not None:
        update["system"] = task.system
    elif task.type == "multiple_choice":
        update["system"] = MULTIPLE_CHOICE_SYSTEM
    if task.prompt is not None or task.type == "multiple_choice":
        update["prompt"] = task.prompt
    return spec.model_copy(update=update) if update else spec


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
    main = suite.name == config.all_suites[0].name
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
        backend: Backend
        if isinstance(spec, OpenAIModel):
            if suite.task.type == "perplexity" and suite.task.target == "reference":
                raise ConfigError(
                    f"{key}: perplexity of the reference given the input (target: reference) "
                    "needs a local model; openai models score the input text"
                )
            backend = OpenAIChatBackend(
                name,
                _openai_spec(spec, suite),
                shots,
                tools=suite.task.type == "tool_call",
                mode="perplexity" if suite.task.type == "perplexity" else "chat",
            )
        elif isinstance(spec, HTTPModel):
            backend = HTTPBackend(name, spec)
        elif isinstance(spec, PythonModel):
            backend = PythonBackend(name, spec, search_path=config_dir)
        else:
            backend = _hf_backend(name, spec, suite, shots)
            warnings = list(getattr(backend, "warnings", []))
            if warnings:
                built.meta.setdefault(name, {})["warnings"] = warnings
                built.warnings.extend(warnings)
            tokenizer = getattr(backend, "tokenizer_name", None)
            if tokenizer:
                built.meta.setdefault(name, {})["tokenizer"] = tokenizer
        if spec.version is not None:
            # The runner adds it to the cache identity (see runner.model_identity).
            setattr(backend, "version", spec.version)  # noqa: B010
        if isinstance(backend, OpenAIChatBackend):
            built.warnings += [w for w in backend.warnings if w not in built.warnings]
        built.backends[name] = backend
    return built
