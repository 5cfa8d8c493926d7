"""``tunegate diff``: two stored runs of the same models, compared metric by metric and case
by case.

The two result dicts are built here with known flips (B fixes 10 cases of A and breaks 2),
stored in a real SQLite store, and every expected number is derived from the constructed
data or an independent reference (scipy's binomial and chi-square tests, a numpy
bootstrap), never from the code under test.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from scipy.stats import binomtest, chi2

import tunegate.store
from tunegate.errors import DataError, TunegateError
from tunegate.history.diff import diff_results
from tunegate.report.diff_terminal import headline, print_diff
from tunegate.store import Store, load_run_result, resolve_run

TUNEGATE = Path(sys.executable).parent / "tunegate"
LABELS = ("positive", "negative", "neutral")

# Outcome of each of the 40 shared cases for the fine-tuned model: (right in A, right in B).
FIXED = [(False, True)] * 10
BROKEN = [(True, False)] * 2
BOTH_RIGHT = [(True, True)] * 25
BOTH_WRONG = [(False, False)] * 3
OUTCOMES = FIXED + BROKEN + BOTH_RIGHT + BOTH_WRONG


# --------------------------------------------------------------------------- building results


def case_id(i: int) -> str:
    return f"c{i:02d}"


def category(i: int) -> str:
    return "easy" if i % 2 == 0 else "hard"


def reference(i: int) -> str:
    return LABELS[i % 2]


def wrong(ref: str, variant: int = 0) -> str:
    others = [label for label in LABELS if label != ref]
    return others[variant % len(others)]


def case(
    model: str, cid: str, cat: str, ref: str, pred: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "case_id": cid,
        "model": model,
        "prediction": pred,
        "reference": ref,
        "correct": pred == ref,
        "score": float(pred == ref),
        "answer": None if pred is None else f"Sentiment: {pred}",
        "error": None,
        "category": cat,
        **extra,
    }


def finetuned_cases(side: str) -> list[dict[str, Any]]:
    """40 shared cases with the flips above, plus one case only this side has."""
    cases = []
    for i, (right_a, right_b) in enumerate(OUTCOMES):
        ref = reference(i)
        right = right_a if side == "A" else right_b
        # Both-wrong cases: B gives a different wrong label for the first one only.
        variant = 1 if side == "B" and i == len(OUTCOMES) - 3 else 0
        cases.append(
            case("finetuned", case_id(i), category(i), ref, ref if right else wrong(ref, variant))
        )
    extra = "a-only" if side == "A" else "b-only"
    cases.append(case("finetuned", extra, "easy", "positive", "positive"))
    return cases


def base_cases() -> list[dict[str, Any]]:
    """The base model answers identically in both runs (right on even cases)."""
    return [
        case("base", case_id(i), category(i), reference(i), reference(i) if i % 2 == 0 else None)
        for i in range(len(OUTCOMES))
    ]


def categories_of(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for cat in sorted({c["category"] for c in cases}):
        mine = [c for c in cases if c["category"] == cat]
        passed = sum(c["correct"] for c in mine)
        rate = passed / len(mine)
        out[cat] = {"n": len(mine), "passed": passed, "pass_rate": rate, "ci": [rate - 0.1, rate]}
    return out


def summary(cases: list[dict[str, Any]], macro_f1: float, p50: float) -> dict[str, Any]:
    accuracy = sum(c["correct"] for c in cases) / len(cases)
    return {
        "n": len(cases),
        "errors": 0,
        "metrics": {
            "macro_f1": {"value": macro_f1, "ci": [macro_f1 - 0.05, macro_f1 + 0.05]},
            "accuracy": {"value": accuracy, "ci": [accuracy - 0.05, accuracy + 0.05]},
        },
        "latency_ms": {"p50": p50, "p95": 2 * p50, "p99": None},
        "categories": categories_of(cases),
    }


def make_result(side: str) -> dict[str, Any]:
    tuned = finetuned_cases(side)
    base = base_cases()
    models = {
        "base": summary(base, 0.400, 30.0),
        "finetuned": summary(tuned, 0.850 if side == "A" else 0.883, 20.0 if side == "A" else 25.0),
    }
    cases = base + tuned
    if side == "B":
        zero_shot = [
            case("zero-shot", case_id(i), category(i), reference(i), "neutral") for i in range(40)
        ]
        models["zero-shot"] = summary(zero_shot, 0.1, 500.0)
        cases += zero_shot
    return {
        "run_id": f"run-{side}",
        "name": "sentiment",
        "candidate": "finetuned",
        "baselines": ["base"],
        "confidence": 0.95,
        "suites": [
            {
                "name": "main",
                "task": "classification",
                "primary_metric": "macro_f1",
                "n_cases": 41,
                "models": models,
                "cases": cases,
            }
        ],
    }


@pytest.fixture
def result_a() -> dict[str, Any]:
    return make_result("A")


@pytest.fixture
def result_b() -> dict[str, Any]:
    return make_result("B")


def finetuned(diff: Any) -> Any:
    return next(m for m in diff.model_diffs if m.model == "finetuned")


# --------------------------------------------------------------------------- computation


def test_fixed_broken_unchanged_and_changed_predictions(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    c = finetuned(diff_results(result_a, result_b)).cases
    assert (c.n_matched, c.n_compared) == (40, 40)
    assert (c.fixed, c.broken, c.unchanged) == (10, 2, 28)
    assert (c.both_right, c.both_wrong) == (25, 3)
    # 12 flips change the label, and one both-wrong case changed its wrong label.
    assert c.predictions_changed == 13
    assert c.fixed_ids == [case_id(i) for i in range(10)]
    assert c.broken_ids == [case_id(10), case_id(11)]
    assert (c.only_a_ids, c.only_b_ids) == (["a-only"], ["b-only"])
    assert (c.accuracy_a, c.accuracy_b) == (27 / 40, 35 / 40)
    assert c.accuracy_delta == pytest.approx(8 / 40)


def test_examples_carry_both_answers(result_a: dict[str, Any], result_b: dict[str, Any]) -> None:
    c = finetuned(diff_results(result_a, result_b, max_examples=3)).cases
    assert [e.case_id for e in c.fixed_examples] == ["c00", "c01", "c02"]
    assert [e.case_id for e in c.broken_examples] == ["c10", "c11"]
    first = c.fixed_examples[0]
    assert (first.reference, first.prediction_a, first.prediction_b) == (
        "positive",
        "negative",
        "positive",
    )
    assert (first.answer_a, first.answer_b) == ("Sentiment: negative", "Sentiment: positive")
    assert first.category == "easy"
    assert len(c.fixed_ids) == 10  # the id list stays complete


def test_mcnemar_exact_matches_the_binomial_test(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    c = finetuned(diff_results(result_a, result_b)).cases
    # 12 discordant pairs, 2 against B: two-sided exact binomial test with p = 1/2.
    assert c.mcnemar_method == "exact"
    assert c.mcnemar_p == pytest.approx(binomtest(2, 12, 0.5).pvalue, rel=1e-12)
    assert c.mcnemar_p == pytest.approx(2 * (1 + 12 + 66) / 2**12, rel=1e-12)


def test_mcnemar_chi_square_with_many_flips() -> None:
    def result(side: str) -> dict[str, Any]:
        # 30 fixed, 10 broken, 20 right in both.
        outcomes = [(False, True)] * 30 + [(True, False)] * 10 + [(True, True)] * 20
        cases = [
            {"case_id": f"k{i}", "model": "m", "correct": a if side == "A" else b}
            for i, (a, b) in enumerate(outcomes)
        ]
        return {"suites": [{"name": "s", "models": {"m": {}}, "cases": cases}]}

    c = diff_results(result("A"), result("B")).model_diffs[0].cases
    assert (c.fixed, c.broken, c.mcnemar_method) == (30, 10, "chi2")
    statistic = (abs(10 - 30) - 1) ** 2 / 40
    assert c.mcnemar_statistic == pytest.approx(statistic)
    assert c.mcnemar_p == pytest.approx(chi2.sf(statistic, 1), rel=1e-9)


def test_accuracy_delta_interval_is_the_paired_bootstrap(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    c = finetuned(diff_results(result_a, result_b, n_resamples=20_000, seed=3)).cases
    # Independent percentile bootstrap of the per-case differences B - A.
    differences = np.array([float(b) - float(a) for a, b in OUTCOMES])
    rng = np.random.default_rng(11)
    means = differences[rng.integers(0, 40, size=(20_000, 40))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    assert c.accuracy_ci[0] == pytest.approx(lo, abs=0.03)
    assert c.accuracy_ci[1] == pytest.approx(hi, abs=0.03)
    assert c.accuracy_ci[0] > 0  # 10 fixed against 2 broken out of 40
    # Seeded: the same seed gives the same interval.
    again = finetuned(diff_results(result_a, result_b, n_resamples=20_000, seed=3)).cases
    assert again.accuracy_ci == c.accuracy_ci


def test_metric_latency_and_error_deltas(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    m = finetuned(diff_results(result_a, result_b))
    assert m.primary_metric == "macro_f1"
    assert m.metrics[0].name == "macro_f1"  # the primary metric first
    f1 = m.metric("macro_f1")
    assert (f1.a, f1.b) == (0.850, 0.883)
    assert f1.delta == pytest.approx(0.033)
    assert f1.ci_a == pytest.approx((0.80, 0.90))
    accuracy = m.metric("accuracy")
    # Over each run's 41 cases (40 shared plus its own right one).
    assert accuracy.delta == pytest.approx(36 / 41 - 28 / 41)
    latency = {c.name: c for c in m.latency_ms}
    assert latency["p50"].delta == pytest.approx(5.0)
    assert latency["p95"].delta == pytest.approx(10.0)
    assert (latency["p99"].a, latency["p99"].delta) == (None, None)
    assert (m.n_a, m.n_b, m.errors_a, m.errors_b) == (41, 41, 0, 0)


def test_category_pass_rate_changes_and_flips(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    m = finetuned(diff_results(result_a, result_b))
    cats = {c.name: c for c in m.categories}
    assert set(cats) == {"easy", "hard"}
    for name, parity in (("easy", 0), ("hard", 1)):
        shared = [i for i in range(40) if i % 2 == parity]
        extra = 1 if name == "easy" else 0  # a-only / b-only are right and "easy"
        right_a = sum(OUTCOMES[i][0] for i in shared) + extra
        right_b = sum(OUTCOMES[i][1] for i in shared) + extra
        n = len(shared) + extra
        assert (cats[name].n_a, cats[name].n_b) == (n, n)
        assert cats[name].pass_rate_a == pytest.approx(right_a / n)
        assert cats[name].pass_rate_b == pytest.approx(right_b / n)
        assert cats[name].delta == pytest.approx((right_b - right_a) / n)
        assert cats[name].fixed == sum(OUTCOMES[i] == (False, True) for i in shared)
        assert cats[name].broken == sum(OUTCOMES[i] == (True, False) for i in shared)


def test_unchanged_model_and_models_in_one_run_only(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    diff = diff_results(result_a, result_b)
    assert [m.model for m in diff.model_diffs] == ["finetuned", "base"]  # candidate first
    base = diff.model_diffs[1]
    assert (base.cases.fixed, base.cases.broken, base.cases.mcnemar_p) == (0, 0, 1.0)
    assert base.cases.predictions_changed == 0
    assert base.metric("macro_f1").delta == 0.0
    suite = diff.suites[0]
    assert (suite.models_only_a, suite.models_only_b) == ([], ["zero-shot"])


def test_model_selection(result_a: dict[str, Any], result_b: dict[str, Any]) -> None:
    diff = diff_results(result_a, result_b, models=["base"])
    assert [m.model for m in diff.model_diffs] == ["base"]
    assert diff.suites[0].models_only_b == []  # zero-shot was not asked for
    with pytest.raises(TunegateError, match=r"zero-shot not in both runs.*: finetuned, base\)"):
        diff_results(result_a, result_b, models=["base", "zero-shot"])
    with pytest.raises(TunegateError, match=r"model\(s\) nope not in both runs"):
        diff_results(result_a, result_b, models=["nope"])


def test_missing_parts_are_noted_not_fatal(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    del result_a["suites"][0]["cases"]
    del result_b["suites"][0]["models"]["finetuned"]["metrics"]["macro_f1"]
    m = finetuned(diff_results(result_a, result_b))
    assert m.cases is None
    assert any("run A stored no per-case results for suite main" in n for n in m.notes)
    assert m.metric("macro_f1").b is None
    assert headline(m) == (
        "finetuned on main: macro_f1 not stored in run B; no matched cases to compare"
    )

    diff = diff_results({"run_id": "old"}, result_b)
    assert diff.suites == []
    assert "run A stored no suites (its result predates per-suite results)" in diff.notes
    assert diff.suites_only_b == ["main"]
    assert diff.run_a.run_id == "old"
    assert diff.run_a.candidate is None


def test_cases_without_outcome_or_overlap(
    result_a: dict[str, Any], result_b: dict[str, Any]
) -> None:
    for c in result_b["suites"][0]["cases"]:
        if c["model"] == "finetuned" and c["case_id"] in ("c00", "c20"):
            del c["correct"]
    m = finetuned(diff_results(result_a, result_b))
    assert (m.cases.n_matched, m.cases.n_compared, m.cases.fixed) == (40, 38, 9)
    assert any("2 matched case(s) lack a pass/fail outcome" in n for n in m.notes)

    for c in result_b["suites"][0]["cases"]:
        c["case_id"] = "other-" + c["case_id"]
    m = finetuned(diff_results(result_a, result_b))
    assert (m.cases.n_matched, m.cases.n_compared) == (0, 0)
    assert m.cases.accuracy_ci is None
    assert "no matched cases to compare" in headline(m)


def test_to_dict_is_strict_json(result_a: dict[str, Any], result_b: dict[str, Any]) -> None:
    data = diff_results(result_a, result_b).to_dict()
    text = json.dumps(data, allow_nan=False)
    back = json.loads(text)
    model = next(m for m in back["suites"][0]["models"] if m["model"] == "finetuned")
    assert model["cases"]["fixed"] == 10
    assert model["cases"]["unchanged"] == 28
    assert model["cases"]["fixed_ids"] == [case_id(i) for i in range(10)]
    assert isinstance(model["cases"]["accuracy_ci"], list)
    assert model["metrics"][0]["ci_a"] == pytest.approx([0.80, 0.90])
    assert back["run_a"]["run_id"] == "run-A"
    assert (back["confidence"], back["n_resamples"], back["seed"]) == (0.95, 10_000, 0)


def test_headline_and_rendering(result_a: dict[str, Any], result_b: dict[str, Any]) -> None:
    diff = diff_results(result_a, result_b)
    p = binomtest(2, 12, 0.5).pvalue
    assert headline(finetuned(diff)) == (
        f"finetuned on main: macro_f1 0.850 -> 0.883 (+0.033); 10 fixed, 2 broken, "
        f"McNemar p={p:.3f}"
    )
    console = Console(record=True, width=160)
    print_diff(diff, console)
    text = console.export_text()
    assert "A = run run-A (sentiment) -> B = run run-B (sentiment)" in text
    assert (
        "base on main: macro_f1 0.400 -> 0.400 (+0.000); 0 fixed, 0 broken, McNemar p=1.000" in text
    )
    assert "fixed (10): c00, c01" in text
    assert "broken (2): c10, c11" in text
    assert "suite main: only in run B: zero-shot" in text
    assert "1 case(s) only in A and 1 only in B" in text


# --------------------------------------------------------------------------- the store


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs start one minute apart, so "newest" never depends on the same-second tie-break."""
    ticks = itertools.count()
    start = datetime(2025, 1, 1, tzinfo=UTC)

    def now() -> str:
        return (start + timedelta(minutes=next(ticks))).isoformat(timespec="seconds")

    monkeypatch.setattr(tunegate.store, "_now", now)


