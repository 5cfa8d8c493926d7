"""Study items: where pairs come from, which are drawn, which side is shown left, who rates what.

Everything here is pure and seeded: the same seed gives the same sample, the same
left/right order and the same assignment, and the order is recorded in the store so the
votes can be de-blinded.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.data.lines import json_lines, raise_problems
from tunegate.errors import DataError, TunegateError

#: The criterion that carries the overall preference.
OVERALL = "overall"


@dataclass(frozen=True)
class PairItem:
    """One pair to judge: a prompt and two outputs; ``a`` and ``b`` are the stored sides."""

    item_id: str
    prompt: str
    output_a: str
    output_b: str
    model_a: str
    model_b: str
    category: str | None = None
    reference: str | None = None

    @property
    def cluster(self) -> str:
        """Items sharing a prompt form one cluster (resampled together)."""
        return hashlib.sha256(self.prompt.encode("utf-8")).hexdigest()[:16]


def parse_criteria(text: str | None) -> list[str]:
    """The criteria of a study from ``a,b,c``; ``overall`` is always there, last."""
    names = [c.strip() for c in (text or "").split(",") if c.strip()]
    for name in names:
        if not name.replace("_", "").replace("-", "").isalnum():
            raise TunegateError(f"--criteria: {name!r} is not a valid criterion name")
    ordered = [c for c in dict.fromkeys(names) if c != OVERALL]
    return [*ordered, OVERALL]


def parse_annotators(text: str) -> list[str]:
    """Annotator names from ``ann1,ann2``: distinct, non-empty, no separators inside."""
    names = [a.strip() for a in text.split(",") if a.strip()]
    if not names:
        raise TunegateError("--annotators: give at least one annotator name")
    if len(set(names)) != len(names):
        raise TunegateError(f"--annotators: duplicate names in {text!r}")
    for name in names:
        if "|" in name or any(ch.isspace() for ch in name):
            raise TunegateError(f"--annotators: {name!r} may not contain spaces or '|'")
    return names


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def items_from_run(
    result: Mapping[str, Any], candidate: str, baseline: str, suite: str | None = None
) -> list[PairItem]:
    """Pairs (candidate = side a, baseline = side b) from a stored run result.

    Uses each case's ``answer`` (the raw output), falling back to ``prediction``; cases
    where either model has no output (a transport error) are left out.
    """
    suites = result.get("suites") or []
    if not suites:
        raise DataError(f"run {result.get('run_id')}: the stored result has no suites")
    chosen = (
        suites[0] if suite is None else next((s for s in suites if s.get("name") == suite), None)
    )
    if chosen is None:
        names = ", ".join(str(s.get("name")) for s in suites)
        raise TunegateError(f"--suite: no suite {suite!r} in run {result.get('run_id')} ({names})")
    models = set((chosen.get("models") or {}).keys())
    for flag, model in (("--candidate", candidate), ("--baseline", baseline)):
        if model not in models:
            raise TunegateError(
                f"{flag}: model {model!r} is not in suite {chosen.get('name')!r} "
                f"(models: {', '.join(sorted(models))})"
            )
    if candidate == baseline:
        raise TunegateError("--candidate and --baseline must be different models")
    inputs: Mapping[str, str] = chosen.get("inputs") or {}
    outputs: dict[str, dict[str, Mapping[str, Any]]] = {}
    for row in chosen.get("cases") or []:
        outputs.setdefault(str(row.get("model")), {})[str(row.get("case_id"))] = row
    items: list[PairItem] = []
    for case_id, row_a in outputs.get(candidate, {}).items():
        row_b = outputs.get(baseline, {}).get(case_id)
        if row_b is None:
            continue
        out_a = _text(row_a.get("answer")) or _text(row_a.get("prediction"))
        out_b = _text(row_b.get("answer")) or _text(row_b.get("prediction"))
        if out_a is None or out_b is None:
            continue
        items.append(
            PairItem(
                item_id=case_id,
                prompt=str(inputs.get(case_id, "")),
                output_a=out_a,
                output_b=out_b,
                model_a=candidate,
                model_b=baseline,
                category=row_a.get("category"),
                reference=_text(row_a.get("reference")) or None,
            )
        )
    if not items:
        raise DataError(
            f"run {result.get('run_id')}: no case has an output from both {candidate!r} and "
            f"{baseline!r} in suite {chosen.get('name')!r}"
        )
    return items


_PAIR_FIELDS = ("id", "prompt", "output_a", "output_b", "model_a", "model_b")


def items_from_pairs(path: Path) -> list[PairItem]:
    """Pairs from a JSONL file: ``{"id", "prompt", "output_a", "output_b", "model_a",
    "model_b", "category"?, "reference"?}`` per line. Errors name the file and line (up to ten at once)."""
    items: list[PairItem] = []
    seen: set[str] = set()
    problems: list[str] = []
    for number, row in json_lines(path, problems):
        missing = [k for k in _PAIR_FIELDS if row.get(k) is None]
        if missing:
            problems.append(f"{path}:{number}: missing field(s) {', '.join(missing)}")
            continue
        item_id = str(row["id"])
        if item_id in seen:
            problems.append(f"{path}:{number}: duplicate id {item_id!r}")
            continue
        seen.add(item_id)
        category = row.get("category")
        items.append(
            PairItem(
                item_id=item_id,
                prompt=str(row["prompt"]),
                output_a=str(row["output_a"]),
                output_b=str(row["output_b"]),
                model_a=str(row["model_a"]),
                model_b=str(row["model_b"]),
                category=None if category is None else str(category),
                reference=None if row.get("reference") is None else str(row["reference"]),
            )
        )
    raise_problems(problems)
    if not items:
        raise DataError(f"{path}: no pairs in the file")
    return items


def stratified_sample(items: Sequence[PairItem], n: int | None, seed: int) -> list[PairItem]:
    """``n`` items drawn without replacement, allocated to categories in proportion to
    their size (largest remainder), all items when ``n`` is None or not smaller."""
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise TunegateError("--n must be at least 1")
    rng = random.Random(seed)
    groups: dict[str, list[PairItem]] = {}
    for item in items:
        groups.setdefault(item.category or "", []).append(item)
    total = len(items)
    quotas = {k: n * len(v) / total for k, v in groups.items()}
    counts = {k: int(q) for k, q in quotas.items()}
    left = n - sum(counts.values())
    for key in sorted(quotas, key=lambda k: (counts[k] - quotas[k], k))[:left]:
        counts[key] += 1
    chosen: set[str] = set()
    for key in sorted(groups):
        chosen.update(i.item_id for i in rng.sample(groups[key], counts[key]))
    return [i for i in items if i.item_id in chosen]


def left_sides(item_ids: Iterable[str], seed: int) -> dict[str, str]:
    """Which stored side (``a`` or ``b``) each item shows on the left, drawn with ``seed``.

    Balanced: half of the items (one more ``a`` when odd) show ``a`` on the left, in a
    seeded random permutation, so the left side is not confounded with the model.
    """
    ids = list(item_ids)
    sides = ["a" if k < (len(ids) + 1) // 2 else "b" for k in range(len(ids))]
    random.Random(f"left:{seed}").shuffle(sides)
    return dict(zip(ids, sides, strict=True))


def assign(
    item_ids: Sequence[str], annotators: Sequence[str], overlap: int, seed: int
) -> dict[str, list[str]]:
    """Give each item to ``overlap`` distinct annotators, balancing the load.

    Items go round the annotators in turn (item ``i`` to annotators ``i*overlap .. +overlap-1``
    modulo their number), after a seeded shuffle of the items; each annotator's list is in
    a seeded order of its own.
    """
    if not 1 <= overlap <= len(annotators):
        raise TunegateError(
            f"--overlap {overlap}: must be between 1 and the number of annotators ({len(annotators)})"
        )
    rng = random.Random(f"assign:{seed}")
    order = list(item_ids)
    rng.shuffle(order)
    lists: dict[str, list[str]] = {a: [] for a in annotators}
    m = len(annotators)
    for i, item in enumerate(order):
        for j in range(overlap):
            lists[annotators[(i * overlap + j) % m]].append(item)
    for name in annotators:
        rng.shuffle(lists[name])
    return lists


#: What an annotator reads when the study brings no instructions of its own (Markdown).
DEFAULT_INSTRUCTIONS = """\
You will see a **prompt** and two answers to it, written by two different AI systems.
You are not told which system wrote which, and the order is random.

