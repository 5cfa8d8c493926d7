"""Scorer values that refer to the case: ``{type: contains, value: "{{ reference }}"}``.

A ``contains`` / ``equals`` / ``regex`` value holding ``{{`` or ``{%`` is a Jinja2
template, rendered for each case with strict undefined names (as prompts are):
``reference``, ``input``, ``id``, ``category``, ``metadata`` (the case's metadata as a
mapping) and every metadata field by its name. In a ``regex`` value whatever a
template inserts is escaped (:func:`re.escape`): a reference ``"3.5"`` matches the
text ``3.5`` only, never ``3x5``; the pattern written around it stays a pattern.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tunegate.data import Case

if TYPE_CHECKING:
    import jinja2

    from tunegate.config.scorers import ScorerConfig

__all__ = ["NAMES", "is_template", "render_value", "value_problems"]

#: The names every scorer value template can use (plus each metadata field).
NAMES = ("reference", "input", "id", "category", "metadata")


def is_template(value: str) -> bool:
    """Whether a scorer value is a template (holds ``{{`` or ``{%``)."""
    return "{{" in value or "{%" in value


def _escape_output(value: Any) -> str:
    return re.escape(str(value))


@functools.cache
def _environment(regex: bool) -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_escape_output if regex else None,
    )


@functools.lru_cache(maxsize=256)
def _compile(template: str, regex: bool) -> jinja2.Template:
    return _environment(regex).from_string(template)


def _context(case: Case) -> dict[str, Any]:
    return {
        **case.metadata,
        "metadata": case.metadata,
        "reference": case.reference,
        "input": case.text,
        "id": case.id,
        "category": case.category,
    }


def render_value(template: str, case: Case, *, regex: bool = False) -> str:
    """``template`` rendered for ``case`` (``regex``: inserted text escaped).

    Raises ``jinja2.UndefinedError`` for an unknown name, ``TemplateSyntaxError`` for
    a malformed template.
    """
    return _compile(template, regex).render(_context(case))


def _templated(scorers: Iterable[object]) -> Iterable[tuple[int, ScorerConfig, str]]:
    from tunegate.config.scorers import ScorerConfig

    for i, sc in enumerate(scorers):
        value = getattr(sc, "value", None)
        if isinstance(sc, ScorerConfig) and isinstance(value, str) and is_template(value):
            yield i, sc, value


def value_problems(
    scorers: Sequence[object], where: str, cases: Sequence[Case], suite: str
) -> list[str]:
    """Why a templated scorer value cannot be rendered (or, for ``regex``, compiled) for
    the cases: one message per scorer, naming its key (``where.scorers[0].value``)."""
    import jinja2

    problems: list[str] = []
    for i, sc, value in _templated(scorers):
        key = f"{where}.scorers[{i}].value"
        regex = sc.type == "regex"
        try:
            _compile(value, regex)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{key}: template syntax error: {exc.message} (line {exc.lineno})")
            continue
        for case in cases:
            try:
                rendered = render_value(value, case, regex=regex)
                if regex:
                    re.compile(rendered)
            except jinja2.UndefinedError as exc:
                names = ", ".join([*NAMES, *sorted(case.metadata)])
                problems.append(
                    f"{key}: {exc.message} when rendered for case {case.id!r} of suite "
                    f"{suite} (a scorer value can use: {names})"
                )
                break
            except jinja2.TemplateError as exc:
                problems.append(f"{key}: cannot be rendered for case {case.id!r}: {exc}")
                break
            except re.error as exc:
                problems.append(
                    f"{key}: rendered for case {case.id!r}, {rendered!r} is not a valid "
                    f"regular expression: {exc}"
                )
                break
    return problems
