"""The prompt as actually sent, stored once where shared: what every request of a model
starts with (system message, k-shot examples) once per model, and per case only the
turns that differ from the case's input; models sent the case itself are not listed."""

from __future__ import annotations

from typing import Any

from tunegate.data import Case
from tunegate.pipeline.facts import prompts_sent

SHOTS = [
    {"role": "user", "content": "Q: 1+1?"},
    {"role": "assistant", "content": "2"},
]


class Chat:
    """A backend that renders like a chat model with a system prompt and two shots."""

    def __init__(self, template: str | None) -> None:
        self.template = template

    def render(self, case: Case) -> dict[str, Any]:
        user = self.template.format(case.text) if self.template else case.text
        return {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                *SHOTS,
                {"role": "user", "content": user},
            ],
        }


class Function:
    def render(self, case: Case) -> dict[str, Any]:
        return {"input": case.text}


def test_shared_parts_once_and_only_the_turns_that_differ() -> None:
    cases = [Case(id=f"c{i}", text=f"{i}+{i}?", reference=str(2 * i)) for i in range(3)]
    sent = prompts_sent(
        [("main", cases, {"templated": Chat("Q: {}"), "plain": Chat(None), "fn": Function()})]
    )["main"]
    assert set(sent) == {"templated", "plain"}  # a function is sent the case itself
    for name in ("templated", "plain"):
        assert sent[name]["shared"] == [{"role": "system", "content": "Be brief."}, *SHOTS]
    assert sent["templated"]["turns"] == {
        f"c{i}": [{"role": "user", "content": f"Q: {i}+{i}?"}] for i in range(3)
    }
    assert sent["plain"]["turns"] == {}  # the input itself: the report shows it already


def test_a_single_case_keeps_its_own_turn() -> None:
    cases = [Case(id="only", text="hi", reference="x")]
    sent = prompts_sent([("main", cases, {"m": Chat("Say: {}")})])["main"]["m"]
    assert sent["shared"] == [{"role": "system", "content": "Be brief."}, *SHOTS]
    assert sent["turns"] == {"only": [{"role": "user", "content": "Say: hi"}]}


class TextPrompt:
    """A local model sent a rendered text prompt (no chat messages)."""

    def __init__(self, template: str) -> None:
        self.template = template

    def render(self, case: Case) -> dict[str, Any]:
        return {"prompt": self.template.format(case.text), "labels": [], "mode": "generate"}


def test_a_text_prompt_is_kept_only_when_it_is_more_than_the_input() -> None:
    cases = [Case(id="a", text="hello", reference="x"), Case(id="b", text="bye", reference="y")]
    sent = prompts_sent(
        [("main", cases, {"plain": TextPrompt("{}"), "framed": TextPrompt("Say: {}")})]
    )["main"]
    assert sent["plain"] == {"shared": [], "turns": {}}
    assert sent["framed"]["turns"]["b"] == [{"role": "prompt", "content": "Say: bye"}]
