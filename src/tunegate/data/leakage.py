"""Train/test leakage: exact and near-duplicate inputs, and label balance.

A test case *leaks* when its input also appears in the training file, either
verbatim after normalisation (an exact duplicate) or with small edits (a near
duplicate). The share of leaked test cases is the ``leakage`` metric a gate
criterion such as ``{metric: leakage, max: 0}`` limits.

The input compared is :attr:`tunegate.data.Case.text` (the last user turn); a
shared system prompt is not part of it.

Pipeline, for ``T`` train and ``S`` test cases:

1. :func:`normalize_text` every input (NFKC, casefold, punctuation removed,
   whitespace collapsed). Equal normalised inputs are exact duplicates.
2. :func:`shingles`: the set of word ``n``-grams of the normalised text
   (``n = shingle_n``, default 3). A text of fewer than ``n`` words is one
   shingle, the whole normalised text, so it can only match an identical text
   (already an exact duplicate); an empty text has no shingles and is never a
   near duplicate.
3. :func:`minhash_signatures`: each shingle is hashed to 64 bits with BLAKE2b
   (stable across processes, unlike the salted built-in ``hash``), then ``P``
   hash functions ``h_k(x) = (a_k x + b_k) mod 2**64`` (``a_k`` odd and
   ``b_k`` drawn from ``seed``) give the signature ``sig_k = min_x h_k(x)``.
   ``P(sig_k(A) == sig_k(B)) ~= J(A, B) = |A & B| / |A | B|``.
4. :func:`lsh_candidates`: the signature is cut into ``bands`` bands of ``rows``
   values; a train/test pair that agrees on a whole band is a candidate. A pair
   of Jaccard ``s`` becomes a candidate with probability
   ``1 - (1 - s**rows)**bands`` (:func:`candidate_probability`).
5. Every candidate is verified with the exact Jaccard of its two shingle sets;
   pairs with ``J >= threshold`` are near duplicates. MinHash only proposes
   pairs, so no reported pair is a false positive; a pair with ``J >= threshold``
   can be missed only if LSH never proposes it (see :func:`lsh_params`).

Sensitivity: replacing one word inside a text of ``k >= 2n`` words changes ``n``
of its ``k - n + 1`` shingles, so ``J = (k - 2n + 1) / (k + 1)``: 0.85 for a
40-word review, 0.71 for a 20-word one (with ``n = 3``). Appending, dropping or
replacing the last word costs only one shingle. Lower the threshold (or
``shingle_n``) to catch heavier edits of short texts.

Costs: signatures are ``O(total shingles * P)`` numpy work, banding sorts
``bands`` arrays of ``T + S`` keys, verification is proportional to the number of
candidates (small at the default threshold, large at low thresholds).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

import numpy as np
import numpy.typing as npt

from tunegate.data import Case

__all__ = [
    "EMPTY_SIGNATURE_VALUE",
    "LeakageReport",
    "candidate_probability",
    "check_leakage",
    "estimated_jaccard",
    "jaccard",
    "label_balance",
    "lsh_candidates",
    "lsh_params",
    "minhash_signatures",
    "normalize_text",
    "shingle_hashes",
    "shingles",
]

U64Array = npt.NDArray[np.uint64]
IntArray = npt.NDArray[np.int64]

#: Signature value of a text with no shingles (it then matches nothing by LSH).
EMPTY_SIGNATURE_VALUE: int = 2**64 - 1

#: Probability that :func:`lsh_params` requires of a pair exactly at the threshold
#: to become a candidate.
DEFAULT_MIN_RECALL = 0.99

_APOSTROPHES = frozenset("'\u2018\u2019\u02bc")


# --------------------------------------------------------------------------- text


class _PunctuationTable(dict[int, str]):
    """``str.translate`` table, filled on first sight of each character.

    Apostrophes are deleted (``don't`` -> ``dont``); any other character of a
    Unicode punctuation category (``P*``) becomes a space (``well-made`` ->
    ``well made``); everything else maps to itself.
    """

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _APOSTROPHES:
            value = ""
        elif unicodedata.category(char).startswith("P"):
            value = " "
        else:
            value = char
        self[code] = value
        return value


_PUNCTUATION = _PunctuationTable()


def normalize_text(text: str) -> str:
    """The comparison form of ``text``.

    ``NFKC(casefold(NFKC(text)))``, then apostrophes deleted and every other
    Unicode punctuation character (category ``P*``) replaced by a space, then
    runs of whitespace collapsed to one space and the ends stripped. Symbols
    (``$``, ``+``, emoji) and digits are kept.

    >>> normalize_text("  Don't  BUY it -- well-made?  NO!")
    'dont buy it well made no'
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.translate(_PUNCTUATION).split())


