"""OpenAI-compatible chat endpoints (OpenAI, vLLM, Ollama, llama.cpp, TGI) via the ``openai`` SDK."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Sequence
from typing import Any

import openai

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.models.base import BackendDefaults, Completion, TransportError
from tunegate.models.errors import sdk_error
from tunegate.models.prompting import chat_messages
from tunegate.models.registry import BuildContext
from tunegate.secrets import read_env, resolve_refs

OPENAI_URL = "https://api.openai.com/v1"


def _known_params() -> set[str]:
    from openai.resources.chat.completions import AsyncCompletions

    return set(inspect.signature(AsyncCompletions.create).parameters) - {"self"}


#: What a multiple-choice question asks of a chat model.
MULTIPLE_CHOICE_SYSTEM = (
    "Answer the multiple-choice question with the letter (A, B, C or D) of the correct choice only."
)


class OpenAIChatBackend(BackendDefaults):
    """Chat completions with zero-shot or k-shot prompts.

    The SDK's own retries are off (``max_retries=0``): the runner retries, so
    that every attempt is counted and ``Retry-After`` is honoured the same way
    for every backend.
    """

    def __init__(
        self,
        name: str,
        config: OpenAIModel,
        shots: Sequence[Case] = (),
        *,
        tools: bool = False,
        mode: str = "chat",
    ) -> None:
        super().__init__()
        self.name = name
        self.tools = tools
        self.mode = mode
        self.config = config
        self.concurrency = config.concurrency
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self.shots = list(shots)
        self.base_url = config.base_url or OPENAI_URL
        self._client: openai.AsyncOpenAI | None = None
        known = _known_params() - {"extra_body", "extra_headers", "extra_query", "timeout"}
        self._params = {k: v for k, v in config.params.items() if k in known}
        self._extra = dict(config.extra_body)
        self.warnings = [
            unknown_param_warning(name, k, known)
            for k in config.params
            if k not in known and k not in config.extra_body
        ]

    async def start(self) -> None:
        key_var = self.config.api_key_env
        if key_var is None and self.base_url == OPENAI_URL:
            key_var = "OPENAI_API_KEY"
        where = f"models.{self.name}"
        api_key = read_env(key_var, f"{where}.api_key_env") if key_var else "not-needed"
        headers = {
            h: resolve_refs(v, f"{where}.headers.{h}") for h, v in self.config.headers.items()
        }
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=self.base_url,
            timeout=self.config.timeout,
            max_retries=0,
            default_headers=headers or None,
        )

    def identity(self) -> dict[str, Any]:
        return {"type": "openai", "base_url": self.base_url, "model": self.config.model}

    def render(self, case: Case) -> dict[str, Any]:
        if self.mode == "perplexity":
            # Scored through the completions endpoint: the text's own log-probs (echo).
            return {"model": self.config.model, "prompt": case.text, "echo_logprobs": True}
        messages = chat_messages(
            case, system=self.config.system, prompt=self.config.prompt, shots=self.shots
        )
        request: dict[str, Any] = {"model": self.config.model, "messages": messages, **self._params}
        functions = case.metadata.get("functions") if self.tools else None
        if functions:
            from tunegate.bfcl import to_openai_tools

            request["tools"] = to_openai_tools(functions)
        if self._extra:
            request["extra_body"] = self._extra
        return request

    async def send(self, request: dict[str, Any]) -> Completion:
        if self._client is None:
            raise RuntimeError("start() was not called")
        if request.get("echo_logprobs"):
            return await self._perplexity(request)
        try:
            response = await self._client.chat.completions.create(**request)
        except (openai.OpenAIError, json.JSONDecodeError) as exc:
            raise sdk_error(exc, self.base_url, self.config.timeout) from None
        try:
            choice = response.choices[0]
            message = choice.message
            text = message.content
            tool_calls = (
                [tc.model_dump() for tc in message.tool_calls] if message.tool_calls else None
            )
            usage = response.usage
        except (AttributeError, IndexError, TypeError) as exc:
            raise TransportError(
                f"malformed response: no choices[0].message ({type(exc).__name__})",
                retryable=True,
                kind="malformed",
            ) from None
        if not isinstance(text, str | None):
            raise TransportError(
                "malformed response: content is not text", retryable=True, kind="malformed"
            )
        return Completion(
            text=text,
            output={"tool_calls": tool_calls} if tool_calls else None,
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            extra=_served_by(response, getattr(choice, "finish_reason", None)),
        )

    async def _perplexity(self, request: dict[str, Any]) -> Completion:
        from tunegate.models.logprobs import prompt_logprobs

        assert self._client is not None
        text = str(request["prompt"])
        values = await prompt_logprobs(self._client, str(request["model"]), text)
        scored = [v for v in values if v is not None]
        total = float(sum(scored))
        value = math.exp(-total / len(scored)) if scored else math.nan
        output = {
            "perplexity": value,
            "n_tokens": len(scored),
            "logprob_sum": total,
            "tokenizer": f"{self.config.model} at {self.base_url}",
        }
        return Completion(text=f"{value:.6g}", output=output, prompt_tokens=len(values))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _served_by(response: Any, finish_reason: Any) -> dict[str, Any]:
    """What the endpoint says about itself per answer: the model that answered and its
    ``system_fingerprint`` (when sent), and why the answer ended."""
    extra: dict[str, Any] = {"finish_reason": finish_reason}
    served = getattr(response, "model", None)
    fingerprint = getattr(response, "system_fingerprint", None)
    if isinstance(served, str):
        extra["served_model"] = served
    if isinstance(fingerprint, str):
        extra["system_fingerprint"] = fingerprint
    return extra


def unknown_param_warning(model: str, param: str, known: set[str]) -> str:
    """The warning for a ``params`` key that is no chat-completions parameter (not sent)."""
    import difflib

    close = difflib.get_close_matches(param, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"models.{model}.params.{param}: not a chat-completions parameter{hint}; not sent "
        f"(put server-specific parameters under models.{model}.extra_body)"
    )


def _openai_spec(spec: OpenAIModel, suite: Any) -> OpenAIModel:
    task = suite.task
    update: dict[str, Any] = {}
    if task.system is not None:
        update["system"] = task.system
    elif task.type == "multiple_choice":
        update["system"] = MULTIPLE_CHOICE_SYSTEM
    if task.prompt is not None or task.type == "multiple_choice":
        update["prompt"] = task.prompt
    return spec.model_copy(update=update) if update else spec


def build(name: str, spec: OpenAIModel, context: BuildContext) -> OpenAIChatBackend:
    """The backend of an OpenAI-compatible model for the suite's task."""
    task = context.suite.task
    if task.type == "perplexity" and task.target == "reference":
        raise ConfigError(
            f"models.{name}: perplexity of the reference given the input (target: reference) "
            "needs a local model; openai models score the input text"
        )
    return OpenAIChatBackend(
        name,
        _openai_spec(spec, context.suite),
        context.shots,
        tools=task.type == "tool_call",
        mode="perplexity" if task.type == "perplexity" else "chat",
    )
