"""Time the train/test leakage check and measure recall of planted near duplicates.

Run: ``.venv/bin/python benchmarks/leakage_speed.py [--train N] [--test M] [--seed S]``

Builds synthetic product reviews (30 to 60 words drawn from a seeded word list
with Zipf-like frequencies, so common words and their 3-grams recur across
reviews as in real text), ``--train`` for training and ``--test`` for testing.
``--planted`` of the test reviews (1% by default) are copies of random train
reviews with one light edit each (a word replaced, deleted or inserted, plus
case and punctuation changes). Prints the time of each stage and of
:func:`tunegate.data.leakage.check_leakage`, the LSH candidate count, and the recall of
the planted pairs (overall and among those whose true Jaccard reaches the
threshold), and how many reported pairs were not planted.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

from tunegate.data import Case
from tunegate.data.leakage import (
    check_leakage,
    jaccard,
    lsh_candidates,
    lsh_params,
    minhash_signatures,
    normalize_text,
    shingles,
)

#: Frequent review words; made-up words fill the rest of the vocabulary.
COMMON_WORDS = (
    "the a and it is was this i to of for my with but not very so too on in "
    "that product quality price battery screen works great good bad after one "
    "week month day use used again would buy recommend return broke love like "
    "really just also fine ok okay cheap sturdy fast slow small large color"
)


def word_list(size: int, rng: random.Random) -> list[str]:
    """:data:`COMMON_WORDS` followed by made-up words of two to four syllables."""
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words = COMMON_WORDS.split()
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def make_reviews(n: int, words: list[str], rng: random.Random) -> list[str]:
    """``n`` reviews of 30 to 60 words; word ``k`` is drawn with weight ``1 / (k + 1)``."""
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))
    reviews = []
    for _ in range(n):
        chosen = rng.choices(words, cum_weights=cumulative, k=rng.randint(30, 60))
        reviews.append(" ".join(chosen).capitalize() + ".")
    return reviews


def light_edit(text: str, words: list[str], rng: random.Random) -> str:
    """One word replaced, deleted or inserted away from the ends; then case and punctuation."""
    tokens = text.rstrip(".").split()
    position = rng.randrange(3, len(tokens) - 3)
    kind = rng.choice(["replace", "delete", "insert"])
    if kind == "replace":
        tokens[position] = rng.choice(words)
    elif kind == "delete":
        del tokens[position]
    else:
        tokens.insert(position, rng.choice(words))
    tokens[0] = tokens[0].upper()
    return " ".join(tokens) + "!!"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--test", type=int, default=5_000)
    parser.add_argument("--planted", type=float, default=0.01, help="fraction of test cases")
    parser.add_argument("--vocabulary", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.8)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    words = word_list(args.vocabulary, rng)
    train_texts = make_reviews(args.train, words, rng)
    test_texts = make_reviews(args.test, words, rng)
    n_planted = round(args.planted * args.test)
    planted: dict[int, int] = {}  # test index -> train index
    for i in rng.sample(range(args.test), n_planted):
        j = rng.randrange(args.train)
        test_texts[i] = light_edit(train_texts[j], words, rng)
        planted[i] = j
    labels = ["positive", "negative", "neutral"]
    train = [
        Case(id=f"train-{j}", text=t, reference=rng.choice(labels))
        for j, t in enumerate(train_texts)
    ]
    test = [
        Case(id=f"test-{i}", text=t, reference=rng.choice(labels)) for i, t in enumerate(test_texts)
    ]

    true_j = {
        i: jaccard(
            shingles(normalize_text(test_texts[i])), shingles(normalize_text(train_texts[j]))
        )
        for i, j in planted.items()
    }
    print(f"leakage check: {args.train:,} train x {args.test:,} test reviews, seed {args.seed}")
    print(
        f"  planted near duplicates: {n_planted}  true Jaccard "
        f"{min(true_j.values()):.3f} .. {max(true_j.values()):.3f}"
    )

    # Stage timings (the same work check_leakage does, done step by step).
    start = time.perf_counter()
    norm = [normalize_text(t) for t in train_texts + test_texts]
    t_norm = time.perf_counter() - start
    start = time.perf_counter()
    sets = [shingles(t) for t in norm]
    t_shingle = time.perf_counter() - start
    start = time.perf_counter()
    sig = minhash_signatures(sets)
    t_sig = time.perf_counter() - start
    bands, rows = lsh_params(args.threshold, sig.shape[1])
    start = time.perf_counter()
    cand = lsh_candidates(sig[: args.train], sig[args.train :], bands, rows)
    t_lsh = time.perf_counter() - start
    print(
        f"  stages: normalise {t_norm:.2f} s, shingle {t_shingle:.2f} s "
        f"({sum(map(len, sets)):,} shingles), MinHash {t_sig:.2f} s, "
        f"LSH {bands}x{rows} {t_lsh:.2f} s ({len(cand):,} candidates)"
    )

    start = time.perf_counter()
    report = check_leakage(train, test, threshold=args.threshold)
    elapsed = time.perf_counter() - start

    found = {(t, r) for t, r, _ in report.near} | set(report.exact)
    hits = [i for i, j in planted.items() if (f"test-{i}", f"train-{j}") in found]
    above = [i for i in planted if true_j[i] >= args.threshold]
    hits_above = [i for i in hits if true_j[i] >= args.threshold]
    planted_pairs = {(f"test-{i}", f"train-{j}") for i, j in planted.items()}
    print(f"  check_leakage: {elapsed:.2f} s total, {report.n_candidates:,} LSH candidates")
    print(
        f"  recall of planted pairs: {len(hits)}/{n_planted} = {len(hits) / max(n_planted, 1):.3f}; "
        f"with true Jaccard >= {args.threshold}: {len(hits_above)}/{len(above)}"
    )
    print(
        f"  leakage_rate {report.leakage_rate:.4f}; reported pairs not planted: "
        f"{len(found - planted_pairs)}"
    )


if __name__ == "__main__":
    main()
