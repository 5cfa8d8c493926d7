"""Both-bad and can't-judge votes, the time per item, and stores made before they existed
(issue 23): stored distinctly, left out of the preference, counted apart."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from servers import serve
from test_human_app import csrf_of, make_study

from tunegate.human.app import create_app
from tunegate.human.report import analyze_study
from tunegate.human.store import HumanStore, Vote
from tunegate.human.study import PairItem, assign, left_sides

# The tables as tunegate wrote them before both-bad, skip, instructions and references.
OLD_SCHEMA = """
CREATE TABLE human_studies (name TEXT PRIMARY KEY, created_at REAL NOT NULL,
    seed INTEGER NOT NULL, criteria TEXT NOT NULL, source TEXT NOT NULL,
    csrf_secret TEXT NOT NULL);
CREATE TABLE human_items (study TEXT NOT NULL REFERENCES human_studies(name),
    item_id TEXT NOT NULL, position INTEGER NOT NULL, prompt TEXT NOT NULL,
    output_a TEXT NOT NULL, output_b TEXT NOT NULL, model_a TEXT NOT NULL,
    model_b TEXT NOT NULL, category TEXT, cluster TEXT NOT NULL,
    left_side TEXT NOT NULL CHECK (left_side IN ('a', 'b')), PRIMARY KEY (study, item_id));
CREATE TABLE human_annotators (study TEXT NOT NULL REFERENCES human_studies(name),
    name TEXT NOT NULL, token_sha256 TEXT NOT NULL, PRIMARY KEY (study, name));
CREATE TABLE human_assignments (study TEXT NOT NULL, annotator TEXT NOT NULL,
    item_id TEXT NOT NULL, position INTEGER NOT NULL, PRIMARY KEY (study, annotator, item_id));
CREATE TABLE human_votes (study TEXT NOT NULL, annotator TEXT NOT NULL,
    item_id TEXT NOT NULL, criterion TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie')), left_side TEXT NOT NULL,
    source TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (study, annotator, item_id, criterion));
