"""Time the per-case text and tool-call scorers.

Run: ``.venv/bin/python benchmarks/metrics_speed.py [--pairs N] [--repeat R]``

Measures, one case at a time as the runner scores them:

* ROUGE-L (rouge-score) and sentence BLEU and chrF (sacrebleu) on ``--pairs``
  hypothesis/reference pairs: the WMT17 en-de systems and reference in
  ../shared/data/metric_vectors/sacrebleu when present, else synthetic sentences;
* exact match (SQuAD normalisation) on NQ-open's answers when present, else synthetic;
* tool calls on the BFCL sets in ../shared/data/bfcl (when present): parsing an
  OpenAI ``tool_calls`` output and scoring it against the possible answers.

* the full scoring pass of a generation suite on the text pairs: exact match,
  ROUGE, BLEU and chrF per case, corpus BLEU/chrF, then every metric's interval
  (10,000 bootstrap resamples), as ``tunegate run`` does it.

Prints cases per second for the first run and the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tunegate.config import TaskConfig, suite_metrics
from tunegate.data import Case
from tunegate.data.bfcl import load_bfcl
from tunegate.evaluation.scores import generic_result, score_generic
from tunegate.scoring.scorers import build_scorers
from tunegate.scoring.structured import expected_to_calls, parse_tool_calls, score_tool_calls
from tunegate.scoring.text import exact_match, rouge_l_score, sentence_bleu, sentence_chrf
from tunegate.store import Response

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WMT17 = SHARED / "metric_vectors" / "sacrebleu" / "wmt17_en_de"
NQ_OPEN = SHARED / "nq_open" / "NQ-open.dev.jsonl"
BFCL = SHARED / "bfcl"
BFCL_SETS = ["simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance"]


def rates(run: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """Cases/s of the first (cold) run and the best of ``repeat`` runs, and the case count.

    Later runs can be faster than the first: sacrebleu's 13a tokenizer keeps an LRU
    cache of tokenised lines (as it would when several models share references).
    """
    times = []
    n = 0
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        n = run()
        times.append(time.perf_counter() - start)
    return n / times[0], n / min(times), n


def report(label: str, run: Callable[[], int], repeat: int) -> None:
    cold, best, n = rates(run, repeat)
    print(
        f"  {label:<28} {n:>6} cases  first run {cold:>9,.0f} cases/s  best {best:>9,.0f} cases/s"
    )


def text_pairs(n: int) -> tuple[list[tuple[str, str]], str]:
    reference = WMT17 / "newstest2017.ref.de"
    if reference.is_file():
        refs = reference.read_text(encoding="utf-8").splitlines()
        pairs: list[tuple[str, str]] = []
        for hyp_file in sorted(WMT17.glob("*.hyp.de")):
            hyps = hyp_file.read_text(encoding="utf-8").splitlines()
            pairs.extend(zip(hyps, refs, strict=True))
        return (pairs * (n // len(pairs) + 1))[:n], "WMT17 en-de (5 systems)"
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(2000)]
    synthetic = []
    for _ in range(n):
        ref = rng.choices(vocabulary, k=rng.randint(10, 40))
        hyp = [word if rng.random() < 0.6 else rng.choice(vocabulary) for word in ref]
        synthetic.append((" ".join(hyp), " ".join(ref)))
    return synthetic, "synthetic"


def qa_pairs() -> tuple[list[tuple[str, list[str]]], str]:
    if NQ_OPEN.is_file():
        records = [json.loads(line) for line in NQ_OPEN.read_text(encoding="utf-8").splitlines()]
        rng = random.Random(0)
        pairs = [
            (
                f"The {r['answer'][0]}."
                if rng.random() < 0.5
                else rng.choice(records)["answer"][0],
                r["answer"],
            )
            for r in records
        ]
        return pairs, "NQ-open dev"
    return [(f"answer {i % 7}", [f"Answer {i % 5}"]) for i in range(5000)], "synthetic"


def bfcl_cases() -> list[tuple[Case, dict[str, Any]]]:
    """Each BFCL case with a plausible answer: the ground truth as OpenAI tool_calls."""
    loaded: list[tuple[Case, dict[str, Any]]] = []
    for name in BFCL_SETS:
        path = BFCL / f"BFCL_v4_{name}.json"
        if not path.is_file():
            continue
        for case in load_bfcl(path):
            calls = expected_to_calls(case.metadata["ground_truth"])
            output = {
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                    }
                    for c in calls
                ]
            }
            loaded.append((case, output))
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    pairs, source = text_pairs(args.pairs)
    print(f"text pairs: {len(pairs)} from {source}")

    def run_rouge() -> int:
        for hyp, ref in pairs:
            rouge_l_score(hyp, ref)
        return len(pairs)

    def run_bleu() -> int:
        for hyp, ref in pairs:
            sentence_bleu(hyp, ref)
        return len(pairs)

    def run_chrf() -> int:
        for hyp, ref in pairs:
            sentence_chrf(hyp, ref)
        return len(pairs)

    for label, run in (
        ("ROUGE-L (rouge-score)", run_rouge),
        ("sentence BLEU (sacrebleu)", run_bleu),
        ("sentence chrF (sacrebleu)", run_chrf),
    ):
        report(label, run, args.repeat)

    # The full scoring pass of a generation suite, as `tunegate run` does it: every
    # scorer on every case, corpus BLEU/chrF, then metrics with intervals per model.
    task = TaskConfig.model_validate(
        {
            "type": "generation",
            "scorers": [{"type": t} for t in ("exact_match", "rouge", "bleu", "chrf")],
        }
    )
    scorers = build_scorers(task.scorer_list, "bench")
    cases = [Case(id=str(i), text="", reference=ref) for i, (_, ref) in enumerate(pairs)]
    responses = [
        Response(case_id=str(i), model="m", key=str(i), text=hyp)
        for i, (hyp, _) in enumerate(pairs)
    ]

    def run_full() -> int:
        scored = score_generic("m", cases, responses, scorers)
        generic_result(
            scored, cases, suite_metrics(task), confidence=0.95, n_resamples=10_000, seed=0
        )
        return len(cases)

    report("full pass: EM+ROUGE+BLEU+chrF", run_full, 1)

    questions, qa_source = qa_pairs()

    def run_exact() -> int:
        for prediction, answers in questions:
            exact_match(prediction, answers, remove_punctuation=True, remove_articles=True)
        return len(questions)

    print(f"exact match ({qa_source}):")
    report("SQuAD-normalised EM", run_exact, args.repeat)

    loaded = bfcl_cases()
    if not loaded:
        print("tool calls: skipped (../shared/data/bfcl absent)")
        return

    def run_tools() -> int:
        passed = 0
        for case, output in loaded:
            calls = parse_tool_calls(None, output)
            passed += score_tool_calls(
                calls, case.metadata["ground_truth"], functions=case.metadata["functions"]
            ).passed
        assert passed == len(loaded), passed  # the ground truth always passes
        return len(loaded)

    print(f"tool calls (BFCL v4: {', '.join(BFCL_SETS)}):")
    report("parse + score", run_tools, args.repeat)


if __name__ == "__main__":
    main()
