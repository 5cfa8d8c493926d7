"""tunegate.models.prompting: templates, template errors, seeded shots, chat messages."""

from __future__ import annotations

import numpy as np
import pytest

from tunegate.data import Case
from tunegate.models.prompting import (
    chat_messages,
    check_template,
    draw_shots,
    render_template,
)


def _case(i: int, **extra: object) -> Case:
    return Case(id=f"c{i}", text=f"text {i}", reference=f"ref {i}", **extra)  # type: ignore[arg-type]


def test_render_template_sees_input_id_category_and_metadata() -> None:
    case = _case(1, category="books", metadata={"lang": "fr"})
    out = render_template("[{{ id }}|{{ category }}|{{ lang }}] {{ input }}", case)
    assert out == "[c1|books|fr] text 1"


def test_an_unknown_template_name_is_an_error_not_an_empty_string() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="nope"):
        render_template("{{ nope }}", _case(1))


def test_check_template_names_the_syntax_error_and_its_line() -> None:
    assert check_template("{{ input }}") is None
    message = check_template("line one\n{{ input ")
    assert message is not None
    assert message.startswith("template syntax error: ")
    assert message.endswith("(line 2)")


def test_draw_shots_is_seeded_without_replacement_and_skips_test_inputs() -> None:
    pool = [_case(i) for i in range(10)]
    first = draw_shots(pool, 3, seed=7, exclude={"text 0", "text 1"})
    assert first == draw_shots(pool, 3, seed=7, exclude={"text 0", "text 1"})
    eligible = pool[2:]
    picks = np.random.default_rng(7).choice(len(eligible), size=3, replace=False)
    assert first == [eligible[int(i)] for i in picks]
    assert len({c.id for c in first}) == 3
    assert not {"c0", "c1"} & {c.id for c in first}
    with pytest.raises(ValueError, match="needs 9 examples but only 8 are available"):
        draw_shots(pool, 9, seed=0, exclude={"text 0", "text 1"})


def test_chat_messages_single_turn_with_system_and_shots() -> None:
    shots = [_case(8), _case(9)]
    messages = chat_messages(_case(1), system="Be brief.", prompt="Q: {{ input }}", shots=shots)
    assert messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: text 8"},
        {"role": "assistant", "content": "ref 8"},
        {"role": "user", "content": "Q: text 9"},
        {"role": "assistant", "content": "ref 9"},
        {"role": "user", "content": "Q: text 1"},
    ]


def test_chat_messages_keep_the_conversation_and_replace_only_what_is_given() -> None:
    convo = (
        {"role": "system", "content": "own system"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": "text 1"},
    )
    case = _case(1, messages=convo)
    assert chat_messages(case) == list(convo)
    replaced = chat_messages(case, system="new system", prompt=">> {{ input }}")
    assert replaced == [
        {"role": "system", "content": "new system"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {"role": "user", "content": ">> text 1"},
    ]
    # The case itself is not changed.
    assert case.messages == convo
