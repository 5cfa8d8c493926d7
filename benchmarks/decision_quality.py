"""How often the gate says SHIP when it should not, and how often when it should.

Run: ``.venv/bin/python benchmarks/decision_quality.py [--trials T] [--cases N]``
(with the defaults: 500 pipeline runs, 4 to 10 minutes on two shared cores; --trials 50 for a quick look)

Each trial is a real run through the pipeline (``tunegate.pipeline.flow.run``: python models,
scoring, paired bootstrap, gate) on ``N`` three-label cases. Every model answers each
case right with its own probability, independently per case and trial; a "failing"
baseline raises (a failed request) on each case with probability 0.3, whatever it would
have answered. The gate is a superiority test, ``accuracy - zero-shot >= 0`` judged on
the paired interval at 95%, so on null pairs (candidate and baseline equally good, 0.8
each) SHIP is a false SHIP, and the rate must stay at or below 5% (about 2.5% expected:
the one-sided tail of a two-sided 95% interval), with a healthy baseline and with the
failing one. Power is the SHIP rate at a stated effect (0.85 vs 0.70). Before the fix of
issue 20 the failing baseline's errors counted as wrong answers and a null pair shipped
almost every time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

MODELS_PY = """\
import hashlib
import os

LABELS = ["positive", "negative", "neutral"]


def _draw(name, text):
    key = f"{os.environ['DQ_TRIAL']}|{name}|{text}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def _answer(name, text, p_right, p_fail=0.0):
    truth = text.split("|")[1]
    if _draw(name + "/fail", text) < p_fail:
        raise RuntimeError("HTTP 500: the baseline failed")
    if _draw(name, text) < p_right:
        return truth
    return LABELS[(LABELS.index(truth) + 1) % 3]


def candidate(text):
    return _answer("candidate", text, float(os.environ["DQ_CAND"]))


def baseline(text):
    return _answer("baseline", text, float(os.environ["DQ_BASE"]), float(os.environ["DQ_FAIL"]))
"""

CONFIG = """\
name: decision-quality
dataset:
  path: cases.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
bootstrap: 2000
models:
  finetuned:
    type: python
    function: dq_models:candidate
  zero-shot:
    type: python
    function: dq_models:baseline
compare:
  candidate: finetuned
  metric: accuracy
gate:
  criteria:
    - {metric: accuracy, vs: zero-shot, min_delta: 0}
"""

LABELS = ["positive", "negative", "neutral"]


def setting(folder: Path, name: str, cand: float, base: float, fail: float, trials: int) -> str:
    """SHIP rate (and verdict counts) over ``trials`` runs of one setting."""
    from tunegate.config import load_config
    from tunegate.pipeline.flow import RunOptions, run

    config = load_config(folder / "tunegate.yaml")
    verdicts: Counter[str] = Counter()
    n_paired = []
    os.environ.update(DQ_CAND=str(cand), DQ_BASE=str(base), DQ_FAIL=str(fail))
    for trial in range(trials):
        os.environ["DQ_TRIAL"] = hashlib.sha256(f"{name}/{trial}".encode()).hexdigest()[:16]
        options = RunOptions(use_cache=False, store_path=folder / f"{name}.db")
        result = run(config, options, config_dir=folder)
        assert result.gate is not None
        verdicts[result.gate.verdict] += 1
        n_paired.append(result.comparisons[0].n)
    ship = verdicts["SHIP"] / trials
    mean_n = sum(n_paired) / len(n_paired)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(verdicts.items()))
    return (
        f"{name:<34} candidate {cand:.2f} vs baseline {base:.2f}, baseline fails {fail:.0%}: "
        f"SHIP {ship:6.1%} ({counts}; paired on {mean_n:.0f} cases on average)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200, help="per null setting")
    parser.add_argument("--cases", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "dq_models.py").write_text(MODELS_PY)
        (folder / "tunegate.yaml").write_text(CONFIG)
        rows = [
            {"id": f"c{i:04d}", "text": f"case {i}|{LABELS[i % 3]}", "label": LABELS[i % 3]}
            for i in range(args.cases)
        ]
        (folder / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        sys.path.insert(0, str(folder))
        started = time.perf_counter()
        print(f"{args.trials} trials of {args.cases} cases each; gate: accuracy - zero-shot >= 0")
        print(setting(folder, "null, healthy baseline", 0.8, 0.8, 0.0, args.trials))
        print(setting(folder, "null, baseline failing 30%", 0.8, 0.8, 0.3, args.trials))
        power = max(1, args.trials // 4)  # a power near 1 needs fewer trials to show
        print(setting(folder, "power at +0.15 (0.85 vs 0.70)", 0.85, 0.70, 0.0, power))
        print(setting(folder, "power at +0.15, failing 30%", 0.85, 0.70, 0.3, power))
        print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
