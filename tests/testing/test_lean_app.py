"""The lean benchmark endpoint answers like the FastAPI one (same toy model, same JSON)."""

from __future__ import annotations

import time

import httpx
import openai

from tunegate.testing.apps import openai_app
from tunegate.testing.lean import lean_openai_app
from tunegate.testing.servers import serve

BODY = {
    "model": "toy",
    "messages": [
        {"role": "system", "content": "Classify the review."},
        {"role": "user", "content": "I love it, it is great"},
    ],
    "n": 2,
}


def test_same_answer_as_the_fastapi_app_and_the_sdk_parses_it() -> None:
    with serve(lean_openai_app()) as lean, serve(openai_app()) as full:
        ours = httpx.post(f"{lean}/v1/chat/completions", json=BODY).json()
        theirs = httpx.post(f"{full}/v1/chat/completions", json=BODY).json()
        client = openai.OpenAI(api_key="x", base_url=f"{lean}/v1", max_retries=0)
        parsed = client.chat.completions.create(model="toy", messages=BODY["messages"])
    for document in (ours, theirs):
        document.pop("id")
        document.pop("created")
    assert ours == theirs
    assert [c["message"]["content"] for c in ours["choices"]] == ["positive", "positive"]
    assert parsed.choices[0].message.content == "positive"
    assert parsed.usage is not None
    assert parsed.usage.completion_tokens == 1


def test_latency_unknown_routes_and_bad_bodies() -> None:
    with serve(lean_openai_app(latency_ms=150)) as url:
        started = time.perf_counter()
        answered = httpx.post(f"{url}/v1/chat/completions", json=BODY)
        elapsed = time.perf_counter() - started
        missing = httpx.get(f"{url}/v1/models")
        bad = httpx.post(f"{url}/v1/chat/completions", content=b"{not json")
        no_messages = httpx.post(f"{url}/v1/chat/completions", json={"model": "toy"})
    assert answered.status_code == 200
    assert elapsed >= 0.15  # the latency is awaited before answering
    assert missing.status_code == 404
    assert bad.status_code == 400
    assert no_messages.status_code == 400
    assert "messages" in no_messages.json()["error"]["message"]
