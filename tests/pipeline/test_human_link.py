"""tunegate.pipeline.human_link: which study belongs to a run, how a pairwise judge's outcomes
become study verdicts, and what a study that cannot be read gives the gate. The stage
receives the parts of the config it reads (the study's name, the config's name, the
candidate, confidence, resamples and seed), not the whole config."""

from __future__ import annotations

from pathlib import Path

from tunegate.human.store import HumanStore
from tunegate.human.study import PairItem
from tunegate.pipeline.human_link import find_study, human_evidence, judge_side_verdicts
from tunegate.store import Store


def _study(path: Path, name: str, run_id: str) -> None:
    item = PairItem("c1", "q", "answer a", "answer b", "tuned", "base")
    with HumanStore(path) as hs:
        hs.create_study(
            name, 0, ["better"], {"run_id": run_id}, [item], {"c1": "a"}, {"ann": ["c1"]}
        )


def _run(path: Path, name: str) -> str:
    with Store(path) as store:
        return store.start_run(name, {"name": name}, 0)


def test_find_study_prefers_the_named_one_then_this_run_then_a_run_of_the_same_name(
    tmp_path: Path,
) -> None:
    db = tmp_path / "t.db"
    earlier, other, now = _run(db, "sentiment"), _run(db, "another"), _run(db, "sentiment")
    assert find_study(db, now, study=None, config_name="sentiment") is None
    _study(db, "of-another", other)
    assert find_study(db, now, study=None, config_name="sentiment") is None
    _study(db, "of-earlier", earlier)
    assert find_study(db, now, study=None, config_name="sentiment") == "of-earlier"
    _study(db, "of-now", now)
    assert find_study(db, now, study=None, config_name="sentiment") == "of-now"
    assert find_study(db, now, study="named", config_name="sentiment") == "named"


def test_judge_outcomes_become_verdicts_on_the_stored_sides() -> None:
    items = {"1": ("tuned", "base"), "2": ("base", "tuned"), "3": ("tuned", "base")}
    records = [
        {"case_id": "1", "baseline": "base", "outcome": "win"},
        {"case_id": "2", "baseline": "base", "outcome": "win"},  # tuned is side b here
        {"case_id": "3", "baseline": "base", "outcome": "error"},  # no verdict, not a tie
        {"case_id": "4", "baseline": "base", "outcome": "loss"},  # not in the study
        {"case_id": "1", "baseline": "other", "outcome": "loss"},  # another pair
    ]
    assert judge_side_verdicts(records, items, "tuned") == {"1": "a", "2": "b", "3": None}


def test_a_study_that_cannot_be_read_is_an_error_for_the_gate(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    run_id = _run(db, "sentiment")
    found = human_evidence(
        db,
        run_id,
        [None],
        study="nope",
        config_name="sentiment",
        candidate="tuned",
        confidence=0.95,
        n_resamples=200,
        seed=1,
    )
    assert found == {
        "study": "nope",
        "error": f"human study: {db}: no study named 'nope' (studies: none)",
    }
    none = human_evidence(
        db,
        run_id,
        [None],
        study=None,
        config_name="sentiment",
        candidate="tuned",
        confidence=0.95,
        n_resamples=200,
        seed=1,
    )
    assert none is None