def shingles(normalized: str, n: int = 3) -> set[str]:
    """The word ``n``-grams of an already normalised text, each joined by one space.

    A text of ``k >= n`` words has at most ``k - n + 1`` shingles. A non-empty
    text of fewer than ``n`` words is a single shingle, the whole text (it cannot
    collide with a true ``n``-gram, which has exactly ``n`` words). An empty text
    has no shingles.
    """
    if n < 1:
        raise ValueError(f"shingle size must be at least 1, got {n}")
    words = normalized.split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    # zip stops at the shortest slice, words[n - 1:], so every tuple has n words.
    return set(map(" ".join, zip(*(words[i:] for i in range(n)), strict=False)))


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    """Exact Jaccard similarity ``|A & B| / |A | B|`` of two sets (0.0 when both are empty)."""
    set_a = a if isinstance(a, set | frozenset) else set(a)
    set_b = b if isinstance(b, set | frozenset) else set(b)
    union = len(set_a | set_b)
    return len(set_a & set_b) / union if union else 0.0


# --------------------------------------------------------------------------- MinHash


def shingle_hashes(shingle_set: Collection[str]) -> U64Array:
    """64-bit BLAKE2b hash of each shingle (UTF-8), in iteration order.

    The hash is the first 8 bytes of the digest read little-endian: the same on
    every machine and in every process.
    """
    digest = b"".join([blake2b(item.encode(), digest_size=8).digest() for item in shingle_set])
    return np.frombuffer(digest, dtype="<u8").astype(np.uint64)


def _hash_family(num_perm: int, seed: int) -> tuple[U64Array, U64Array]:
    """Multipliers ``a`` (odd) and offsets ``b`` of the ``num_perm`` hash functions."""
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1)
    b = rng.integers(0, 2**64, size=num_perm, dtype=np.uint64, endpoint=False)
    return a, b


def minhash_signatures(
    shingle_sets: Sequence[Collection[str]], *, num_perm: int = 128, seed: int = 0
) -> U64Array:
    """MinHash signatures, one row of ``num_perm`` unsigned 64-bit values per set.

    ``sig[d, k] = min over shingles x of d of (a_k * H(x) + b_k) mod 2**64`` where
    ``H`` is :func:`shingle_hashes` (64-bit BLAKE2b) and ``(a_k, b_k)`` are drawn
    from ``numpy.random.default_rng(seed)``, ``a_k`` odd. This is the
    multiply-add family over the integers modulo ``2**64``; with ``a_k`` odd each
    ``h_k`` is a bijection, so two sets share a minimum only through a shared
    shingle, and ``mean_k(sig[d, k] == sig[e, k])`` estimates their Jaccard
    similarity (standard error about ``sqrt(J (1 - J) / num_perm)``).

    A set with no shingles gets :data:`EMPTY_SIGNATURE_VALUE` everywhere. The
    same ``seed`` and ``num_perm`` give the same signatures on every machine.
    """
    a, b = _hash_family(num_perm, seed)
    n_docs = len(shingle_sets)
    signatures = np.full((n_docs, num_perm), EMPTY_SIGNATURE_VALUE, dtype=np.uint64)
    lengths = np.fromiter((len(s) for s in shingle_sets), dtype=np.int64, count=n_docs)
    filled = np.flatnonzero(lengths > 0)
    if filled.size == 0:
        return signatures
    hashes = np.concatenate([shingle_hashes(shingle_sets[d]) for d in filled.tolist()])
    starts = np.cumsum(lengths[filled]) - lengths[filled]
    # One hash function at a time: a few arrays the size of ``hashes`` instead of a
    # (shingles, num_perm) matrix, and faster than blocks of it in practice.
    values = np.empty_like(hashes)
    by_perm = np.empty((num_perm, filled.size), dtype=np.uint64)
    for k in range(num_perm):
        np.multiply(hashes, a[k], out=values)
        values += b[k]
        by_perm[k] = np.minimum.reduceat(values, starts)
    signatures[filled] = by_perm.T
    return signatures


