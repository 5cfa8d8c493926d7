"""Local models (``type: hf``): the prompt, labels and mode a suite's task asks of them.

The backend itself lives in :mod:`tunegate.models.hf` (it imports torch, so only
when a local model is built).
"""

from __future__ import annotations

from tunegate.config import HFModel
from tunegate.models.base import Backend
from tunegate.models.prompting import render_template
from tunegate.models.registry import BuildContext

# The default prompts of each task kind are in tunegate.tasks (TaskKind.local_prompt).


def build(name: str, spec: HFModel, context: BuildContext) -> Backend:
    """The backend of a local model for the suite's task (its prompt, labels and mode)."""
    from tunegate.models.hf import HFBackend  # imports torch: only when a local model is used

    task, shots = context.suite.task, context.shots
    kind = task.kind
    prompt = task.prompt or kind.local_prompt or spec.prompt
    if shots and prompt is not None:
        prefix = "".join(f"{render_template(prompt, s)} {s.reference}\n\n" for s in shots)
        prompt = "{% raw %}" + prefix + "{% endraw %}" + prompt
    backend = HFBackend(
        name,
        path=spec.path,
        gguf_file=spec.gguf_file,
        gguf=spec.gguf,
        adapter=spec.adapter,
        prompt=prompt,
        labels=task.label_list or None,
        mode=kind.backend_mode,
        batch_size=spec.batch_size,
        threads=spec.threads,
        dtype=spec.dtype,
        max_new_tokens=spec.max_new_tokens,
        stop=spec.stop,
        trained_prompt_warning=kind.needs_labels,
        perplexity_of=task.target,
    )
    return backend  # HFBackend implements every member of the Backend protocol itself
