"""OpenAI-compatible chat endpoints (OpenAI, vLLM, Ollama, llama.cpp, TGI) via the ``openai`` SDK."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.errors import ConfigError
from tunegate.models.base import BackendDefaults, Completion, TransportError
from tunegate.models.errors import sdk_error
from tunegate.models.prompting import chat_messages
from tunegate.models.registry import BuildContext
from tunegate.models.transport import Transport
from tunegate.secrets import read_env, resolve_refs

if TYPE_CHECKING:
    import openai

OPENAI_URL = "https://api.openai.com/v1"


#: The chat-completions parameters of the openai SDK (``AsyncCompletions.create``),
#: without its transport options; a test keeps this in step with the installed SDK.
CHAT_PARAMS = frozenset(
    {
        *("audio", "frequency_penalty", "function_call", "functions", "logit_bias"),
        *("logprobs", "max_completion_tokens", "max_tokens", "messages", "metadata"),
        *("modalities", "model", "moderation", "n", "parallel_tool_calls", "prediction"),
        *("presence_penalty", "prompt_cache_key", "prompt_cache_options"),
        *("prompt_cache_retention", "reasoning_effort", "response_format"),
        *("safety_identifier", "seed", "service_tier", "stop", "store", "stream"),
        *("stream_options", "temperature", "tool_choice", "tools", "top_logprobs", "top_p"),
        *("user", "verbosity", "web_search_options"),
    }
)


def urls_of(value: str | list[str] | None) -> list[str]:
    """The replicas' base URLs (OpenAI's own when none is given)."""
    if value is None:
        return [OPENAI_URL]
    return [value] if isinstance(value, str) else list(value)


# The system message of each task kind is in tunegate.tasks (TaskKind.chat_system).


class OpenAIChatBackend(BackendDefaults):
    """Chat completions with zero-shot or k-shot prompts.

    Requests, chat and perplexity (completions with ``echo``) alike, go through the lean
    :class:`~tunegate.models.transport.Transport` (spread over the replicas of
    ``base_url``), or through the openai SDK with ``transport: sdk`` (first replica).
    The SDK's own retries are off (``max_retries=0``): the runner retries, so that
    every attempt is counted and ``Retry-After`` is honoured the same way for every
    backend.
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
        self.urls = urls_of(config.base_url)
        self.concurrency = config.effective_concurrency()
        self.timeout: float | None = config.timeout
        self.max_retries = config.max_retries
        self.shots = list(shots)
        self.base_url = self.urls[0]
        self._client: openai.AsyncOpenAI | None = None
        self._transport: Transport | None = None
        known = set(CHAT_PARAMS)
        self._params = {k: v for k, v in config.params.items() if k in known}
        self._extra = dict(config.extra_body)
        self.warnings = [
            unknown_param_warning(name, k, known)
            for k in config.params
            if k not in known and k not in config.extra_body
        ]

    def credentials(self) -> tuple[str, dict[str, str]]:
        """The API key (from ``api_key_env``; OPENAI_API_KEY for OpenAI's own URL) and the
        configured headers with their ``${VAR}`` references resolved."""
        key_var = self.config.api_key_env
        if key_var is None and self.base_url == OPENAI_URL:
            key_var = "OPENAI_API_KEY"
        where = f"models.{self.name}"
        api_key = read_env(key_var, f"{where}.api_key_env") if key_var else "not-needed"
        headers = {
            h: resolve_refs(v, f"{where}.headers.{h}") for h, v in self.config.headers.items()
        }
        return api_key, headers

    async def start(self) -> None:
        api_key, headers = self.credentials()
        if self.config.transport == "sdk":
            import openai

            self._client = openai.AsyncOpenAI(
                api_key=api_key,
                base_url=self.base_url,
                timeout=self.config.timeout,
                max_retries=0,
                default_headers=headers or None,
            )
            return
        status_detail: Callable[[int, bytes], str] | None = None
        if self.mode == "perplexity":  # a refusal of echo quotes the server's own words
            from tunegate.models.logprobs import completions_status_detail

            status_detail = completions_status_detail
        self._transport = Transport(
            self.urls,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json", **headers},
            timeout=self.config.timeout,
            connections=self.concurrency,
            status_detail=status_detail,
        )
        await self._transport.start()

    @property
    def takes_seed(self) -> bool:
        """Chat requests take a ``seed``: each of a case's repeats sends its own (unless
        ``params`` fixes one); perplexity requests do not."""
        return self.mode != "perplexity" and "seed" not in self._params

    def identity(self) -> dict[str, Any]:
        # Replicas serve the same model: which one answered does not matter.
        where: str | list[str] = self.base_url if len(self.urls) == 1 else sorted(self.urls)
        return {"type": "openai", "base_url": where, "model": self.config.model}

    def replica_stats(self) -> dict[str, dict[str, Any]]:
        return self._transport.stats() if self._transport is not None else {}

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
            from tunegate.data.bfcl import to_openai_tools

            request["tools"] = to_openai_tools(functions)
        if self._extra:
            request["extra_body"] = self._extra
        return request

    async def send(self, request: dict[str, Any]) -> Completion:
        if request.get("echo_logprobs"):
            return await self._perplexity(request)
        if self._transport is not None:
            body = dict(request)
            body.update(body.pop("extra_body", None) or {})
            reply = await self._transport.request("POST", "/chat/completions", json_body=body)
            return parse_chat(reply.json())
        if self._client is None:
            raise RuntimeError("start() was not called")
        import openai

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
        from tunegate.scoring.text import perplexity_of

        client = self._transport if self._transport is not None else self._client
        if client is None:
            raise RuntimeError("start() was not called")
        text = str(request["prompt"])
        values = await prompt_logprobs(client, str(request["model"]), text)
        scored = [v for v in values if v is not None]
        total = float(sum(scored))
        value = perplexity_of(total, len(scored))
        output = {
            "perplexity": value,
            "n_tokens": len(scored),
            "logprob_sum": total,
            "tokenizer": f"{self.config.model} at {self.base_url}",
        }
        return Completion(text=f"{value:.6g}", output=output, prompt_tokens=len(values))

    async def aclose(self) -> None:
        if self._transport is not None:  # kept: its per-replica stats outlive the session
            await self._transport.aclose()
        if self._client is not None:
            await self._client.close()
            self._client = None


