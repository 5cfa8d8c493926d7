"""The progress bars of ``tunegate run`` / ``demo``, fed by the runner's events."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from tunegate.data.response import Response
    from tunegate.runner import ModelRunStats


#: Answers are counted as they come but shown at most this often per model (rich redraws
#: ten times a second anyway; an update per answer cost more than the request itself).
SHOW_EVERY_S = 0.05


class ProgressBars:
    """One rich progress bar per model, fed by the runner's events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.errors: dict[str, int] = {}
        self.unshown: dict[str, int] = {}
        self.shown_at: dict[str, float] = {}

    def model_loading(self, model: str) -> None:
        self.tasks[model] = self.progress.add_task(model, total=None, info="starting / loading")

    def model_started(self, model: str, total: int, cached: int) -> None:
        self.errors[model] = 0
        info = f"{cached} cached" if cached else ""
        if model in self.tasks:
            self.progress.update(self.tasks[model], total=total, completed=cached, info=info)
        else:
            self.tasks[model] = self.progress.add_task(
                model, total=total, completed=cached, info=info
            )

    def response(self, model: str, response: Response) -> None:
        if response.error is not None:
            self.errors[model] += 1
        self.unshown[model] = self.unshown.get(model, 0) + 1
        now = time.monotonic()
        if now - self.shown_at.get(model, 0.0) >= SHOW_EVERY_S:
            self._show(model, now)

    def _show(self, model: str, now: float) -> None:
        info = f"{self.errors[model]} errors" if self.errors.get(model) else ""
        self.progress.update(self.tasks[model], advance=self.unshown.pop(model, 0), info=info)
        self.shown_at[model] = now

    def batch_progress(
        self, model: str, batch_id: str, status: str, counts: dict[str, int]
    ) -> None:
        """A provider batch's state (``batch: true``): its request counts beside the bar."""
        if model in self.tasks:
            done, failed = counts.get("completed", 0), counts.get("failed", 0)
            total = counts.get("total", 0)
            info = f"batch {batch_id}: {status}, {done}/{total} done, {failed} failed"
            self.progress.update(self.tasks[model], info=info)

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        if self.unshown.get(model):
            self._show(model, time.monotonic())
        parts = [f"{stats.sent} sent", f"{stats.cached} cached"]
        if stats.errors:
            parts.append(f"{stats.errors} errors")
        if stats.retries:
            parts.append(f"{stats.retries} retries")
        self.progress.update(self.tasks[model], info=", ".join(parts))
