"""Offline stand-ins for the example: a "fine-tuned" model, a prompted baseline and a judge.

They are plain Python functions (``type: python`` in tunegate.yaml), so the example runs
without a network or model weights. The two answerers are simulations: the fine-tuned one
answers in the house style and slips on a few questions; the prompted one is right more
often on facts but wordy. The judge compares each response with the reference by word
overlap and answers with a final ``Verdict:`` line, like a judge model would.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "questions.jsonl"

# Questions the simulated fine-tune gets wrong, and its wrong answers.
_FINETUNE_SLIPS = {
    "q03": "An adult human has 212 bones.",
    "q07": "The Atlantic Ocean is the largest ocean.",
    "q12": "Run netstat to see ports.",
}
# Questions where the prompted baseline rambles off the point.
_PROMPTED_SLIPS = {
    "q13": "Counting lines can be done in many ways, for example with a text editor.",
    "q18": "The quarter was eventful with many changes across the product lines.",
    "q22": "The update changes several things in the application.",
}


@cache
def _answers() -> dict[str, tuple[str, str]]:
    """question text -> (case id, reference answer)."""
    out: dict[str, tuple[str, str]] = {}
    for line in _DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        question = row["messages"][1]["content"]
        out[question] = (row["id"], row["messages"][-1]["content"])
    return out


def finetuned(text: str) -> str:
    """The fine-tuned model: short answers in the style it was trained on."""
    case_id, reference = _answers().get(text, ("", "I do not know."))
    return _FINETUNE_SLIPS.get(case_id, reference)


def prompted(text: str) -> str:
    """The prompted baseline: usually right, always wordy."""
    case_id, reference = _answers().get(text, ("", "I do not know."))
    answer = _PROMPTED_SLIPS.get(case_id, reference)
    return f"Great question! {answer} Let me know if you would like more details."


_WORD = re.compile(r"[a-z0-9]+")


def _overlap(text: str, reference: str) -> float:
    words = set(_WORD.findall(text.lower()))
    ref = set(_WORD.findall(reference.lower()))
    return len(words & ref) / max(1, len(words | ref))


def _between(prompt: str, tag: str) -> str:
    match = re.search(rf"<{tag}>\n?(.*?)\n?</{tag}>", prompt, re.DOTALL)
    return match.group(1) if match else ""


def judge(prompt: str) -> str:
    """A pairwise judge: the response closer to the reference (Jaccard overlap of words)
    wins; within 0.05 it is a tie. Reads the ``<reference>``, ``<a>`` and ``<b>`` blocks
    of the example's rubric."""
    reference = _between(prompt, "reference")
    a = _overlap(_between(prompt, "a"), reference)
    b = _overlap(_between(prompt, "b"), reference)
    verdict = "tie" if abs(a - b) < 0.05 else ("A" if a > b else "B")
    return f"Response A overlaps the reference {a:.2f}, response B {b:.2f}.\nVerdict: {verdict}"
