"""Reusing stored answers when several cases send the very same request."""

from __future__ import annotations

from servers import openai_app, serve

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.runner import RetryPolicy, run_models
from tunegate.store import Store


def _case(case_id: str, text: str) -> Case:
    return Case(
        id=case_id,
        text=text,
        reference="positive",
        messages=({"role": "user", "content": text},),
    )


async def test_identical_requests_reused_keep_their_own_cases(store: Store) -> None:
    # Three cases, two of which render the same request (the same text under two ids).
    cases = [_case("a", "great"), _case("b", "great"), _case("c", "awful")]
    policy = RetryPolicy(base_delay=0.01, max_delay=0.05)
    with serve(openai_app(lambda messages: "positive")) as url:
        backend = OpenAIChatBackend(
            "m", OpenAIModel(type="openai", model="toy", base_url=f"{url}/v1")
        )
        first = store.start_run("t", {}, 0)
        await run_models({"m": backend}, cases, store, first, policy=policy)
        second = store.start_run("t", {}, 0)
        runs = await run_models({"m": backend}, cases, store, second, policy=policy)
    reused = runs["m"].responses
    assert [r.case_id for r in reused] == ["a", "b", "c"]
    assert all(r.cached for r in reused)
    stored = sorted(r.case_id for r in store.responses(second))
    assert stored == ["a", "b", "c"]
