"""Where the time of one ``tunegate run`` goes, phase by phase, and the client CPU per request.

Run: ``.venv/bin/python benchmarks/phases.py [--n 5000] [--concurrency 64] [--latency-ms 0]``

Runs the pipeline in this process against the loopback OpenAI-compatible server
(its own process) with the benchmark's classification project (macro-F1 and
accuracy, 10,000 bootstrap resamples) and a fresh store, timing each phase by
wrapping the pipeline's own functions:

- ``requests``: ``run_models`` (render, cache keys, send, parse, store batches);
  its process CPU divided by the cases is the client CPU per request (it includes
  the background thread importing scikit-learn, scipy and statsmodels);
- ``scoring + statistics``: ``evaluate_run`` (metrics, bootstrap CIs, gate);
- ``provenance``, ``store``: the run's stats, the stored result copy and the finish;
- ``JSON for the store``: ``to_json`` of the stored copy;
- ``reports``: the terminal summary and the JSON report file (``write_json``).

"After the last response" is everything after ``run_models`` returned, up to the
JSON report written: the issue's goal is 1.0 s for 5,000 cases.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from throughput import server, write_project

TIMES: dict[str, float] = {}
CPU: dict[str, float] = {}
MARKS: dict[str, float] = {}  # when a phase first started, last ended


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` adding its wall and process CPU seconds to ``TIMES[name]``/``CPU[name]``."""
    if asyncio.iscoroutinefunction(fn):

        async def wrapped_async(*args: Any, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            own = time.thread_time()  # the event loop's thread: the per-request work
            MARKS.setdefault(f"{name} started", started)
            try:
                return await fn(*args, **kwargs)
            finally:
                MARKS[f"{name} ended"] = time.perf_counter()
                TIMES[name] = TIMES.get(name, 0.0) + time.perf_counter() - started
                CPU[name] = CPU.get(name, 0.0) + time.process_time() - cpu
                CPU[f"{name} loop"] = CPU.get(f"{name} loop", 0.0) + time.thread_time() - own

        return wrapped_async

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMES[name] = TIMES.get(name, 0.0) + time.perf_counter() - started
            CPU[name] = CPU.get(name, 0.0) + time.process_time() - cpu

    return wrapped


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    from rich.console import Console

    import tunegate.pipeline.flow as pipeline
    from tunegate.config.load import load_config
    from tunegate.report import json_report, terminal
    from tunegate.store import Store

    imported = time.perf_counter() - started
    pipeline.run_models = timed("requests", pipeline.run_models)  # type: ignore[attr-defined]
    pipeline.evaluate_run = timed("scoring + statistics", pipeline.evaluate_run)  # type: ignore[attr-defined]
    pipeline.attach_provenance = timed("provenance", pipeline.attach_provenance)
    pipeline.to_json = timed("JSON for the store", pipeline.to_json)  # type: ignore[attr-defined]
    Store.update_run_meta = timed("store", Store.update_run_meta)  # type: ignore[method-assign]
    Store.finish_run = timed("store", Store.finish_run)  # type: ignore[method-assign]
    with server(args.latency_ms) as url, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(write_project(folder, url, args.n, args.concurrency, "aiohttp"))
        options = pipeline.RunOptions(store_path=folder / "t.db", gate=False)
        run_started = time.perf_counter()
        result = pipeline.run(config, options, config_dir=folder)
        report_started = time.perf_counter()
        terminal.print_summary(result, Console(file=io.StringIO(), width=100))
        json_report.write_json(result, folder / "r.json")
        TIMES["reports"] = time.perf_counter() - report_started
        ended = time.perf_counter()
    load_after = os.getloadavg()[0]
    before = MARKS["requests started"] - run_started
    tail = ended - MARKS["requests ended"]
    print(
        f"{args.n} cases, concurrency {args.concurrency}, server latency {args.latency_ms:g} ms,"
        f" {os.cpu_count()} CPUs; load average {load_before:.2f} before, {load_after:.2f} after"
        " (the machine is shared)"
    )
    print("phase | wall s | note")
    print("--- | --- | ---")
    print(f"imports (pipeline, config, store) | {imported:.3f} |")
    cpu_ms = CPU["requests"] * 1000.0 / args.n
    loop_ms = CPU["requests loop"] * 1000.0 / args.n
    print(
        f"requests | {TIMES['requests']:.3f} | {args.n / TIMES['requests']:,.0f} rps;"
        f" client CPU {cpu_ms:.2f} ms/request (process), {loop_ms:.2f} ms/request (event"
        " loop thread, without the background imports)"
    )
    for name in ("scoring + statistics", "provenance", "JSON for the store", "store", "reports"):
        print(f"{name} | {TIMES.get(name, 0.0):.3f} |")
    print(f"**after the last response** | **{tail:.3f}** | goal 1.0 s for 5,000 cases")
    print(f"(before the first request, inside run(): {before:.3f} s: cases, models, store)")
    print(f"whole (this process, server start included) | {ended - started:.3f} |")


if __name__ == "__main__":
    main()
