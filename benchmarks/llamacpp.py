"""Throughput of tunegate against a real server: llama-cpp-python's, serving Gemma 3 270M.

Run: ``.venv/bin/python benchmarks/llamacpp.py [--n 60] [--concurrency 2] [--rounds 1]``

Starts ``python -m llama_cpp.server`` as the tests marked ``llamacpp`` do
(:func:`tunegate.testing.llamacpp.start_llama_server`: the packaged GGUF, one thread,
``n_ctx`` 2048), then sends the same ``--n`` distinct product reviews (tunegate's
bundled sentiment examples, ``test.jsonl``; the system prompt of
``tests/models/test_llamacpp_transports.py``, temperature 0, ``max_tokens`` 3) at
concurrency ``--concurrency`` through

- ``aiohttp``: a plain ``aiohttp`` session + ``asyncio.Semaphore(C)`` loop;
- ``sdk loop``: a bare ``AsyncOpenAI`` client (``max_retries=0``) + semaphore;
- ``tunegate lean`` / ``tunegate sdk``: ``tunegate run`` as a whole process (start to
  JSON report written, fresh store each time) with ``transport: lean`` and ``sdk``.

The loops send the very requests tunegate renders (:func:`tunegate.models.prompting.chat_messages`).
Prints requests/s, the ratio to the aiohttp loop, the client's CPU ms per request
(tunegate: its whole process) and the server's, then whether the two tunegate runs gave
identical answers case by case and how many requests each sent (its report) and the
server logged.

The server needs about 0.3 s of CPU per request on its one thread, so it sets the pace;
on a shared machine one pass per tool varies by about 10% with the load and the order of
the passes: ``--rounds R`` runs every tool R times, rotating their order, and shows
medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
from throughput import TIMEOUT, TUNEGATE

from tunegate.data import load_cases
from tunegate.models.hf import resolve_gguf
from tunegate.models.prompting import chat_messages
from tunegate.testing.llamacpp import LlamaServer, start_llama_server

DATA = Path(__file__).resolve().parents[1] / "src" / "tunegate" / "examples" / "sentiment" / "data"
LABELS = ["positive", "negative", "neutral"]
ALIAS = "gemma3-270m"
SYSTEM = (
    "Classify the sentiment of the following product review. "
    "Respond with exactly one word: positive, negative, or neutral."
)
PARAMS: dict[str, Any] = {"temperature": 0, "max_tokens": 3}

CONFIG = """\
name: llamacpp-benchmark
seed: 0
dataset: {{path: {data}/test.jsonl, limit: {n}}}
task: {{type: classification, labels: [positive, negative, neutral]}}
models:
  chat:
    type: openai
    model: {alias}
    base_url: {url}/v1
    system: "{system}"
    params: {{temperature: 0, max_tokens: 3}}
    concurrency: {concurrency}
    timeout: 120
    transport: {transport}
"""

Answers = dict[str, str | None]  # case id -> the answer's text (None: no answer)


@dataclass
class Pass:
    """One tool's pass over the cases."""

    seconds: float
    client_cpu_s: float
    server_cpu_s: float
    answers: Answers
    served: int  # POSTs the server logged during the pass
    sent: int | None = None  # requests tunegate's report says it sent
    retries: int | None = None
    phase_s: float | None = None  # tunegate's request phase (the runner's wall time)


def requests_of(n: int) -> dict[str, dict[str, Any]]:
    """The chat requests tunegate renders for the first ``n`` cases, by case id."""
    cases = load_cases(DATA / "test.jsonl", labels=LABELS, limit=n)
    if len(cases) < n:
        raise SystemExit(f"--n {n}: the bundled examples hold {len(cases)} cases")
    return {
        case.id: {"model": ALIAS, "messages": chat_messages(case, system=SYSTEM), **PARAMS}
        for case in cases
    }


