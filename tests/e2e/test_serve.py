"""The tutorial's setup with a real model: the fine-tuned Gemma behind POST /classify
(examples/sentiment/serve.py, a real uvicorn server), evaluated through the http backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from servers import serve

from tunegate.config import load_config
from tunegate.models.hf import HFBackend
from tunegate.pipeline.flow import RunOptions, run

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "sentiment"


def test_served_adapter_is_evaluated_like_the_local_backend(
    adapter_backend: HFBackend, tmp_path: Path
) -> None:
    from tunegate.examples.sentiment.serve import create_app

    with serve(create_app(adapter_backend)) as url:
        reply = httpx.post(f"{url}/classify", json={"text": "Broke on day two. Avoid."}, timeout=60)
        assert reply.status_code == 200
        body = reply.json()
        assert body["label"] in {"positive", "negative", "neutral"}
        assert set(body["logprobs"]) == {"positive", "negative", "neutral"}
        assert body["label"] == max(body["logprobs"], key=body["logprobs"].get)

        config = tmp_path / "tunegate.yaml"
        config.write_text(
            f"""
name: serve
dataset: {{path: {EXAMPLE / "data" / "test.jsonl"}, limit: 24}}
task: {{type: classification, labels: [positive, negative, neutral]}}
models:
  served:
    type: http
    url: {url}/classify
    body: {{text: "{{{{ input }}}}"}}
    response: label
    concurrency: 4
store: {tmp_path / "t.db"}
""",
            encoding="utf-8",
        )
        result = run(load_config(config), RunOptions())

    served = {row.case_id: row.prediction for row in result.cases}
    assert len(served) == 24
    assert result.models["served"].errors == 0
    # The same cases through the local backend directly give the same labels.
    cases = [json.loads(line) for line in (EXAMPLE / "data" / "test.jsonl").open()][:24]
    requests = [
        {
            "prompt": adapter_backend.prompt.replace("{{ input }}", c["messages"][1]["content"]),
            "labels": ["positive", "negative", "neutral"],
            "mode": "classify",
        }
        for c in cases
    ]
    direct = asyncio.run(adapter_backend.send_batch(requests))
    assert [served[c["id"]] for c in cases] == [getattr(d, "text", None) for d in direct]
    # A fine-tuned model that learned something: well above chance on these cases.
    assert result.models["served"].metrics["accuracy"].value >= 0.6