def put(db: Store, name: str, result: dict[str, Any] | None, status: str = "completed") -> str:
    run_id = db.start_run(name, {"models": {}}, 0)
    if result is not None:
        db.update_run_meta(run_id, {"result": {**result, "run_id": run_id}})
    if status != "running":
        db.finish_run(run_id, status)
    return run_id


@pytest.fixture
def stored(
    tmp_path: Path, clock: None, result_a: dict[str, Any], result_b: dict[str, Any]
) -> Iterator[tuple[Store, dict[str, str]]]:
    """Oldest first: an old run without result, A, another config's run, B, a failed run."""
    with Store(tmp_path / "runs.db") as db:
        ids = {
            "old": put(db, "sentiment", None),
            "a": put(db, "sentiment", result_a),
            "other": put(db, "other", result_a),
            "b": put(db, "sentiment", result_b),
            "failed": put(db, "sentiment", None, status="failed"),
        }
        yield db, ids


def test_resolve_latest_previous_full_id_and_prefix(stored: tuple[Store, dict[str, str]]) -> None:
    db, ids = stored
    assert resolve_run(db, "latest").id == ids["b"]  # the failed run is not "latest"
    assert resolve_run(db, "previous").id == ids["a"]  # skips the run named "other"
    assert resolve_run(db, ids["other"]).id == ids["other"]
    assert resolve_run(db, ids["a"][:-1]).id == ids["a"]
    result = load_run_result(db, "previous")
    assert result["run_id"] == ids["a"]
    assert result["suites"][0]["name"] == "main"