def estimated_jaccard(sig_a: npt.ArrayLike, sig_b: npt.ArrayLike) -> float:
    """MinHash estimate of Jaccard similarity: the fraction of equal signature values."""
    left, right = np.asarray(sig_a), np.asarray(sig_b)
    if left.shape != right.shape:
        raise ValueError(f"signatures differ in shape: {left.shape} and {right.shape}")
    return float(np.mean(left == right))


# --------------------------------------------------------------------------- LSH


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that a pair of Jaccard ``similarity`` becomes an LSH candidate.

    ``1 - (1 - s**rows)**bands``: the pair must agree on all ``rows`` values of at
    least one of ``bands`` bands. As a function of ``s`` this is an S-curve that
    rises most steeply near ``(1 / bands) ** (1 / rows)``.
    """
    return float(1.0 - (1.0 - similarity**rows) ** bands)


def lsh_params(
    threshold: float, num_perm: int, min_recall: float = DEFAULT_MIN_RECALL
) -> tuple[int, int]:
    """``(bands, rows)`` for a Jaccard ``threshold`` and ``num_perm`` signature values.

    Rule: the largest ``rows`` (so the fewest candidates below the threshold)
    such that, with ``bands = num_perm // rows``, a pair exactly at the threshold
    is a candidate with probability at least ``min_recall``; pairs above the
    threshold are then candidates more often still. ``rows = 1`` when no larger
    value qualifies. Signature values beyond ``bands * rows`` are unused.

    For the defaults (threshold 0.8, 128 values) this gives 21 bands of 6 rows.
    The S-curve ``1 - (1 - s**6)**21`` is then about 1.000 at ``s = 0.9``, 0.998
    at ``s = 0.8`` (the only misses: 0.2% of pairs right at the threshold), 0.93
    at 0.7, 0.28 at 0.5 and 0.015 at 0.3: pairs below the threshold that do become
    candidates are rejected by the exact check, at the cost of verifying them.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if candidate_probability(threshold, bands, rows) >= min_recall:
            return bands, rows
    return num_perm, 1


