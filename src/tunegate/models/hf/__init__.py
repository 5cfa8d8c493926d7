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

from tunegate.models.hf.adapter import ADAPTER_META, read_adapter_meta
from tunegate.models.hf.backend import HFBackend, Mode, release_models
from tunegate.models.hf.labels import encode_label, perplexity, split_continuation
from tunegate.models.hf.lm import LocalLM
from tunegate.models.hf.loading import (
    PACKAGED_GGUF,
    Dtype,
    cache_dir,
    load_causal_lm,
    resolve_gguf,
)

__all__ = [
    "ADAPTER_META",
    "PACKAGED_GGUF",
    "Dtype",
    "HFBackend",
    "LocalLM",
    "Mode",
    "cache_dir",
    "encode_label",
    "load_causal_lm",
    "perplexity",
    "read_adapter_meta",
    "release_models",
    "resolve_gguf",
    "split_continuation",
]
