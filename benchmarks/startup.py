"""Startup: median wall time of short tunegate commands (hyperfine-style repeats).

Run: ``.venv/bin/python benchmarks/startup.py [--repeats 9]``

Each command runs ``--repeats`` times after one warm-up (file cache); prints the
median, the fastest and the slowest, with the load average (the machine is shared).
Goals (issue 11): ``tunegate --help`` and ``tunegate validate`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUNEGATE = Path(sys.executable).parent / "tunegate"
EXAMPLE = ROOT / "src" / "tunegate" / "examples" / "sentiment" / "tunegate.yaml"


def seconds(command: list[str], repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``repeats`` runs of ``command`` (after one
    warm-up run). CPU time is what a loaded machine distorts least."""
    subprocess.run(command, capture_output=True, check=False)
    times, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import tunegate.config": [sys.executable, "-c", "import tunegate.config"],
        "tunegate --help": [str(TUNEGATE), "--help"],
        "tunegate validate (example)": [str(TUNEGATE), "validate", str(EXAMPLE)],
        "import tunegate.pipeline": [sys.executable, "-c", "import tunegate.pipeline"],
    }
    load_before = os.getloadavg()[0]
    rows = [(name, seconds(command, args.repeats)) for name, command in commands.items()]
    load_after = os.getloadavg()[0]
    print(
        f"{args.repeats} runs each after a warm-up, {os.cpu_count()} CPUs; load average"
        f" {load_before:.2f} before, {load_after:.2f} after (the machine is shared)"
    )
    print("command | median s | fastest s | slowest s | median CPU s")
    print("--- | --- | --- | --- | ---")
    for name, (times, cpus) in rows:
        print(
            f"{name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f}"
            f" | {statistics.median(cpus):.3f}"
        )


if __name__ == "__main__":
    main()
