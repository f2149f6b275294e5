"""The event store's SQLite file (WAL): schema, writes (the store's writer thread only) and reads
(any thread, each with its own short-lived connection: WAL lets readers run beside the writer).

Invariant kept by the writer: a row names a file only after the file is complete on disk."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from agent.store.rows import AnomalyRow, ClipDone, EventQuery, EventRow

DB_NAME = "events.sqlite3"
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS events (
        id TEXT PRIMARY KEY, camera TEXT NOT NULL, label TEXT NOT NULL, sub_label TEXT,
        start_ts REAL NOT NULL, end_ts REAL, best_score REAL NOT NULL, zones TEXT NOT NULL,
        snapshot_path TEXT, snapshot_bytes INTEGER NOT NULL DEFAULT 0,
        clip_path TEXT, clip_start_ts REAL, clip_end_ts REAL, clip_bytes INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS events_start ON events (start_ts)",
    "CREATE INDEX IF NOT EXISTS events_camera ON events (camera, start_ts)",
    """CREATE TABLE IF NOT EXISTS anomalies (
        id TEXT PRIMARY KEY, camera TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
        active INTEGER NOT NULL, started_ts REAL NOT NULL, ended_ts REAL, details TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS anomalies_started ON anomalies (started_ts)",
)
EVENT_COLUMNS = (
    "id, camera, label, sub_label, start_ts, end_ts, best_score, zones, snapshot_path, clip_path, "
    "clip_start_ts, clip_end_ts, snapshot_bytes + clip_bytes"
)


def open_writer(path: Path) -> sqlite3.Connection:
    """The writer's connection, creating the file and schema (WAL, synchronous NORMAL: a power cut may
    lose the last commits but never tears the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        mode = str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        if mode != "wal":
            raise sqlite3.OperationalError(f"{path}: the filesystem does not support WAL (journal mode {mode})")
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in SCHEMA:
            db.execute(statement)
    except BaseException:
        db.close()
        raise
    return db


@contextmanager
def reader(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection for one request; the file must exist (the writer creates it at start)."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as db:
        yield db


def _event(row: tuple[object, ...]) -> EventRow:
    zones = tuple(str(z) for z in json.loads(str(row[7])))
    return EventRow(
        event_id=str(row[0]),
        camera=str(row[1]),
        label=str(row[2]),
        sub_label=None if row[3] is None else str(row[3]),
        start_ts=float(row[4]),  # type: ignore[arg-type]
        end_ts=None if row[5] is None else float(row[5]),  # type: ignore[arg-type]
        best_score=float(row[6]),  # type: ignore[arg-type]
        zones=zones,
        snapshot_path=None if row[8] is None else str(row[8]),
        clip_path=None if row[9] is None else str(row[9]),
        clip_start_ts=None if row[10] is None else float(row[10]),  # type: ignore[arg-type]
        clip_end_ts=None if row[11] is None else float(row[11]),  # type: ignore[arg-type]
        file_bytes=int(row[12]),  # type: ignore[call-overload]
    )


def query_events(db: sqlite3.Connection, query: EventQuery) -> list[EventRow]:
    """Events matching the filters, newest first."""
    where, args = [], []
    for clause, value in (
        ("camera = ?", query.camera),
        ("label = ?", query.label),
        ("start_ts >= ?", query.after_ts),
        ("start_ts < ?", query.before_ts),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    sql = f"SELECT {EVENT_COLUMNS} FROM events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY start_ts DESC, id DESC LIMIT ?"
    return [_event(row) for row in db.execute(sql, (*args, query.limit))]


def get_event(db: sqlite3.Connection, event_id: str) -> EventRow | None:
    row = db.execute(f"SELECT {EVENT_COLUMNS} FROM events WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else _event(row)


def oldest_events(db: sqlite3.Connection, limit: int) -> list[EventRow]:
    return [
        _event(r) for r in db.execute(f"SELECT {EVENT_COLUMNS} FROM events ORDER BY start_ts, id LIMIT ?", (limit,))
    ]


def file_bytes_total(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT COALESCE(SUM(snapshot_bytes + clip_bytes), 0) FROM events").fetchone()[0])


def counts_by_label(db: sqlite3.Connection, after_ts: float) -> dict[str, int]:
    rows = db.execute("SELECT label, COUNT(*) FROM events WHERE start_ts >= ? GROUP BY label", (after_ts,))
    return {str(label): int(count) for label, count in rows}


def active_anomalies(db: sqlite3.Connection) -> list[AnomalyRow]:
    rows = db.execute(
        "SELECT id, camera, kind, severity, active, started_ts, ended_ts FROM anomalies "
        "WHERE active = 1 ORDER BY started_ts DESC LIMIT 100"
    )
    return [
        AnomalyRow(str(r[0]), str(r[1]), str(r[2]), str(r[3]), bool(r[4]), float(r[5]), r[6] and float(r[6]))
        for r in rows
    ]


def upsert_event(db: sqlite3.Connection, row: EventRow) -> None:
    """Insert or update an event's own fields; file columns are set only by set_snapshot / set_clip."""
    db.execute(
        """INSERT INTO events (id, camera, label, sub_label, start_ts, end_ts, best_score, zones)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET sub_label = COALESCE(excluded.sub_label, sub_label),
            end_ts = excluded.end_ts, best_score = MAX(best_score, excluded.best_score), zones = excluded.zones""",
        (
            row.event_id,
            row.camera,
            row.label,
            row.sub_label,
            row.start_ts,
            row.end_ts,
            row.best_score,
            json.dumps(list(row.zones)),
        ),
    )


