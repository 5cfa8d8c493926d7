"""Every Jinja template tunegate renders, and the checks ``tunegate validate`` runs on them.

Three kinds of user text are templates: model prompts and HTTP bodies (rendered for
each case), judge rubrics (rendered with the answers to grade) and scorer values that
refer to the case (``{type: contains, value: "{{ reference }}"}``). All of them go
through one environment:

* **sandboxed** and immutable (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`):
  a template reads the case, it cannot reach Python internals (``__class__``...) or
  change the case's metadata;
* **strict**: an unknown name is an error naming it, never an empty string;
* plain text: no HTML escaping (the text goes to a model), the trailing newline kept.

A ``regex`` scorer value uses the same environment with every inserted value escaped
(:func:`re.escape`), so a reference ``"3.5"`` matches ``3.5`` only.

jinja2 is imported on first use (``tunegate --help`` does not need it); compiled
templates are cached by their text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "PROMPT_NAMES",
    "RUBRIC_NAMES",
    "VALUE_NAMES",
    "check",
    "check_rubric",
    "is_template",
    "render",
    "syntax_problem",
]

#: The names a prompt or HTTP body template can use (plus each metadata field by name).
PROMPT_NAMES: tuple[str, ...] = ("input", "id", "category")
#: The names a scorer value template can use (plus each metadata field by name).
VALUE_NAMES: tuple[str, ...] = ("reference", "input", "id", "category", "metadata")
#: The names a judge rubric can use, per kind of judge.
RUBRIC_NAMES: dict[str, tuple[str, ...]] = {
    "pointwise": ("input", "output", "reference"),
    "pairwise": ("input", "output_a", "output_b", "reference"),
}
#: The names a rubric must show: a judge that never sees the answer cannot grade it.
_RUBRIC_SHOWS: dict[str, tuple[str, ...]] = {
    "pointwise": ("output",),
    "pairwise": ("output_a", "output_b"),
}


def is_template(value: str) -> bool:
    """Whether a scorer value is a template (holds ``{{`` or ``{%``)."""
    return "{{" in value or "{%" in value


def _escape(value: Any) -> str:
    return re.escape(str(value))


@functools.cache
def _environment(regex: bool) -> jinja2.Environment:
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_escape if regex else None,
    )


@functools.lru_cache(maxsize=512)
def _compiled(template: str, regex: bool) -> jinja2.Template:
    return _environment(regex).from_string(template)


def render(template: str, names: Mapping[str, Any], *, regex: bool = False) -> str:
    """``template`` rendered with ``names`` (``regex``: every inserted value escaped).

    Raises ``jinja2.TemplateSyntaxError`` for a malformed template, ``UndefinedError``
    for an unknown name (or an attribute the sandbox refuses), ``TemplateError`` else.
    """
    return _compiled(template, regex).render(names)


def syntax_problem(template: str) -> str | None:
    """``template syntax error: ... (line N)`` when ``template`` does not compile, else None."""
    import jinja2

    try:
        _compiled(template, False)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (line {exc.lineno})"
    return None


def check(
    template: str,
    names: Mapping[str, Any],
    *,
    key: str,
    case_id: str,
    suite: str,
    known: Sequence[str],
    what: str = "a template",
    regex: bool = False,
) -> str | None:
    """Why ``template`` (the config's ``key``) cannot be rendered for one case, or None.

    ``names`` are the case's names; ``known`` lists them in the message, which starts
    with ``key`` and says what ``what`` (``a template``, ``a scorer value``) can use.
    """
    import jinja2

    problem = syntax_problem(template)
    if problem:
        return f"{key}: {problem}"
    try:
        render(template, names, regex=regex)
    except jinja2.UndefinedError as exc:
        return (
            f"{key}: {exc.message} when rendered for case {case_id!r} of suite {suite} "
            f"({what} can use: {', '.join(known)})"
        )
    except jinja2.TemplateError as exc:
        return f"{key}: cannot be rendered for case {case_id!r}: {exc}"
    return None


def check_rubric(template: str, kind: Literal["pointwise", "pairwise"]) -> str | None:
    """What is wrong with a judge rubric (syntax, unknown names, no output shown), or None.

    Checked without rendering: a rubric's names are the same for every case.
    """
    import jinja2
    from jinja2 import meta

    try:
        parsed = _environment(False).parse(template)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error: {exc.message} (line {exc.lineno})"
    used = meta.find_undeclared_variables(parsed)
    allowed = RUBRIC_NAMES[kind]
    unknown = sorted(used - set(allowed))
    if unknown:
        return f"unknown template names {unknown} (known: {', '.join(allowed)})"
    absent = [n for n in _RUBRIC_SHOWS[kind] if n not in used]
    if absent:
        return "the rubric must show " + " and ".join(f"{{{{ {n} }}}}" for n in absent)
    return None
