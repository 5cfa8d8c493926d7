"""A real run with everything the HTML drill-down explains: the human_eval example (a
fine-tune against a prompted baseline, a pairwise judge) plus a rubric judge, a third
model served by an OpenAI-compatible loopback server (priced in EUR, a system prompt, a
prompt template and two k-shot examples from a train file), the fine-tune asked each
case three times (it answers two questions differently between calls), and a human
study with three annotators whose votes include "both bad" and "can't judge".

``build(folder, url)`` runs it twice (before and after the votes) and returns the second
run's JSON report. ``python tests/report/readable_project.py OUT`` writes OUT/report.html.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from judged_project import EXAMPLE, FINETUNE_WRONG, GRADER, _cli  # noqa: E402

KEY = "sk-readable-canary-0c9e"
#: Questions the repeated fine-tune answers right only on its first, third, ... call.
FLAKY = {"q05", "q09"}
FLAKY_CODE = '''

_CALLS: dict[str, int] = {}


def flaky_finetuned(text: str) -> str:
    """The fine-tune sampled with temperature: on two questions every other call slips."""
    case_id, reference = _answers().get(text, ("", "I do not know."))
    _CALLS[text] = _CALLS.get(text, 0) + 1
    if case_id in FLAKY_IDS and _CALLS[text] % 2 == 0:
        return "I am not sure, sorry."
    return finetuned(text)
'''
TRAIN = [
    ("t1", "What is the boiling point of water at sea level?", "100 degrees Celsius."),
    ("t2", "What colour is a clear daytime sky?", "Blue."),
    ("t3", "How many days are in a leap year?", "366 days."),
]


def served_answer(messages: list[dict[str, Any]]) -> str:
    """The served model: the reference answer of the question it is asked, shortened."""
    asked = str(messages[-1]["content"]).removeprefix("Question: ").strip()
    for line in (EXAMPLE / "data" / "questions.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["messages"][1]["content"] == asked:
            return " ".join(str(row["messages"][-1]["content"]).split()[:6])
    return "I do not know."


def build(folder: Path, url: str) -> dict[str, Any]:
    """Write the project under ``folder``, run it, vote, run again; the JSON report."""
    from tunegate.human.store import HumanStore

    os.environ["TG_READABLE_KEY"] = KEY
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".tunegate", "__pycache__"))
    with (folder / "models.py").open("a", encoding="utf-8") as fh:
        fh.write(GRADER + FLAKY_CODE.replace("FLAKY_IDS", repr(sorted(FLAKY))))
    with (folder / "data" / "train.jsonl").open("w", encoding="utf-8") as fh:
        for case_id, question, answer in TRAIN:
            row = {
                "id": case_id,
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": answer},
                ],
            }
            fh.write(json.dumps(row) + "\n")
    config = yaml.safe_load((folder / "tunegate.yaml").read_text(encoding="utf-8"))
    models = config["models"]
    models["finetuned"] = {"type": "python", "function": "models:flaky_finetuned", "repeats": 3}
    models["rubric-judge"] = {"type": "python", "function": "models:grader"}
    models["served"] = {
        "type": "openai",
        "model": "served-model",
        "base_url": url + "/v1",
        "api_key_env": "TG_READABLE_KEY",
        "system": "You answer questions in one short sentence.",
        "prompt": "Question: {{ input }}",
        "shots": {"path": "data/train.jsonl", "k": 2},
        "price": {"input_per_1m": 0.5, "output_per_1m": 1.5, "currency": "EUR"},
        "max_retries": 0,
    }
    scorers = config["suites"][0]["task"]["scorers"]
    scorers.append({"type": "judge", "judge": "rubric-judge", "scale": "1-5", "threshold": 0.5})
    config["gate"]["criteria"] += [
        {"metric": "judge_preference", "vs": "prompted", "min": 0.5},
        {"metric": "position_bias", "max": 0.65},
    ]
    config["gate"]["trust_judge"] = {"min_kappa": 0.4, "min_items": 10}
    path = folder / "tunegate.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    store = str(folder / ".tunegate" / "tunegate.db")
    _cli("run", str(path), "--quiet", "--no-gate")
    _cli(
        "human", "create", "--run", "latest", "--candidate", "finetuned", "--baseline",
        "prompted", "--annotators", "alice,bob,carol", "--overlap", "2",
        "--name", "demo-study", "--store", store,
    )  # fmt: skip
    rows = ["item_id,annotator,criterion,choice"]
    with HumanStore(store) as hs:
        criteria = hs.study("demo-study").criteria
        sides = {i.item.item_id: (i.item.model_a, i.item.item_id) for i in hs.items("demo-study")}
        for annotator in hs.annotators("demo-study"):
            for k, item in enumerate(hs.assigned("demo-study", annotator)):
                model_a, case_id = sides[item]
                mine = "a" if model_a == "finetuned" else "b"
                choice = ("b" if mine == "a" else "a") if case_id in FINETUNE_WRONG else mine
                if annotator == "carol" and k % 5 == 0:
                    choice = "tie"
                if annotator == "bob" and k in (3, 7):
                    choice = "both_bad"
                if annotator == "alice" and k == 5:
                    choice = "skip"
                rows += [f"{item},{annotator},{c},{choice}" for c in criteria]
    (folder / "votes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    _cli("human", "import", "demo-study", str(folder / "votes.csv"), "--store", store)
    out = folder / "run.json"
    _cli("run", str(path), "--quiet", "--json", str(out))
    return dict(json.loads(out.read_text(encoding="utf-8")))


def main() -> None:
    """``python tests/report/readable_project.py OUT``: OUT/report.html from a fresh run."""
    from servers import openai_app, serve

    from tunegate.report.html import write_html

    out = Path(sys.argv[1])
    with serve(openai_app(answer=served_answer, require_key=KEY, model="served-model")) as url:
        result = build(out / "project", url)
    print(write_html(result, out / "report.html"))


if __name__ == "__main__":
    main()
