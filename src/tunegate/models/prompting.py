"""Prompt construction for chat backends: templates, system prompts and k-shot examples."""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from tunegate.data import Case, Message

if TYPE_CHECKING:
    import jinja2

# jinja2 and numpy are imported on first use: neither is needed for `tunegate --help`,
# nor numpy before a run's first request (it draws k-shot examples only).


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


@functools.lru_cache(maxsize=256)
def _compile(template: str) -> jinja2.Template:
    return _environment().from_string(template)


def render_template(template: str, case: Case) -> str:
    """Render a ``{{ input }}`` template for ``case``.

    Available names: ``input`` (the case text), ``id``, ``category`` and every
    metadata field.
    """
    return _compile(template).render(
        **case.metadata, input=case.text, id=case.id, category=case.category
    )


def check_template(template: str) -> str | None:
    """A syntax error message for ``template``, or None when it compiles."""
    import jinja2

    try:
        _compile(template)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (line {exc.lineno})"
    return None


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
