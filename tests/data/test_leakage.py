"""Train/test leakage: normalisation, exact and near duplicates (MinHash LSH verified
exactly), label balance, and the bundled demo data."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
from hashlib import blake2b
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from tunegate.data import Case, load_cases
from tunegate.data.leakage import (
    EMPTY_SIGNATURE_VALUE,
    LeakageReport,
    candidate_probability,
    check_leakage,
    estimated_jaccard,
    jaccard,
    label_balance,
    lsh_candidates,
    lsh_params,
    minhash_signatures,
    normalize_text,
    shingle_hashes,
    shingles,
)

pytestmark = pytest.mark.filterwarnings("error")

DEMO = Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "sentiment" / "data"
LABELS = ["positive", "negative", "neutral"]

# 40 words, no trigram repeated.
REVIEW = (
    "I bought this blender last spring for smoothies and soups. The motor is strong, "
    "the jar feels sturdy, and cleanup takes a minute. After six months the lid started "
    "leaking, but customer service sent a replacement. Overall I am satisfied."
)


def case(case_id: str, text: str, label: str = "positive") -> Case:
    return Case(id=case_id, text=text, reference=label)


def words_of(text: str) -> list[str]:
    """The test's own tokenizer: lower case, keep letters and digits, split on the rest."""
    cleaned = "".join(ch.lower() if ch.isalnum() or ch == " " else " " for ch in text)
    return cleaned.split()


def true_jaccard(text_a: str, text_b: str, n: int = 3) -> float:
    """Reference Jaccard of word n-gram tuples (texts here have no apostrophes)."""
    grams_a = {tuple(w[i : i + n]) for w in [words_of(text_a)] for i in range(len(w) - n + 1)}
    grams_b = {tuple(w[i : i + n]) for w in [words_of(text_b)] for i in range(len(w) - n + 1)}
    return len(grams_a & grams_b) / len(grams_a | grams_b)


def replace_words(text: str, replacements: dict[int, str]) -> str:
    tokens = text.split()
    for position, word in replacements.items():
        tokens[position] = word
    return " ".join(tokens)


def vocabulary(size: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(3)))
    return sorted(words)


