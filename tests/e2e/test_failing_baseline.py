"""Issue 20, end to end: a baseline that fails its requests never ships the candidate.

Two loopback OpenAI-compatible servers answer by keyword (always right on this data);
the baseline's server answers HTTP 500 to every request, or to every request (retries
included) for a third of the cases. The real ``tunegate`` command runs without a gate
section (the default gate); the JSON, the HTML report and ``tunegate.pipeline.flow.run`` say
the same verdict as the exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from servers import FaultPlan, keyword_sentiment, openai_app, serve

from tunegate.config import load_config
from tunegate.pipeline.flow import RunOptions, run

TUNEGATE = Path(sys.executable).parent / "tunegate"
WORDS = ["great", "awful", "okay", "love", "terrible", "fine"]
N = 30
TEXTS = [f"case {i}: the product is {WORDS[i % len(WORDS)]}" for i in range(N)]

CONFIG = """\
name: failing-baseline
dataset:
  path: test.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
models:
  finetuned:
    type: openai
    model: toy
    base_url: {tuned}/v1
    prompt: "{{{{ input }}}}"
  zero-shot:
    type: openai
    model: toy
    base_url: {base}/v1
    prompt: "{{{{ input }}}}"
    max_retries: 1
compare:
  candidate: finetuned
"""


def _run(tmp_path: Path, faults: FaultPlan) -> tuple[subprocess.CompletedProcess[str], Any]:
    rows = [
        {"id": f"c{i:02d}", "text": t, "label": keyword_sentiment(t)} for i, t in enumerate(TEXTS)
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with serve(openai_app()) as tuned, serve(openai_app(faults=faults)) as base:
        (tmp_path / "tunegate.yaml").write_text(CONFIG.format(tuned=tuned, base=base))
        proc = subprocess.run(
            [str(TUNEGATE), "run", "tunegate.yaml", "--json", "out.json", "--html", "out.html"],
            cwd=tmp_path,
            env={**os.environ, "COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        config = load_config(tmp_path / "tunegate.yaml")
        again = run(config, RunOptions(store_path=tmp_path / "api.db"), config_dir=tmp_path)
    return proc, again


def _comparison(report: dict[str, Any], metric: str) -> dict[str, Any]:
    [comp] = [c for c in report["suites"][0]["comparisons"] if c["metric"] == metric]
    assert isinstance(comp, dict)
    return comp


def test_a_baseline_failing_every_request_is_inconclusive_exit_3(tmp_path: Path) -> None:
    proc, api = _run(tmp_path, FaultPlan(random_rate=1.0, random_actions=["500"]))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "VERDICT: INCONCLUSIVE" in proc.stdout
    assert "beats zero-shot" not in proc.stdout
    report = json.loads((tmp_path / "out.json").read_text())
    comp = _comparison(report, "macro_f1")
    assert (comp["n"], comp["n_excluded"], comp["excluded"]) == (0, N, {"baseline error": N})
    assert comp["ci"] == [None, None]
    gate = report["gate"]
    assert (gate["verdict"], gate["exit_code"]) == ("INCONCLUSIVE", 3)
    by_name = {c["description"]: c for c in gate["criteria"]}
    assert by_name["macro_f1 - zero-shot >= -0.02"]["status"] == "INCONCLUSIVE"
    assert (
        "no case was answered by both models" in by_name["macro_f1 - zero-shot >= -0.02"]["reason"]
    )
    assert by_name["error_rate of zero-shot <= 0.01"]["status"] == "INCONCLUSIVE"
    assert (
        f"zero-shot (a baseline) failed {N} of {N} requests"
        in (by_name["error_rate of zero-shot <= 0.01"]["reason"])
    )
    stopped = by_name["no model stopped (unreachable, fatal error, no successful request)"]
    assert stopped["status"] == "INCONCLUSIVE"
    assert "every model answered until the end" not in stopped["reason"]
    html = (tmp_path / "out.html").read_text()
    assert '<span class="verdict-word">INCONCLUSIVE</span>' in html
    assert api.gate is not None
    assert api.gate.verdict == "INCONCLUSIVE"
    assert [c.status for c in api.gate.criteria] == [c["status"] for c in gate["criteria"]]


def test_a_baseline_failing_a_third_is_compared_on_the_rest_and_not_a_win(tmp_path: Path) -> None:
    failing = {t: ["500"] for t in TEXTS[::3]}  # every request for a third, retries too
    proc, api = _run(tmp_path, FaultPlan(rules=failing))
    report = json.loads((tmp_path / "out.json").read_text())
    comp = _comparison(report, "macro_f1")
    assert (comp["n"], comp["n_excluded"]) == (2 * N // 3, N // 3)
    assert comp["excluded"] == {"baseline error": N // 3}
    assert comp["delta"] == 0.0
    assert comp["direction"] == "none"  # both right on every case both answered
    assert "beats zero-shot" not in proc.stdout
    assert "20 (10 left out: baseline error 10)" in proc.stdout
    assert report["suites"][0]["models"]["zero-shot"]["metrics"]["accuracy"]["value"] == 2 / 3
    gate = report["gate"]
    assert gate["verdict"] == "INCONCLUSIVE"  # the baseline's 33% errors hold it back
    assert proc.returncode == 3
    assert api.gate is not None
    assert api.gate.verdict == gate["verdict"]
    html = (tmp_path / "out.html").read_text()
    assert '<span class="verdict-word">INCONCLUSIVE</span>' in html
