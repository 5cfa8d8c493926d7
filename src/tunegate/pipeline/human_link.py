"""A run's link to its human study: find it, add the run's pairwise-judge verdicts, read it.

The study is ``human: {study: NAME}`` in the config, else the newest study made
from this run, else the newest study made from an earlier run of the same config
name (a re-run gets a new run id; its answers come from the store). The pairwise
judges' verdicts on the study's items are added under the judge's name (the
scorer's ``name``, else the judge model's name), so the study calibrates them
against the human majority. What the study says (preference, position bias,
agreement, one calibration per judge) is returned for the gate and the reports,
computed by :func:`tunegate.human.report.analyze_study`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunegate.errors import TunegateError

__all__ = ["find_study", "human_evidence", "item_votes", "judge_side_verdicts"]

#: Resamples for the study's intervals (kappa is recomputed per resample: 1,000 keeps
#: a 1,000-item study to a few seconds).
STUDY_RESAMPLES = 1000


def find_study(store_path: Path, run_id: str, *, study: str | None, config_name: str) -> str | None:
    """The study of this run (see the module doc), or None: ``study`` (the config's
    ``human.study``) when given, else one made from this run or a run of ``config_name``."""
    from tunegate.human.store import HumanStore
    from tunegate.store import Store

    if study is not None:
        return study
    with Store(store_path) as store:
        same_name = {r.id for r in store.runs() if r.name == config_name}
    with HumanStore(store_path) as hs:
        studies = hs.studies()
    for info in studies:
        if info.source.get("run_id") == run_id:
            return info.name
    for info in studies:
        if info.source.get("run_id") in same_name:
            return info.name
    return None


def judge_side_verdicts(
    records: Sequence[Mapping[str, Any]], items: Mapping[str, tuple[str, str]], candidate: str
) -> dict[str, str | None]:
    """A pairwise judge's case outcomes as study verdicts on the stored sides ``a`` / ``b``.

    ``items`` maps item ids to (model_a, model_b). A win goes to the candidate's side,
    a loss to the baseline's, a tie or an inconsistent pair is ``tie``, a judge error None.
    """
    out: dict[str, str | None] = {}
    for rec in records:
        pair = items.get(str(rec["case_id"]))
        if pair is None or set(pair) != {candidate, rec["baseline"]}:
            continue
        mine = "a" if pair[0] == candidate else "b"
        theirs = "b" if mine == "a" else "a"
        result = rec["outcome"]
        out[str(rec["case_id"])] = (
            None
            if result == "error"
            else mine
            if result == "win"
            else theirs
            if result == "loss"
            else "tie"
        )
    return out


def _add_verdicts(
    store_path: Path, study: str, judges: Sequence[Mapping[str, Any]], candidate: str
) -> None:
    from tunegate.human.store import HumanStore, add_judge_verdicts

    with HumanStore(store_path) as hs:
        items = {i.item.item_id: (i.item.model_a, i.item.model_b) for i in hs.items(study)}
    for entry in judges:
        verdicts = judge_side_verdicts(entry.get("cases", []), items, candidate)
        if verdicts:
            add_judge_verdicts(store_path, study, str(entry["name"]), verdicts)


def human_evidence(
    store_path: Path,
    run_id: str,
    judges: Sequence[Mapping[str, Any] | None],
    *,
    study: str | None,
    config_name: str,
    candidate: str,
    confidence: float,
    n_resamples: int,
    seed: int,
) -> dict[str, Any] | None:
    """What the run's human study says, for the gate and the reports (None: no study).

    ``study`` is the config's ``human.study`` (else found, see :func:`find_study`);
    ``judges`` are the suites' ``judges`` summaries, whose pairwise verdicts are added to
    the study first; its intervals use the run's ``confidence``, at most ``n_resamples``
    resamples (:data:`STUDY_RESAMPLES`) and its ``seed``. A study that cannot be read
    gives ``{"study", "error"}``.
    """
    try:
        from tunegate.human.report import analyze_study
    except ImportError:  # pragma: no cover - the human package ships with tunegate
        return None
    try:
        found_study = find_study(store_path, run_id, study=study, config_name=config_name)
        if found_study is None:
            return None
        pairwise = [
            e
            for summary in judges
            if summary is not None
            for e in summary.get("judges", [])
            if e.get("kind") == "pairwise"
        ]
        _add_verdicts(store_path, found_study, pairwise, candidate)
        found = analyze_study(
            store_path,
            found_study,
            candidate=candidate,
            n_resamples=min(n_resamples, STUDY_RESAMPLES),
            seed=seed,
            level=confidence,
        )
    except TunegateError as exc:
        return {"study": study, "error": f"human study: {exc}"}
    keep = "study n_items n_items_voted n_votes n_both_bad n_skipped preference position_bias"
    out = {k: found.get(k) for k in keep.split()}
    out["agreement"] = found.get("agreement")
    out["judges"] = found.get("judges", [])
    out["warnings"] = found.get("warnings", [])
    out["item_votes"] = item_votes(store_path, found_study)
    return out


def item_votes(store_path: Path, study: str) -> dict[str, dict[str, Any]]:
    """Each study item's overall votes for the report's drill-down: ``{item_id: {"models":
    [model_a, model_b], "votes": [[annotator, choice], ...]}}``, a choice of side ``a`` or
    ``b`` written as that side's model name (``tie`` and any other choice as stored)."""
    from tunegate.human.store import HumanStore

    with HumanStore(store_path) as hs:
        items = {i.item.item_id: (i.item.model_a, i.item.model_b) for i in hs.items(study)}
        votes = hs.votes(study)
    out: dict[str, dict[str, Any]] = {}
    for vote in votes:
        pair = items.get(vote.item_id)
        if pair is None or vote.criterion != "overall":
            continue
        entry = out.setdefault(vote.item_id, {"models": list(pair), "votes": []})
        side = {"a": pair[0], "b": pair[1]}.get(vote.choice, vote.choice)
        entry["votes"].append([vote.annotator, side])
    return out
