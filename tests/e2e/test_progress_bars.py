"""The run's progress bars: every answer counted, shown at most every SHOW_EVERY_S."""

from __future__ import annotations

import io
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress

from tunegate.cli import progress as progress_module
from tunegate.cli.progress import ProgressBars
from tunegate.runner import ModelRunStats
from tunegate.store import Response


def test_answers_are_batched_into_few_updates_and_all_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    bars = Progress(console=Console(file=io.StringIO()), auto_refresh=False)
    updates: list[int] = []
    real_update = bars.update

    def counting_update(task: Any, **fields: Any) -> None:
        updates.append(fields.get("advance", 0))
        real_update(task, **fields)

    monkeypatch.setattr(bars, "update", counting_update)
    shown = ProgressBars(bars)
    shown.model_started("m", total=1000, cached=0)
    updates.clear()
    for i in range(1000):
        error = "boom" if i % 100 == 0 else None
        shown.response("m", Response(case_id=f"c{i}", model="m", key="k", error=error))
        if i % 250 == 249:
            clock[0] += progress_module.SHOW_EVERY_S  # time passes now and then
    task = bars.tasks[0]
    assert task.completed < 1000  # the last answers wait for the next update
    shown.model_finished("m", ModelRunStats(sent=1000, errors=10))
    assert task.completed == 1000
    assert sum(updates) == 1000
    assert len(updates) <= 6  # not one per answer
    assert "10 errors" in task.fields["info"]
