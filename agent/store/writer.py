"""The event store's writer thread: a Sink of the pipeline's records (events, anomalies, snapshot
jobs) and of the clip thread's finished clips, written to SQLite and files under <state_dir>/store.

`accept` runs on the analytics or capture thread: it only queues (bounded, drops counted). This
thread renders snapshots, writes files before the rows that name them, and prunes on a timer."""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

from agent.config.outputs import SnapshotConfig
from agent.config.web import StorageConfig
from agent.records import Record, SnapshotJob
from agent.snapshots.worker import render_snapshot
from agent.store import db as store_db
from agent.store import files
from agent.store.retention import StoreLimits, plan_prune
from agent.store.rows import AnomalyRow, ClipDone, EventRow
from agent.types import Anomaly, Event, EventKind

log = logging.getLogger(__name__)

STORE_DIR = "store"
IDLE_WAIT_S = 1.0
BATCH_MAX = 200  # records per transaction
PENDING_SNAPSHOTS = 256  # snapshot files whose event row is not written yet (jobs precede the start record)
PRUNE_BATCH = 500


def store_root(state_dir: Path) -> Path:
    return state_dir / STORE_DIR


class EventStore(threading.Thread):
    """Owns the store's writer connection; readers open their own (agent.store.db.reader)."""

    def __init__(
        self,
        root: Path,
        config: StorageConfig,
        snapshots: SnapshotConfig,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name="event-store", daemon=True)
        self.root = root
        self.db_path = root / store_db.DB_NAME
        self._config = config
        self._snapshot_config = snapshots
        self._limits = StoreLimits.from_config(config)
        self._clock = clock
        self._queue: queue.Queue[Record] = queue.Queue(maxsize=config.queue_size)
        self._clips: deque[ClipDone] = deque()  # few (one per clip): never dropped
        self._pending_snapshots: OrderedDict[str, tuple[str, int]] = OrderedDict()
        self._stopping = threading.Event()
        self.dropped = self.written = self.errors = self.pruned = self.swept = 0
        self.heartbeat_mono = time.monotonic()
        self._db: sqlite3.Connection  # opened by the thread that writes (run, or prune_offline)
        self._recover()

    def _recover(self) -> None:
        """Create the file, then make files and rows agree (a crash may have left either behind).
        Runs before the thread and the clip thread start, so no file is being written."""
        db = store_db.open_writer(self.db_path)
        try:
            on_disk, self.swept = files.sweep(self.root, store_db.referenced_paths(db))
            cleared = store_db.forget_missing(db, on_disk)
        finally:
            db.close()  # the writer thread opens its own (sqlite3 connections stay on their thread)
        if self.swept or cleared:
            log.info("event store: removed %d orphan files, cleared %d missing file names", self.swept, cleared)

    # --- Sink (analytics / capture threads) ---
    def accept(self, record: Record) -> None:
        if not isinstance(record, Event | Anomaly | SnapshotJob):
            return
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def clip_done(self, clip: ClipDone) -> None:
        """Called by the clip thread once the clip file has its final name."""
        self._clips.append(clip)

    def stop(self) -> None:
        """Write what is queued, then end the thread."""
        self._stopping.set()

    # --- writer thread ---
    def run(self) -> None:
        self._db = store_db.open_writer(self.db_path)
        next_prune = self._clock()
        try:
            while True:
                self.heartbeat_mono = time.monotonic()
                batch = self._take(IDLE_WAIT_S)
                try:
                    self._write(batch)
                    if self._clock() >= next_prune:
                        next_prune = self._clock() + self._config.prune_interval_s
                        self.prune(self._clock())
                except (sqlite3.Error, OSError):
                    self.errors += 1
                    log.exception("event store: a write or prune failed (%d so far)", self.errors)
                if not batch and not self._clips and self._stopping.is_set():
                    return
        finally:
            self._db.close()

    def _take(self, timeout_s: float) -> list[Record]:
        try:
            batch = [self._queue.get(timeout=0.0 if self._clips else timeout_s)]
        except queue.Empty:
            return []
        while len(batch) < BATCH_MAX:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[Record]) -> None:
        # Files first (outside the transaction), so a committed row never names a missing file.
        snapshots = {job.event_id: job for job in batch if isinstance(job, SnapshotJob)}
        written = {event_id: self._save_snapshot(job) for event_id, job in snapshots.items()}
        clips = [self._clips.popleft() for _ in range(len(self._clips))]
        self._db.execute("BEGIN")
        try:
            for record in batch:
                if isinstance(record, Event):
                    self._write_event(record)
                elif isinstance(record, Anomaly):
                    self._write_anomaly(record)
            for event_id, (rel, size) in written.items():
                if not store_db.set_snapshot(self._db, event_id, rel, size):
                    self._park_snapshot(event_id, rel, size)
            for clip in clips:
                if store_db.set_clip(self._db, clip) == 0:
                    files.remove(self.root, clip.path)  # its events are gone (pruned): nobody would name it
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self.written += len(batch)

    def _save_snapshot(self, job: SnapshotJob) -> tuple[str, int]:
        rel = files.snapshot_rel(job.camera, job.event_id)
        return rel, files.write_file(self.root, rel, render_snapshot(job, self._snapshot_config))

    def _park_snapshot(self, event_id: str, rel: str, size: int) -> None:
        self._pending_snapshots[event_id] = (rel, size)
        while len(self._pending_snapshots) > PENDING_SNAPSHOTS:
            _, (old_rel, _) = self._pending_snapshots.popitem(last=False)
            files.remove(self.root, old_rel)

    def _write_event(self, event: Event) -> None:
        zones = tuple(sorted(set(event.current_zones) | set(event.entered_zones)))
        row = EventRow(
            event_id=event.event_id,
            camera=event.camera,
            label=event.track.label,
            sub_label=event.sub_label,
            start_ts=event.start_ts,
            end_ts=event.end_ts if event.kind is EventKind.END else None,
            best_score=event.top_score,
            zones=zones,
            snapshot_path=None,
            clip_path=None,
            clip_start_ts=None,
            clip_end_ts=None,
            file_bytes=0,
        )
        store_db.upsert_event(self._db, row)
        parked = self._pending_snapshots.pop(event.event_id, None)
        if parked is not None:
            store_db.set_snapshot(self._db, event.event_id, *parked)

    def _write_anomaly(self, anomaly: Anomaly) -> None:
        row = AnomalyRow(
            anomaly.anomaly_id,
            anomaly.camera,
            anomaly.kind,
            anomaly.severity.value,
            anomaly.active,
            anomaly.started_ts,
            anomaly.ended_ts,
        )
        store_db.upsert_anomaly(self._db, row, dict(anomaly.details))

    def prune(self, now_ts: float) -> int:
        """Delete what retention selects: rows first (committed), then their files, so a crash in
        between leaves only orphan files, which the next start sweeps. Returns events deleted."""
        total = store_db.file_bytes_total(self._db)
        doomed_ids = plan_prune(store_db.oldest_events(self._db, PRUNE_BATCH), total, now_ts, self._limits)
        if not doomed_ids:
            return 0
        doomed = [row for event_id in doomed_ids if (row := store_db.get_event(self._db, event_id)) is not None]
        freed_paths: list[str] = []
        self._db.execute("BEGIN")
        try:
            for row in doomed:
                store_db.delete_event(self._db, row.event_id)
                if row.snapshot_path is not None:
                    freed_paths.append(row.snapshot_path)
                if row.clip_path is not None and not self._clip_kept(row):
                    freed_paths.append(row.clip_path)
            store_db.delete_anomalies_before(self._db, now_ts - self._limits.max_age_s)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        for rel in freed_paths:
            files.remove(self.root, rel)
        self.pruned += len(doomed)
        return len(doomed)

    def prune_offline(self, now_ts: float) -> int:
        """One retention sweep while the thread is not running (tests, tools)."""
        if self.is_alive():
            raise RuntimeError("prune_offline() while the store's thread runs")
        self._db = store_db.open_writer(self.db_path)
        try:
            return self.prune(now_ts)
        finally:
            self._db.close()

    def _clip_kept(self, row: EventRow) -> bool:
        """A clip shared with events that stay is kept; its size moves to one of them."""
        assert row.clip_path is not None
        users = store_db.clip_users(self._db, row.clip_path)
        if users == 0:
            return False
        try:
            size = (self.root / row.clip_path).stat().st_size
        except FileNotFoundError:
            size = 0
        self._db.execute(
            "UPDATE events SET clip_bytes = ? WHERE id = (SELECT id FROM events WHERE clip_path = ? "
            "ORDER BY start_ts LIMIT 1)",
            (size, row.clip_path),
        )
        return True
