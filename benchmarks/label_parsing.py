"""Time label parsing on long answers: linear in the answer's length (issue 21).

Run: ``.venv/bin/python benchmarks/label_parsing.py [--sizes 72000,1000000,...]``

For each size it parses answers made of one repeated unit (a server looping on
``"positive "``, a chatty answer with sentences and negations, two labels at once,
a two-word label nested in a longer one) under each rule, and prints the seconds
per parse and the microseconds per 1,000 characters, which stay flat when the cost
is linear. Answers over the store's cap (10,000,000 characters) are parsed on that
many characters, as in a run. Goal: a 20 MB looping answer in about a second.
"""

from __future__ import annotations

import argparse
import time

from tunegate.scoring.labels import LabelParser
from tunegate.store import MAX_ANSWER_CHARS

SENTIMENT = ["negative", "neutral", "positive"]
UNITS: dict[str, tuple[list[str], str]] = {
    "looping label": (SENTIMENT, "positive "),
    "sentences, negations": (SENTIMENT, "The review is positive. Not bad, no complaints; "),
    "two labels": (SENTIMENT, "positive negative "),
    "nested label": (["positive", "very positive"], "very positive, "),
}
RULES = ("word", "first", "substring")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="72000,1000000,10000000,20000000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'answer':<22} {'rule':<10} {'chars':>11} {'seconds':>8} {'us/1k chars':>12}")
    for name, (labels, unit) in UNITS.items():
        for rule in RULES:
            parse = LabelParser(labels, rule)
            for size in sizes:
                answer = (unit * (size // len(unit) + 1))[:size]
                started = time.perf_counter()
                parse(answer)
                seconds = time.perf_counter() - started
                per_k = seconds / min(size, MAX_ANSWER_CHARS) * 1e9  # the part parsed
                print(f"{name:<22} {rule:<10} {size:>11,} {seconds:>8.3f} {per_k:>12.1f}")


if __name__ == "__main__":
    main()
