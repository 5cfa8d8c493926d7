"""Issue 20, items 10 and 11: SIGTERM / SIGINT stop a run at any moment — while it scores,
while it writes its reports — with exit 143 / 130, no verdict, the run marked interrupted
and its answers kept; and resuming an interrupted ``--no-cache`` run does not pay twice."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from servers import openai_app, serve

TUNEGATE = Path(sys.executable).parent / "tunegate"

MODELS_PY = """\
def tuned(text):
    with open("calls.txt", "a") as f:
        f.write("tuned\\n")
    return "yes " + text


def base(text):
    with open("calls.txt", "a") as f:
        f.write("base\\n")
    return "no"
"""

# Slow only when SLOW_SCORER is set: the interrupted run scores slowly, its resume fast.
SCORER_PY = """\
import os
import time


def score(case, output):
    if os.environ.get("SLOW_SCORER"):
        open("scoring.started", "a").close()
        time.sleep(0.25)
    return bool(output) and output.startswith("yes")
"""

SCORED_CONFIG = """\
name: scored
dataset:
  path: test.jsonl
task:
  type: generation
  scorers: [{{type: {scorer}}}]
models:
  tuned: {{type: python, function: "models:tuned"}}
  base: {{type: python, function: "models:base"}}
compare:
  candidate: tuned
"""


def write_cases(folder: Path, n: int) -> None:
    rows = [{"id": f"c{i:04d}", "text": f"hello {i}", "label": "yes"} for i in range(n)]
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def scored_project(folder: Path, n: int, scorer: str) -> None:
    write_cases(folder, n)
    (folder / "models.py").write_text(MODELS_PY)
    (folder / "slow.py").write_text(SCORER_PY)
    (folder / "tunegate.yaml").write_text(SCORED_CONFIG.format(scorer=scorer))


def start(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(TUNEGATE), *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def signal_when(
    proc: subprocess.Popen[str], ready: Path | None, signum: int, timeout: float = 120
) -> tuple[str, str, float]:
    """Send ``signum`` once ``ready`` exists; (stdout, stderr, seconds from signal to exit)."""
    deadline = time.monotonic() + timeout
    try:
        while ready is not None and not ready.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, f"{ready} never appeared"
            time.sleep(0.005)
        proc.send_signal(signum)
        sent = time.monotonic()
        stdout, stderr = proc.communicate(timeout=60)
        return stdout, stderr, time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def runs(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT id, status FROM runs ORDER BY rowid").fetchall()
    finally:
        con.close()


def stored_answers(db: Path, run_id: str, model: str | None = None) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        sql = "SELECT count(*) FROM responses WHERE error IS NULL AND run_id=?"
        args: tuple[str, ...] = (run_id,)
        if model is not None:
            sql += " AND model=?"
            args += (model,)
        return int(con.execute(sql, args).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        con.close()


def check_interrupted(folder: Path, stdout: str, stderr: str, took: float) -> str:
    """Stopped at once, no verdict, the run interrupted with all its answers; its id."""
    assert took < 10, (stdout, stderr, took)
    assert "VERDICT" not in stdout
    assert "Traceback" not in stderr
    assert "the run is marked interrupted" in stderr
    [(run_id, status)] = runs(folder / ".tunegate" / "tunegate.db")
    assert status == "interrupted"
    # Both models had answered every case before scoring began: all of it is kept.
    assert stored_answers(folder / ".tunegate" / "tunegate.db", run_id) == 2 * 40
    return str(run_id)


def test_sigterm_while_scoring_stops_at_once_without_a_verdict(tmp_path: Path) -> None:
    scored_project(tmp_path, 40, '"custom", function: "slow.py:score"')
    proc = start(tmp_path, "run", "tunegate.yaml", "-q", env={"SLOW_SCORER": "1"})
    stdout, stderr, took = signal_when(proc, tmp_path / "scoring.started", signal.SIGTERM)
    assert proc.returncode == 143, stderr
    assert "terminated (SIGTERM)" in stderr
    # Today: the signal waited for scoring (80 x 0.25 s), the run was marked completed.
    check_interrupted(tmp_path, stdout, stderr, took)
    calls = (tmp_path / "calls.txt").read_text().count("\n")
    assert calls == 80
    # The same command resumes: every answer reused, nothing asked again.
    again = subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml", "-q", "--json", "r.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert "VERDICT: SHIP" in again.stdout
    assert (tmp_path / "calls.txt").read_text().count("\n") == calls
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["suites"][0]["models"]["tuned"]["cache"]["reused"] == 40


def test_ctrl_c_while_scoring_exits_130_without_a_verdict(tmp_path: Path) -> None:
    scored_project(tmp_path, 40, '"custom", function: "slow.py:score"')
    proc = start(tmp_path, "run", "tunegate.yaml", "-q", env={"SLOW_SCORER": "1"})
    stdout, stderr, took = signal_when(proc, tmp_path / "scoring.started", signal.SIGINT)
    assert proc.returncode == 130, stderr
    assert stderr.startswith("error: interrupted;")
    check_interrupted(tmp_path, stdout, stderr, took)


def test_sigterm_while_the_reports_are_written_leaves_no_verdict(tmp_path: Path) -> None:
    # 1,000 cases: the Markdown and HTML reports take a second or two after the JSON one.
    scored_project(tmp_path, 1000, "exact_match")
    proc = start(
        tmp_path,
        "run",
        "tunegate.yaml",
        "-q",
        "--json",
        "r.json",
        "--markdown",
        "r.md",
        "--html",
        "r.html",
    )
    stdout, stderr, _ = signal_when(proc, tmp_path / "r.json", signal.SIGTERM)
    assert proc.returncode == 143, (stdout, stderr)
    assert "VERDICT" not in stdout
    assert "Traceback" not in stderr
    assert not (tmp_path / "r.html").exists()
    [(_, status)] = runs(tmp_path / ".tunegate" / "tunegate.db")
    assert status == "interrupted"  # today: completed, and the verdict printed


CHAT_CONFIG = """\
name: paid
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  chat:
    type: openai
    model: toy
    base_url: {url}/v1
    concurrency: 2
  rules: {{type: python, function: "rules:classify"}}
