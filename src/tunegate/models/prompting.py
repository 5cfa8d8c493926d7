"""Prompt construction for chat backends: templates, system prompts and k-shot examples."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from tunegate import templates
from tunegate.data import Case, Message

# numpy is imported on first use: it is not needed before a run's first request (it
# draws k-shot examples only); jinja2 loads in tunegate.templates on first render.


def prompt_names(case: Case) -> dict[str, Any]:
    """What a prompt template can use for ``case``: ``input`` (the case text), ``id``,
    ``category`` and every metadata field (see :data:`tunegate.templates.PROMPT_NAMES`)."""
    return {**case.metadata, "input": case.text, "id": case.id, "category": case.category}


def render_template(template: str, case: Case) -> str:
    """Render a ``{{ input }}`` template for ``case``.

    Available names: ``input`` (the case text), ``id``, ``category`` and every
    metadata field.
    """
    return templates.render(template, prompt_names(case))


def check_template(template: str) -> str | None:
    """A syntax error message for ``template``, or None when it compiles."""
    return templates.syntax_problem(template)


def template_problem(key: str, template: str, case: Case, suite: str) -> str | None:
    """Why the prompt ``template`` (the config's ``key``) cannot be rendered for ``case``
    of ``suite`` (a syntax error, an undefined name), or None."""
    return templates.check(
        template,
        prompt_names(case),
        key=key,
        case_id=case.id,
        suite=suite,
        known=[*templates.PROMPT_NAMES, *sorted(case.metadata)],
    )


def draw_shots(
    pool: Sequence[Case], k: int, seed: int, exclude: Collection[str] = ()
) -> list[Case]:
    """Draw ``k`` examples from ``pool`` without replacement, seeded.

    Examples whose text is in ``exclude`` (the test inputs) are never drawn, so a
    test case cannot see its own answer.
    """
    eligible = [c for c in pool if c.text not in exclude]
    if len(eligible) < k:
        raise ValueError(f"needs {k} examples but only {len(eligible)} are available")
    import numpy as np

    rng = np.random.default_rng(seed)
    picks = rng.choice(len(eligible), size=k, replace=False)
    return [eligible[int(i)] for i in picks]


def chat_messages(
    case: Case,
    *,
    system: str | None = None,
    prompt: str | None = None,
    shots: Sequence[Case] = (),
) -> list[Message]:
    """The chat messages for ``case``.

    The case's own conversation is kept, except that ``system`` (when given)
    replaces its system message and ``prompt`` (when given) re-renders its last
    user turn. Shots become user/assistant pairs between the system message and
    the conversation, rendered with the same ``prompt``.
    """
    convo = case.chat
    own_system = [m for m in convo if m["role"] == "system"]
    rest = [m for m in convo if m["role"] != "system"]
    if prompt is not None:
        last_user = max(i for i, m in enumerate(rest) if m["role"] == "user")
        rest[last_user] = {"role": "user", "content": render_template(prompt, case)}
    messages: list[Message] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    else:
        messages.extend(own_system)
    for shot in shots:
        user = render_template(prompt, shot) if prompt is not None else shot.text
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": shot.reference})
    messages.extend(rest)
    return messages
