"""Judge backends: how each kind of model (``models:`` entry) asks for verdicts.

A generating judge is wrapped so that an answer without a valid verdict is a
malformed-answer :class:`~tunegate.models.base.TransportError` (retried once by the
runner, then stored as an error); a local (``hf``) judge scores the verdict labels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.config import (
    HFModel,
    HTTPModel,
    ModelConfig,
    OpenAIModel,
    PythonModel,
)
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.models.base import Backend, BackendDefaults, Completion, TransportError
from tunegate.scoring.judge import (
    Verdict,
)

Parse = Callable[[str | None], Verdict]
"""A judge answer -> its verdict."""


class _VerdictCheck(BackendDefaults):
    """Wraps a generating judge: an answer without a valid verdict raises a malformed-answer
    :class:`TransportError`, which the runner retries once, then stores as an error."""

    def __init__(self, inner: Backend, parse: Parse) -> None:
        super().__init__()
        self.inner = inner
        self.parse = parse
        self.name = inner.name
        self.concurrency = inner.concurrency
        self.timeout = inner.timeout
        self.max_retries = max(1, inner.max_retries or 0)
        self.version = inner.version

    async def start(self) -> None:
        await self.inner.start()

    def identity(self) -> dict[str, Any]:
        return self.inner.identity()

    def render(self, case: Case) -> dict[str, Any]:
        return self.inner.render(case)

    async def send(self, request: dict[str, Any]) -> Completion:
        completion = await self.inner.send(request)
        verdict = self.parse(completion.text)
        if not verdict.ok:
            raise TransportError(f"judge error: {verdict.error}", retryable=True, kind="malformed")
        return completion

    async def aclose(self) -> None:
        await self.inner.aclose()


def _openai(name: str, spec: Any, labels: list[str], search: Path | None) -> Backend:
    from tunegate.models.openai_chat import OpenAIChatBackend

    # The judge prompt is the whole user turn: the model's own prompt template and shots
    # belong to its role as a contestant.
    plain = spec.model_copy(update={"prompt": None, "shots": None})
    return OpenAIChatBackend(name, plain)


def _http(name: str, spec: Any, labels: list[str], search: Path | None) -> Backend:
    from tunegate.models.http import HTTPBackend

    return HTTPBackend(name, spec)


def _python(name: str, spec: Any, labels: list[str], search: Path | None) -> Backend:
    from tunegate.models.python_fn import PythonBackend

    return PythonBackend(name, spec, config_dir=search)


def _hf(name: str, spec: Any, labels: list[str], search: Path | None) -> Backend:
    from tunegate.models.hf import HFBackend

    return HFBackend(
        name,
        path=spec.path,
        gguf_file=spec.gguf_file,
        gguf=spec.gguf,
        adapter=spec.adapter,
        prompt="{{ input }}",
        labels=labels,
        mode="classify",
        batch_size=spec.batch_size,
        threads=spec.threads,
        dtype=spec.dtype,
        trained_prompt_warning=False,
    )


#: How each kind of model becomes a judge backend (one entry per ``models:`` type).
_JUDGE_BUILDERS: dict[type, Callable[[str, Any, list[str], Path | None], Backend]] = {
    OpenAIModel: _openai,
    HTTPModel: _http,
    PythonModel: _python,
    HFModel: _hf,
}


def judge_backend(
    judge: str,
    spec: ModelConfig,
    labels: list[str],
    parse: Parse,
    config_dir: Path | None = None,
) -> Backend:
    """The backend that asks model ``judge`` (configured by ``spec``) for verdicts (local
    models score ``labels``)."""
    builder = _JUDGE_BUILDERS.get(type(spec))
    if builder is None:
        raise ConfigError(f"models.{judge}: a model of type {spec.type!r} cannot judge")
    backend = builder(f"judge:{judge}", spec, labels, config_dir)
    return backend if isinstance(spec, HFModel) else _VerdictCheck(backend, parse)