def random_reviews(n: int, seed: int, length: tuple[int, int] = (20, 50)) -> list[str]:
    rng = random.Random(seed)
    words = vocabulary(600, seed=1)
    return [" ".join(rng.choices(words, k=rng.randint(*length))) for _ in range(n)]


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Great Product", "great product"),
        ("  great\t\nproduct \u00a0 ", "great product"),
        ("Great, product!!!", "great product"),
        ("well-made...really", "well made really"),
        ("Don't \u2019buy\u2019 it", "dont buy it"),
        ("\uff27\uff52\uff45\uff41\uff54 \ufb01t", "great fit"),  # full-width letters, fi ligature
        ("STRASSE Stra\u00dfe", "strasse strasse"),  # casefold, not lower()
        ("5 \u2605 for $10 \U0001f600", "5 \u2605 for $10 \U0001f600"),  # symbols are kept
        ("?!...", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


def test_shingles_are_word_ngrams_with_whole_text_fallback() -> None:
    assert shingles("a b c d") == {"a b c", "b c d"}
    assert shingles("a b c d", n=2) == {"a b", "b c", "c d"}
    assert shingles("love it") == {"love it"}  # fewer than n words: the whole text
    assert shingles("") == set()
    assert jaccard(shingles("love it"), shingles("love it so")) == 0.0


def test_shingle_hashes_are_64_bit_blake2b() -> None:
    expected = int.from_bytes(blake2b(b"great product overall", digest_size=8).digest(), "little")
    assert shingle_hashes(["great product overall"]).tolist() == [expected]


# --------------------------------------------------------------------------- exact


def test_exact_duplicate_after_case_punctuation_and_whitespace_changes() -> None:
    train = [
        case("r1", "This charger stopped working after three weeks."),
        case("r2", "Fits my phone perfectly and the case feels solid."),
    ]
    test = [
        case("t1", "  THIS charger -- stopped working, after three   weeks!!! "),
        case("t2", "The blue one arrived scratched."),
    ]
    report = check_leakage(train, test)
    assert report.exact == [("t1", "r1")]
    assert report.near == []  # an exact pair is not listed again as near
    assert report.leaked_test_ids == ["t1"]
    assert report.leakage_rate == 0.5


def test_every_matching_train_case_is_listed() -> None:
    train = [case("r1", "Works."), case("r2", "Unrelated text here"), case("r3", "works")]
    report = check_leakage(train, [case("t1", "WORKS!")])
    assert report.exact == [("t1", "r1"), ("t1", "r3")]
    assert report.leakage_rate == 1.0


# --------------------------------------------------------------------------- near


def test_near_duplicate_one_word_changed_is_found_at_the_default_threshold() -> None:
    assert len(REVIEW.split()) == 40
    edited = replace_words(REVIEW, {20: "glass"})
    expected = true_jaccard(REVIEW, edited)
    assert expected == pytest.approx(35 / 41)  # 38 trigrams each, 3 replaced
    report = check_leakage(
        [case("r0", "Completely different words in this one."), case("r1", REVIEW)],
        [case("t1", edited)],
    )
    assert report.exact == []
    assert report.near == [("t1", "r1", expected)]  # the exact Jaccard, not an estimate
    assert report.leakage_rate == 1.0


def test_near_duplicate_few_words_changed_reports_the_exact_jaccard() -> None:
    edited = replace_words(REVIEW, {6: "juices", 18: "bowl", 30: "vendor"})
    expected = true_jaccard(REVIEW, edited)
    assert expected == pytest.approx(29 / 47)
    train, test = [case("r1", REVIEW)], [case("t1", edited)]

    report = check_leakage(train, test, threshold=0.5)
    assert [(t, r) for t, r, _ in report.near] == [("t1", "r1")]
    assert report.near[0][2] == expected  # exact, not estimated
    signatures = minhash_signatures(
        [shingles(normalize_text(REVIEW)), shingles(normalize_text(edited))]
    )
    assert estimated_jaccard(signatures[0], signatures[1]) == pytest.approx(expected, abs=0.15)

    assert check_leakage(train, test).near == []  # 0.62 < 0.8


def test_unrelated_texts_are_not_reported() -> None:
    texts = random_reviews(400, seed=3)
    train = [case(f"r{i}", text) for i, text in enumerate(texts[:300])]
    test = [case(f"t{i}", text) for i, text in enumerate(texts[300:])]
    report = check_leakage(train, test, threshold=0.5)
    assert report.exact == []
    assert report.near == []
    assert report.leaked_test_ids == []
    assert report.leakage_rate == 0.0


def split_signatures(
    sets: list[set[str]], seed: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """Signatures of a train set and a test set (first and second), as check_leakage makes them."""
    signatures = minhash_signatures(sets, seed=seed)
    return signatures[:1], signatures[1:]


def test_lsh_candidates_below_threshold_are_rejected_by_the_exact_check() -> None:
    edited = replace_words(REVIEW, {12: "engine", 26: "weeks"})
    similarity = true_jaccard(REVIEW, edited)
    assert similarity == pytest.approx(32 / 44)  # below 0.8 but likely an LSH candidate
    sets = [shingles(normalize_text(REVIEW)), shingles(normalize_text(edited))]
    bands, rows = lsh_params(0.8, 128)
    # A seed for which the pair is an LSH candidate (each seed: probability ~0.96).
    seed = next(
        s for s in range(20) if len(lsh_candidates(*split_signatures(sets, s), bands, rows)) == 1
    )
    train, test = [case("r1", REVIEW)], [case("t1", edited)]
    report = check_leakage(train, test, seed=seed)
    assert report.n_candidates == 1
    assert report.near == []
    assert report.leakage_rate == 0.0
    lower = check_leakage(train, test, seed=seed, threshold=0.7)
    assert lower.near == [("t1", "r1", similarity)]


def test_lsh_candidates_finds_equal_bands_only() -> None:
    train = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]], dtype=np.uint64)
    test = np.array([[0, 0, 7, 8], [1, 2, 0, 0], [1, 0, 3, 0]], dtype=np.uint64)
    pairs = lsh_candidates(train, test, bands=2, rows=2)
    assert pairs.tolist() == [[0, 1], [1, 0]]
    empty = np.full((1, 4), EMPTY_SIGNATURE_VALUE, dtype=np.uint64)
    assert lsh_candidates(empty, empty, bands=2, rows=2).shape == (0, 2)


