"""The outbox's SQLite file on a filesystem that may fill up.

A reserve file beside the DB holds back RESERVE_BYTES; it is released when a write hits
"disk full" so that deletes of acknowledged rows and WAL checkpoints (which need pages of
their own) still run, and taken again once there is room. New files use incremental
auto-vacuum so acknowledged rows give their pages back. Called by the outbox thread only."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from agent.storage.health import free_bytes

RESERVE_SUFFIX = ".reserve"
RESERVE_BYTES = 416 * 1024
SCHEMA_VERSION = 1

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS outbox("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB NOT NULL,"
    " qos INTEGER NOT NULL, retain INTEGER NOT NULL, created_wall REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS outbox_created ON outbox(created_wall)",
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('evicted', 0)",
)


class NotWal(Exception):
    """SQLite refused WAL mode (a network filesystem); carries the mode it reported."""


def reserve_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + RESERVE_SUFFIX)


def take_reserve(db_path: Path) -> bool:
    """Create the reserve if it is missing and twice its size is free; True if it exists afterwards."""
    path = reserve_path(db_path)
    if path.exists():
        return True
    free = free_bytes(db_path)
    if free is None or free < 2 * RESERVE_BYTES:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        finally:
            os.close(fd)
    except OSError:
        path.unlink(missing_ok=True)
        return False
    return True


def release_reserve(db_path: Path) -> bool:
    """Give the reserve's space back to the filesystem; True if there was one."""
    try:
        reserve_path(db_path).unlink()
    except FileNotFoundError:
        return False
    return True


def connect(path: Path | None, synchronous: str) -> sqlite3.Connection:
    """Open (creating) the outbox at `path`, or an in-memory one when `path` is None.

    Raises sqlite3.Error / OSError, and NotWal on a filesystem where WAL does not work."""
    if path is None:
        db = sqlite3.connect(":memory:", isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        if path is not None:
            db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # only takes effect on a new, empty file
            mode = str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
            if mode != "wal":
                raise NotWal(mode)
            db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        for statement in SCHEMA:
            db.execute(statement)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


def reclaim(db: sqlite3.Connection) -> None:
    """Fold the WAL into the DB, truncate it, and return free pages to the filesystem."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    db.execute("PRAGMA incremental_vacuum").fetchall()
