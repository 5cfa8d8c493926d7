"""The requests of a case asked k times: a distinct cache key per repeat (the plain
request's key when k = 1), ``seed + repeat`` where the endpoint takes a seed."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.models.base import cache_keyer
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.runner import repeat_items
from tunegate.runner.records import repeat_id

CASE = Case(id="c1", text="hello", reference="x")


def _key(request: dict[str, Any]) -> str:
    return cache_keyer({"type": "t"})(request)


def test_every_repeat_has_its_own_key_and_seed() -> None:
    backend: Any = SimpleNamespace(takes_seed=True)
    request = {"model": "m", "messages": []}
    items = repeat_items(backend, CASE, request, _key, 3, seed=7)
    assert [i.request["seed"] for i in items] == [7, 8, 9]
    assert len({i.key for i in items}) == 3
    assert _key(request) not in {i.key for i in items}  # k > 1: the repeat is in the key
    assert [i.rid for i in items] == ["c1", "c1#r2", "c1#r3"]
    assert "seed" not in request  # the rendered request is not changed


def test_without_a_seed_the_request_is_sent_as_rendered() -> None:
    backend: Any = SimpleNamespace()  # a python function: no seed parameter
    request = {"input": "hello"}
    items = repeat_items(backend, CASE, request, _key, 2, seed=0)
    assert [i.request for i in items] == [request, request]
    assert items[0].key != items[1].key


def test_openai_chat_takes_a_seed_unless_params_fix_one() -> None:
    chat = OpenAIChatBackend("m", OpenAIModel(type="openai", model="gpt-4o-mini"))
    assert chat.takes_seed
    fixed = OpenAIModel(type="openai", model="gpt-4o-mini", params={"seed": 3})
    assert not OpenAIChatBackend("m", fixed).takes_seed
    ppl = OpenAIChatBackend("m", OpenAIModel(type="openai", model="x"), mode="perplexity")
    assert not ppl.takes_seed


def test_repeat_ids() -> None:
    assert repeat_id("a", 0) == "a"
    assert repeat_id("a", 4) == "a#r5"
