"""The :class:`HFBackend`: a local causal LM as the runner's batch backend (renders
prompts, loads the shared model in a worker thread, answers batches by mode)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tunegate.data import Case
from tunegate.errors import BackendError
from tunegate.models.base import Completion, TransportError
from tunegate.models.hf.adapter import ADAPTER_META, _dir_sha256, _dir_size, read_adapter_meta
from tunegate.models.hf.labels import perplexity
from tunegate.models.hf.lm import LocalLM
from tunegate.models.hf.loading import Dtype, resolve_gguf
from tunegate.models.prompting import check_template, render_template

_log = logging.getLogger("tunegate.models.hf")

Mode = Literal["classify", "choice", "generate", "perplexity"]

_LOCAL_COMPUTE = threading.Lock()

# Loaded models, shared by every backend of the process that uses the same weights
# (base zero-shot and base k-shot, or one model in several suites): a load is done
# once per run, not once per backend. Emptied by release_models().
_LOADED: dict[tuple[str, ...], LocalLM] = {}


def release_models() -> None:
    """Forget every loaded local model (frees its memory once no backend holds it)."""
    with _LOCAL_COMPUTE:
        _LOADED.clear()


class HFBackend:
    """A local causal LM (transformers, optional PEFT adapter) as a batch backend.

    Model source: exactly one of ``path`` (checkpoint folder), ``gguf_file`` or ``gguf``
    (a packaged model name); with none given, ``gguf="gemma3-270m"``.

    ``mode="classify"`` scores every label by log-likelihood and answers the most
    likely one (ties go to the first label); ``mode="generate"`` answers the greedy
    continuation, cut at ``stop``.

    When the adapter folder holds ``tunegate.json`` (written by the training
    script), its prompt template and labels are the defaults; a differing prompt or
    label set is kept but reported in :attr:`warnings`.
    """

    # The Backend protocol's optional members: a local model has no timeout, retries,
    # server version or replicas.
    timeout: float | None = None
    max_retries: int | None = 0
    version: str | None = None

    def __init__(
        self,
        name: str,
        *,
        path: str | Path | None = None,
        gguf_file: str | Path | None = None,
        gguf: str | None = None,
        adapter: str | Path | None = None,
        prompt: str | None = None,
        labels: Sequence[str] | None = None,
        mode: Mode = "classify",
        batch_size: int = 8,
        threads: int | None = None,
        dtype: Dtype = "float32",
        max_new_tokens: int = 32,
        stop: Sequence[str] = (),
        prefix_cache: bool = True,
        trained_prompt_warning: bool = True,
        perplexity_of: str = "input",
    ) -> None:
        where = f"models.{name}"
        self.name = name
        self.concurrency = 1
        self.batch_size = max(1, batch_size)
        self.threads = threads or os.cpu_count() or 1
        self.mode: Mode = mode
        self.dtype: Dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.stop = list(stop)
        self.prefix_cache = prefix_cache
        self.warnings: list[str] = []
        self._warn_prompt = trained_prompt_warning
        self.perplexity_of = perplexity_of
        if mode not in ("classify", "choice", "generate", "perplexity"):
            raise BackendError(
                f"{where}.mode: expected 'classify', 'choice', 'generate' or 'perplexity', "
                f"got {mode!r}"
            )
        if dtype not in ("float32", "bfloat16"):
            raise BackendError(f"{where}.dtype: expected 'float32' or 'bfloat16', got {dtype!r}")
        sources = [s for s in (path, gguf_file, gguf) if s is not None]
        if len(sources) > 1:
            raise BackendError(f"{where}: give only one of path, gguf_file and gguf")
        self.path = Path(path).expanduser() if path is not None else None
        self.gguf_file: Path | None = None
        if self.path is None:
            if gguf_file is not None:
                self.gguf_file = Path(gguf_file).expanduser()
                if not self.gguf_file.is_file():
                    raise BackendError(f"{where}.gguf_file: {self.gguf_file} not found")
            else:
                try:
                    self.gguf_file = resolve_gguf(gguf or "gemma3-270m")
                except BackendError as exc:
                    raise BackendError(f"{where}.gguf: {exc}") from None
        elif not (self.path / "config.json").is_file():
            raise BackendError(f"{where}.path: {self.path} is not a checkpoint folder")
        self.adapter = Path(adapter).expanduser() if adapter is not None else None
        meta: dict[str, Any] = {}
        self._adapter_hash: str | None = None
        if self.adapter is not None:
            if not (self.adapter / "adapter_config.json").is_file():
                raise BackendError(
                    f"{where}.adapter: {self.adapter} is not a PEFT adapter folder "
                    "(no adapter_config.json)"
                )
            meta = read_adapter_meta(self.adapter)
            self._adapter_hash = _dir_sha256(self.adapter)
        self.adapter_meta = meta
        self.prompt = self._pick_prompt(where, prompt, meta)
        self.labels = self._pick_labels(where, labels, meta)
        self.lm: LocalLM | None = None
        # One lock for every local model in the process: two models computing at once
        # on the same cores only slow each other down (and double the peak memory).
        self._lock = _LOCAL_COMPUTE

    def _pick_prompt(self, where: str, prompt: str | None, meta: dict[str, Any]) -> str:
        trained = meta.get("prompt")
        if prompt is None:
            if not isinstance(trained, str):
                why = (
                    f"the adapter has no {ADAPTER_META} to take it from"
                    if self.adapter is not None
                    else "there is no adapter to take it from"
                )
                raise BackendError(
                    f"{where}.prompt: needed (a template with {{{{ input }}}}); {why}"
                )
            prompt = trained
        elif isinstance(trained, str) and prompt != trained and self._warn_prompt:
            self.warnings.append(
                f"{where}: the prompt differs from the one the adapter was trained with "
                f"({self.adapter}/{ADAPTER_META}): config {prompt!r}, adapter {trained!r}"
            )
        problem = check_template(prompt)
        if problem:
            raise BackendError(f"{where}.prompt: {problem}")
        return prompt

    def _pick_labels(
        self, where: str, labels: Sequence[str] | None, meta: dict[str, Any]
    ) -> list[str]:
        trained = meta.get("labels")
        trained_labels = [str(x) for x in trained] if isinstance(trained, list) else None
        if labels is None:
            if self.mode == "classify" and trained_labels is None:
                raise BackendError(f"{where}: classify mode needs the task's labels")
            return trained_labels or []
        chosen = [str(x) for x in labels]
        if self.mode == "classify" and not chosen:
            raise BackendError(f"{where}: classify mode needs at least one label")
        if any(not lab for lab in chosen):
            raise BackendError(f"{where}: labels must be non-empty")
        if (
            trained_labels is not None
            and self.mode == "classify"
            and self._warn_prompt
            and sorted(chosen) != sorted(trained_labels)
        ):
            self.warnings.append(
                f"{where}: the task labels {chosen} differ from the adapter's label words "
                f"{trained_labels} ({self.adapter}/{ADAPTER_META})"
            )
        return chosen

    async def start(self) -> None:
        """Load the weights (in a worker thread, so the event loop stays free)."""
        import asyncio  # here: `tunegate validate` builds this backend without a loop

        await asyncio.to_thread(self._load)

    @property
    def tokenizer_name(self) -> str:
        """Whose tokenizer counts the tokens (the model's own: its file or folder name)."""
        source = self.path if self.path is not None else self.gguf_file
        return source.name if source is not None else "?"

    def _load(self) -> LocalLM:
        key = (
            str(self.path or self.gguf_file),
            str(self.adapter),
            self.dtype,
            str(self.threads),
            str(self.prefix_cache),
        )
        with self._lock:
            if self.lm is None:
                lm = _LOADED.get(key)
                if lm is None:
                    started = time.perf_counter()
                    _log.info("%s: loading %s ...", self.name, self.tokenizer_name)
                    lm = LocalLM(
                        self.path,
                        gguf_file=self.gguf_file if self.path is None else None,
                        adapter=self.adapter,
                        dtype=self.dtype,
                        threads=self.threads,
                        prefix_cache=self.prefix_cache,
                    )
                    _log.info("%s: loaded in %.1f s", self.name, time.perf_counter() - started)
                    _LOADED[key] = lm
                self.lm = lm
            return self.lm

    def identity(self) -> dict[str, Any]:
        source = self.path if self.path is not None else self.gguf_file
        assert source is not None
        size = _dir_size(source) if source.is_dir() else source.stat().st_size
        ident: dict[str, Any] = {
            "type": "hf",
            "model_file": source.name,
            "model_size": size,
            "adapter": self.adapter.name if self.adapter is not None else None,
            "adapter_sha256": self._adapter_hash,
            "dtype": self.dtype,
        }
        if self.mode == "generate":
            ident["max_new_tokens"] = self.max_new_tokens
            ident["stop"] = list(self.stop)
        return ident

    def render(self, case: Case) -> dict[str, Any]:
        if self.mode == "choice":
            choices = case.metadata.get("choices")
            if not isinstance(choices, dict) or not choices:
                raise BackendError(f"models.{self.name}: case {case.id!r} has no choices to score")
            return {
                "prompt": render_template(self.prompt, case),
                "labels": [str(v) for v in choices.values()],
                "letters": [str(k) for k in choices],
                "mode": "choice",
            }
        request = {
            "prompt": render_template(self.prompt, case),
            "labels": list(self.labels) if self.mode == "classify" else [],
            "mode": self.mode,
        }
        if self.mode == "perplexity" and self.perplexity_of == "reference":
            request["continuation"] = case.reference
        return request

    async def send(self, request: dict[str, Any]) -> Completion:
        (outcome,) = await self.send_batch([request])
        if isinstance(outcome, TransportError):
            raise outcome
        return outcome

    async def send_batch(self, requests: list[dict[str, Any]]) -> list[Completion | TransportError]:
        import asyncio

        return await asyncio.to_thread(self._answer, requests)

    async def batch_order(self, requests: list[dict[str, Any]]) -> list[int]:
        """Shortest first, in tokens (prompt plus the longest choice for multiple choice):
        batches then pad little. Sorting only within each batch of the runner's took the
        demo's zero-shot model twice as long (17,684 padded tokens for 7,972 real ones)."""
        import asyncio

        return await asyncio.to_thread(self._order, requests)

    def _order(self, requests: list[dict[str, Any]]) -> list[int]:
        lm = self._load()
        sizes = [len(ids) for ids in lm.encode([str(r["prompt"]) for r in requests])]
        for i, request in enumerate(requests):
            if request.get("mode") == "choice" and request.get("labels"):
                sizes[i] += max(len(ids) for ids in lm.encode([str(c) for c in request["labels"]]))
        return sorted(range(len(requests)), key=sizes.__getitem__)

    def _answer(self, requests: list[dict[str, Any]]) -> list[Completion | TransportError]:
        lm = self._load()
        outcomes: list[Completion | TransportError | None] = [None] * len(requests)
        groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for i, req in enumerate(requests):
            mode = str(req.get("mode", self.mode))
            labels = tuple(req.get("labels") or ()) if mode == "classify" else ()
            groups.setdefault((mode, labels), []).append(i)
        for (mode, labels), idx in groups.items():
            prompts = [str(requests[i]["prompt"]) for i in idx]
            try:
                with self._lock:
                    if mode == "choice":
                        answers = self._choose(lm, [requests[i] for i in idx])
                    else:
                        tails = [requests[i].get("continuation") for i in idx]
                        answers = self._run(
                            lm,
                            mode,
                            labels,
                            prompts,
                            [str(t) for t in tails] if all(t is not None for t in tails) else None,
                        )
            except Exception as exc:
                for i in idx:
                    outcomes[i] = TransportError(
                        f"{self.name}: local model failed: {type(exc).__name__}: {exc}",
                        retryable=False,
                    )
                continue
            for i, answer in zip(idx, answers, strict=True):
                outcomes[i] = answer
        return [o for o in outcomes if o is not None]

    def _choose(self, lm: LocalLM, requests: list[dict[str, Any]]) -> list[Completion]:
        """Multiple choice: the most likely choice text after the prompt; answers its letter."""
        prompts = [str(r["prompt"]) for r in requests]
        choices = [[str(c) for c in r["labels"]] for r in requests]
        scores = lm.choice_logprobs(prompts, choices, self.batch_size)
        answers = []
        for req, row, ids in zip(requests, scores, lm.encode(prompts), strict=True):
            letters = [str(x) for x in req.get("letters") or []] or [str(c) for c in req["labels"]]
            best = int(np.argmax(row))
            logprobs = {letter: float(v) for letter, v in zip(letters, row, strict=True)}
            answers.append(
                Completion(
                    text=letters[best],
                    prompt_tokens=len(ids),
                    extra={"choice_logprobs": logprobs},
                )
            )
        return answers

    def _run(
        self,
        lm: LocalLM,
        mode: str,
        labels: tuple[str, ...],
        prompts: list[str],
        continuations: list[str] | None = None,
    ) -> list[Completion]:
        n_tokens = [len(ids) for ids in lm.encode(prompts)]
        if mode == "generate":
            texts = lm.generate(prompts, self.max_new_tokens, self.stop, self.batch_size)
            return [
                Completion(text=t, prompt_tokens=k) for t, k in zip(texts, n_tokens, strict=True)
            ]
        if mode == "perplexity":
            out = []
            if continuations is not None:
                logprobs = lm.continuation_logprobs(prompts, continuations, self.batch_size)
            else:
                logprobs = lm.token_logprobs(prompts, self.batch_size)
            for lps, k in zip(logprobs, n_tokens, strict=True):
                value = perplexity(lps)
                scored: dict[str, Any] = {
                    "perplexity": value,
                    "n_tokens": int(lps.size),
                    "logprob_sum": float(lps.sum()),
                    "tokenizer": self.tokenizer_name,
                }
                out.append(Completion(text=f"{value:.6g}", output=scored, prompt_tokens=k))
            return out
        if not labels:
            raise ValueError("a classify request needs labels")
        scores = lm.label_logprobs(prompts, list(labels), self.batch_size)
        answers = []
        for row, k in zip(scores, n_tokens, strict=True):
            best = labels[int(np.argmax(row))]
            label_lps = {lab: float(v) for lab, v in zip(labels, row, strict=True)}
            answers.append(
                Completion(text=best, prompt_tokens=k, extra={"label_logprobs": label_lps})
            )
        return answers

    def replica_stats(self) -> dict[str, dict[str, Any]]:
        """No replicas to report on (one model in this process)."""
        return {}

    async def aclose(self) -> None:
        self.lm = None
