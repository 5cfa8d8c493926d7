"""Startup: median wall time of short tunegate commands (hyperfine-style repeats).

Run: ``.venv/bin/python benchmarks/startup.py [--repeats 9] [--bytecode]``

Each command runs ``--repeats`` times after one warm-up (file cache); prints the
median, the fastest and the slowest, with the load average (the machine is shared).
By default the commands run in this process's environment; where it sets
``PYTHONDONTWRITEBYTECODE``, every tunegate module is compiled from source on every
run. ``--bytecode`` lets them write and read bytecode caches (in a temporary folder,
``PYTHONPYCACHEPREFIX``), as an installed tunegate does.
Goals (issue 11): ``tunegate --help`` and ``tunegate validate`` under 0.5 s; the first
request of ``tunegate run`` sent within 1.0 s of the process starting (measured by a
loopback server in this process noting when the first request arrives).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUNEGATE = Path(sys.executable).parent / "tunegate"
EXAMPLE = ROOT / "src" / "tunegate" / "examples" / "sentiment" / "tunegate.yaml"


def seconds(
    command: list[str], repeats: int, env: dict[str, str] | None = None
) -> tuple[list[float], list[float]]:
    """Wall and CPU (user + system) seconds of ``repeats`` runs of ``command`` (after one
    warm-up run). CPU time is what a loaded machine distorts least."""
    warm = subprocess.run(command, capture_output=True, check=False, env=env)
    if warm.returncode:
        raise RuntimeError(f"{command} exited {warm.returncode}: {warm.stderr.decode()[-500:]}")
    times, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=False, env=env)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return times, cpus


class _Chat(BaseHTTPRequestHandler):
    """Answers every POST with a chat completion; remembers when the first arrived."""

    first: float | None = None

    def do_POST(self) -> None:
        if _Chat.first is None:
            _Chat.first = time.perf_counter()
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "toy",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "neutral"},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def first_request(repeats: int, env: dict[str, str] | None = None) -> list[float]:
    """Seconds from starting ``tunegate run`` (20 chat cases) to its first request."""
    from throughput import write_project

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    times: list[float] = []
    try:
        for i in range(repeats + 1):  # the first is a warm-up
            with tempfile.TemporaryDirectory() as tmp:
                config = write_project(Path(tmp), url, 20, 4, "aiohttp")
                command = [str(TUNEGATE), "run", str(config), "--store", f"{tmp}/t.db", "-q"]
                _Chat.first = None
                started = time.perf_counter()
                subprocess.run([*command, "--no-gate"], capture_output=True, check=False, env=env)
                if _Chat.first is None:
                    raise RuntimeError("tunegate run sent no request")
                if i:
                    times.append(_Chat.first - started)
    finally:
        server.shutdown()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="let the commands cache bytecode (in a temporary folder), as an install does",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parent))
    from throughput import write_project

    with tempfile.TemporaryDirectory() as tmp:
        env = None
        if args.bytecode:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        # A config of one chat model and no k-shot examples: validate needs no numpy.
        chat = write_project(Path(tmp), "http://127.0.0.1:9", 20, 4, "aiohttp")
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import tunegate.config": [sys.executable, "-c", "import tunegate.config"],
            "tunegate --help": [str(TUNEGATE), "--help"],
            "tunegate validate (example)": [str(TUNEGATE), "validate", str(EXAMPLE)],
            "tunegate validate (chat config)": [str(TUNEGATE), "validate", str(chat)],
            "import tunegate.pipeline.flow": [
                sys.executable,
                "-c",
                "import tunegate.pipeline.flow",
            ],
        }
        load_before = os.getloadavg()[0]
        rows = [(name, seconds(cmd, args.repeats, env)) for name, cmd in commands.items()]
        first = first_request(args.repeats, env)
        load_after = os.getloadavg()[0]
    bytecode = (
        "bytecode cached"
        if args.bytecode
        else "no bytecode cache (PYTHONDONTWRITEBYTECODE set)"
        if os.environ.get("PYTHONDONTWRITEBYTECODE")
        else "bytecode cached where writable"
    )
    print(
        f"{args.repeats} runs each after a warm-up, {os.cpu_count()} CPUs, {bytecode}; load"
        f" average {load_before:.2f} before, {load_after:.2f} after (the machine is shared)"
    )
    print("command | median s | fastest s | slowest s | median CPU s")
    print("--- | --- | --- | --- | ---")
    for name, (times, cpus) in rows:
        print(
            f"{name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f}"
            f" | {statistics.median(cpus):.3f}"
        )
    print(
        f"tunegate run: first request after start | {statistics.median(first):.3f} |"
        f" {min(first):.3f} | {max(first):.3f} | (goal 1.0 s)"
    )


if __name__ == "__main__":
    main()
