"""How the Python API calls models: through tunegate's runner, never directly.

A model is a callable (``fn(prompt) -> str``, sync or ``async def``), a model name
(called on an OpenAI-compatible endpoint by tunegate's OpenAI backend, with the
runner's retries and back-off), or an :class:`~tunegate.config.OpenAIModel`.
Cases run concurrently with at most ``concurrency`` requests in flight per model;
every model runs at the same time. Nothing is cached and nothing is written to
disk: the runner writes to an in-memory store that is dropped afterwards.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from tunegate.config import OpenAIModel
    from tunegate.models.base import Backend

#: A model under test: a function of the prompt, a model name, or an OpenAIModel config.
#: (The config and the backends load only when a model is called: ``import tunegate.api``
#: stays light.)
ModelLike = Union[Callable[[str], Any], str, "OpenAIModel"]

#: Requests in flight per model unless ``concurrency=`` says otherwise.
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class Answer:
    """One model's answer to one prompt: ``text``, or ``error`` saying why there is none.

    ``latency_s`` is the wall time of the successful attempt (``None`` on error).
    """

    text: str | None
    error: str | None
    latency_s: float | None


@dataclass(frozen=True)
class CallOptions:
    """Where model names are sent and how hard the runner tries.

    ``base_url`` defaults to ``$OPENAI_BASE_URL`` and then to OpenAI itself;
    ``api_key_env`` names the environment variable holding the key (OpenAI's
    endpoint reads ``OPENAI_API_KEY`` by default). ``timeout`` is per request in
    seconds (for callables too; ``None`` means no limit for callables).
    """

    concurrency: int = DEFAULT_CONCURRENCY
    base_url: str | None = None
    api_key_env: str | None = None
    timeout: float | None = None
    max_retries: int = 4


def check_model(model: Any, where: str) -> None:
    """Raise :class:`TypeError` unless ``model`` is a callable, a name or an OpenAIModel."""
    if isinstance(model, str):
        if not model.strip():
            raise ValueError(f"{where}: a model name must not be empty")
        return
    if callable(model):
        return
    from tunegate.config import OpenAIModel

    if isinstance(model, OpenAIModel):
        return
    raise TypeError(
        f"{where} must be a function of the prompt or a model name, not {type(model).__name__}"
    )


def _backend(name: str, model: ModelLike, options: CallOptions) -> Backend:
    if not callable(model):
        from tunegate.config import OpenAIModel
        from tunegate.models.openai_chat import OpenAIChatBackend

        if isinstance(model, str):
            fields: dict[str, Any] = {
                "type": "openai",
                "model": model,
                "concurrency": options.concurrency,
                "max_retries": options.max_retries,
            }
            base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or None
            if base_url is not None:
                fields["base_url"] = base_url
            if options.api_key_env is not None:
                fields["api_key_env"] = options.api_key_env
            if options.timeout is not None:
                fields["timeout"] = options.timeout
            config = OpenAIModel.model_validate(fields)
        else:
            config = model
        return OpenAIChatBackend(name, config)
    from tunegate.models.callable_fn import CallableBackend

    return CallableBackend(name, model, concurrency=options.concurrency, timeout=options.timeout)


async def _call_all(
    models: Mapping[str, ModelLike], prompts: Sequence[str], options: CallOptions
) -> dict[str, list[Answer]]:
    from tunegate.data import Case
    from tunegate.runner import RetryPolicy, run_models
    from tunegate.store import Store

    cases = [
        Case(id=str(i), text=p, reference="", messages=({"role": "user", "content": p},))
        for i, p in enumerate(prompts)
    ]
    backends = {name: _backend(name, model, options) for name, model in models.items()}
    with Store(":memory:") as store:
        run_id = store.start_run("python-api", {}, None)
        runs = await run_models(
            backends, cases, store, run_id, use_cache=False, policy=RetryPolicy()
        )
    return {
        name: [
            Answer(
                text=r.text if r.error is None else None,
                error=r.error,
                latency_s=None
                if r.error is not None or r.latency_ms is None
                else r.latency_ms / 1000,
            )
            for r in run.responses
        ]
        for name, run in runs.items()
    }


def resolve(awaitable: Awaitable[Any]) -> Any:
    """Run an awaitable to completion with ``asyncio.run``.

    Inside a running event loop (a Jupyter notebook, an async test) ``asyncio.run``
    cannot be called, so the awaitable then runs in a new loop on a worker thread.
    """
    from tunegate.runner import run_sync

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_sync(awaitable)
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tunegate-api") as pool:
        return pool.submit(run_sync, awaitable).result()


def call_models(
    models: Mapping[str, ModelLike], prompts: Sequence[str], options: CallOptions | None = None
) -> dict[str, list[Answer]]:
    """Every model's :class:`Answer` to every prompt, in prompt order."""
    options = options or CallOptions()
    if options.concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {options.concurrency}")
    for name, model in models.items():
        check_model(model, name)
    if not prompts:
        return {name: [] for name in models}
    from tunegate.errors import BackendError

    try:
        result: dict[str, list[Answer]] = resolve(_call_all(models, prompts, options))
    except BackendError as exc:
        # The runner names the YAML key (models.<name>.api_key_env); here there is no YAML.
        message = str(exc)
        for name in models:
            message = message.replace(f"models.{name}.api_key_env", f"{name} (api_key_env)")
        if "api_key_env" in message:
            message += "; set it, or name another with CallOptions(api_key_env=...)"
        raise BackendError(message) from None
    return result
