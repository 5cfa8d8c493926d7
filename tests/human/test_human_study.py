"""Studies: drawing, order, assignment, the CLI end to end on a real run, errors."""

from __future__ import annotations

import json
import shutil
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tunegate.cli import app
from tunegate.errors import DataError, TunegateError
from tunegate.human.report import analyze_study, latest_study_for_run
from tunegate.human.store import HumanStore, add_judge_verdicts
from tunegate.human.study import (
    PairItem,
    assign,
    items_from_pairs,
    left_sides,
    parse_criteria,
    stratified_sample,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "tunegate" / "examples" / "human_eval"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def item(i: int, category: str | None) -> PairItem:
    return PairItem(f"i{i}", f"p{i}", f"a{i}", f"b{i}", "m1", "m2", category)


def test_stratified_sample_keeps_category_shares() -> None:
    items = [item(i, "big") for i in range(60)] + [item(i, "mid") for i in range(60, 90)]
    items += [item(i, "small") for i in range(90, 100)]
    drawn = stratified_sample(items, 10, seed=1)
    assert Counter(i.category for i in drawn) == {"big": 6, "mid": 3, "small": 1}
    assert drawn == stratified_sample(items, 10, seed=1)
    assert drawn != stratified_sample(items, 10, seed=2)
    assert stratified_sample(items, None, seed=1) == items
    assert len(stratified_sample(items, 7, seed=3)) == 7


def test_left_sides_are_seeded_and_mixed() -> None:
    ids = [f"i{k}" for k in range(200)]
    sides = left_sides(ids, 5)
    assert sides == left_sides(ids, 5)
    assert Counter(sides.values()) == {"a": 100, "b": 100}  # balanced, shuffled
    assert list(sides.values())[:10] != ["a"] * 10


def test_assignment_gives_each_item_overlap_distinct_annotators() -> None:
    ids = [f"i{k}" for k in range(31)]
    lists = assign(ids, ["x", "y", "z", "w"], 2, seed=0)
    per_item = Counter(i for items in lists.values() for i in items)
    assert set(per_item.values()) == {2}
    assert all(len(set(v)) == len(v) for v in lists.values())
    loads = [len(v) for v in lists.values()]
    assert max(loads) - min(loads) <= 1
    with pytest.raises(TunegateError, match="overlap 5"):
        assign(ids, ["x", "y"], 5, seed=0)


def test_criteria_always_end_with_overall() -> None:
    assert parse_criteria(None) == ["overall"]
    assert parse_criteria("overall,safety,format_adherence") == [
        "safety",
        "format_adherence",
        "overall",
    ]
    with pytest.raises(TunegateError):
        parse_criteria("bad name!")


def test_pairs_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    good = {
        "id": 1,
        "prompt": "p",
        "output_a": "a",
        "output_b": "b",
        "model_a": "x",
        "model_b": "y",
    }
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DataError, match=r"pairs.jsonl:2: invalid JSON"):
        items_from_pairs(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps({"id": 2, "prompt": "p"}) + "\n")
    with pytest.raises(DataError, match=r"pairs.jsonl:2: missing field\(s\) output_a"):
        items_from_pairs(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(DataError, match=r"pairs.jsonl:2: duplicate id '1'"):
        items_from_pairs(path)


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The human_eval example run for real (python models, offline)."""
    folder = tmp_path_factory.mktemp("example") / "human_eval"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns(".tunegate", "__pycache__"))
    result = invoke("run", str(folder / "tunegate.yaml"), "--quiet", "--no-gate")
    assert result.exit_code == 0, result.output
    assert (folder / ".tunegate" / "tunegate.db").exists(), result.output
    return folder


def test_create_from_a_run_import_export_report(example_run: Path, tmp_path: Path) -> None:
    store = str(example_run / ".tunegate" / "tunegate.db")
    created = invoke(
        "human",
        "create",
        "--run",
        "latest",
        "--candidate",
        "finetuned",
        "--baseline",
        "prompted",
        "--annotators",
        "alice,bob,carol",
        "--overlap",
        "2",
        "--n",
        "12",
        "--criteria",
        "correctness",
        "--name",
        "study-a",
        "--store",
        store,
    )
    assert created.exit_code == 0, created.output
    links = [line.split() for line in created.output.splitlines() if "/a/" in line]
    assert [name for name, _ in links] == ["alice", "bob", "carol"]
    with HumanStore(store) as hs:
        info = hs.study("study-a")
        items = hs.items("study-a")
        assert info.source["candidate"] == "finetuned"
        assert info.criteria == ["correctness", "overall"]
        assert len(items) == 12
        assert Counter(i.item.category for i in items) == {"facts": 4, "howto": 4, "summary": 4}
        assert links[0][1].startswith("http://127.0.0.1:8765/a/")  # a full URL
        token = links[0][1].split("/a/")[1].strip("/")
        assert hs.annotator_for_token("study-a", token) == "alice"
    # The items carry the run's real inputs and outputs.
    first = items[0].item
    assert first.model_a == "finetuned"
    assert first.prompt.endswith("?") or first.prompt.startswith("Summarise")
    assert first.output_b.startswith("Great question!")
    run_id = info.source["run_id"]
    assert latest_study_for_run(store, run_id) == "study-a"

    # Votes as CSV, both as shown (left/right) and as stored sides (a/b).
    rows = ["item_id,annotator,criterion,choice"]
    with HumanStore(store) as hs:
        for ann in ("alice", "bob", "carol"):
            for item_id in hs.assigned("study-a", ann):
                rows.append(f"{item_id},{ann},overall,a")
                rows.append(f"{item_id},{ann},correctness,{'left' if ann == 'alice' else 'tie'}")
    (tmp_path / "votes.csv").write_text("\n".join(rows) + "\n")
    imported = invoke("human", "import", "study-a", str(tmp_path / "votes.csv"), "--store", store)
    assert imported.exit_code == 0, imported.output
    verdicts: dict[str, str | None] = {i.item.item_id: "a" for i in items}
    verdicts[items[0].item.item_id] = None
    verdicts[items[1].item.item_id] = "b"
    assert add_judge_verdicts(store, "study-a", "overlap-judge", verdicts) == 12
    with pytest.raises(TunegateError, match="not in study"):
        add_judge_verdicts(store, "study-a", "j", {"nope": "a"})

    report = analyze_study(store, "study-a", n_resamples=200)
    pref = report["preference"]
    assert pref["candidate"] == "finetuned"
    assert pref["baseline"] == "prompted"
    assert (pref["wins"], pref["ties"], pref["losses"]) == (24, 0, 0)
    assert pref["win_rate"]["value"] == 1.0
    assert pref["sign_test_p"] == pytest.approx(2 * 0.5**24)
    by_left = {i.item.item_id: i.left_side for i in items}
    alice_left = [by_left[i] for i in HumanStore(store).assigned("study-a", "alice")]
    corr = pref["by_criterion"]["correctness"]
    assert corr["wins"] == alice_left.count("a")
    assert corr["ties"] == 16
    assert set(pref["by_category"]) == {"facts", "howto", "summary"}
    assert report["agreement"]["percent"]["value"] == 1.0
    summary = {a["annotator"]: a for a in report["annotator_summary"]}
    assert summary["alice"]["voted"] == summary["alice"]["assigned"] == 8
    assert summary["alice"]["tie_rate"] == 0.0
    alice_items = HumanStore(store).assigned("study-a", "alice")
    left_a = sum(by_left[i] == "a" for i in alice_items) / 8
    assert summary["alice"]["left_rate"] == pytest.approx(left_a)
    judge = report["judges"][0]
    assert (judge["judge"], judge["n_items"], judge["errors"]) == ("overlap-judge", 11, 1)
    assert judge["percent"]["value"] == pytest.approx(10 / 11)

    text = invoke("human", "report", "study-a", "--store", store, "--resamples", "100")
    assert text.exit_code == 0, text.output
    assert "overlap-judge" in text.output
    # 11 judged items: below the documented minimum for calibration intervals.
    flat = " ".join(text.output.split())
    assert "judge overlap-judge's Cohen's κ against the human majority rests on 11 items" in flat
    assert any("rests on 11 items" in w for w in report["warnings"])
    for fmt in ("csv", "labelstudio", "argilla"):
        out = tmp_path / f"export.{fmt}"
        done = invoke(
            "human", "export", "study-a", "--format", fmt, "-o", str(out), "--store", store
        )
        assert done.exit_code == 0, done.output
        body = out.read_text()
        if fmt != "csv":
            assert "finetuned" not in body
            assert "prompted" not in body
    assert len((tmp_path / "export.csv").read_text().splitlines()) == 1 + 48


def test_links_rotate_invalidates_old_tokens(tmp_path: Path) -> None:
    pairs = tmp_path / "p.jsonl"
    pairs.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": k,
                    "prompt": f"q{k}",
                    "output_a": "x",
                    "output_b": "y",
                    "model_a": "m",
                    "model_b": "n",
                }
            )
            for k in range(4)
        )
        + "\n"
    )
    store = str(tmp_path / "s.db")
    created = invoke(
        "human", "create", "--pairs", str(pairs), "--annotators", "u1,u2", "--store", store
    )
    assert created.exit_code == 0, created.output
    old = [
        line.split()[1].split("/a/")[1].strip("/")
        for line in created.output.splitlines()
        if "/a/" in line
    ]
    listed = invoke("human", "links", "p", "--store", store)
    assert "u1: 0 of 4 items voted" in listed.output
    assert not any(t in listed.output for t in old)
    rotated = invoke(
        "human",
        "links",
        "p",
        "--rotate",
        "--base-url",
        "https://eval.example.org/",
        "--store",
        store,
    )
    urls = [line.split()[1] for line in rotated.output.splitlines() if "/a/" in line]
    assert all(u.startswith("https://eval.example.org/a/") for u in urls), urls
    new = [u.split("/a/")[1].strip("/") for u in urls]
    with HumanStore(store) as hs:
        assert [hs.annotator_for_token("p", t) for t in old] == [None, None]
        assert [hs.annotator_for_token("p", t) for t in new] == ["u1", "u2"]


def test_cli_errors_exit_2_with_file_and_line(tmp_path: Path) -> None:
    pairs = tmp_path / "p.jsonl"
    pairs.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": k,
                    "prompt": f"q{k}",
                    "output_a": "x",
                    "output_b": "y",
                    "model_a": "m",
                    "model_b": "n",
                }
            )
            for k in range(3)
        )
        + "\n"
    )
    store = str(tmp_path / "s.db")
    assert (
        invoke(
            "human", "create", "--pairs", str(pairs), "--annotators", "u1,u2", "--store", store
        ).exit_code
        == 0
    )
    votes = tmp_path / "v.csv"
    votes.write_text(
        "item_id,annotator,criterion,choice\n0,u1,overall,left\n99,u1,overall,left\n"
        "1,mallory,overall,a\n2,u2,overall,maybe\n2,u2,style,a\n"
    )
    result = invoke("human", "import", "p", str(votes), "--store", store)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    for expected in (
        "v.csv:3: unknown item id '99'",
        "v.csv:4: unknown annotator 'mallory'",
        "v.csv:5: invalid choice 'maybe'",
        "v.csv:6: unknown criterion 'style'",
        "nothing imported",
    ):
        assert expected in out
    assert "Traceback" not in result.output
    with HumanStore(store) as hs:
        assert hs.votes("p") == []
    cases = [
        (("human", "report", "nope", "--store", store), "no study named 'nope'"),
        (("human", "report", "p", "--store", str(tmp_path / "none.db")), "no store here"),
        (("human", "create", "--annotators", "a", "--store", store), "exactly one of --run"),
        (
            ("human", "create", "--pairs", str(pairs), "--annotators", "a,a", "--store", store),
            "duplicate",
        ),
        (
            ("human", "create", "--pairs", str(pairs), "--annotators", "a", "--store", store),
            "exists already",
        ),
        (("human", "import", "p", str(votes), "--format", "xml", "--store", store), "--format"),
        (("human", "import", "p", str(tmp_path / "missing.csv"), "--store", store), "cannot read"),
    ]
    for args, message in cases:
        result = invoke(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.split()), (args, result.output)
    result = invoke("human", "report", "p", "--candidate", "zz", "--store", store)
    assert result.exit_code == 2
    assert "candidate 'zz' is in none of its pairs (models: m, n)" in " ".join(
        result.output.split()
    )
    verdicts = tmp_path / "j.csv"
    verdicts.write_text("item_id,verdict\n0,A\n1,maybe\n7,b\n")
    result = invoke("human", "import", "p", str(verdicts), "--judge", "j", "--store", store)
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "j.csv:3: invalid verdict 'maybe'" in out
    assert "j.csv:4: unknown item id '7'" in out


def test_serve_warns_off_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    pairs = tmp_path / "p.jsonl"
    pairs.write_text(
        json.dumps(
            {
                "id": 1,
                "prompt": "q",
                "output_a": "x",
                "output_b": "y",
                "model_a": "m",
                "model_b": "n",
            }
        )
        + "\n"
    )
    store = str(tmp_path / "s.db")
    assert (
        invoke(
            "human", "create", "--pairs", str(pairs), "--annotators", "u1", "--store", store
        ).exit_code
        == 0
    )
    calls: list[dict[str, Any]] = []

    def fake_run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        (sock,) = sockets  # serve binds the socket itself (a busy port is exit 2)
        host, port = sock.getsockname()[:2]
        calls.append({"host": host, "port": port, "access_log": server.config.access_log})
        sock.close()

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    local = invoke("human", "serve", "p", "--port", "0", "--store", store)
    assert local.exit_code == 0, local.output
    assert f"http://127.0.0.1:{calls[0]['port']}" in local.output  # the port it got
    assert "warning" not in local.output
    remote = invoke("human", "serve", "p", "--host", "0.0.0.0", "--port", "0", "--store", store)
    assert "links are the only protection" in " ".join(remote.output.split())
    assert [c["host"] for c in calls] == ["127.0.0.1", "0.0.0.0"]
    assert all(c["access_log"] is False for c in calls)  # the token paths stay out of logs
    missing = invoke("human", "serve", "nope", "--store", store)
    assert missing.exit_code == 2
    assert "no study named 'nope'" in " ".join(missing.output.split())


def test_create_run_latest_is_the_newest_run_of_one_config(
    example_run: Path, tmp_path: Path
) -> None:
    # A shared store: a later run of another config must not become the study's run.
    folder = tmp_path / "shared"
    shutil.copytree(example_run, folder)
    store = str(folder / ".tunegate" / "tunegate.db")
    from tunegate.store import Store

    with Store(store) as db:
        mine = next(r.id for r in db.runs() if r.status == "completed")
        other = db.start_run("sentiment-other", {}, 0)
        db.update_run_meta(other, {"result": {"run_id": other, "suites": []}})
        db.finish_run(other)
    args = ["human", "create", "--run", "latest", "--candidate", "finetuned"]
    args += ["--baseline", "prompted", "--annotators", "alice,bob", "--store", store]

    refused = invoke(*args)
    assert refused.exit_code == 2, refused.output
    text = " ".join(refused.output.split())
    assert "--run latest is ambiguous" in text
    assert f"human-eval-demo: {mine}" in text
    assert f"sentiment-other: {other}" in text
    assert "--config-name" in text

    created = invoke(*args, "--config-name", "human-eval-demo", "--name", "s-latest")
    assert created.exit_code == 0, created.output
    with HumanStore(store) as hs:
        assert hs.study("s-latest").source["run_id"] == mine

    unknown = invoke(*args, "--config-name", "nope")
    assert unknown.exit_code == 2
    assert "no completed run of config 'nope'" in " ".join(unknown.output.split())
    no_previous = invoke(
        *[a if a != "latest" else "previous" for a in args], "--config-name", "sentiment-other"
    )
    assert no_previous.exit_code == 2
    assert "no `previous` run" in " ".join(no_previous.output.split())
