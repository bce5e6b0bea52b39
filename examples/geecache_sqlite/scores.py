"""An example getter: scores read from a real SQLite database (the notes' demo data).

    python -m geecache node --app-dir examples/geecache_sqlite --getter scores:get_score ...

The database path comes from ``SCORES_DB`` (default: scores.db beside this file),
and is created with the demo rows when missing.
"""

from __future__ import annotations

import os
import sqlite3
import threading

from geecache import KeyNotFound

DB_PATH = os.environ.get("SCORES_DB", os.path.join(os.path.dirname(os.path.abspath(__file__)), "scores.db"))
ROWS = [("Tom", 630), ("Jack", 589), ("Sam", 567)]
_local = threading.local()


def seed(path: str = DB_PATH, rows: list[tuple[str, int]] = ROWS) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS scores (name TEXT PRIMARY KEY, score INTEGER NOT NULL)")
        db.executemany("INSERT OR REPLACE INTO scores VALUES (?, ?)", rows)


def _connection() -> sqlite3.Connection:
    db: sqlite3.Connection | None = getattr(_local, "db", None)
    if db is None:
        if not os.path.exists(DB_PATH):
            seed(DB_PATH)
        db = _local.db = sqlite3.connect(DB_PATH)
    return db


def get_score(key: str) -> bytes:
    """The slow path that the cache protects: one query per load (runs in a worker thread)."""
    row = _connection().execute("SELECT score FROM scores WHERE name = ?", (key,)).fetchone()
    if row is None:
        raise KeyNotFound("scores", key, "no such name in the scores table")
    return str(row[0]).encode()
