"""The lean path (tunegate's HTTP/1.1 client) and the openai SDK path give the same answers
from a real server.

llama-cpp-python's server (started as in ``test_llamacpp.py``) serves Gemma 3 270M at
temperature 0; the same 12 reviews go once through ``transport: sdk`` and once through
the default transport, each run with its own store so that both really reach the
server. The answers, their parse and the token counts must be identical case by case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from models.test_llamacpp import ALIAS, DATA, LlamaServer, cli, llama_server

pytestmark = pytest.mark.llamacpp

__all__ = ["llama_server"]  # the module-scoped server fixture, used below

N = 12
CONFIG = """\
name: llamacpp-transports
seed: 0
dataset: {{path: {data}/test.jsonl, limit: {n}}}
task: {{type: classification, labels: [positive, negative, neutral]}}
models:
  chat:
    type: openai
    model: {alias}
    base_url: {url}/v1
    system: "Classify the sentiment of the following product review. Respond with exactly one word: positive, negative, or neutral."
    params: {{temperature: 0, max_tokens: 3}}
    concurrency: 2
    timeout: 120
{transport}"""


def _run(folder: Path, server: LlamaServer, transport: str | None) -> dict[str, Any]:
    folder.mkdir()
    line = f"    transport: {transport}\n" if transport else ""
    (folder / "tunegate.yaml").write_text(
        CONFIG.format(data=DATA.as_posix(), n=N, alias=ALIAS, url=server.url, transport=line),
        encoding="utf-8",
    )
    served = server.completions_served()
    proc = cli("run", "tunegate.yaml", "--json", "r.json", "--quiet", "--no-gate", cwd=folder)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{server.log_tail()}"
    assert server.completions_served() - served == N  # every case reached the server
    report: dict[str, Any] = json.loads((folder / "r.json").read_text(encoding="utf-8"))
    return report


def test_sdk_and_fast_path_give_identical_answers(
    llama_server: LlamaServer, tmp_path: Path
) -> None:
    sdk = _run(tmp_path / "sdk", llama_server, "sdk")
    fast = _run(tmp_path / "fast", llama_server, None)  # the default: lean
    keys = ("case_id", "answer", "prediction", "correct", "error")
    sdk_rows = sorted(tuple(r[k] for k in keys) for r in sdk["suites"][0]["cases"])
    fast_rows = sorted(tuple(r[k] for k in keys) for r in fast["suites"][0]["cases"])
    assert len(sdk_rows) == N
    assert all(row[-1] is None for row in sdk_rows)  # no errors on either path
    assert sdk_rows == fast_rows
    assert (
        sdk["suites"][0]["models"]["chat"]["metrics"]
        == fast["suites"][0]["models"]["chat"]["metrics"]
    )
