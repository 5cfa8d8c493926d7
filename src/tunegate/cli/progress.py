"""The progress bars of ``tunegate run`` / ``demo``, fed by the runner's events."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from tunegate.runner import ModelRunStats
    from tunegate.store import Response


class ProgressBars:
    """One rich progress bar per model, fed by the runner's events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}
        self.errors: dict[str, int] = {}

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
        info = f"{self.errors[model]} errors" if self.errors[model] else ""
        self.progress.update(self.tasks[model], advance=1, info=info)

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        parts = [f"{stats.sent} sent", f"{stats.cached} cached"]
        if stats.errors:
            parts.append(f"{stats.errors} errors")
        if stats.retries:
            parts.append(f"{stats.retries} retries")
        self.progress.update(self.tasks[model], info=", ".join(parts))
