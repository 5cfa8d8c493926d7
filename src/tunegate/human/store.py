"""Studies in the SQLite store: items with their recorded order, annotators (hashed
tokens), assignments, votes, comments and judge verdicts.

The tables live in the same file as the run store (WAL mode, created if missing); the raw
annotator tokens are never stored, only their sha256.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunegate.errors import TunegateError
from tunegate.human.schema import SCHEMA, migrate
from tunegate.human.study import PairItem

__all__ = [
    "CHOICES",
    "Annotator",
    "HumanStore",
    "Study",
    "StudyItem",
    "Vote",
    "add_judge_verdicts",
    "hash_token",
    "new_token",
]

#: Stored choices: the output stored as side a, side b, or a tie.
CHOICES = ("a", "b", "tie")
#: What an annotator may answer besides a preference: both outputs are bad, or they
#: cannot judge the item (a skip). Neither is a tie: see :mod:`tunegate.human.report`.
BOTH_BAD = "both_bad"
SKIP = "skip"
VOTE_CHOICES = (*CHOICES, BOTH_BAD, SKIP)


def new_token() -> str:
    """A fresh annotator token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    """The sha256 of a token, as stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Study:
    """A study's settings."""

    name: str
    created_at: float
    seed: int
    criteria: list[str]
    source: dict[str, Any]
    csrf_secret: str
    instructions: str | None = None
    show_reference: bool = False

    def csrf_token(self, annotator: str) -> str:
        """The CSRF token of ``annotator``'s pages (stable across server restarts)."""
        key = self.csrf_secret.encode("ascii")
        return hmac.new(key, f"{self.name}\x00{annotator}".encode(), "sha256").hexdigest()


@dataclass(frozen=True)
class StudyItem:
    """A stored item with the side shown on the left."""

    item: PairItem
    position: int
    left_side: str
    cluster: str

    @property
    def left_output(self) -> str:
        return self.item.output_a if self.left_side == "a" else self.item.output_b

    @property
    def right_output(self) -> str:
        return self.item.output_b if self.left_side == "a" else self.item.output_a

    def to_side(self, shown: str) -> str:
        """``left`` / ``right`` as shown → the stored side ``a`` / ``b``; ``tie``,
        ``both_bad`` and ``skip`` stay as they are."""
        if shown not in ("left", "right"):
            return shown
        other = "b" if self.left_side == "a" else "a"
        return self.left_side if shown == "left" else other

    def to_shown(self, side: str) -> str:
        """The stored side → ``left`` / ``right`` as shown (other choices as they are)."""
        if side not in ("a", "b"):
            return side
        return "left" if side == self.left_side else "right"


@dataclass(frozen=True)
class Annotator:
    """An annotator of a study."""

    study: str
    name: str


@dataclass(frozen=True)
class Vote:
    """One stored vote (``choice`` in terms of the stored sides)."""

    annotator: str
    item_id: str
    criterion: str
    choice: str
    left_side: str
    source: str
    seconds: float | None = None


