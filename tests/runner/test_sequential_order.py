"""The order a sequential run sends its cases in, its looks, and merged looks."""

from __future__ import annotations

from tunegate.data import Case
from tunegate.data.response import Response
from tunegate.runner.records import ModelRun, ModelRunStats
from tunegate.runner.sequential import look_sizes, merge_runs, stratified_order

CASES = [
    Case(id=f"c{i}", text="t", reference="x", category="b" if i % 3 == 0 else "a")
    for i in range(300)
]


def test_the_order_is_a_seeded_permutation() -> None:
    order = stratified_order(CASES, seed=4)
    assert sorted(c.id for c in order) == sorted(c.id for c in CASES)
    assert [c.id for c in order] == [c.id for c in stratified_order(CASES, seed=4)]
    assert [c.id for c in order] != [c.id for c in stratified_order(CASES, seed=5)]
    assert [c.id for c in order[:20]] != [c.id for c in CASES[:20]]  # shuffled


def test_every_prefix_holds_each_category_in_its_share() -> None:
    order = stratified_order(CASES, seed=1)
    for size in range(30, 301, 30):
        b = sum(c.category == "b" for c in order[:size])
        assert abs(b - size / 3) <= 1.5, (size, b)  # a plain shuffle drifts by ~+-5 here


def test_looks() -> None:
    assert look_sizes(1000, 50) == list(range(50, 1001, 50))
    assert look_sizes(120, 50) == [50, 100, 120]
    assert look_sizes(30, 50) == [30]
    assert look_sizes(0, 50) == []


def test_merged_looks_keep_the_order_and_sum_the_stats() -> None:
    def run(ids: list[str], sent: int) -> ModelRun:
        responses = [Response(case_id=i, model="m", key=i, text="x") for i in ids]
        return ModelRun("m", responses, ModelRunStats(total=len(ids), sent=sent, errors=1))

    merged = merge_runs(merge_runs({}, {"m": run(["a", "b"], 2)}), {"m": run(["c"], 0)})
    assert [r.case_id for r in merged["m"].responses] == ["a", "b", "c"]
    assert merged["m"].stats.total == 3
    assert merged["m"].stats.sent == 2
    assert merged["m"].stats.errors == 2