def server_cpu(server: LlamaServer) -> float:
    """The server process's CPU seconds so far (all its threads), from ``/proc``."""
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def aiohttp_loop(url: str, requests: dict[str, dict[str, Any]], concurrency: int) -> Answers:
    """A plain aiohttp session and a semaphore."""
    gate = asyncio.Semaphore(concurrency)
    answers: Answers = {}
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(case_id: str, body: dict[str, Any]) -> None:
            async with gate:
                try:
                    async with session.post(f"{url}/v1/chat/completions", json=body) as resp:
                        data = await resp.json()
                        answers[case_id] = data["choices"][0]["message"]["content"]
                except (aiohttp.ClientError, KeyError):
                    answers[case_id] = None

        await asyncio.gather(*(one(i, b) for i, b in requests.items()))
    return answers


async def sdk_loop(url: str, requests: dict[str, dict[str, Any]], concurrency: int) -> Answers:
    """A bare ``AsyncOpenAI`` client and a semaphore."""
    client = openai.AsyncOpenAI(
        api_key="not-needed", base_url=f"{url}/v1", timeout=TIMEOUT, max_retries=0
    )
    gate = asyncio.Semaphore(concurrency)
    answers: Answers = {}

    async def one(case_id: str, body: dict[str, Any]) -> None:
        async with gate:
            try:
                response = await client.chat.completions.create(**body)
                answers[case_id] = response.choices[0].message.content
            except openai.OpenAIError:
                answers[case_id] = None

    await asyncio.gather(*(one(i, b) for i, b in requests.items()))
    await client.close()
    return answers


Loop = Callable[[str, dict[str, dict[str, Any]], int], Coroutine[Any, Any, Answers]]


def loop_pass(
    loop: Loop, server: LlamaServer, requests: dict[str, dict[str, Any]], concurrency: int
) -> Pass:
    served, server_before = server.completions_served(), server_cpu(server)
    cpu, started = time.process_time(), time.perf_counter()
    answers = asyncio.run(loop(server.url, requests, concurrency))
    seconds, client_cpu = time.perf_counter() - started, time.process_time() - cpu
    return Pass(
        seconds,
        client_cpu,
        server_cpu(server) - server_before,
        answers,
        server.completions_served() - served,
    )


