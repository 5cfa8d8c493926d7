"""The human-evaluation tables of the store, and how an older store is brought up to date.

The tables live in the same SQLite file as the run store. Changes are additive: a store
written by an earlier tunegate opens, its studies and votes kept (:func:`migrate`).
"""

from __future__ import annotations

import sqlite3

__all__ = ["SCHEMA", "VOTES_TABLE", "migrate"]

VOTES_TABLE = """
CREATE TABLE IF NOT EXISTS human_votes (
    study TEXT NOT NULL,
    annotator TEXT NOT NULL,
    item_id TEXT NOT NULL,
    criterion TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie', 'both_bad', 'skip')),
    left_side TEXT NOT NULL,
    source TEXT NOT NULL,
    updated_at REAL NOT NULL,
    seconds REAL,
    PRIMARY KEY (study, annotator, item_id, criterion)
);
"""

SCHEMA = (
    VOTES_TABLE
    + """
CREATE TABLE IF NOT EXISTS human_studies (
    name TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    seed INTEGER NOT NULL,
    criteria TEXT NOT NULL,
    source TEXT NOT NULL,
    csrf_secret TEXT NOT NULL,
    instructions TEXT,
    show_reference INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS human_items (
    study TEXT NOT NULL REFERENCES human_studies(name),
    item_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    output_a TEXT NOT NULL,
    output_b TEXT NOT NULL,
    model_a TEXT NOT NULL,
    model_b TEXT NOT NULL,
    category TEXT,
    cluster TEXT NOT NULL,
    left_side TEXT NOT NULL CHECK (left_side IN ('a', 'b')),
    reference TEXT,
    PRIMARY KEY (study, item_id)
);
CREATE TABLE IF NOT EXISTS human_annotators (
    study TEXT NOT NULL REFERENCES human_studies(name),
    name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL,
    PRIMARY KEY (study, name)
);
CREATE UNIQUE INDEX IF NOT EXISTS human_annotator_tokens ON human_annotators(token_sha256);
CREATE TABLE IF NOT EXISTS human_assignments (
    study TEXT NOT NULL,
    annotator TEXT NOT NULL,
    item_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (study, annotator, item_id)
);
CREATE TABLE IF NOT EXISTS human_comments (
    study TEXT NOT NULL,
    annotator TEXT NOT NULL,
    item_id TEXT NOT NULL,
    comment TEXT NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (study, annotator, item_id)
);
CREATE TABLE IF NOT EXISTS human_judge_verdicts (
    study TEXT NOT NULL,
    judge TEXT NOT NULL,
    item_id TEXT NOT NULL,
    verdict TEXT CHECK (verdict IS NULL OR verdict IN ('a', 'b', 'tie')),
    source TEXT NOT NULL,
    PRIMARY KEY (study, judge, item_id)
);
"""
)


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}


def migrate(db: sqlite3.Connection) -> None:
    """Bring the tables of an older store up to date, additively: studies gain their
    instructions and reference switch, items their reference, votes the time spent and
    the choices ``both_bad`` and ``skip`` (SQLite cannot widen a CHECK constraint, so the
    votes table is copied into a new one, every vote kept). Idempotent, one transaction."""
    if not _outdated(db):
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        if _outdated(db):  # another process may have migrated meanwhile
            for table, column, kind in _ADDED:
                if column not in _columns(db, table):
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            if not _votes_current(db):
                seconds = "seconds" if "seconds" in _columns(db, "human_votes") else "NULL"
                db.execute("ALTER TABLE human_votes RENAME TO human_votes_old")
                db.execute(VOTES_TABLE)
                db.execute(
                    "INSERT INTO human_votes SELECT study, annotator, item_id, criterion,"
                    f" choice, left_side, source, updated_at, {seconds} FROM human_votes_old"
                )
                db.execute("DROP TABLE human_votes_old")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


_ADDED = (
    ("human_studies", "instructions", "TEXT"),
    ("human_studies", "show_reference", "INTEGER NOT NULL DEFAULT 0"),
    ("human_items", "reference", "TEXT"),
)


def _votes_current(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'human_votes'").fetchone()
    return row is None or "both_bad" in str(row[0])


def _outdated(db: sqlite3.Connection) -> bool:
    missing = any(column not in _columns(db, table) for table, column, _ in _ADDED)
    return missing or not _votes_current(db)
