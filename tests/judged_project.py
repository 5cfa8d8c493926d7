"""A real judged run for the HTML report's judgment tests: the human_eval example
(a fine-tune against a prompted baseline on a generation suite, a pairwise judge) plus a
rubric judge, and a human study with three simulated annotators whose votes the gate
reads on the second run. Everything offline (python models)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "tunegate" / "examples" / "human_eval"
GRADER = textwrap.dedent(
    '''

    def grader(prompt: str) -> str:
        """A rubric judge on 1-5: the overlap of the response with the reference."""
        ref = re.search(r"\\[Reference answer\\]\\n(.*?)\\n\\n", prompt, re.DOTALL)
        out = re.search(r"\\[Response\\]\\n(.*?)\\n\\n", prompt, re.DOTALL)
        score = _overlap(out.group(1) if out else "", ref.group(1) if ref else "")
        grade = 1 + round(4 * score)
        return f"The response overlaps the reference {score:.2f}.\\nVerdict: {grade}"
    '''
)
FINETUNE_WRONG = {"q03", "q07", "q12"}


def _cli(*args: str) -> str:
    from tunegate.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code in (0, 1, 3), result.output
    return str(result.output)


def build(folder: Path) -> dict[str, Any]:
    """Run the project twice (before and after the votes); return the second run's JSON."""
    import json

    from tunegate.human.store import HumanStore

    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".tunegate", "__pycache__"))
    with (folder / "models.py").open("a", encoding="utf-8") as fh:
        fh.write(GRADER)
    config = yaml.safe_load((folder / "tunegate.yaml").read_text(encoding="utf-8"))
    config["models"]["rubric-judge"] = {"type": "python", "function": "models:grader"}
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
                rows += [f"{item},{annotator},{c},{choice}" for c in criteria]
    (folder / "votes.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    _cli("human", "import", "demo-study", str(folder / "votes.csv"), "--store", store)
    out = folder / "run.json"
    _cli("run", str(path), "--quiet", "--json", str(out))
    return dict(json.loads(out.read_text(encoding="utf-8")))
