"""tunegate.evaluation.provenance: where reused answers came from, and a warning when the endpoint now
serves another model or fingerprint than the reused answers did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tunegate.evaluation.provenance import cache_summary, served_by_change
from tunegate.store import Response, Store


def _r(i: int, cached: bool, **extra: Any) -> Response:
    return Response(
        case_id=f"c{i}", model="m", key=f"k{i}", text="x", cached=cached, extra=extra or None
    )


def test_cache_summary_lists_origin_runs_newest_first_with_their_age(store: Store) -> None:
    older = store.start_run("a", {}, 0)
    newer = store.start_run("b", {}, 0)
    started = datetime.fromisoformat(store.get_run(newer).started_at)
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    now = started + timedelta(seconds=90)
    summary = cache_summary(5, 3, {older: 2, newer: 3, "gone-run": 1}, store, now)
    assert (summary["reused"], summary["fresh"]) == (5, 3)
    runs = summary["from_runs"]
    assert [r["run_id"] for r in runs][-1] == "gone-run"  # no start time: last
    assert runs[-1]["started_at"] is None
    assert runs[-1]["age_s"] is None
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[newer]["answers"] == 3
    assert by_id[newer]["age_s"] == 90.0
    assert by_id[older]["age_s"] >= 90.0
    keys = [(r["started_at"] or "", r["run_id"]) for r in runs]
    assert keys == sorted(keys, reverse=True)  # newest first


def test_a_changed_served_model_or_fingerprint_is_warned_about() -> None:
    same = [_r(0, True, served_model="gpt-x"), _r(1, False, served_model="gpt-x")]
    assert served_by_change("m", same) is None
    changed = [
        _r(0, True, served_model="gpt-x", system_fingerprint="fp1"),
        _r(1, False, served_model="gpt-x", system_fingerprint="fp2"),
    ]
    assert served_by_change("m", changed) == (
        "m: the endpoint now serves gpt-x (fp2), but the reused answers came from gpt-x (fp1); "
        "run with --no-cache m to ask every case again"
    )


def test_no_warning_without_both_sides_or_without_served_facts() -> None:
    assert served_by_change("m", [_r(0, True, served_model="a")]) is None
    assert served_by_change("m", [_r(0, False, served_model="a")]) is None
    assert served_by_change("m", [_r(0, True), _r(1, False)]) is None
    failed = Response(
        case_id="c9", model="m", key="k9", error="boom", cached=False, extra={"served_model": "b"}
    )
    assert served_by_change("m", [_r(0, True, served_model="a"), failed]) is None
