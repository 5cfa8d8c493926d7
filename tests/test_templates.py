"""tunegate.templates: one sandboxed, strict environment renders and checks prompts, judge
rubrics and scorer values; its messages name the config key and the names a template can use."""

from __future__ import annotations

import jinja2
import pytest

from tunegate import templates
from tunegate.data import Case
from tunegate.models.prompting import render_template
from tunegate.scoring.judge import render_rubric
from tunegate.scoring.values import render_value, value_problems


def _case(**metadata: object) -> Case:
    return Case(id="c1", text="3.5 stars", reference="3.5", metadata=metadata)


def test_render_is_plain_text_strict_and_keeps_the_trailing_newline() -> None:
    out = templates.render("<b>{{ input }}</b>\n", {"input": "a & b"})
    assert out == "<b>a & b</b>\n"  # no HTML escaping: the text goes to a model
    with pytest.raises(jinja2.UndefinedError, match="'nope' is undefined"):
        templates.render("{{ nope }}", {"input": "x"})


def test_regex_rendering_escapes_what_is_inserted_not_the_pattern() -> None:
    out = templates.render(r"^\s*{{ reference }}$", {"reference": "3.5"}, regex=True)
    assert out == r"^\s*3\.5$"


@pytest.mark.parametrize(
    "render",
    [
        lambda t: render_template(t, _case()),  # a model prompt
        lambda t: render_rubric(t, input="q", output="a", reference="r"),  # a judge rubric
        lambda t: render_value(t, _case()),  # a scorer value
    ],
    ids=["prompt", "rubric", "value"],
)
def test_every_kind_of_template_is_sandboxed(render: object) -> None:
    """Python internals are out of reach of every template (an unsandboxed environment
    renders ``(<class 'str'>, <class 'object'>)`` here)."""
    with pytest.raises(jinja2.exceptions.SecurityError, match="unsafe"):
        render("{{ input.__class__.__mro__ }}")  # type: ignore[operator]


def test_a_template_cannot_change_the_case_it_reads() -> None:
    case = _case(lang="en")
    with pytest.raises(jinja2.exceptions.SecurityError):
        render_value("{{ metadata.update({'lang': 'xx'}) }}", case)
    assert case.metadata == {"lang": "en"}


def test_check_names_the_key_the_case_and_the_known_names() -> None:
    problem = templates.check(
        "{{ input }} {{ review }}",
        {"input": "x", "lang": "en"},
        key="suites[0].task.prompt",
        case_id="c1",
        suite="general",
        known=["input", "lang"],
    )
    assert problem == (
        "suites[0].task.prompt: 'review' is undefined when rendered for case 'c1' of "
        "suite general (a template can use: input, lang)"
    )
    unsafe = templates.check(
        "{{ input.__class__ }}", {"input": "x"}, key="k", case_id="c1", suite="s", known=[]
    )
    assert unsafe == (
        "k: cannot be rendered for case 'c1': access to attribute '__class__' of 'str' "
        "object is unsafe."
    )
    syntax = templates.check("line\n{{ input ", {}, key="k", case_id="c", suite="s", known=[])
    assert syntax is not None
    assert syntax.startswith("k: template syntax error:")
    assert syntax.endswith("(line 2)")
    ok = templates.check("{{ input }}", {"input": "x"}, key="k", case_id="c", suite="s", known=[])
    assert ok is None


def test_scorer_value_problems_go_through_the_same_check() -> None:
    from tunegate.config.scorers import scorer_config

    scorer = scorer_config(type="contains", value="{{ answer }}")
    [problem] = value_problems([scorer], "task", [_case(lang="en")], "main")
    assert problem == (
        "task.scorers[0].value: 'answer' is undefined when rendered for case 'c1' of suite "
        "main (a scorer value can use: reference, input, id, category, metadata, lang)"
    )


@pytest.mark.parametrize(
    ("template", "kind", "problem"),
    [
        ("{{ input }} {{ output }}", "pointwise", None),
        ("{{ output_a }} {{ output_b }}", "pairwise", None),
        ("{{ output }} {{ answer }}", "pointwise", "unknown template names ['answer']"),
        ("{{ input }}", "pointwise", "the rubric must show {{ output }}"),
        ("{{ output_a }}", "pairwise", "the rubric must show {{ output_b }}"),
        ("{{ output ", "pointwise", "template syntax error"),
    ],
)
def test_check_rubric(template: str, kind: str, problem: str | None) -> None:
    found = templates.check_rubric(template, kind)  # type: ignore[arg-type]
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_is_template() -> None:
    assert templates.is_template("{{ reference }}")
    assert templates.is_template("{% if x %}y{% endif %}")
    assert not templates.is_template("plain { text }")