def lsh_candidates(
    train_signatures: npt.NDArray[np.uint64],
    test_signatures: npt.NDArray[np.uint64],
    bands: int,
    rows: int,
) -> IntArray:
    """Candidate pairs: ``(test_index, train_index)`` rows, sorted, without repeats.

    A pair is a candidate when, for at least one band ``j``, the two signatures
    are equal on all of columns ``j * rows ... (j + 1) * rows - 1``. Rows whose
    signature is :data:`EMPTY_SIGNATURE_VALUE` in the first column (no shingles)
    are never candidates. Bands are compared exactly (byte strings), not through
    a further hash.
    """
    n_train, n_test = len(train_signatures), len(test_signatures)
    if bands < 1 or rows < 1:
        raise ValueError(f"bands and rows must be at least 1, got {bands} and {rows}")
    for name, sig in (("train", train_signatures), ("test", test_signatures)):
        if sig.ndim != 2 or sig.shape[1] < bands * rows:
            raise ValueError(
                f"{name} signatures must have shape (n, >= {bands * rows}), got {sig.shape}"
            )
    if n_train == 0 or n_test == 0:
        return np.empty((0, 2), dtype=np.int64)
    empty = np.uint64(EMPTY_SIGNATURE_VALUE)
    train_ok = np.flatnonzero(train_signatures[:, 0] != empty)
    test_ok = np.flatnonzero(test_signatures[:, 0] != empty)
    codes: list[IntArray] = []
    for band in range(bands):
        cols = slice(band * rows, (band + 1) * rows)
        keys = np.concatenate([train_signatures[train_ok, cols], test_signatures[test_ok, cols]])
        as_bytes = np.ascontiguousarray(keys).view(np.dtype((np.void, keys.itemsize * rows)))
        _, group = np.unique(as_bytes.ravel(), return_inverse=True)
        group = group.ravel()
        train_group, test_group = group[: train_ok.size], group[train_ok.size :]
        order = np.argsort(train_group, kind="stable")
        sorted_groups = train_group[order]
        lo = np.searchsorted(sorted_groups, test_group, side="left")
        hi = np.searchsorted(sorted_groups, test_group, side="right")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            continue
        test_pos = np.repeat(np.arange(test_ok.size), counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        train_pos = order[np.repeat(lo, counts) + offsets]
        codes.append(test_ok[test_pos].astype(np.int64) * n_train + train_ok[train_pos])
    if not codes:
        return np.empty((0, 2), dtype=np.int64)
    unique = np.unique(np.concatenate(codes))
    return np.stack([unique // n_train, unique % n_train], axis=1).astype(np.int64)


# --------------------------------------------------------------------------- labels


def label_balance(cases: Sequence[Case]) -> dict[str, int]:
    """Number of cases per reference label, in order of first appearance."""
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.reference] = counts.get(case.reference, 0) + 1
    return counts


def _proportions(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {label: (count / total if total else 0.0) for label, count in counts.items()}


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class LeakageReport:
    """Overlap between a train and a test file.

    * ``exact``: ``(test_id, train_id)`` for every pair with equal normalised input;
    * ``near``: ``(test_id, train_id, jaccard)`` for every other pair whose exact
      shingle Jaccard is ``>= threshold`` (among the LSH candidates), sorted by
      test then train position;
    * ``leaked_test_ids``: test ids in either list, in test-file order;
    * ``leakage_rate = len(leaked_test_ids) / n_test`` (0.0 for an empty test set):
      the ``leakage`` metric of the gate;
    * ``label_balance``: ``{"train": {label: count}, "test": {label: count}}``,
      both over the union of labels (0 for a label absent from one file);
      ``label_proportions`` the same as fractions of each file;
    * ``max_balance_gap = max_label |p_train - p_test|`` (0.0 when either file is
      empty: there is nothing to compare);
    * ``threshold``, ``shingle_n``, ``num_perm``, ``seed``, ``bands``, ``rows``:
      the settings that produced the report; ``n_candidates``: LSH candidate
      pairs checked exactly (a measure of the work done, not of leakage).
    """

    n_train: int
    n_test: int
    exact: list[tuple[str, str]]
    near: list[tuple[str, str, float]]
    leaked_test_ids: list[str]
    leakage_rate: float
    label_balance: dict[str, dict[str, int]]
    label_proportions: dict[str, dict[str, float]]
    max_balance_gap: float
    threshold: float
    shingle_n: int
    num_perm: int
    seed: int
    bands: int
    rows: int
    n_candidates: int = 0

    @property
    def n_leaked(self) -> int:
        """Number of test cases that duplicate (exactly or nearly) a train case."""
        return len(self.leaked_test_ids)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values; pairs become objects with named fields."""
        return {
            "n_train": self.n_train,
            "n_test": self.n_test,
            "exact": [{"test_id": t, "train_id": r} for t, r in self.exact],
            "near": [{"test_id": t, "train_id": r, "jaccard": j} for t, r, j in self.near],
            "leaked_test_ids": list(self.leaked_test_ids),
            "leakage_rate": self.leakage_rate,
            "label_balance": {side: dict(c) for side, c in self.label_balance.items()},
            "label_proportions": {side: dict(p) for side, p in self.label_proportions.items()},
            "max_balance_gap": self.max_balance_gap,
            "threshold": self.threshold,
            "shingle_n": self.shingle_n,
            "num_perm": self.num_perm,
            "seed": self.seed,
            "bands": self.bands,
            "rows": self.rows,
            "n_candidates": self.n_candidates,
        }


def check_leakage(
    train: Sequence[Case],
    test: Sequence[Case],
    *,
    threshold: float = 0.8,
    shingle_n: int = 3,
    num_perm: int = 128,
    seed: int = 0,
) -> LeakageReport:
    """Find test cases whose input duplicates a train input, exactly or nearly.

    Exact: ``normalize_text(test.text) == normalize_text(train.text)``. Near:
    word ``shingle_n``-gram Jaccard ``>= threshold`` on the normalised texts,
    found by MinHash LSH (``num_perm`` values, ``seed``; bands and rows from
    :func:`lsh_params`) and confirmed exactly; a pair already exact is not listed
    again as near. Two inputs that both normalise to the empty text (blank or
    punctuation only) are exact duplicates; such a text is never a near
    duplicate. See the module docstring for the method and its costs.

    ``leakage_rate`` is the fraction of test cases with at least one exact or
    near duplicate in ``train``.
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if shingle_n < 1:
        raise ValueError(f"shingle_n must be at least 1, got {shingle_n}")
    bands, rows = lsh_params(threshold, num_perm)

    train_norm = [normalize_text(case.text) for case in train]
    test_norm = [normalize_text(case.text) for case in test]

    by_text: dict[str, list[int]] = {}
    for j, text in enumerate(train_norm):
        by_text.setdefault(text, []).append(j)
    leaked: set[int] = set()
    exact: list[tuple[str, str]] = []
    for i, text in enumerate(test_norm):
        for j in by_text.get(text, ()):
            exact.append((test[i].id, train[j].id))
            leaked.add(i)

    near: list[tuple[str, str, float]] = []
    n_candidates = 0
    if train and test:
        train_sets = [shingles(text, shingle_n) for text in train_norm]
        test_sets = [shingles(text, shingle_n) for text in test_norm]
        signatures = minhash_signatures([*train_sets, *test_sets], num_perm=num_perm, seed=seed)
        candidates = lsh_candidates(signatures[: len(train)], signatures[len(train) :], bands, rows)
        n_candidates = len(candidates)
        for i, j in candidates.tolist():
            if test_norm[i] == train_norm[j]:
                continue
            similarity = jaccard(test_sets[i], train_sets[j])
            if similarity >= threshold:
                near.append((test[i].id, train[j].id, similarity))
                leaked.add(i)
    leaked_ids = list(dict.fromkeys(test[i].id for i in sorted(leaked)))

    train_counts, test_counts = label_balance(train), label_balance(test)
    labels = list(dict.fromkeys([*train_counts, *test_counts]))
    train_counts = {label: train_counts.get(label, 0) for label in labels}
    test_counts = {label: test_counts.get(label, 0) for label in labels}
    train_props, test_props = _proportions(train_counts), _proportions(test_counts)
    gap = (
        max((abs(train_props[label] - test_props[label]) for label in labels), default=0.0)
        if train and test
        else 0.0
    )

    return LeakageReport(
        n_train=len(train),
        n_test=len(test),
        exact=exact,
        near=near,
        leaked_test_ids=leaked_ids,
        leakage_rate=len(leaked) / len(test) if test else 0.0,
        label_balance={"train": train_counts, "test": test_counts},
        label_proportions={"train": train_props, "test": test_props},
        max_balance_gap=gap,
        threshold=threshold,
        shingle_n=shingle_n,
        num_perm=num_perm,
        seed=seed,
        bands=bands,
        rows=rows,
        n_candidates=n_candidates,
    )
