"""End to end: a custom scorer that raises on every case never ships the candidate.

The real ``tunegate`` command runs two Python models (the candidate right on every case,
the baseline on half) with the default gate. Before scorer errors were told apart, every
case scored 0 for both models, the paired delta was +0.000 [+0.000, +0.000] and the
verdict SHIP (exit 0). Now the criterion is undecided (exit 3), names the scorer, and
every report warns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TUNEGATE = Path(sys.executable).parent / "tunegate"
N = 20

MODELS = """\
def tuned(text):
    return "positive" if "good" in text else "negative"


def base(text):
    return "positive"
"""

CONFIG = """\
name: scorer-errors
dataset: {path: test.jsonl}
task: {type: generation, scorers: [{type: custom, function: "sx_scorers.py:bad"}]}
models:
  finetuned: {type: python, function: "sx_models:tuned"}
  base: {type: python, function: "sx_models:base"}
compare: {candidate: finetuned}
"""


def test_a_scorer_raising_on_every_case_is_inconclusive_exit_3(tmp_path: Path) -> None:
    rows = [
        {"id": f"c{i:02d}", "text": f"{'good' if i % 2 else 'bad'} movie {i}",
         "label": "positive" if i % 2 else "negative"}
        for i in range(N)
    ]  # fmt: skip
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "sx_models.py").write_text(MODELS)
    (tmp_path / "sx_scorers.py").write_text(
        "def bad(case, output):\n    raise RuntimeError('scorer bug')\n"
    )
    (tmp_path / "tunegate.yaml").write_text(CONFIG)
    proc = subprocess.run(
        [
            str(TUNEGATE), "run", "tunegate.yaml", "--store", "t.db", "--json", "out.json",
            "--markdown", "out.md", "--html", "out.html",
        ],
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "VERDICT: INCONCLUSIVE" in proc.stdout
    assert "VERDICT: SHIP" not in proc.stdout
    warning = f"finetuned: scorer errors on bad {N} of {N} cases"
    assert warning in proc.stdout
    assert warning in (tmp_path / "out.md").read_text()
    assert warning in (tmp_path / "out.html").read_text()
    report = json.loads((tmp_path / "out.json").read_text())
    suite = report["suites"][0]
    assert suite["models"]["finetuned"]["scorer_errors"] == {"bad": N}
    assert suite["models"]["base"]["scorer_errors"] == {"bad": N}
    [comp] = suite["comparisons"]
    assert (comp["n"], comp["excluded"]) == (0, {"scorer error": N})
    assert all(row["scorer_errors"] == ["bad"] for row in suite["cases"])
    gate = report["gate"]
    assert (gate["verdict"], gate["exit_code"]) == ("INCONCLUSIVE", 3)
    [primary] = [c for c in gate["criteria"] if c["criterion"]["metric"] == "bad"]
    assert primary["status"] == "INCONCLUSIVE"
    assert f"scorer bad failed on {N} of {N} cases of finetuned" in primary["reason"]
    assert "fix the scorer" in primary["reason"]