def test_resolution_errors(stored: tuple[Store, dict[str, str]]) -> None:
    db, ids = stored
    with pytest.raises(TunegateError, match=r"no run matches 'nope'.*tunegate runs --store"):
        resolve_run(db, "nope")
    with pytest.raises(TunegateError, match=r"is ambiguous: it matches 5 runs"):
        resolve_run(db, ids["a"][:8])  # the date
    with pytest.raises(TunegateError, match="empty run reference"):
        resolve_run(db, " ")
    with pytest.raises(DataError, match=rf"run {ids['old']} has no stored result \(it ran with"):
        load_run_result(db, ids["old"])
    with pytest.raises(TunegateError, match=rf"run {ids['failed']} did not finish \(status failed"):
        load_run_result(db, ids["failed"])
    running = put(db, "sentiment", None, status="running")
    with pytest.raises(TunegateError, match=rf"run {running} has not finished yet"):
        load_run_result(db, running)


def test_previous_needs_an_earlier_run_of_the_same_name(tmp_path: Path, clock: None) -> None:
    with Store(tmp_path / "one.db") as db:
        with pytest.raises(TunegateError, match="no completed run, so there is no `latest` run"):
            resolve_run(db, "latest")
        only = put(db, "sentiment", make_result("A"))
        put(db, "other", make_result("A"))
        put(db, "sentiment", None, status="failed")
        put(db, "third", make_result("B"))
        assert resolve_run(db, "latest").name == "third"
        with pytest.raises(TunegateError, match="no completed run named 'third' before"):
            resolve_run(db, "previous")
        assert resolve_run(db, only).id == only