compare:
  candidate: chat
"""


def test_resuming_an_interrupted_no_cache_run_sends_only_what_it_lacks(tmp_path: Path) -> None:
    n = 60
    labels = ["positive", "negative", "neutral"]
    rows = [{"id": f"c{i:03d}", "text": f"review {i}", "label": labels[i % 3]} for i in range(n)]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "rules.py").write_text("def classify(text):\n    return 'neutral'\n")
    db = tmp_path / ".tunegate" / "tunegate.db"
    app = openai_app(latency_ms=100)
    with serve(app) as url:
        (tmp_path / "tunegate.yaml").write_text(CHAT_CONFIG.format(url=url))
        first = subprocess.run(
            [str(TUNEGATE), "run", "tunegate.yaml", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert first.returncode in (0, 1, 3), first.stderr
        assert len(app.state.log) == n
        # Ask chat again (--no-cache chat), and stop that run part-way.
        proc = start(tmp_path, "run", "tunegate.yaml", "-q", "--no-cache", "chat")
        deadline = time.monotonic() + 60
        while len(runs(db)) < 2 or stored_answers(db, runs(db)[1][0], "chat") < 10:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the second run received nothing"
            time.sleep(0.02)
        _, stderr, _ = signal_when(proc, None, signal.SIGTERM)
        assert proc.returncode == 143, stderr
        interrupted = runs(db)[1]
        assert interrupted[1] == "interrupted"
        kept = stored_answers(db, interrupted[0], "chat")
        assert 10 <= kept < n
        # The hint names the command that resumes without asking again.
        match = re.search(r"`(tunegate run [^`]*)`", stderr)
        assert match is not None, stderr
        command = shlex.split(match.group(1))
        assert command[-2:] == ["--resume", interrupted[0]]
        assert "--no-cache" in command
        before = len(app.state.log)
        resumed = subprocess.run(
            [str(TUNEGATE), *command[1:], "--json", "r.json"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert resumed.returncode in (0, 1, 3), resumed.stderr
        sent = len(app.state.log) - before
    # Today: n again (the same command discards what the interrupted run paid for). And
    # not 0: the answers of the first, complete run stay out (--no-cache chat).
    assert sent == n - kept
    report = json.loads((tmp_path / "r.json").read_text())
    chat = report["suites"][0]["models"]["chat"]
    assert chat["n"] == n
    assert chat["errors"] == 0
    assert runs(db)[2][1] == "completed"


def test_resume_refuses_a_run_of_another_config(tmp_path: Path) -> None:
    scored_project(tmp_path, 5, "exact_match")
    done = subprocess.run(
        [str(TUNEGATE), "run", "tunegate.yaml", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [(run_id, _)] = runs(tmp_path / ".tunegate" / "tunegate.db")
    other = tmp_path / "other.yaml"
    other.write_text(SCORED_CONFIG.format(scorer="exact_match").replace("scored", "other"))
    refused = subprocess.run(
        [str(TUNEGATE), "run", "other.yaml", "-q", "--no-cache", "--resume", run_id],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert f"run {run_id} is a run of 'scored', not of 'other'" in refused.stderr
    assert "Traceback" not in refused.stderr
