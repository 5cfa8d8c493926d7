"""Time and peak memory of ``tunegate run`` (whole process) at 10k and 100k cases.

Run: ``.venv/bin/python benchmarks/scale.py [--sizes 10000 100000] [--concurrency 64]``

Against the loopback OpenAI-compatible server answering at once (0 ms, its own
process), each size runs ``tunegate run`` with a fresh store and a JSON report
(classification: macro-F1 and accuracy with 10,000 bootstrap resamples). Prints
wall time, peak RSS of the tunegate process, time per 1,000 cases and the ratio of
each size's time to the first's (linear growth: ratio = size ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from throughput import TUNEGATE, find, server, write_project


def one_run(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of one ``tunegate run`` over ``n`` cases."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_project(folder, url, n, concurrency, "lean")
        report = folder / "r.json"
        command = [str(TUNEGATE), "run", str(config), "--store", str(folder / "t.db")]
        command += ["--json", str(report), "--no-gate", "-q"]
        # A wrapper process per run, so that its peak RSS is this run's alone.
        wrapper = (
            "import resource, subprocess, sys, time\n"
            "t = time.perf_counter()\n"
            "code = subprocess.run(sys.argv[1:], capture_output=True).returncode\n"
            "print(code, time.perf_counter() - t,"
            " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True
        )
        code, seconds, max_rss_kb = done.stdout.split()
        if int(code) not in (0, 1):
            raise RuntimeError(f"tunegate run failed with exit code {code}")
        data = json.loads(report.read_text())
        if find(data, "errors"):
            raise RuntimeError(f"{find(data, 'errors')} requests failed")
    return float(seconds), int(max_rss_kb) / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []
    started = time.perf_counter()
    with server(0.0) as url:
        for n in args.sizes:
            seconds, rss = one_run(url, n, args.concurrency)
            rows.append((n, seconds, rss))
    load_after = os.getloadavg()[0]
    print(
        f"tunegate run, loopback server answering at once, concurrency {args.concurrency},"
        f" {os.cpu_count()} CPUs; load average {load_before:.2f} before, {load_after:.2f} after"
        f" (the machine is shared); {time.perf_counter() - started:.0f} s in all"
    )
    print("cases | time s | s per 1k cases | peak RSS MB | time / first | cases / first")
    print("--- | --- | --- | --- | --- | ---")
    first_n, first_s, _ = rows[0]
    for n, seconds, rss in rows:
        print(
            f"{n:,} | {seconds:.1f} | {seconds / n * 1000:.2f} | {rss:.0f} |"
            f" {seconds / first_s:.2f}x | {n / first_n:.0f}x"
        )


if __name__ == "__main__":
    main()
