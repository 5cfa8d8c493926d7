"""Scorer values that refer to the case: ``{type: contains, value: "{{ reference }}"}``.

A ``contains`` / ``equals`` / ``regex`` value holding ``{{`` or ``{%`` is a Jinja2
template, rendered for each case with strict undefined names (as prompts are):
``reference``, ``input``, ``id``, ``category``, ``metadata`` (the case's metadata as a
mapping) and every metadata field by its name. In a ``regex`` value whatever a
template inserts is escaped (:func:`re.escape`): a reference ``"3.5"`` matches the
text ``3.5`` only, never ``3x5``; the pattern written around it stays a pattern.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tunegate import templates
from tunegate.data import Case
from tunegate.templates import is_template

if TYPE_CHECKING:
    from tunegate.config.scorers import ScorerConfig

__all__ = ["NAMES", "is_template", "render_value", "value_problems"]

#: The names every scorer value template can use (plus each metadata field).
NAMES = templates.VALUE_NAMES


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
    return templates.render(template, _context(case), regex=regex)


def _templated(scorers: Iterable[object]) -> Iterable[tuple[int, ScorerConfig, str]]:
    from tunegate.config.scorers import ScorerConfig

    for i, sc in enumerate(scorers):
        value = getattr(sc, "value", None)
        if isinstance(sc, ScorerConfig) and isinstance(value, str) and is_template(value):
            yield i, sc, value


def _problem(key: str, value: str, regex: bool, case: Case, suite: str) -> str | None:
    """Why ``value`` cannot be rendered (or, for ``regex``, compiled) for ``case``."""
    problem = templates.check(
        value,
        _context(case),
        key=key,
        case_id=case.id,
        suite=suite,
        known=[*NAMES, *sorted(case.metadata)],
        what="a scorer value",
        regex=regex,
    )
    if problem is not None or not regex:
        return problem
    rendered = render_value(value, case, regex=True)
    try:
        re.compile(rendered)
    except re.error as exc:
        return (
            f"{key}: rendered for case {case.id!r}, {rendered!r} is not a valid "
            f"regular expression: {exc}"
        )
    return None


def value_problems(
    scorers: Sequence[object], where: str, cases: Sequence[Case], suite: str
) -> list[str]:
    """Why a templated scorer value cannot be rendered (or, for ``regex``, compiled) for
    the cases: one message per scorer, naming its key (``where.scorers[0].value``)."""
    problems: list[str] = []
    for i, sc, value in _templated(scorers):
        key = f"{where}.scorers[{i}].value"
        regex = sc.type == "regex"
        syntax = templates.syntax_problem(value)
        if syntax is not None:
            problems.append(f"{key}: {syntax}")
            continue
        problem = next(
            (p for case in cases if (p := _problem(key, value, regex, case, suite)) is not None),
            None,
        )
        if problem is not None:
            problems.append(problem)
    return problems
