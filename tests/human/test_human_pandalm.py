"""Section 5 of issue 13: PandaLM's 999 human-annotated pairs through the public path.

The pairs file and the votes go in through ``tunegate human create --pairs`` and
``tunegate human import`` (CSV, and Label Studio JSON), the judges' verdicts through
``import --judge``; the figures come out of ``tunegate human report --json``.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.human.store import HumanStore

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pairwise_human"
pytestmark = pytest.mark.skipif(
    not (DATA / "testset-v1.json").exists(),
    reason=f"PandaLM reference data not found at {DATA} (it lives outside the repository)",
)
CODE = {0: "tie", 1: "a", 2: "b"}
ANNOTATORS = ("annotator1", "annotator2", "annotator3")


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((DATA / "testset-v1.json").read_text())
    return data


def write_pairs(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w") as f:
        for r in rows:
            model_a, model_b = r["cmp_key"].split("_", 1)
            prompt = r["instruction"] + ("\n\n" + r["input"] if r["input"] else "")
            pair = {
                "id": r["idx"],
                "prompt": prompt,
                "output_a": r["response1"],
                "output_b": r["response2"],
                "model_a": model_a,
                "model_b": model_b,
                "category": r["motivation_app"],
            }
            f.write(json.dumps(pair) + "\n")


def write_judges(tmp: Path) -> tuple[Path, Path, dict[str, str | None], dict[str, str | None]]:
    gpt_map = {"1": "a", "2": "b", "Tie": "tie"}
    gpt = {
        str(r["idx"]): gpt_map.get(r["gpt_result"])
        for r in json.loads((DATA / "gpt-3.5-turbo-testset-v1.json").read_text())
    }
    panda = {
        str(r["idx"]): CODE[r["pandalm_result"]]
        for r in json.loads((DATA / "pandalm-7b-testset-v1.json").read_text())
    }
    paths = []
    for name, verdicts in (("gpt.csv", gpt), ("pandalm.csv", panda)):
        path = tmp / name
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["item_id", "verdict"])
            for item, verdict in verdicts.items():
                w.writerow([item, verdict if verdict is not None else "error"])
        paths.append(path)
    return paths[0], paths[1], gpt, panda


def majority(rows: list[dict[str, Any]]) -> dict[str, str]:
    out = {}
    for r in rows:
        label, count = Counter(CODE[r[a]] for a in ANNOTATORS).most_common(1)[0]
        assert count >= 2
        out[str(r["idx"])] = label
    return out


def check_figures(report: dict[str, Any]) -> None:
    agreement = report["agreement"]
    cohen = {k: round(v["value"], 4) for k, v in agreement["cohen"].items()}
    assert cohen == {
        "annotator1|annotator2": 0.8520,
        "annotator1|annotator3": 0.8789,
        "annotator2|annotator3": 0.8617,
    }
    assert round(agreement["fleiss"]["value"], 5) == 0.86418
    assert round(agreement["krippendorff_alpha"]["value"], 5) == 0.86422
    assert agreement["n_items"] == 999
    assert agreement["n_clusters"] == 170  # intervals resample the distinct prompts
    for block in (*agreement["cohen"].values(), agreement["fleiss"], agreement["percent"]):
        lo, hi = block["ci"]
        assert lo < block["value"] < hi
    assert report["n_items"] == 999
    assert report["n_votes"] == 2997


def test_pandalm_csv_votes_and_judges(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    write_pairs(rows, tmp_path / "pairs.jsonl")
    with (tmp_path / "votes.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "annotator", "criterion", "choice"])
        for r in rows:
            for a in ANNOTATORS:
                w.writerow([r["idx"], a, "overall", CODE[r[a]]])
    gpt_csv, panda_csv, gpt, panda = write_judges(tmp_path)
    cli(
        "human",
        "create",
        "--pairs",
        str(tmp_path / "pairs.jsonl"),
        "--annotators",
        ",".join(ANNOTATORS),
        "--overlap",
        "3",
        "--name",
        "pandalm",
        "--store",
        store,
    )
    assert (
        "2997 votes"
        in cli("human", "import", "pandalm", str(tmp_path / "votes.csv"), "--store", store).output
    )
    out = cli(
        "human", "import", "pandalm", str(gpt_csv), "--judge", "gpt-3.5-turbo", "--store", store
    ).output
    assert "25 judge errors" in out
    cli("human", "import", "pandalm", str(panda_csv), "--judge", "pandalm-7b", "--store", store)
    out = cli(
        "human",
        "report",
        "pandalm",
        "--store",
        store,
        "--resamples",
        "200",
        "--json",
        str(tmp_path / "r.json"),
    ).output
    assert "Fleiss' kappa" in out
    assert "pandalm-7b" in out
    report = json.loads((tmp_path / "r.json").read_text())
    check_figures(report)

    human = majority(rows)
    assert Counter(human.values()) == {"tie": 105, "a": 422, "b": 472}  # SOURCE.md
    judges = {j["judge"]: j for j in report["judges"]}
    assert set(judges) == {"gpt-3.5-turbo", "pandalm-7b"}
    for name, verdicts, errors in (("gpt-3.5-turbo", gpt, 25), ("pandalm-7b", panda, 0)):
        j = judges[name]
        assert j["errors"] == errors  # garbage answers are errors, not votes
        ok = [i for i, v in verdicts.items() if v is not None]
        assert j["n_items"] == len(ok) == 999 - errors
        h = [human[i] for i in ok]
        v = [str(verdicts[i]) for i in ok]
        assert j["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(h, v), abs=1e-12)
        assert j["confusion"]["matrix"] == confusion_matrix(h, v, labels=["a", "b", "tie"]).tolist()
        assert j["percent"]["value"] == pytest.approx(
            sum(x == y for x, y in zip(h, v, strict=True)) / len(h)
        )
        decisive = [(x, y) for x, y in zip(h, v, strict=True) if "tie" not in (x, y)]
        assert j["percent_without_ties"]["n"] == len(decisive)
        lo, hi = j["cohen_kappa"]["ci"]
        assert lo < j["cohen_kappa"]["value"] < hi
    # Both judges agree with the majority far less than the annotators agree with each other.
    assert judges["gpt-3.5-turbo"]["cohen_kappa"]["value"] < 0.6
    assert judges["pandalm-7b"]["cohen_kappa"]["value"] < 0.6


def test_pandalm_label_studio_export(rows: list[dict[str, Any]], tmp_path: Path) -> None:
    store = str(tmp_path / "store.db")
    write_pairs(rows, tmp_path / "pairs.jsonl")
    cli(
        "human",
        "create",
        "--pairs",
        str(tmp_path / "pairs.jsonl"),
        "--annotators",
        ",".join(ANNOTATORS),
        "--overlap",
        "3",
        "--name",
        "pandalm-ls",
        "--store",
        store,
    )
    cli(
        "human",
        "export",
        "pandalm-ls",
        "--format",
        "labelstudio",
        "-o",
        str(tmp_path / "tasks.json"),
        "--store",
        store,
    )
    assert '<Choices name="overall"' in (tmp_path / "tasks.config.xml").read_text()
    exported = {"tasks": json.loads((tmp_path / "tasks.json").read_text())}
    with HumanStore(store) as hs:
        left = {i.item.item_id: i.left_side for i in hs.items("pandalm-ls")}
    by_id = {str(r["idx"]): r for r in rows}
    tasks = []
    for n, task in enumerate(exported["tasks"]):
        item = task["data"]["item_id"]
        annotations = []
        for k, a in enumerate(ANNOTATORS):
            label = CODE[by_id[item][a]]
            if label == "tie":
                result = [
                    {
                        "from_name": "overall_tie",
                        "to_name": "left",
                        "type": "choices",
                        "value": {"choices": ["Tie"]},
                    }
                ]
            else:
                shown = "left" if label == left[item] else "right"
                result = [
                    {
                        "from_name": "overall",
                        "to_name": "left,right",
                        "type": "pairwise",
                        "value": {"selected": shown},
                    }
                ]
            annotations.append(
                {
                    "id": n * 3 + k,
                    "completed_by": {"email": a},
                    "was_cancelled": False,
                    "result": result,
                }
            )
        # A cancelled annotation is not a vote.
        annotations.append(
            {
                "id": -1,
                "completed_by": {"email": "annotator1"},
                "was_cancelled": True,
                "result": [
                    {"from_name": "overall", "type": "pairwise", "value": {"selected": "left"}}
                ],
            }
        )
        tasks.append({"id": n, "data": task["data"], "annotations": annotations})
    (tmp_path / "ls_export.json").write_text(json.dumps(tasks))
    cli(
        "human",
        "import",
        "pandalm-ls",
        str(tmp_path / "ls_export.json"),
        "--format",
        "labelstudio",
        "--store",
        store,
    )
    cli(
        "human",
        "report",
        "pandalm-ls",
        "--store",
        store,
        "--resamples",
        "100",
        "--json",
        str(tmp_path / "r.json"),
    )
    check_figures(json.loads((tmp_path / "r.json").read_text()))
