"""tunegate.testing.faults: the deterministic fault plan and the request log of the loopback
test servers."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from tunegate.testing.faults import FaultPlan, RequestLog


def test_the_nth_request_gets_the_nth_action_and_the_last_repeats() -> None:
    plan = FaultPlan(rules={"a": ["429", "500", "ok"], "b": "timeout"})
    assert [plan.action("a", n) for n in (1, 2, 3, 4, 9)] == ["429", "500", "ok", "ok", "ok"]
    assert plan.action("b", 1) == plan.action("b", 5) == "timeout"
    assert plan.action("other", 1) == "ok"


def test_random_faults_are_drawn_from_seed_text_and_count() -> None:
    plan = FaultPlan(random_rate=0.3, random_actions=["500", "reset"], seed=7)
    draws = [plan.action(f"t{i}", 1) for i in range(2000)]
    again = [plan.action(f"t{i}", 1) for i in reversed(range(2000))][::-1]
    assert draws == again  # the same requests get the same faults, in any order
    counts = Counter(draws)
    assert set(counts) == {"ok", "500", "reset"}
    assert 0.25 < (counts["500"] + counts["reset"]) / 2000 < 0.35


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rules": {"a": []}}, "has no action"),
        ({"rules": {"a": ["boom"]}}, r"unknown action\(s\) \['boom'\]"),
        ({"every_nth_500": 0}, "every_nth_500 must be >= 1"),
        ({"retry_after": -1.0}, "must be >= 0"),
        ({"random_rate": 1.5}, r"within \[0, 1\]"),
        ({"random_rate": 0.5}, "random_actions: unknown or none"),
    ],
)
def test_a_bad_plan_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultPlan(**kwargs)  # type: ignore[arg-type]


def test_the_request_log_counts_by_text_and_path_across_threads() -> None:
    log = RequestLog()

    def add(i: int) -> None:
        for j in range(50):
            log.append({"path": "/v1/x" if j % 2 else "/y", "text": f"t{i}", "time": float(j)})

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.append({"path": "/y", "text": None, "time": 0.0})
    assert len(log) == 201
    assert log.count("t1") == 50
    assert log.count(path="/v1/x") == 100
    assert log.count("t2", path="/y") == 25
    assert log.counts() == Counter({f"t{i}": 50 for i in range(4)})
    assert sorted(log.times("t3")) == [float(j) for j in range(50)]
    log.clear()
    assert len(log) == 0
