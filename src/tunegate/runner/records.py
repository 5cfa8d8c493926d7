"""What the runner is told and what it gives back: the retry policy, the progress
observer, and each model's responses with the stats of its run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tunegate.data import Case
from tunegate.data.response import Response


@dataclass(frozen=True)
class RetryPolicy:
    """How failed requests are retried.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))`` with ±25% jitter,
    or the server's ``Retry-After`` when it sent one (capped at ``max_retry_after``).
    Malformed bodies are retried at most ``malformed_retries`` times. After
    ``max_consecutive_failures`` cases in a row fail to connect or time out with no
    success in between, the model is declared unreachable and the rest is not sent.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0
    malformed_retries: int = 1
    max_consecutive_failures: int = 10


class Observer(Protocol):
    """Receives progress events (the CLI draws progress bars from them)."""

    def model_loading(self, model: str) -> None:
        """``model`` is being started (a local model loads its weights)."""

    def model_started(self, model: str, total: int, cached: int) -> None:
        """``total`` cases, of which ``cached`` were answered from the store."""

    def response(self, model: str, response: Response) -> None:
        """One fresh response arrived (answer or error)."""

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        """Every case of ``model`` has a response."""


class PrefixedObserver:
    """Another observer's events with every model name prefixed (``suite/model``,
    ``suite/judge/judge:model``), so several suites and judges share one progress display."""

    def __init__(self, observer: Observer, prefix: str) -> None:
        self.observer = observer
        self.prefix = prefix

    def model_loading(self, model: str) -> None:
        loading = getattr(self.observer, "model_loading", None)
        if loading is not None:
            loading(self.prefix + model)

    def model_started(self, model: str, total: int, cached: int) -> None:
        self.observer.model_started(self.prefix + model, total, cached)

    def response(self, model: str, response: Response) -> None:
        self.observer.response(self.prefix + model, response)

    def model_finished(self, model: str, stats: ModelRunStats) -> None:
        self.observer.model_finished(self.prefix + model, stats)

    def batch_progress(
        self, model: str, batch_id: str, status: str, counts: dict[str, int]
    ) -> None:
        report = getattr(self.observer, "batch_progress", None)
        if report is not None:
            report(self.prefix + model, batch_id, status, counts)


@dataclass
class ModelRunStats:
    """What it took to run one model."""

    total: int = 0
    cached: int = 0
    sent: int = 0
    errors: int = 0
    retries: int = 0
    wall_s: float = 0.0
    stopped: str | None = None
    from_runs: dict[str, int] = field(default_factory=dict)  # run id -> answers reused from it
    # replica URL -> requests, errors, latency (models served by several replicas)
    replicas: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A model asked through a provider's batch API (``batch: true``): {batches: [ids],
    # resumed: [ids polled again from an earlier run], requests: lines, failed: cases}
    batch: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``replicas`` only when the model has more than one, ``batch`` only
        for a batched model)."""
        out = {**self.__dict__, "from_runs": dict(self.from_runs)}
        if len(self.replicas) < 2:
            del out["replicas"]
        if self.batch is None:
            del out["batch"]
        return out


@dataclass
class _Item:
    case: Case
    request: dict[str, Any]
    key: str
    repeat: int = 0  # which of the case's repeats (0: the first, the only one with k = 1)

    @property
    def rid(self) -> str:
        """The id the answer is stored under: the case's, ``id#r2`` ... for later repeats."""
        return repeat_id(self.case.id, self.repeat)


def repeat_id(case_id: str, repeat: int) -> str:
    """The stored case id of repeat ``repeat`` (0-based) of case ``case_id``."""
    return case_id if repeat == 0 else f"{case_id}#r{repeat + 1}"


@dataclass
class ModelRun:
    """The responses of one model, in case order, and how the run went."""

    name: str
    responses: list[Response]
    stats: ModelRunStats = field(default_factory=ModelRunStats)
    #: With ``repeats: k`` > 1: every case's k responses (``responses`` holds the first).
    repeats: list[list[Response]] = field(default_factory=list)