# --------------------------------------------------------------------------- the command


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TUNEGATE), *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_diff(stored: tuple[Store, dict[str, str]], tmp_path: Path) -> None:
    db, ids = stored
    store = str(db.path)
    p = f"{binomtest(2, 12, 0.5).pvalue:.3f}"
    line = f"finetuned on main: macro_f1 0.850 -> 0.883 (+0.033); 10 fixed, 2 broken, McNemar p={p}"

    done = cli(
        "diff", ids["a"], ids["b"][:-1], "--store", store, "--json", "out/d.json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert line in done.stdout
    assert "base on main" in done.stdout
    data = json.loads((tmp_path / "out" / "d.json").read_text())
    assert (data["run_a"]["run_id"], data["run_b"]["run_id"]) == (ids["a"], ids["b"])

    # No run arguments: previous -> latest; --model narrows the models.
    done = cli("diff", "--store", store, "--model", "finetuned", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert line in done.stdout
    assert "base on main" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "latest"], "no run matches 'nope'"),
        (["OLD", "latest"], "has no stored result (it ran with an older tunegate"),
        (["previous", "latest", "--model", "gpt"], "model(s) gpt not in both runs"),
    ],
)
def test_cli_errors_exit_2_without_traceback(
    stored: tuple[Store, dict[str, str]], tmp_path: Path, args: list[str], message: str
) -> None:
    db, ids = stored
    args = [ids["old"] if a == "OLD" else a for a in args]
    done = cli("diff", *args, "--store", str(db.path), cwd=tmp_path)
    assert done.returncode == 2
    assert "error:" in done.stderr
    assert message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr + done.stdout


def test_cli_without_a_store(tmp_path: Path) -> None:
    done = cli("diff", "--store", "missing.db", cwd=tmp_path)
    assert done.returncode == 2
    assert "missing.db: no store here" in done.stderr
    assert not (tmp_path / "missing.db").exists()
