"""Write votes.csv as three simulated annotators would vote on the example's study.

For trying `tunegate human import` and `tunegate human report` without clicking through
the annotation pages. The simulated people prefer the fine-tuned answer except where it
is wrong, and one of them calls every fifth item a tie. Usage, from this folder:

    python simulate_annotators.py demo-study .tunegate/tunegate.db
"""

from __future__ import annotations

import csv
import sys

from tunegate.human.store import HumanStore

FINETUNE_WRONG = {"q03", "q07", "q12"}


def main(study: str, store: str, out: str = "votes.csv") -> None:
    with HumanStore(store) as hs, open(out, "w", newline="", encoding="utf-8") as f:
        criteria = hs.study(study).criteria
        sides = {i.item.item_id: (i.item.model_a, i.item.model_b) for i in hs.items(study)}
        writer = csv.writer(f)
        writer.writerow(["item_id", "annotator", "criterion", "choice"])
        for annotator in hs.annotators(study):
            for k, item in enumerate(hs.assigned(study, annotator)):
                finetuned_side = "a" if sides[item][0] == "finetuned" else "b"
                other = "b" if finetuned_side == "a" else "a"
                choice = other if item in FINETUNE_WRONG else finetuned_side
                if annotator == "carol" and k % 5 == 0:
                    choice = "tie"
                for criterion in criteria:
                    writer.writerow([item, annotator, criterion, choice])
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
