"""Throughput and quality of local classification with HFBackend (Gemma 3 270M + LoRA).

Variants on the sentiment test split (``src/tunegate/examples/sentiment/data/test.jsonl``):

- ``hf fp32``: HFBackend classify, label log-likelihood fast path (one forward pass per
  batch, logits of the last position only), batches of ``--batch-size``;
- ``naive fp32``: one ``model.generate`` of 3 new tokens per case, first word parsed as
  the label (an unparseable answer counts as wrong, not as a class);
- ``hf bf16``: the fast path with bfloat16 weights;
- ``hf fp32 k-shot``: a k-shot prompt (shared prefix of k train reviews) with the
  prefix KV cache on and off, to measure what reusing the prefix buys.

``--base-vs-merged`` instead times the base model against the merged adapter model in
one process, interleaved (so the machine's load hits both alike), on the classify fast
path and on multiple choice (the bundled general questions, several kept positions per
sequence), and prints medians of ``--repeats`` runs. ``--without-contiguous-head`` adds
the merged model as it ran before the fix (``lm_head`` fed a strided view).

Macro-F1 is scikit-learn's over the three labels. Timings are wall clock on whatever
else the machine runs at the time; compare rows of one run, not across machines.

Usage::

    python benchmarks/local_classify.py [--limit 40] [--base] [--shots 5] [--no-naive]
    python benchmarks/local_classify.py --base-vs-merged --limit 40 [--repeats 3]

All 180 cases take about 20 minutes on two shared cores (the naive loop and bf16
dominate: this CPU has no fast bfloat16 matmul); ``--limit 40`` gives a quick look.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score

from tunegate.data import Case, load_cases
from tunegate.models.base import Completion
from tunegate.models.hf import HFBackend, LocalLM

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "src" / "tunegate" / "examples" / "sentiment"
LABELS = ["positive", "negative", "neutral"]
PROMPT = "Review: {{ input }}\nSentiment:"


@dataclass
class Row:
    name: str
    preds: list[str]
    seconds: float
    unparsed: int = 0
    logprobs: list[list[float]] | None = None


def macro_f1(refs: Sequence[str], preds: Sequence[str]) -> float:
    return float(f1_score(refs, preds, labels=LABELS, average="macro", zero_division=0))


async def run_backend(backend: HFBackend, cases: Sequence[Case]) -> Row:
    requests = [backend.render(c) for c in cases]
    preds: list[str] = []
    logprobs: list[list[float]] = []
    t0 = time.perf_counter()
    for start in range(0, len(requests), backend.batch_size):
        for answer in await backend.send_batch(requests[start : start + backend.batch_size]):
            if not isinstance(answer, Completion) or answer.text is None:
                raise SystemExit(f"{backend.name}: {answer}")
            preds.append(answer.text)
            logprobs.append([answer.extra["label_logprobs"][lab] for lab in LABELS])
    return Row(backend.name, preds, time.perf_counter() - t0, logprobs=logprobs)


def run_naive(backend: HFBackend, cases: Sequence[Case]) -> Row:
    """One generate call of 3 new tokens per case; the first word is the answer."""
    import torch

    lm = backend.lm
    assert lm is not None
    preds: list[str] = []
    unparsed = 0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for case in cases:
            enc = lm.tokenizer(backend.render(case)["prompt"], return_tensors="pt")
            out = lm.model.generate(
                **enc,
                max_new_tokens=3,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=lm.pad_id,
            )
            text = lm.tokenizer.decode(
                out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True
            )
            words = text.strip().split()
            word = words[0].strip(".,;:!\"'").lower() if words else ""
            if word not in LABELS:
                unparsed += 1
                word = "<unparsed>"
            preds.append(word)
    return Row("naive fp32 (generate 3 tokens)", preds, time.perf_counter() - t0, unparsed)


def shots_template(train: Sequence[Case], k: int, seed: int) -> str:
    picks = random.Random(seed).sample(list(train), k)
    examples = "".join(f"Review: {c.text}\nSentiment: {c.reference}\n\n" for c in picks)
    return "{% raw %}" + examples + "{% endraw %}" + PROMPT


def base_vs_merged(adapter: Path, limit: int, repeats: int, threads: int, unfixed: bool) -> int:
    """Base vs merged model on identical inputs, interleaved; medians of ``repeats`` runs."""
    import statistics

    from tunegate.data.general import GENERAL_KNOWLEDGE, load_general_jsonl
    from tunegate.models.hf import resolve_gguf

    gguf = resolve_gguf("gemma3-270m")
    models = {"base": LocalLM(gguf_file=gguf, threads=threads)}
    models["merged"] = LocalLM(gguf_file=gguf, adapter=adapter, threads=threads)
    if unfixed:  # the merged model as before: lm_head gets the strided view
        old = LocalLM(gguf_file=gguf, adapter=adapter, threads=threads)
        old.model.get_output_embeddings()._forward_pre_hooks.clear()
        models["merged, strided lm_head input"] = old
    reviews = load_cases(EXAMPLE / "data" / "test.jsonl", labels=LABELS, limit=limit)
    review_prompts = [PROMPT.replace("{{ input }}", c.text) for c in reviews]
    questions = load_general_jsonl(GENERAL_KNOWLEDGE)[:limit]
    mc_prompts = [f"Question: {c.text}\nAnswer:" for c in questions]
    mc_choices = [[str(v) for v in c.metadata["choices"].values()] for c in questions]
    tasks: dict[str, Callable[[LocalLM], Any]] = {
        "classify (1 kept position)": lambda lm: lm.label_logprobs(review_prompts, LABELS, 8),
        "multiple choice (k kept)": lambda lm: lm.choice_logprobs(mc_prompts, mc_choices, 8),
    }
    names = list(models)
    times: dict[tuple[str, str], list[float]] = {}
    results: dict[tuple[str, str], np.ndarray] = {}
    for rep in range(repeats):
        for task, run in tasks.items():
            for name in names if rep % 2 == 0 else names[::-1]:
                t0 = time.perf_counter()
                results[task, name] = np.asarray(run(models[name]))
                times.setdefault((task, name), []).append(time.perf_counter() - t0)
    print(f"{limit} reviews / {limit} questions x 4 choices, {threads} threads, {repeats} runs")
    print(f"{'task':<28} {'model':<31} {'median s':>8} {'ms/case':>8} {'vs base':>8}  runs")
    for task in tasks:
        base_s = statistics.median(times[task, "base"])
        for name in names:
            runs = times[task, name]
            med = statistics.median(runs)
            print(
                f"{task:<28} {name:<31} {med:8.2f} {1000 * med / limit:8.1f} "
                f"{med / base_s:7.2f}x  {' '.join(f'{x:.1f}' for x in runs)}"
            )
        if unfixed:
            a = results[task, "merged"]
            b = results[task, "merged, strided lm_head input"]
            same = bool((a.argmax(axis=1) == b.argmax(axis=1)).all())
            print(
                f"  merged vs before the fix: same answers {same}, "
                f"max |delta log-prob| {float(np.abs(a - b).max()):.1e}"
            )
    print("Wall-clock timings on a shared machine: noisy; compare rows of one run.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="first N test cases (all 180)")
    parser.add_argument("--adapter", type=Path, default=EXAMPLE / "adapter")
    parser.add_argument("--base", action="store_true", help="the base model, no adapter")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--shots", type=int, default=5, help="k of the k-shot rows (0: skip)")
    parser.add_argument("--no-naive", action="store_true")
    parser.add_argument("--base-vs-merged", action="store_true", help="time base vs merged")
    parser.add_argument("--repeats", type=int, default=3, help="runs of --base-vs-merged")
    parser.add_argument("--without-contiguous-head", action="store_true")
    args = parser.parse_args(argv)
    if args.base_vs_merged:
        return base_vs_merged(
            args.adapter,
            args.limit or 40,
            args.repeats,
            args.threads,
            args.without_contiguous_head,
        )

    cases = load_cases(EXAMPLE / "data" / "test.jsonl", labels=LABELS, limit=args.limit)
    refs = [c.reference for c in cases]
    common: dict[str, Any] = {
        "adapter": None if args.base else args.adapter,
        "prompt": PROMPT,
        "labels": LABELS,
        "batch_size": args.batch_size,
        "threads": args.threads,
    }
    model_desc = "base" if args.base else f"adapter {args.adapter}"
    print(f"Gemma 3 270M ({model_desc}), {len(cases)} test cases, {args.threads} threads")

    rows: list[Row] = []
    fp32 = HFBackend("hf fp32 (fast path)", dtype="float32", **common)
    t0 = time.perf_counter()
    asyncio.run(fp32.start())
    print(f"load fp32: {time.perf_counter() - t0:.1f}s")
    rows.append(asyncio.run(run_backend(fp32, cases)))
    if not args.no_naive:
        rows.append(run_naive(fp32, cases))

    if args.shots:
        train = load_cases(EXAMPLE / "data" / "train.jsonl", labels=LABELS)
        template = shots_template(train, args.shots, seed=0)
        lm = fp32.lm
        assert lm is not None
        for cache_on in (True, False):
            label = "on" if cache_on else "off"
            shot_backend = HFBackend(
                f"hf fp32 {args.shots}-shot, prefix cache {label}",
                **{**common, "prompt": template},
                prefix_cache=cache_on,
            )
            shot_backend.lm = lm  # same weights; only the prompt differs
            lm.prefix_cache = cache_on
            lm._prefix = None
            rows.append(asyncio.run(run_backend(shot_backend, cases)))
        lm.prefix_cache = True
    asyncio.run(fp32.aclose())

    bf16 = HFBackend("hf bf16 (fast path)", dtype="bfloat16", **common)
    t0 = time.perf_counter()
    asyncio.run(bf16.start())
    print(f"load bf16: {time.perf_counter() - t0:.1f}s")
    rows.append(asyncio.run(run_backend(bf16, cases)))

    reference = rows[0].preds
    header = (
        f"{'variant':<36} {'s':>7} {'cases/s':>8} {'macro-F1':>9} {'unparsed':>9} {'differ':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    for row in rows:
        differ = sum(a != b for a, b in zip(row.preds, reference, strict=True))
        print(
            f"{row.name:<36} {row.seconds:7.1f} {len(cases) / row.seconds:8.2f} "
            f"{macro_f1(refs, row.preds):9.4f} {row.unparsed:9d} {differ:7d}"
        )
    print("\n'differ': predictions that differ from the fp32 fast path (first row).")
    by_name = {row.name: row for row in rows}
    pairs = [(r.name, rows[0].name) for r in rows[1:] if "bf16" in r.name]
    if args.shots:
        pairs.append(
            (
                f"hf fp32 {args.shots}-shot, prefix cache on",
                f"hf fp32 {args.shots}-shot, prefix cache off",
            )
        )
    for a, b in pairs:
        ra, rb = by_name[a], by_name[b]
        assert ra.logprobs is not None
        assert rb.logprobs is not None
        delta = float(np.abs(np.array(ra.logprobs) - np.array(rb.logprobs)).max())
        differ = sum(x != y for x, y in zip(ra.preds, rb.preds, strict=True))
        print(f"{a} vs {b}: {differ} predictions differ, max |delta log-prob| {delta:.2e}")
    print("Wall-clock timings on a shared machine: noisy; compare rows of one run.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
