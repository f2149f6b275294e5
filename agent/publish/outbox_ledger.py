"""The outbox's high-water mark beside the DB, and the integrity checks that use it at open.

The ledger (`<db>.ledger.json`, written atomically by the outbox thread after its writes)
holds the last id stored, the rows pending and the eviction total. At open, a DB that fails
`PRAGMA quick_check` is moved aside with its -wal/-shm; one that opens but holds fewer rows
than the ledger says lost them (a deleted or truncated WAL). Either way the loss is counted."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agent.storage.atomic_file import write_atomic
from agent.storage.health import is_corruption

log = logging.getLogger(__name__)

LEDGER_SUFFIX = ".ledger.json"
SIDE_FILES = ("-wal", "-shm")


@dataclass(frozen=True, slots=True)
class Ledger:
    """What the outbox held when it last wrote the ledger."""

    last_id: int = 0
    depth: int = 0
    evicted: int = 0


@dataclass(frozen=True, slots=True)
class Recovery:
    """What the check at open found: `lost` rows the ledger expected and the file no longer holds."""

    lost: int
    reason: str
    moved_to: Path | None = None


def ledger_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + LEDGER_SUFFIX)


def read_ledger(db_path: Path) -> Ledger:
    """The last ledger written, or an empty one (first start, or an unreadable file: logged)."""
    path = ledger_path(db_path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return Ledger(int(doc["last_id"]), int(doc["depth"]), int(doc["evicted"]))
    except FileNotFoundError:
        return Ledger()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring the unreadable outbox ledger %s (%s): losses before now cannot be counted", path, exc)
        return Ledger()


def write_ledger(db_path: Path, ledger: Ledger) -> None:
    """Replace the ledger atomically; raises OSError."""
    doc = {"last_id": ledger.last_id, "depth": ledger.depth, "evicted": ledger.evicted}
    write_atomic(ledger_path(db_path), json.dumps(doc).encode("utf-8"))


def integrity_problem(db: sqlite3.Connection) -> str | None:
    """None when `PRAGMA quick_check` says ok and the rows can be read, else the first complaint.
    Raises any other sqlite3.Error (a full disk, an I/O error): that says nothing about the file."""
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
        db.execute("SELECT COUNT(*), MAX(id) FROM outbox").fetchone()
    except sqlite3.DatabaseError as exc:
        if not is_corruption(exc):
            raise
        return str(exc)
    first = str(rows[0][0]) if rows else "no answer"
    return None if first == "ok" else first


def move_aside(db_path: Path, stamp: str) -> Path:
    """Rename the DB and its -wal/-shm to `<name>.corrupt-<stamp>[-wal|-shm]`; returns the new DB path."""
    target = db_path.with_name(f"{db_path.name}.corrupt-{stamp}")
    for suffix in ("", *SIDE_FILES):
        source = db_path.with_name(db_path.name + suffix)
        if source.exists():
            os.replace(source, target.with_name(target.name + suffix))
    return target


def shortfall(ledger: Ledger, depth: int, last_id: int) -> Recovery | None:
    """Rows missing from a readable file, judged against the ledger; None when nothing is missing."""
    if last_id >= ledger.last_id or ledger.depth == 0:
        return None
    reason = (
        f"the file ends at row {last_id} but the ledger recorded row {ledger.last_id} "
        "(a deleted, truncated or emptied DB or WAL)"
    )
    return Recovery(max(0, ledger.depth - depth), reason)
