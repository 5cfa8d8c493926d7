"""Throughput of tunegate (whole process) next to a plain aiohttp loop and the bare openai SDK.

Run: ``.venv/bin/python benchmarks/throughput.py [--n 5000] [--concurrency 32 128]
[--latency-ms 50] [--transport lean|sdk] [--server lean|fastapi]``

Starts a loopback OpenAI-compatible server (:mod:`tunegate.testing.servers`) in a
subprocess answering after ``--latency-ms`` (``--server lean``, the default: a bare
ASGI app under uvicorn, so that the server is not what limits the clients; ``fastapi``:
the test-suite's app), then for each concurrency C measures requests/s over ``--n``
distinct chat cases of

- ``limit``: C / latency (every slot always busy, zero overhead);
- ``aiohttp``: a plain ``aiohttp`` session + ``asyncio.Semaphore(C)`` loop;
- ``sdk``: a bare ``AsyncOpenAI`` client (``max_retries=0``) + semaphore;
- ``tunegate``: ``tunegate run`` as a whole process (start to JSON report written,
  fresh store): render, cache keys, retries, store, scoring, statistics, report.

and prints the issue's table (tunegate's CPU per request is its whole process's CPU
time over the cases; ``benchmarks/phases.py`` splits off the request phase): requests/s, the ratio to the limit, tunegate's request
phase (the runner's wall time for the model) against the limit, the seconds of the
process outside the request phase, and the client CPU ms per request of the loops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TIMEOUT = 60.0
WORDS = ["great", "terrible", "fine", "love", "awful", "okay", "excellent", "broken"]
TUNEGATE = Path(sys.executable).parent / "tunegate"


@contextmanager
def server(latency_ms: float, kind: str = "lean") -> Iterator[str]:
    """The loopback OpenAI-compatible server in a subprocess; yields its base URL.

    ``lean``: a bare ASGI app under uvicorn (about 0.13 ms of CPU per request);
    ``fastapi``: the test-suite's FastAPI app (about 0.35 ms), which on two shared
    cores caps every client below the limit at c=128."""
    app = "openai-lean" if kind == "lean" else "openai"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "tunegate.testing.servers", app),
            *("--port", "0", "--latency-ms", f"{latency_ms:g}"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"http://\S+", line)
        if match is None:
            raise RuntimeError(f"the server did not print its URL (got {line!r})")
        yield match.group(0)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def texts(n: int) -> list[str]:
    """``n`` distinct review texts (nothing shared between requests)."""
    return [
        f"Review {i}: the product is {WORDS[i % len(WORDS)]} and arrived on day {i % 7}"
        for i in range(n)
    ]


def bodies(n: int) -> list[dict[str, Any]]:
    system = {"role": "system", "content": "Classify the sentiment of the review."}
    return [
        {"model": "toy", "messages": [system, {"role": "user", "content": t}]} for t in texts(n)
    ]


async def aiohttp_pass(url: str, n: int, concurrency: int) -> tuple[float, int]:
    """A plain aiohttp session and a semaphore; seconds and errors."""
    import aiohttp

    requests = bodies(n)
    started = time.perf_counter()
    gate = asyncio.Semaphore(concurrency)
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: dict[str, Any]) -> None:
            nonlocal errors
            async with gate:
                try:
                    async with session.post(f"{url}/v1/chat/completions", json=body) as resp:
                        data = await resp.json()
                        _ = data["choices"][0]["message"]["content"]
                except (aiohttp.ClientError, KeyError):
                    errors += 1

        await asyncio.gather(*(one(b) for b in requests))
    return time.perf_counter() - started, errors


async def sdk_pass(url: str, n: int, concurrency: int) -> tuple[float, int]:
    """A bare ``AsyncOpenAI`` client and a semaphore; seconds and errors."""
    import openai

    requests = bodies(n)
    started = time.perf_counter()
    client = openai.AsyncOpenAI(
        api_key="not-needed", base_url=f"{url}/v1", timeout=TIMEOUT, max_retries=0
    )
    gate = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(body: dict[str, Any]) -> None:
        nonlocal errors
        async with gate:
            try:
                response = await client.chat.completions.create(**body)
                _ = response.choices[0].message.content
            except openai.OpenAIError:
                errors += 1

    await asyncio.gather(*(one(b) for b in requests))
    await client.close()
    return time.perf_counter() - started, errors


def write_project(folder: Path, url: str, n: int, concurrency: int, transport: str) -> Path:
    rows = [{"id": f"c{i:06d}", "text": t, "label": "neutral"} for i, t in enumerate(texts(n))]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = folder / "tunegate.yaml"
    config.write_text(
        "dataset: {path: test.jsonl}\n"
        "task: {type: classification, labels: [positive, negative, neutral],"
        " system: Classify the sentiment of the review.}\n"
        "models:\n"
        f"  chat: {{type: openai, model: toy, base_url: '{url}/v1', concurrency: {concurrency},"
        f" transport: {transport}}}\n"
    )
    return config


def find(document: Any, key: str) -> Any:
    """The first value of ``key`` anywhere in a JSON document."""
    values: Iterable[Any]
    if isinstance(document, dict):
        if key in document:
            return document[key]
        values = document.values()
    elif isinstance(document, list):
        values = document
    else:
        return None
    for value in values:
        found = find(value, key)
        if found is not None:
            return found
    return None


def tunegate_pass(url: str, n: int, concurrency: int, transport: str) -> tuple[float, float, float]:
    """``tunegate run`` as a whole process: seconds in all, of its request phase, and its
    CPU seconds in all (start, background imports, requests, scoring, reports)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_project(folder, url, n, concurrency, transport)
        report = folder / "r.json"
        command = [str(TUNEGATE), "run", str(config), "--store", str(folder / "t.db")]
        command += ["--json", str(report), "--no-gate", "-q"]
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
        if done.returncode not in (0, 1):
            raise RuntimeError(f"tunegate run failed ({done.returncode}): {done.stderr[-2000:]}")
        data = json.loads(report.read_text())
    errors = find(data, "errors")
    if errors:
        raise RuntimeError(f"tunegate: {errors} of {n} requests failed")
    return elapsed, float(find(data, "wall_s") or elapsed), cpu