def test_lsh_params_follow_the_s_curve_rule() -> None:
    bands, rows = lsh_params(0.8, 128)
    assert (bands, rows) == (21, 6)
    assert candidate_probability(0.8, bands, rows) >= 0.99
    # One more row per band would miss more than 1% of pairs at the threshold.
    assert candidate_probability(0.8, 128 // (rows + 1), rows + 1) < 0.99
    assert candidate_probability(0.3, bands, rows) < 0.02
    assert lsh_params(0.5, 128)[1] < rows  # lower threshold: shorter bands
    with pytest.raises(ValueError, match="threshold"):
        lsh_params(0.0, 128)


# --------------------------------------------------------------------------- MinHash


def test_minhash_estimate_approximates_true_jaccard_over_many_pairs() -> None:
    rng = random.Random(7)
    sets: list[set[str]] = []
    truth: list[float] = []
    for pair in range(300):
        union = [f"p{pair} s{k} x{rng.random()}" for k in range(rng.randint(40, 160))]
        n_common = rng.randint(0, len(union))
        n_a = rng.randint(0, len(union) - n_common)
        common, only_a, only_b = (
            union[:n_common],
            union[n_common : n_common + n_a],
            union[n_common + n_a :],
        )
        sets += [set(common + only_a), set(common + only_b)]
        truth.append(n_common / len(union))
    signatures = minhash_signatures(sets, num_perm=128, seed=0)
    estimates = np.array([np.mean(signatures[2 * i] == signatures[2 * i + 1]) for i in range(300)])
    errors = estimates - np.array(truth)
    # Binomial standard error sqrt(J (1 - J) / 128) <= 0.044; its mean absolute value ~0.03.
    assert np.mean(np.abs(errors)) < 0.04
    assert abs(np.mean(errors)) < 0.01
    assert np.max(np.abs(errors)) < 0.2


def test_minhash_identical_disjoint_and_empty_sets() -> None:
    signatures = minhash_signatures([{"a b c", "b c d"}, {"b c d", "a b c"}, {"x y z"}, set()])
    assert signatures.shape == (4, 128)
    assert signatures.dtype == np.uint64
    assert estimated_jaccard(signatures[0], signatures[1]) == 1.0
    assert estimated_jaccard(signatures[0], signatures[2]) == 0.0  # h_k is a bijection
    assert (signatures[3] == EMPTY_SIGNATURE_VALUE).all()


def test_results_are_deterministic_for_a_seed() -> None:
    texts = random_reviews(60, seed=5)
    train = [case(f"r{i}", t) for i, t in enumerate(texts[:40])]
    test = [case(f"t{i}", t) for i, t in enumerate(texts[40:])]
    test.append(case("t-copy", replace_words(texts[0], {10: "zzz"})))
    sets = [shingles(normalize_text(t)) for t in texts]
    assert (minhash_signatures(sets, seed=3) == minhash_signatures(sets, seed=3)).all()
    assert (minhash_signatures(sets, seed=3) != minhash_signatures(sets, seed=4)).any()
    first = check_leakage(train, test, seed=3).to_dict()
    assert first == check_leakage(train, test, seed=3).to_dict()
    assert first["leaked_test_ids"] == ["t-copy"]


def test_signatures_do_not_depend_on_python_hash_randomisation() -> None:
    program = (
        "from tunegate.data.leakage import minhash_signatures, shingles;"
        "print(minhash_signatures([shingles('a b c d e f'), {'x'}], num_perm=4, seed=9).tolist())"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout.strip())
    here = minhash_signatures([shingles("a b c d e f"), {"x"}], num_perm=4, seed=9).tolist()
    assert outputs == {str(here)}


# --------------------------------------------------------------------------- labels


def test_label_balance_counts_proportions_and_gap() -> None:
    train_labels = ["positive"] * 4 + ["negative"] * 3 + ["neutral"] * 3
    test_labels = ["negative"] * 7 + ["positive"] * 2 + ["mixed"]
    train = [case(f"r{i}", f"train text {i}", lab) for i, lab in enumerate(train_labels)]
    test = [case(f"t{i}", f"test text {i}", lab) for i, lab in enumerate(test_labels)]
    assert label_balance(train) == {"positive": 4, "negative": 3, "neutral": 3}
    report = check_leakage(train, test)
    # Both sides over the union of labels, 0 where a file lacks one.
    assert report.label_balance == {
        "train": {"positive": 4, "negative": 3, "neutral": 3, "mixed": 0},
        "test": {"positive": 2, "negative": 7, "neutral": 0, "mixed": 1},
    }
    assert report.label_proportions["train"] == pytest.approx(
        {"positive": 0.4, "negative": 0.3, "neutral": 0.3, "mixed": 0.0}
    )
    assert report.label_proportions["test"] == pytest.approx(
        {"positive": 0.2, "negative": 0.7, "neutral": 0.0, "mixed": 0.1}
    )
    assert report.max_balance_gap == pytest.approx(0.4)  # negative: |0.3 - 0.7|


# --------------------------------------------------------------------------- edges


@pytest.mark.parametrize(("n_train", "n_test"), [(0, 0), (0, 3), (3, 0)])
def test_empty_inputs(n_train: int, n_test: int) -> None:
    train = [case(f"r{i}", f"same text number {i}") for i in range(n_train)]
    test = [case(f"t{i}", f"same text number {i}", "negative") for i in range(n_test)]
    report = check_leakage(train, test)
    assert (report.n_train, report.n_test) == (n_train, n_test)
    assert report.exact == []
    assert report.near == []
    assert report.leaked_test_ids == []
    assert report.leakage_rate == 0.0
    assert report.max_balance_gap == 0.0
    assert report.label_balance["train"].get("positive", 0) == n_train
    assert report.label_balance["test"].get("negative", 0) == n_test
    assert json.loads(json.dumps(report.to_dict())) == report.to_dict()


def test_texts_without_words_never_become_near_duplicates() -> None:
    report = check_leakage([case("r1", "...")], [case("t1", "?!"), case("t2", "fine")])
    assert report.exact == [("t1", "r1")]  # both normalise to the empty text
    assert report.near == []
    assert report.n_candidates == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"threshold": 0.0}, {"threshold": 1.5}, {"shingle_n": 0}, {"num_perm": 0}],
)
def test_invalid_settings_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        check_leakage([case("r", "a b c")], [case("t", "a b c")], **kwargs)


