"""Everything a run checks before it calls a model, without calling one (``tunegate validate``).

Every suite's dataset loads; every template renders against the real cases (an
undefined name is an error, not an empty string); the environment variables named
by ``api_key_env`` and ``${VAR}`` headers exist; python functions and custom scorers
import; shots files load and their labels belong to the task. Each problem is one
message naming the file and the key.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunegate.config import Config, HFModel, HTTPModel, OpenAIModel, SuiteConfig
from tunegate.data import Case
from tunegate.errors import TunegateError

_OPENAI_URL = "https://api.openai.com/v1"


@dataclass
class Preflight:
    """What ``validate`` found: problems (errors) and warnings, and each suite's cases."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cases: dict[str, list[Case]] = field(default_factory=dict)


def _where(config: Config, suite: SuiteConfig) -> str:
    """The config key of a suite's section (``task`` for the top-level one)."""
    index = [s.name for s in config.all_suites].index(suite.name)
    offset = 1 if config.dataset is not None else 0
    return "" if index < offset else f"suites[{index - offset}]."


def _strings(value: Any, key: str) -> Iterator[tuple[str, str]]:
    """Every string inside an HTTP body template, with its key."""
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{key}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{key}[{i}]")


def templates(config: Config, suite: SuiteConfig, model: str) -> list[tuple[str, str]]:
    """The templates rendered for each case of ``suite`` on ``model``, with their keys."""
    spec = config.models[model]
    task_prompt = f"{_where(config, suite)}task.prompt"
    if isinstance(spec, HTTPModel):
        return list(_strings(spec.body, f"models.{model}.body"))
    if isinstance(spec, OpenAIModel | HFModel):
        if suite.task.prompt is not None:
            return [(task_prompt, suite.task.prompt)]
        if spec.prompt is not None and not suite.task.kind.standard_prompt:
            return [(f"models.{model}.prompt", spec.prompt)]
    return []


def template_problem(key: str, template: str, case: Case, suite: str) -> str | None:
    """Why ``template`` cannot be rendered for ``case`` (an undefined name), or None."""
    from tunegate.models.prompting import template_problem as problem

    return problem(key, template, case, suite)


def first_template_problem(config: Config, suite: SuiteConfig, cases: Sequence[Case]) -> str | None:
    """The first template of ``suite``'s models that does not render for its cases."""
    from tunegate.models import suite_models

    for name in suite_models(config, suite):
        for key, template in templates(config, suite, name):
            for case in cases:
                problem = template_problem(key, template, case, suite.name)
                if problem:
                    return problem
    if suite.task.kind.uses_scorers:  # scorer values that refer to the case
        from tunegate.scoring.values import value_problems

        where = f"{_where(config, suite)}task"
        problems = value_problems(suite.task.scorers, where, cases, suite.name)
        if problems:
            return problems[0]
    return None


def _env_problems(config: Config) -> list[str]:
    from tunegate.config import ENV_REF

    problems = []
    for name, spec in config.models.items():
        if isinstance(spec, OpenAIModel):
            var = spec.api_key_env
            if var is None and (spec.base_url or _OPENAI_URL) == _OPENAI_URL:
                var = "OPENAI_API_KEY"
            if var is not None and not os.environ.get(var):
                problems.append(f"models.{name}.api_key_env: environment variable {var} is not set")
        for header, value in getattr(spec, "headers", {}).items():
            for ref in ENV_REF.findall(value):
                if not os.environ.get(ref):
                    problems.append(
                        f"models.{name}.headers.{header}: environment variable {ref} is not set"
                    )
    return problems


def preflight(config: Config, config_dir: Path | None, src: str) -> Preflight:
    """Check everything but the model calls; messages start with ``src`` (the config file)."""
    from tunegate.models import build_backends, suite_models
    from tunegate.pipeline.suites import load_suite_cases

    found = Preflight()

    def add(message: str) -> None:
        text = message if message.startswith(f"{src}:") else f"{src}: {message}"
        if text not in found.problems:
            found.problems.append(text)

    for message in _env_problems(config):
        add(message)
    for suite in config.all_suites:
        try:
            cases = load_suite_cases(suite, main=config.is_main(suite))
        except TunegateError as exc:
            add(str(exc))
            continue
        found.cases[suite.name] = cases
        if suite.task.kind.uses_scorers:
            # Imported here: jsonschema and the scorers load only for tasks that score.
            from tunegate.scoring.scorers import build_scorers

            try:
                build_scorers(suite.task.scorer_list, f"{_where(config, suite)}task", config_dir)
            except TunegateError as exc:
                add(str(exc))
            from tunegate.scoring.values import value_problems

            where = f"{_where(config, suite)}task"
            for message in value_problems(suite.task.scorers, where, cases, suite.name):
                add(message)
        broken: set[str] = set()
        for name in suite_models(config, suite):
            for key, template in templates(config, suite, name):
                problem = next(
                    (
                        p
                        for c in cases
                        if (p := template_problem(key, template, c, suite.name)) is not None
                    ),
                    None,
                )
                if problem:
                    add(problem)
                    broken.add(name)
        try:
            built = build_backends(config, cases, config_dir=config_dir, suite=suite)
        except TunegateError as exc:
            add(str(exc))
            continue
        found.warnings += [w for w in built.warnings if w not in found.warnings]
        for name, backend in built.backends.items():
            if name in broken:
                continue
            from tunegate.models.base import render_request

            try:
                for case in cases:
                    render_request(backend, case)
            except TunegateError as exc:
                add(str(exc))
    return found