class HumanStore:
    """The human-evaluation tables of a store file. Thread-safe; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=30.0, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            migrate(self._db)
        except sqlite3.DatabaseError as exc:
            raise TunegateError(f"{self.path}: cannot open the store ({exc})") from None
        except OSError as exc:
            raise TunegateError(f"{self.path}: cannot create the store ({exc.strerror})") from None

    def __enter__(self) -> HumanStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock: committed, or rolled back on any error."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._db.execute("ROLLBACK")
                raise TunegateError(f"{self.path}: cannot write to the store ({exc})") from None
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ studies

    def create_study(
        self,
        name: str,
        seed: int,
        criteria: Sequence[str],
        source: Mapping[str, Any],
        items: Sequence[PairItem],
        left: Mapping[str, str],
        assignments: Mapping[str, Sequence[str]],
        instructions: str | None = None,
        show_reference: bool = False,
    ) -> dict[str, str]:
        """Store a new study; returns each annotator's raw token (shown only now).

        ``instructions`` (Markdown) replace the default text the annotation page shows;
        ``show_reference`` shows each item's reference answer next to the prompt."""
        if self.has_study(name):
            raise TunegateError(f"{self.path}: a study named {name!r} exists already")
        tokens = {annotator: new_token() for annotator in assignments}
        with self._transaction() as db:
            db.execute(
                "INSERT INTO human_studies (name, created_at, seed, criteria, source,"
                " csrf_secret, instructions, show_reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    time.time(),
                    seed,
                    json.dumps(list(criteria)),
                    json.dumps(dict(source)),
                    secrets.token_hex(32),
                    instructions,
                    int(show_reference),
                ),
            )
            db.executemany(
                "INSERT INTO human_items (study, item_id, position, prompt, output_a, output_b,"
                " model_a, model_b, category, cluster, left_side, reference)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        name,
                        i.item_id,
                        pos,
                        i.prompt,
                        i.output_a,
                        i.output_b,
                        i.model_a,
                        i.model_b,
                        i.category,
                        i.cluster,
                        left[i.item_id],
                        i.reference,
                    )
                    for pos, i in enumerate(items)
                ],
            )
            db.executemany(
                "INSERT INTO human_annotators VALUES (?, ?, ?)",
                [(name, a, hash_token(t)) for a, t in tokens.items()],
            )
            db.executemany(
                "INSERT INTO human_assignments VALUES (?, ?, ?, ?)",
                [
                    (name, a, item, pos)
                    for a, assigned in assignments.items()
                    for pos, item in enumerate(assigned)
                ],
            )
        return tokens

    def has_study(self, name: str) -> bool:
        return bool(self._rows("SELECT 1 FROM human_studies WHERE name = ?", (name,)))

    def studies(self) -> list[Study]:
        """Every study, newest first."""
        rows = self._rows(f"SELECT {_STUDY_COLUMNS} FROM human_studies ORDER BY created_at DESC")
        return [_study(r) for r in rows]

    def study(self, name: str) -> Study:
        rows = self._rows(f"SELECT {_STUDY_COLUMNS} FROM human_studies WHERE name = ?", (name,))
        if not rows:
            known = ", ".join(s.name for s in self.studies()) or "none"
            raise TunegateError(f"{self.path}: no study named {name!r} (studies: {known})")
        return _study(rows[0])

    def items(self, study: str) -> list[StudyItem]:
        rows = self._rows(
            "SELECT item_id, prompt, output_a, output_b, model_a, model_b, category, position,"
            " left_side, cluster, reference FROM human_items WHERE study = ? ORDER BY position",
            (study,),
        )
        return [
            StudyItem(PairItem(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[10]), r[7], r[8], r[9])
            for r in rows
        ]

    def annotators(self, study: str) -> list[str]:
        rows = self._rows(
            "SELECT name FROM human_annotators WHERE study = ? ORDER BY name", (study,)
        )
        return [r[0] for r in rows]

    def rotate_tokens(self, study: str) -> dict[str, str]:
        """New tokens for every annotator of ``study`` (the old ones stop working)."""
        self.study(study)
        tokens = {a: new_token() for a in self.annotators(study)}
        with self._transaction() as db:
            for name, token in tokens.items():
                db.execute(
                    "UPDATE human_annotators SET token_sha256 = ? WHERE study = ? AND name = ?",
                    (hash_token(token), study, name),
                )
        return tokens

    def annotator_for_token(self, study: str, token: str) -> str | None:
        """The annotator whose token this is, or None."""
        rows = self._rows(
            "SELECT name FROM human_annotators WHERE study = ? AND token_sha256 = ?",
            (study, hash_token(token)),
        )
        return rows[0][0] if rows else None

    def assigned(self, study: str, annotator: str) -> list[str]:
        """The item ids assigned to ``annotator``, in their order."""
        rows = self._rows(
            "SELECT item_id FROM human_assignments WHERE study = ? AND annotator = ?"
            " ORDER BY position",
            (study, annotator),
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ votes

    def record_votes(self, study: str, votes: Iterable[Vote]) -> int:
        """Insert or replace votes (a later vote on the same criterion replaces the earlier)."""
        now = time.time()
        rows = [
            (
                study,
                v.annotator,
                v.item_id,
                v.criterion,
                v.choice,
                v.left_side,
                v.source,
                now,
                v.seconds,
            )
            for v in votes
        ]
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO human_votes (study, annotator, item_id, criterion,"
                " choice, left_side, source, updated_at, seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def votes(self, study: str, annotator: str | None = None) -> list[Vote]:
        sql = (
            "SELECT annotator, item_id, criterion, choice, left_side, source, seconds"
            " FROM human_votes"
            " WHERE study = ?"
        )
        args: list[Any] = [study]
        if annotator is not None:
            sql += " AND annotator = ?"
            args.append(annotator)
        rows = self._rows(sql + " ORDER BY annotator, item_id, criterion", args)
        return [Vote(*r) for r in rows]

    def set_comment(self, study: str, annotator: str, item_id: str, comment: str) -> None:
        with self._lock:
            if comment.strip():
                self._db.execute(
                    "INSERT OR REPLACE INTO human_comments VALUES (?, ?, ?, ?, ?)",
                    (study, annotator, item_id, comment, time.time()),
                )
            else:
                self._db.execute(
                    "DELETE FROM human_comments WHERE study = ? AND annotator = ? AND item_id = ?",
                    (study, annotator, item_id),
                )

    def comments(self, study: str, annotator: str | None = None) -> dict[tuple[str, str], str]:
        """``{(annotator, item_id): comment}``."""
        rows = self._rows(
            "SELECT annotator, item_id, comment FROM human_comments WHERE study = ?", (study,)
        )
        return {(r[0], r[1]): r[2] for r in rows if annotator is None or r[0] == annotator}

    # ------------------------------------------------------------------ judges

    def set_judge_verdicts(
        self, study: str, judge: str, verdicts: Mapping[str, str | None], source: str
    ) -> int:
        """Store a judge's verdicts (``a`` / ``b`` / ``tie``, None = judge error)."""
        rows = [(study, judge, item, verdict, source) for item, verdict in verdicts.items()]
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO human_judge_verdicts VALUES (?, ?, ?, ?, ?)", rows
            )
        return len(rows)

    def judge_verdicts(self, study: str) -> dict[str, dict[str, str | None]]:
        """``{judge: {item_id: verdict or None}}``."""
        rows = self._rows(
            "SELECT judge, item_id, verdict FROM human_judge_verdicts WHERE study = ?"
            " ORDER BY judge",
            (study,),
        )
        out: dict[str, dict[str, str | None]] = {}
        for judge, item, verdict in rows:
            out.setdefault(judge, {})[item] = verdict
        return out


_STUDY_COLUMNS = (
    "name, created_at, seed, criteria, source, csrf_secret, instructions, show_reference"
)


def _study(row: tuple[Any, ...]) -> Study:
    return Study(
        row[0],
        row[1],
        row[2],
        json.loads(row[3]),
        json.loads(row[4]),
        row[5],
        row[6],
        bool(row[7]),
    )


def add_judge_verdicts(
    store_path: str | Path,
    study: str,
    judge: str,
    verdicts: Mapping[str, str | None],
) -> int:
    """Add the verdicts of ``judge`` on items of ``study`` (for calibration against humans).

    ``verdicts`` maps item ids to ``"a"`` / ``"b"`` / ``"tie"`` (sides as stored: ``a`` is
    the study's first model, the candidate for studies made from a run) or None for a
    judge error. Unknown item ids or verdicts raise :class:`TunegateError`. Returns the
    number stored; a later call replaces the judge's earlier verdict on the same item.
    """
    with HumanStore(store_path) as store:
        store.study(study)
        known = {i.item.item_id for i in store.items(study)}
        unknown = [item for item in verdicts if item not in known]
        if unknown:
            raise TunegateError(
                f"judge {judge!r}: {len(unknown)} item id(s) not in study {study!r} "
                f"(first: {unknown[0]!r})"
            )
        bad = [v for v in verdicts.values() if v is not None and v not in CHOICES]
        if bad:
            raise TunegateError(f"judge {judge!r}: verdict {bad[0]!r} is not one of a, b, tie")
        return store.set_judge_verdicts(study, judge, verdicts, source="tunegate")