def test_report_to_dict_is_json_ready() -> None:
    edited = replace_words(REVIEW, {20: "glass"})
    report = check_leakage(
        [case("r1", REVIEW), case("r2", "Short one.")],
        [case("t1", edited), case("t2", "short ONE")],
        seed=11,
    )
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["exact"] == [{"test_id": "t2", "train_id": "r2"}]
    assert data["near"] == [{"test_id": "t1", "train_id": "r1", "jaccard": 35 / 41}]
    assert data["leaked_test_ids"] == ["t1", "t2"]
    assert data["leakage_rate"] == 1.0
    assert (data["threshold"], data["shingle_n"], data["num_perm"], data["seed"]) == (
        0.8,
        3,
        128,
        11,
    )
    assert (data["bands"], data["rows"]) == (21, 6)
    assert isinstance(report, LeakageReport)
    assert report.n_leaked == 2


# --------------------------------------------------------------------------- demo data


def demo_cases() -> tuple[list[Case], list[Case]]:
    return (
        load_cases(DEMO / "train.jsonl", labels=LABELS),
        load_cases(DEMO / "test.jsonl", labels=LABELS),
    )


def test_bundled_demo_data_has_no_leakage() -> None:
    train, test = demo_cases()
    report = check_leakage(train, test)
    assert (report.n_train, report.n_test) == (len(train), len(test))
    assert report.leakage_rate == 0.0
    assert report.exact == []
    assert report.near == []
    assert sum(report.label_balance["test"].values()) == len(test)
    assert report.max_balance_gap == pytest.approx(
        max(
            abs(report.label_proportions["train"][lab] - report.label_proportions["test"][lab])
            for lab in LABELS
        )
    )


def test_copied_train_reviews_with_light_edits_are_all_found() -> None:
    train, test = demo_cases()
    sources = [c for c in train if len(c.text.split()) >= 15][:10]
    assert len(sources) == 10

    def edit(k: int, text: str) -> str:
        tokens = text.split()
        if k % 5 == 0:  # case and whitespace
            return "   ".join(tokens).upper()
        if k % 5 == 1:  # punctuation
            return "".join(ch for ch in text if ch not in ".,!?;:") + " !!"
        if k % 5 == 2:  # last word dropped
            return " ".join(tokens[:-1])
        if k % 5 == 3:  # one word appended
            return text + " honestly"
        return " ".join([*tokens[:-1], "whatever"])  # last word replaced

    copies = [
        Case(id=f"copy-{k}", text=edit(k, src.text), reference=src.reference)
        for k, src in enumerate(sources)
    ]
    report = check_leakage(train, [*test, *copies])
    assert report.n_test == len(test) + 10
    assert report.leakage_rate == 10 / report.n_test
    assert report.leaked_test_ids == [c.id for c in copies]
    found = dict(report.exact) | {t: r for t, r, _ in report.near}
    assert found == {c.id: src.id for c, src in zip(copies, sources, strict=True)}
    assert {t for t, _ in report.exact} == {f"copy-{k}" for k in range(10) if k % 5 < 2}
    assert all(j >= 0.8 for _, _, j in report.near)
    assert not math.isnan(report.max_balance_gap)


def test_check_data_command_reports_copied_reviews(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    data = (
        Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "sentiment" / "data"
    )
    train = data / "train.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines()
    copied = [json.loads(line) for line in lines[:3]]
    for i, row in enumerate(copied):
        row["id"] = f"copy-{i}"
    test = tmp_path / "test.jsonl"
    test.write_text(
        "\n".join(json.dumps(r) for r in copied)
        + "\n"
        + (data / "test.jsonl").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    out = tmp_path / "leak.json"
    tunegate = Path(sys.executable).parent / "tunegate"
    proc = subprocess.run(
        [
            str(tunegate),
            "check-data",
            "--train",
            str(train),
            "--test",
            str(test),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "3 of 183 test cases" in proc.stdout
    report = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(report["leaked_test_ids"]) == ["copy-0", "copy-1", "copy-2"]
    assert report["leakage_rate"] == 3 / 183