def tunegate_pass(server: LlamaServer, n: int, concurrency: int, transport: str) -> Pass:
    """``tunegate run`` as a whole process with a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "tunegate.yaml"
        config.write_text(
            CONFIG.format(
                data=DATA.as_posix(),
                n=n,
                alias=ALIAS,
                url=server.url,
                system=SYSTEM,
                concurrency=concurrency,
                transport=transport,
            ),
            encoding="utf-8",
        )
        report = folder / "r.json"
        command = [str(TUNEGATE), "run", str(config), "--store", str(folder / "t.db")]
        command += ["--json", str(report), "--no-gate", "-q"]
        served, server_before = server.completions_served(), server_cpu(server)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode not in (0, 1):
            raise RuntimeError(f"tunegate run failed ({done.returncode}): {done.stderr[-2000:]}")
        data = json.loads(report.read_text(encoding="utf-8"))
    suite = data["suites"][0]
    stats = suite["models"]["chat"]
    if stats["errors"]:
        raise RuntimeError(f"tunegate ({transport}): {stats['errors']} of {n} cases failed")
    return Pass(
        seconds,
        after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime,
        server_cpu(server) - server_before,
        {row["case_id"]: row["answer"] for row in suite["cases"]},
        server.completions_served() - served,
        sent=int(stats["run"]["sent"]),
        retries=int(stats["run"]["retries"]),
        phase_s=float(stats["run"]["wall_s"]),
    )


def differences(a: Answers, b: Answers) -> list[str]:
    """The case ids whose answers differ (or that only one side has)."""
    return sorted(i for i in a.keys() | b.keys() if a.get(i, "<missing>") != b.get(i, "<missing>"))


TOOLS = ("aiohttp", "sdk loop", "tunegate lean", "tunegate sdk")


def one_pass(tool: str, server: LlamaServer, requests: dict[str, dict[str, Any]], c: int) -> Pass:
    if tool == "aiohttp":
        return loop_pass(aiohttp_loop, server, requests, c)
    if tool == "sdk loop":
        return loop_pass(sdk_loop, server, requests, c)
    return tunegate_pass(server, len(requests), c, tool.removeprefix("tunegate "))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="distinct review cases per pass")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="passes per tool, the order of the tools rotated each round (medians shown)",
    )
    args = parser.parse_args()
    n, c = args.n, args.concurrency
    requests = requests_of(n)
    load_before = os.getloadavg()
    started = time.perf_counter()
    passes: dict[str, list[Pass]] = {tool: [] for tool in TOOLS}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_llama_server(resolve_gguf(ALIAS), Path(tmp) / "server.log", alias=ALIAS)
        try:
            warm = dict(list(requests.items())[:2])  # the model's first request; imports
            asyncio.run(aiohttp_loop(server.url, warm, c))
            asyncio.run(sdk_loop(server.url, warm, c))
            for r in range(args.rounds):
                for tool in TOOLS[r % len(TOOLS) :] + TOOLS[: r % len(TOOLS)]:
                    passes[tool].append(one_pass(tool, server, requests, c))
        finally:
            server.stop()
    load_after = os.getloadavg()
    import llama_cpp

    print(
        f"{n} review cases per pass, concurrency {c}, {args.rounds} round(s); llama-cpp-python"
        f" {llama_cpp.__version__} server (Gemma 3 270M Q4_K_M, 1 thread, its own process);"
        f" temperature 0, max_tokens 3; Python {sys.version.split()[0]},"
        f" aiohttp {aiohttp.__version__}, openai {openai.__version__}, {os.cpu_count()} CPUs;"
        f" load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        f" (the machine is shared); {time.perf_counter() - started:.0f} s in all"
    )
    print("tool | requests/s | ratio to aiohttp | client CPU ms/req | server CPU ms/req")
    print("--- | --- | --- | --- | ---")
    base = statistics.median(n / p.seconds for p in passes["aiohttp"])
    for tool, runs in passes.items():
        rate = statistics.median(n / p.seconds for p in runs)
        client = statistics.median(p.client_cpu_s for p in runs) * 1000 / n
        server_ms = statistics.median(p.server_cpu_s for p in runs) * 1000 / n
        whole = " (whole process)" if tool.startswith("tunegate") else ""
        print(f"{tool} | {rate:.2f} | {rate / base:.2f} | {client:.2f}{whole} | {server_ms:.1f}")
    for tool in ("tunegate lean", "tunegate sdk"):
        runs = passes[tool]
        phase = statistics.median(n / (p.phase_s or p.seconds) for p in runs)
        outside = statistics.median(p.seconds - (p.phase_s or p.seconds) for p in runs)
        sent = "/".join(str(p.sent) for p in runs)
        served = "/".join(str(p.served) for p in runs)
        retries = sum(p.retries or 0 for p in runs)
        print(
            f"{tool}: request phase {phase:.2f} requests/s ({outside:.2f} s of the process"
            f" outside it); sent {sent} requests ({retries} retries), the server logged {served}"
        )
    reference = passes["tunegate lean"][0].answers
    diff = sorted({i for p in passes["tunegate sdk"] for i in differences(reference, p.answers)})
    verdict = "identical" if not diff else f"DIFFERENT on {len(diff)} ({', '.join(diff[:5])})"
    print(f"tunegate lean vs sdk answers, case by case: {verdict} ({len(reference)} cases)")
    for tool in ("tunegate lean", "aiohttp", "sdk loop"):
        runs = passes[tool][1:] if tool == "tunegate lean" else passes[tool]
        if not runs:
            continue
        other = {i for p in runs for i in differences(reference, p.answers)}
        same = "same" if not other else f"{len(other)} differ"
        served = "/".join(str(p.served) for p in runs)
        print(f"{tool} answers vs the first tunegate lean run: {same}; the server logged {served}")


if __name__ == "__main__":
    main()