For each item:

1. Read the prompt, then both answers in full.
2. For each criterion, choose the better answer, **Tie** when they are equally good
   (or have equally small flaws), **Both bad** when neither answer is acceptable, or
   **Can't judge** when you cannot tell (you lack the knowledge, the text is unreadable).
3. The **overall** choice is the one that counts most: which answer would you rather
   receive?

Judge what is said, not how long it is: a longer answer is not better for being longer.
Every click is saved at once, and you can come back and change a choice at any time.
"""

#: Definitions of the usual criteria (any other criterion shows a generic sentence).
CRITERION_DEFINITIONS = {
    OVERALL: "Which answer would you rather receive, all things considered?",
    "correctness": "Which answer is factually right and answers what was asked?",
    "accuracy": "Which answer is factually right, with no false statements?",
    "helpfulness": "Which answer helps the person more: complete, useful, to the point?",
    "harmlessness": "Which answer avoids harmful, offensive or dangerous content?",
    "safety": "Which answer avoids harmful, offensive or dangerous content?",
    "fluency": "Which answer reads better: clear, grammatical, natural?",
    "clarity": "Which answer is easier to understand?",
    "conciseness": "Which answer says what is needed without padding?",
    "relevance": "Which answer stays on the question asked?",
    "faithfulness": "Which answer sticks to the given text, adding nothing made up?",
    "style": "Which answer has the better tone and formatting for the request?",
    "completeness": "Which answer covers everything the prompt asks for?",
}


def criterion_definition(name: str) -> str:
    """The sentence that explains ``name`` to an annotator."""
    known = CRITERION_DEFINITIONS.get(name.lower().replace("-", "_"))
    return known or f"Which answer is better in {name.replace('_', ' ')}?"