def cpu_of(coro_pass: Any, url: str, n: int, concurrency: int) -> tuple[float, float]:
    """requests/s and client CPU ms per request of one loop pass."""
    cpu = time.process_time()
    elapsed, errors = asyncio.run(coro_pass(url, n, concurrency))
    if errors:
        raise RuntimeError(f"{coro_pass.__name__}: {errors} of {n} requests failed")
    return n / elapsed, (time.process_time() - cpu) * 1000.0 / n


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="cases per pass")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--transport", choices=["lean", "sdk"], default="lean")
    parser.add_argument("--server", choices=["lean", "fastapi"], default="lean")
    args = parser.parse_args()
    latency_s = args.latency_ms / 1000.0
    n = args.n
    rows: list[tuple[str, list[str]]] = []
    load_before = os.getloadavg()
    with server(args.latency_ms, args.server) as url:
        asyncio.run(aiohttp_pass(url, 200, 16))  # warm the server up
        results: dict[int, dict[str, Any]] = {}
        for c in args.concurrency:
            res: dict[str, Any] = {"limit": c / latency_s}
            res["aiohttp"] = cpu_of(aiohttp_pass, url, n, c)
            res["sdk"] = cpu_of(sdk_pass, url, n, c)
            total, phase, cpu = tunegate_pass(url, n, c, args.transport)
            res["tunegate"] = (n / total, n / phase, total - phase, cpu * 1000.0 / n)
            results[c] = res
    load_after = os.getloadavg()

    def cell(rate: float, limit: float) -> str:
        return f"{rate:,.0f} ({rate / limit:.0%})"

    for name in ("limit", "aiohttp", "sdk", "tunegate"):
        cells = []
        for c in args.concurrency:
            res, limit = results[c], results[c]["limit"]
            if name == "limit":
                cells.append(f"{limit:,.0f} (100%)")
            elif name == "tunegate":
                rate, phase_rate, outside, cpu_ms = res[name]
                cells.append(
                    f"{cell(rate, limit)}; request phase {phase_rate / limit:.0%},"
                    f" {outside:.2f} s outside it; {cpu_ms:.2f} ms CPU/req (whole process)"
                )
            else:
                rate, cpu_ms = res[name]
                cells.append(f"{cell(rate, limit)}; {cpu_ms:.2f} ms CPU/req")
        rows.append((name, cells))
    import aiohttp
    import openai

    print(
        f"{n} chat cases per pass, loopback {args.server} server, latency {args.latency_ms:g} ms"
        f" (its own process), tunegate transport {args.transport}; Python {sys.version.split()[0]},"
        f" aiohttp {aiohttp.__version__}, openai {openai.__version__}, {os.cpu_count()} CPUs;"
        f" load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        " (the machine is shared)"
    )
    header = ["tool"] + [f"c={c} rps (of limit)" for c in args.concurrency]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for name, cells in rows:
        print(" | ".join([name, *cells]))


if __name__ == "__main__":
    main()
