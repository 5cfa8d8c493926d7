"""Throughput of tunegate's runner against a loopback OpenAI-compatible server.

Run: ``.venv/bin/python benchmarks/throughput.py [--n 2000] [--concurrency 32 128]
[--latency-ms 50] [--repeat 2] [--profile]``

Starts ``tests/servers.py openai --latency-ms L`` in a subprocess (so the server does
not share this process's GIL), then for each concurrency C measures requests/s of

- ``runner``: :func:`tunegate.runner.run_models` with the openai backend, a temporary
  SQLite store and ``use_cache=False`` (render, cache keys, retries, one committed
  row per response: everything a real run does);
- ``bare``: a plain ``AsyncOpenAI`` client + ``asyncio.Semaphore(C)`` loop sending the
  same requests with the same client settings (timeout, ``max_retries=0``);

next to the theoretical limit ``C / latency`` (every slot always busy, zero overhead).
Prints the best of ``--repeat`` interleaved runs, the ratios runner/bare and
runner/limit, and the client CPU time per request of each (the overhead measure
least disturbed by other load on the machine).
``--profile`` adds a cProfile of one runner pass at the first concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from tunegate.config import OpenAIModel
from tunegate.data import Case
from tunegate.models.openai_chat import OpenAIChatBackend
from tunegate.runner import RetryPolicy, run_models
from tunegate.store import Store

SERVERS_PY = Path(__file__).resolve().parent.parent / "tests" / "servers.py"
WORDS = ["great", "terrible", "fine", "love", "awful", "okay", "excellent", "broken"]
TIMEOUT = 60.0


@contextmanager
def server(latency_ms: float) -> Iterator[str]:
    """The loopback OpenAI-compatible server in a subprocess; yields its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SERVERS_PY),
            "openai",
            "--port",
            "0",
            "--latency-ms",
            f"{latency_ms:g}",
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


def make_cases(n: int) -> list[Case]:
    """``n`` distinct chat cases (distinct texts, so nothing is shared between requests)."""
    cases = []
    for i in range(n):
        text = f"Review {i}: the product is {WORDS[i % len(WORDS)]} and arrived on day {i % 7}"
        cases.append(
            Case(
                id=f"c{i:05d}",
                text=text,
                reference="neutral",
                messages=(
                    {"role": "system", "content": "Classify the sentiment of the review."},
                    {"role": "user", "content": text},
                ),
            )
        )
    return cases


def backend(url: str, concurrency: int) -> OpenAIChatBackend:
    config = OpenAIModel(
        type="openai",
        model="toy",
        base_url=f"{url}/v1",
        concurrency=concurrency,
        timeout=TIMEOUT,
    )
    return OpenAIChatBackend("bench", config)


async def runner_pass(url: str, cases: list[Case], concurrency: int) -> tuple[float, int]:
    """Seconds for the runner to answer every case, and how many answers were errors."""
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        run_id = store.start_run("bench", {}, 0)
        started = time.perf_counter()
        runs = await run_models(
            {"bench": backend(url, concurrency)},
            cases,
            store,
            run_id,
            use_cache=False,
            policy=RetryPolicy(),
        )
        elapsed = time.perf_counter() - started
    errors = sum(1 for r in runs["bench"].responses if r.error is not None)
    return elapsed, errors


async def bare_pass(url: str, cases: list[Case], concurrency: int) -> tuple[float, int]:
    """The same requests with a bare ``AsyncOpenAI`` client and a semaphore."""
    requests = [backend(url, concurrency).render(c) for c in cases]
    started = time.perf_counter()
    client = openai.AsyncOpenAI(
        api_key="not-needed", base_url=f"{url}/v1", timeout=TIMEOUT, max_retries=0
    )
    gate = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(request: dict[str, Any]) -> None:
        nonlocal errors
        async with gate:
            try:
                response = await client.chat.completions.create(**request)
                _ = response.choices[0].message.content
            except openai.OpenAIError:
                errors += 1

    await asyncio.gather(*(one(r) for r in requests))
    await client.close()
    return time.perf_counter() - started, errors


Pass = Callable[[str, list[Case], int], Coroutine[Any, Any, tuple[float, int]]]


def measure(
    url: str, cases: list[Case], concurrency: int, repeat: int
) -> dict[str, tuple[float, float]]:
    """Best requests/s and least client CPU ms per request, bare and runner passes interleaved.

    Interleaving makes both see the same machine load; CPU time per request (this
    process only) is the overhead measure least disturbed by other processes.
    """
    passes: dict[str, Pass] = {"bare": bare_pass, "runner": runner_pass}
    best: dict[str, tuple[float, float]] = {name: (0.0, float("inf")) for name in passes}
    for _ in range(repeat):
        for name, run in passes.items():
            cpu = time.process_time()
            elapsed, errors = asyncio.run(run(url, cases, concurrency))
            cpu_ms = (time.process_time() - cpu) * 1000.0 / len(cases)
            if errors:
                raise RuntimeError(f"{name}: {errors} of {len(cases)} requests failed")
            rate, least_cpu = best[name]
            best[name] = (max(rate, len(cases) / elapsed), min(least_cpu, cpu_ms))
    return best


def profile_runner(url: str, cases: list[Case], concurrency: int) -> str:
    """cProfile of one runner pass: the top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(runner_pass(url, cases, concurrency))
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="cases per pass")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeat", type=int, default=2, help="passes per measurement (best)")
    parser.add_argument("--profile", action="store_true", help="cProfile one runner pass")
    args = parser.parse_args()
    cases = make_cases(args.n)
    latency_s = args.latency_ms / 1000.0

    rows = []
    load_before = os.getloadavg()[0]
    with server(args.latency_ms) as url:
        asyncio.run(bare_pass(url, cases[:200], 16))  # warm up the server
        for concurrency in args.concurrency:
            best = measure(url, cases, concurrency, args.repeat)
            rows.append((concurrency, concurrency / latency_s, best["bare"], best["runner"]))
        profile = profile_runner(url, cases, args.concurrency[0]) if args.profile else ""
    load_after = os.getloadavg()[0]

    print(
        f"{args.n} requests per pass, server latency {args.latency_ms:g} ms, best of "
        f"{args.repeat}; Python {sys.version.split()[0]}, openai {openai.__version__}, "
        f"{os.cpu_count()} CPUs, load average {load_before:.1f} before / {load_after:.1f} after"
    )
    header = (
        f"{'concurrency':>11}  {'limit req/s':>11}  {'bare req/s':>10}  {'runner req/s':>12}"
        f"  {'runner/bare':>11}  {'runner/limit':>12}  {'CPU ms/req bare':>15}"
        f"  {'CPU ms/req runner':>17}"
    )
    print(header)
    print("-" * len(header))
    for concurrency, limit, (bare, bare_cpu), (runner, runner_cpu) in rows:
        print(
            f"{concurrency:>11}  {limit:>11.0f}  {bare:>10.0f}  {runner:>12.0f}"
            f"  {runner / bare:>11.1%}  {runner / limit:>12.1%}  {bare_cpu:>15.2f}"
            f"  {runner_cpu:>17.2f}"
        )
    if profile:
        print(f"\ncProfile of one runner pass at concurrency {args.concurrency[0]}:")
        print(profile)


if __name__ == "__main__":
    main()