INSERT INTO human_studies VALUES ('old', 1.0, 3, '["overall"]', '{"kind": "test"}', 'ab');
INSERT INTO human_items VALUES ('old', 'c1', 0, 'p', 'x', 'y', 'm1', 'm2', NULL, 'k1', 'a');
INSERT INTO human_items VALUES ('old', 'c2', 1, 'q', 'x', 'y', 'm1', 'm2', NULL, 'k2', 'b');
INSERT INTO human_annotators VALUES ('old', 'ann1', 'f00');
INSERT INTO human_assignments VALUES ('old', 'ann1', 'c1', 0);
INSERT INTO human_assignments VALUES ('old', 'ann1', 'c2', 1);
INSERT INTO human_votes VALUES ('old', 'ann1', 'c1', 'overall', 'a', 'a', 'app', 2.0);
"""


def test_an_old_store_loads_and_takes_the_new_choices(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as con:
        con.executescript(OLD_SCHEMA)
    for _ in range(2):  # opening twice migrates once
        with HumanStore(db) as hs:
            info = hs.study("old")
            assert info.instructions is None
            assert info.show_reference is False
            assert [i.item.reference for i in hs.items("old")] == [None, None]
            assert next((v.item_id, v.choice, v.seconds) for v in hs.votes("old")) == (
                "c1",
                "a",
                None,
            )
    with HumanStore(db) as hs:
        hs.record_votes("old", [Vote("ann1", "c2", "overall", "both_bad", "b", "app", 4.5)])
        assert [(v.item_id, v.choice, v.seconds) for v in hs.votes("old")] == [
            ("c1", "a", None),
            ("c2", "both_bad", 4.5),
        ]


def _study(db: Path) -> None:
    items = [PairItem(f"c{i}", f"prompt {i}", "x", "y", "cand", "base") for i in range(6)]
    ids = [i.item_id for i in items]
    with HumanStore(db) as hs:
        hs.create_study(
            "s", 1, ["overall"], {"kind": "test"}, items, left_sides(ids, 1),
            assign(ids, ["ann1", "ann2"], 2, 1),
        )  # fmt: skip


def test_skips_and_both_bad_are_not_ties_in_the_report(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    _study(db)
    # ann1: c0 win, c1 loss, c2 tie, c3 both bad, c4 skip, c5 both bad
    # ann2: c0 win, c1 win, c2 skip, c3 both bad, c4 skip, c5 tie
    mine = {"c0": "a", "c1": "b", "c2": "tie", "c3": "both_bad", "c4": "skip", "c5": "both_bad"}
    theirs = {"c0": "a", "c1": "a", "c2": "skip", "c3": "both_bad", "c4": "skip", "c5": "tie"}
    votes = [
        Vote("ann1", i, "overall", c, "a", "app", 10.0 + k) for k, (i, c) in enumerate(mine.items())
    ]
    votes += [Vote("ann2", i, "overall", c, "a", "app", None) for i, c in theirs.items()]
    with HumanStore(db) as hs:
        hs.record_votes("s", votes)
    result = analyze_study(db, "s", n_resamples=50)
    pref = result["preference"]
    # Preference over a / b / tie only: 3 wins, 2 ties, 1 loss.
    assert (pref["wins"], pref["ties"], pref["losses"], pref["n_votes"]) == (3, 2, 1, 6)
    assert pref["win_rate"]["value"] == pytest.approx(4 / 6)
    assert pref["both_bad"] == 3
    assert pref["skipped"] == 3
    assert pref["both_bad_rate"] == pytest.approx(3 / 9)
    assert result["n_skipped"] == 3
    assert result["n_both_bad"] == 3
    summary = {a["annotator"]: a for a in result["annotator_summary"]}
    assert summary["ann1"]["both_bad"] == 2
    assert summary["ann1"]["skipped"] == 1
    assert summary["ann1"]["voted"] == 6
    assert summary["ann1"]["tie_rate"] == pytest.approx(1 / 3)  # of its 3 preference votes
    assert summary["ann1"]["median_seconds"] == pytest.approx(12.5)
    assert summary["ann2"]["median_seconds"] is None
    # Position bias rests on decisive votes only (4: a both-bad vote is no side).
    assert result["position_bias"]["n_decisive"] == 4
    # Agreement: a skip is no rating (c4 has only skips, so it is not there).
    assert result["agreement"]["n_items"] == 5
    json.dumps(result)  # JSON-ready
    from rich.console import Console

    from tunegate.human.report import render_report

    console = Console(record=True, width=200)
    render_report(result, console)
    text = console.export_text()
    assert "12 votes (3 both bad, 3 can't judge: not in the preference)" in text
    row = next(line for line in text.splitlines() if line.startswith("│ overall"))
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[2:] == ["3 / 2 / 1", "75.0%", "0.6250", "6", "3", "3"], cells


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = tmp_path / "h.db"
    tokens = make_study(db)
    with serve(create_app(db, "s1")) as url:
        yield url, tokens, db


def test_app_stores_both_bad_skip_and_the_seconds(
    served: tuple[str, dict[str, str], Path],
) -> None:
    url, tokens, db = served
    token = tokens["ann1"]
    with httpx.Client(base_url=url) as c:
        good = {"X-CSRF-Token": csrf_of(c.get(f"/a/{token}/1").text)}
        for k, choice, seconds in ((1, "both_bad", 12.5), (2, "skip", 1e9), (3, "left", None)):
            body = {"item": k, "criterion": "overall", "choice": choice, "seconds": seconds}
            assert c.post(f"/a/{token}/vote", json=body, headers=good).status_code == 200
        nan = b'{"item": 3, "criterion": "correctness", "choice": "tie", "seconds": NaN}'
        sent = c.post(
            f"/a/{token}/vote",
            content=nan,
            headers={**good, "Content-Type": "application/json"},
        )
        assert sent.status_code == 200
        for wrong in ("both bad", "BOTH_BAD", "bothbad", "none"):
            body = {"item": 1, "criterion": "overall", "choice": wrong}
            assert c.post(f"/a/{token}/vote", json=body, headers=good).status_code == 400
        body = {"item": 1, "criterion": "overall", "choice": "tie", "seconds": "12"}
        assert c.post(f"/a/{token}/vote", json=body, headers=good).status_code == 400
        # The page shows the stored choice pressed, and the item counts as done.
        page = c.get(f"/a/{token}/2").text
        assert 'data-choice="skip"\n            aria-pressed="true"' in page
        assert "3 of 3 done" in page
    with HumanStore(db) as hs:
        order = hs.assigned("s1", "ann1")
        got = {(v.item_id, v.criterion): (v.choice, v.seconds) for v in hs.votes("s1", "ann1")}
    assert got[(order[0], "overall")] == ("both_bad", 12.5)
    assert got[(order[1], "overall")] == ("skip", 6 * 3600.0)  # capped
    assert got[(order[2], "overall")][1] is None
    assert got[(order[2], "correctness")] == ("tie", None)  # NaN is no time


def test_csv_export_and_import_keep_both_bad_and_skip(tmp_path: Path) -> None:
    from tunegate.human.exchange import export_csv, import_csv_votes

    db = tmp_path / "h.db"
    _study(db)
    with HumanStore(db) as hs:
        hs.record_votes(
            "s",
            [
                Vote("ann1", "c0", "overall", "both_bad", "a", "app", 3.0),
                Vote("ann1", "c1", "overall", "skip", "a", "app", 1.0),
                Vote("ann2", "c0", "overall", "a", "a", "app", 2.0),
            ],
        )
        items = hs.items("s")
        text = export_csv(items, hs.votes("s"))
    path = tmp_path / "votes.csv"
    path.write_text(text + "c2,ann2,overall,Both bad\nc3,ann2,overall,can't judge\n")
    back = import_csv_votes(path, items, ["ann1", "ann2"], ["overall"])
    assert sorted((v.annotator, v.item_id, v.choice) for v in back) == [
        ("ann1", "c0", "both_bad"),
        ("ann1", "c1", "skip"),
        ("ann2", "c0", "a"),
        ("ann2", "c2", "both_bad"),
        ("ann2", "c3", "skip"),
    ]


def test_the_runs_human_evidence_counts_both_bad_and_skips(tmp_path: Path) -> None:
    from tunegate.pipeline.human_link import human_evidence

    db = tmp_path / "h.db"
    _study(db)
    with HumanStore(db) as hs:
        hs.record_votes(
            "s",
            [
                Vote("ann1", "c0", "overall", "a", "a", "app"),
                Vote("ann1", "c1", "overall", "both_bad", "a", "app"),
                Vote("ann2", "c1", "overall", "skip", "a", "app"),
            ],
        )
    found = human_evidence(
        db, "run-1", [], study="s", config_name="x", candidate="cand",
        confidence=0.95, n_resamples=50, seed=1,
    )  # fmt: skip
    assert found is not None
    pref = found["preference"]
    assert (pref["wins"], pref["n_votes"], pref["both_bad"], pref["skipped"]) == (1, 1, 1, 1)
