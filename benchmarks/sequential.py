"""Sequential evaluation against the fixed-size run: error rates and cases used.

Run: ``.venv/bin/python benchmarks/sequential.py [--trials T] [--cases N] [--look-every L]``
(defaults: 1,000 cases, looks every 50, 40 null and 20 effect trials, each run both ways:
a few minutes on two shared cores; ``--trials 400`` for tighter error-rate estimates)

Each trial is a real run through the pipeline (``tunegate.pipeline.flow.run``: python
models, scoring, paired bootstrap, gate), once sequential (``RunOptions(sequential=True)``)
and once on the whole test set. Every model answers each case right with its own
probability, independently per case and trial. The gate is a superiority test,
``accuracy - zero-shot >= 0`` on the paired interval at 95%, so on null pairs (0.80 vs
0.80) SHIP is a false SHIP: the rate must stay at or below 5% (about 2.5% expected, the
one-sided tail) however often the sequential run looks. At the stated effect (+0.10:
0.80 vs 0.70) the SHIP rate should be at least 80% and the sequential run should use at
most half of the cases (median).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
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
    key = f"{os.environ['SQ_TRIAL']}|{name}|{text}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64


def _answer(name, text, p_right):
    truth = text.split("|")[1]
    if _draw(name, text) < p_right:
        return truth
    return LABELS[(LABELS.index(truth) + 1) % 3]


def candidate(text):
    return _answer("candidate", text, float(os.environ["SQ_CAND"]))


def baseline(text):
    return _answer("baseline", text, float(os.environ["SQ_BASE"]))
"""

CONFIG = """\
name: sequential-benchmark
dataset:
  path: cases.jsonl
task:
  type: classification
  labels: [positive, negative, neutral]
bootstrap: 1000
models:
  finetuned: {type: python, function: sq_models:candidate, concurrency: 1}
  zero-shot: {type: python, function: sq_models:baseline, concurrency: 1}
compare:
  candidate: finetuned
  metric: accuracy
gate:
  criteria:
    - {metric: accuracy, vs: zero-shot, min_delta: 0}
sequential:
  look_every: LOOK_EVERY
"""

LABELS = ["positive", "negative", "neutral"]


def setting(
    folder: Path, name: str, cand: float, base: float, trials: int, n: int
) -> dict[str, object]:
    """Verdicts of the sequential and the fixed-size runs, and the cases used."""
    from tunegate.config import load_config
    from tunegate.pipeline.flow import RunOptions, run

    config = load_config(folder / "tunegate.yaml")
    seq: Counter[str] = Counter()
    fixed: Counter[str] = Counter()
    used: list[float] = []
    os.environ.update(SQ_CAND=str(cand), SQ_BASE=str(base))
    started = time.perf_counter()
    for trial in range(trials):
        os.environ["SQ_TRIAL"] = hashlib.sha256(f"{name}/{trial}".encode()).hexdigest()[:16]
        store = folder / f"{name}-{trial}.db"
        result = run(config, RunOptions(sequential=True, store_path=store), config_dir=folder)
        assert result.gate is not None
        assert result.sequential is not None
        seq[result.gate.verdict] += 1
        used.append(result.sequential["cases_used"] / n)
        # The same trial on the whole test set (answers already sent come from the store:
        # the same answers, so the two runs differ only in when they decide).
        whole = run(config, RunOptions(sequential=False, store_path=store), config_dir=folder)
        assert whole.gate is not None
        fixed[whole.gate.verdict] += 1
        store.unlink()
    return {
        "name": name,
        "cand": cand,
        "base": base,
        "trials": trials,
        "seq": seq,
        "fixed": fixed,
        "median_used": statistics.median(used),
        "mean_used": statistics.fmean(used),
        "seconds": time.perf_counter() - started,
    }


def line(row: dict[str, object]) -> str:
    trials = int(row["trials"])  # type: ignore[call-overload]
    seq: Counter[str] = row["seq"]  # type: ignore[assignment]
    fixed: Counter[str] = row["fixed"]  # type: ignore[assignment]
    return (
        f"{row['name']:<28} {row['cand']:.2f} vs {row['base']:.2f}, {trials} trials: "
        f"SHIP sequential {seq['SHIP'] / trials:6.1%} (ITERATE {seq['ITERATE'] / trials:.0%}) | "
        f"fixed-size {fixed['SHIP'] / trials:6.1%}; cases used by the sequential run: median "
        f"{row['median_used']:.0%}, mean {row['mean_used']:.0%} ({row['seconds']:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40, help="null trials (effect: half)")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--look-every", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "sq_models.py").write_text(MODELS_PY)
        (folder / "tunegate.yaml").write_text(CONFIG.replace("LOOK_EVERY", str(args.look_every)))
        rows = [
            {"id": f"c{i:04d}", "text": f"case {i}|{LABELS[i % 3]}", "label": LABELS[i % 3]}
            for i in range(args.cases)
        ]
        (folder / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        sys.path.insert(0, str(folder))
        looks = -(-args.cases // args.look_every)
        print(
            f"{args.cases} cases, a look every {args.look_every} ({looks} looks), gate: "
            "accuracy - zero-shot >= 0 at 95%; Lan-DeMets O'Brien-Fleming boundaries"
        )
        n = args.cases
        print(line(setting(folder, "null pair", 0.80, 0.80, args.trials, n)))
        print(line(setting(folder, "effect +0.10", 0.80, 0.70, max(1, args.trials // 2), n)))


if __name__ == "__main__":
    main()
