"""Fault injection keyed by the input text (:class:`FaultPlan`) and the log of what an app received (:class:`RequestLog`)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

ACTIONS: Final = frozenset(
    {
        "ok",
        "429",
        "503",
        "500",
        "timeout",
        "malformed",
        "garbage",
        "disconnect",
        "reset",
        "nonjson",
        "wrongtype",
        "empty",
        "big",
    }
)
GOOD_ACTIONS: Final = frozenset({"ok", "wrongtype", "big"})
"""Actions after which the client holds a usable answer (``timeout`` only when it waits)."""
NON_JSON_BODY: Final = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
MALFORMED_BODY: Final = b'{"id": "chatcmpl-broken", "choices": [{"message": '
GARBAGE_BODY: Final = {"foo": 1}


# ---------------------------------------------------------------------------
# Request log and fault plan
# ---------------------------------------------------------------------------


class RequestLog:
    """Thread-safe record of the requests an app received, in arrival order.

    Each entry is a dict with ``method``, ``path``, ``headers`` (lower-cased
    names), ``json`` (parsed body or None), ``text`` (the input text faults are
    keyed by, or None), ``action`` (what the app did: a :data:`ACTIONS` member,
    ``"401"`` or ``"400"``), ``time`` (``time.monotonic()`` at arrival) and
    ``finished`` (``time.monotonic()`` when the app's answer was ready or the
    connection dropped; None while the request is in flight). Requests to
    unknown paths are not recorded.

    :attr:`in_flight` and :attr:`peak_in_flight` count the requests the app was
    answering at once, each from the moment its body was read until its answer
    was ready (the apps call :meth:`request_started` and :meth:`request_finished`).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._in_flight = 0
        self._peak = 0

    def request_started(self) -> None:
        """Count one more request in flight."""
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def request_finished(self) -> None:
        """Count one request fewer in flight."""
        with self._lock:
            self._in_flight -= 1

    @property
    def in_flight(self) -> int:
        """Requests the app is handling now."""
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """The most requests the app handled at once (since creation or :meth:`clear`)."""
        with self._lock:
            return self._peak

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    @property
    def entries(self) -> list[dict[str, Any]]:
        """A snapshot of all entries."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.entries)

    def __getitem__(self, index: int) -> dict[str, Any]:
        with self._lock:
            return self._entries[index]

    def for_text(self, text: str) -> list[dict[str, Any]]:
        """Entries whose input text is ``text``."""
        return [e for e in self.entries if e["text"] == text]

    def count(self, text: str | None = None, *, path: str | None = None) -> int:
        """Number of requests, optionally only those for ``text`` and/or to ``path``."""
        return sum(
            1
            for e in self.entries
            if (text is None or e["text"] == text) and (path is None or e["path"] == path)
        )

    def counts(self, *, path: str | None = None) -> Counter[str]:
        """Requests per input text (entries without a text are left out)."""
        return Counter(
            e["text"]
            for e in self.entries
            if e["text"] is not None and (path is None or e["path"] == path)
        )

    def times(self, text: str) -> list[float]:
        """Arrival times (``time.monotonic()``) of the requests for ``text``."""
        return [e["time"] for e in self.for_text(text)]

    def clear(self) -> None:
        """Forget the entries; the peak restarts from the requests in flight now
        (fault counters are not reset)."""
        with self._lock:
            self._entries.clear()
            self._peak = self._in_flight


@dataclass
class FaultPlan:
    """Deterministic fault injection, keyed by the request's input text.

    The n-th request carrying a text in ``rules`` gets the n-th action of its
    list; the last action repeats. Texts without a rule get ``"ok"``. Actions:

    - ``"ok"``: a normal answer;
    - ``"429"``: status 429, ``Retry-After: <retry_after>``, OpenAI error JSON;
    - ``"500"`` / ``"503"``: that status with OpenAI error JSON;
    - ``"timeout"``: wait ``hang_seconds``, then answer normally;
    - ``"malformed"``: status 200, ``application/json``, a body that is not JSON;
    - ``"garbage"``: status 200, valid JSON without the expected fields (``{"foo": 1}``);
    - ``"disconnect"``: close the connection without sending any response byte;
    - ``"reset"``: the same with a TCP reset (RST, ``SO_LINGER`` 0) instead of a FIN;
    - ``"nonjson"``: status 200, ``text/html``, an HTML error page (a proxy's);
    - ``"wrongtype"``: the normal answer sent as ``text/plain`` (a usable answer);
    - ``"empty"``: status 200, the normal answer with ``choices: []`` (chat/completions)
      or ``{}`` (classify);
    - ``"big"``: the normal answer padded with ``big_bytes`` spaces (a usable answer).

    ``every_nth_500`` additionally turns every n-th request to the app (counting
    all requests with an input text) into a 500, unless its rule already
    injected another fault. ``random_rate`` gives each request without a rule
    that probability of getting one of ``random_actions`` (duplicates weigh
    more), drawn from ``(seed, text, n-th request for the text)`` so that the
    same requests get the same faults whatever their arrival order.
    """

    rules: Mapping[str, Sequence[str]] = field(default_factory=dict)
    retry_after: float = 1.0
    hang_seconds: float = 30.0
    every_nth_500: int | None = None
    random_rate: float = 0.0
    random_actions: Sequence[str] = ()
    seed: int = 0
    big_bytes: int = 1_000_000

    def __post_init__(self) -> None:
        rules = {
            text: (actions,) if isinstance(actions, str) else tuple(actions)
            for text, actions in self.rules.items()
        }
        for text, actions in rules.items():
            if not actions:
                raise ValueError(f"FaultPlan rule for {text!r} has no action")
            unknown = [a for a in actions if a not in ACTIONS]
            if unknown:
                raise ValueError(
                    f"FaultPlan rule for {text!r}: unknown action(s) {unknown}; "
                    f"expected some of {sorted(ACTIONS)}"
                )
        if self.every_nth_500 is not None and self.every_nth_500 < 1:
            raise ValueError("FaultPlan.every_nth_500 must be >= 1")
        if self.retry_after < 0 or self.hang_seconds < 0:
            raise ValueError("FaultPlan.retry_after and hang_seconds must be >= 0")
        if not 0.0 <= self.random_rate <= 1.0:
            raise ValueError("FaultPlan.random_rate must be within [0, 1]")
        unknown_random = [a for a in self.random_actions if a not in ACTIONS]
        if unknown_random or (self.random_rate and not self.random_actions):
            raise ValueError(f"FaultPlan.random_actions: unknown or none {unknown_random}")
        self.random_actions = tuple(self.random_actions)
        self.rules = rules

    def action(self, text: str, seen: int) -> str:
        """The rule's action for the ``seen``-th (1-based) request carrying ``text``."""
        actions = self.rules.get(text)
        if not actions:
            if self.random_rate:
                draw = random.Random(f"{self.seed}\0{text}\0{seen}")
                if draw.random() < self.random_rate:
                    return draw.choice(self.random_actions)
            return "ok"
        return actions[min(max(seen, 1), len(actions)) - 1]