def set_snapshot(db: sqlite3.Connection, event_id: str, path: str, size_bytes: int) -> bool:
    """Name the event's snapshot file (already on disk); False when the event has no row."""
    cur = db.execute(
        "UPDATE events SET snapshot_path = ?, snapshot_bytes = ? WHERE id = ?", (path, size_bytes, event_id)
    )
    return cur.rowcount > 0


def set_clip(db: sqlite3.Connection, clip: ClipDone) -> int:
    """Name a finished clip on its events that have none yet (each event keeps its first clip);
    the clip's size is counted once, on the first of them. Returns how many events now name it."""
    named = 0
    for event_id in clip.event_ids:
        cur = db.execute(
            "UPDATE events SET clip_path = ?, clip_start_ts = ?, clip_end_ts = ?, clip_bytes = ? "
            "WHERE id = ? AND clip_path IS NULL",
            (clip.path, clip.start_ts, clip.end_ts, clip.size_bytes if named == 0 else 0, event_id),
        )
        named += cur.rowcount
    return named


def delete_event(db: sqlite3.Connection, event_id: str) -> None:
    db.execute("DELETE FROM events WHERE id = ?", (event_id,))


def clip_users(db: sqlite3.Connection, path: str) -> int:
    return int(db.execute("SELECT COUNT(*) FROM events WHERE clip_path = ?", (path,)).fetchone()[0])


def referenced_paths(db: sqlite3.Connection) -> set[str]:
    rows = db.execute(
        "SELECT snapshot_path FROM events WHERE snapshot_path IS NOT NULL "
        "UNION SELECT clip_path FROM events WHERE clip_path IS NOT NULL"
    )
    return {str(r[0]) for r in rows}


def forget_missing(db: sqlite3.Connection, exists: set[str]) -> int:
    """Clear file columns whose file is not on disk (deleted by hand, or a torn prune); returns how many."""
    cleared = 0
    for event_id, snap, clip in db.execute("SELECT id, snapshot_path, clip_path FROM events").fetchall():
        if snap is not None and snap not in exists:
            db.execute("UPDATE events SET snapshot_path = NULL, snapshot_bytes = 0 WHERE id = ?", (event_id,))
            cleared += 1
        if clip is not None and clip not in exists:
            db.execute(
                "UPDATE events SET clip_path = NULL, clip_start_ts = NULL, clip_end_ts = NULL, clip_bytes = 0 "
                "WHERE id = ?",
                (event_id,),
            )
            cleared += 1
    return cleared


def upsert_anomaly(db: sqlite3.Connection, row: AnomalyRow, details: dict[str, float | str]) -> None:
    db.execute(
        """INSERT INTO anomalies (id, camera, kind, severity, active, started_ts, ended_ts, details)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, active = excluded.active,
            ended_ts = excluded.ended_ts, details = excluded.details""",
        (
            row.anomaly_id,
            row.camera,
            row.kind,
            row.severity,
            int(row.active),
            row.started_ts,
            row.ended_ts,
            json.dumps(details),
        ),
    )


def delete_anomalies_before(db: sqlite3.Connection, ts: float) -> int:
    return db.execute("DELETE FROM anomalies WHERE active = 0 AND started_ts < ?", (ts,)).rowcount