def parse_chat(document: Any) -> Completion:
    """A chat-completions reply (parsed JSON) as a :class:`Completion`, read the way the
    SDK path reads it; a malformed-response error when it has no ``choices[0].message``."""
    try:
        choice = document["choices"][0]
        message = choice["message"]
        text = message.get("content")
        tool_calls = message.get("tool_calls") or None
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TransportError(
            f"malformed response: no choices[0].message ({type(exc).__name__})",
            retryable=True,
            kind="malformed",
        ) from None
    if not isinstance(text, str | None):
        raise TransportError(
            "malformed response: content is not text", retryable=True, kind="malformed"
        )
    usage = document.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    extra: dict[str, Any] = {"finish_reason": choice.get("finish_reason")}
    for key, name in (("model", "served_model"), ("system_fingerprint", "system_fingerprint")):
        if isinstance(document.get(key), str):
            extra[name] = document[key]
    return Completion(
        text=text,
        output={"tool_calls": tool_calls} if isinstance(tool_calls, list) else None,
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        extra=extra,
    )


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
    elif task.kind.chat_system is not None:
        update["system"] = task.kind.chat_system
    if task.prompt is not None or task.kind.standard_prompt:
        update["prompt"] = task.prompt
    return spec.model_copy(update=update) if update else spec


def build(name: str, spec: OpenAIModel, context: BuildContext) -> OpenAIChatBackend:
    """The backend of an OpenAI-compatible model for the suite's task."""
    task = context.suite.task
    if task.target == "reference":  # only a perplexity task has a target
        raise ConfigError(
            f"models.{name}: perplexity of the reference given the input (target: reference) "
            "needs a local model; openai models score the input text"
        )
    mode = "perplexity" if task.kind.backend_mode == "perplexity" else "chat"
    if spec.batch:  # the Batch API: sent by the runner as one batch (docs/cost.md)
        from tunegate.models.openai_batch import build_batch

        return build_batch(
            name, _openai_spec(spec, context.suite), context.shots, tools=task.kind.tools, mode=mode
        )
    return OpenAIChatBackend(
        name, _openai_spec(spec, context.suite), context.shots, tools=task.kind.tools, mode=mode
    )
