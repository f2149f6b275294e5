"""Durable FIFO of must-deliver MQTT messages in SQLite (WAL), bounded by count, bytes and age.

Used only by the publisher's outbox thread: one connection, created, used and closed by
that thread (sqlite3's check_same_thread guard stays on, so no lock is needed). A row
leaves when the broker acknowledged it or when a bound evicts it; evictions delete the
oldest rows first and are counted in the file itself, so the total survives restarts. At open
the file is checked against its ledger (outbox_ledger) and opened on a full disk through
outbox_file's reserve, or in memory when even that fails."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.config.schema import OutboxConfig
from agent.errors import PublishError
from agent.publish.messages import OutboundMessage
from agent.publish.outbox_file import NotWal, connect, reclaim, release_reserve, take_reserve
from agent.publish.outbox_ledger import (
    Ledger,
    Recovery,
    integrity_problem,
    move_aside,
    read_ledger,
    shortfall,
    write_ledger,
)
from agent.storage.health import free_bytes, is_corruption, is_full_disk_failure

log = logging.getLogger(__name__)

FILE_NAME = "outbox.sqlite3"
EVICT_CHUNK_ROWS = 256
EVICTION_LOG_INTERVAL_S = 60.0
LEDGER_INTERVAL_S = 1.0
# Rows stamped before this (a clock not yet set by NTP) are never evicted by age:
# once the clock jumps to the real date they would all look decades old.
MIN_SANE_WALL = 1_577_836_800.0  # 2020-01-01T00:00:00Z


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One stored message; `id` orders delivery."""

    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created_wall: float


class Outbox:
    """The on-disk queue. `clock` returns wall time in epoch seconds (rows are stamped with it)."""

    def __init__(self, path: Path, cfg: OutboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._cfg = cfg
        self._clock = clock
        self.memory_only = False  # the disk was too full to open the file: rows live in memory
        self.recovery: Recovery | None = None  # what the check at open found missing
        self._ledger = read_ledger(path)
        self._last_ledger_mono = -LEDGER_INTERVAL_S
        self._db = self._open_checked(path, cfg.synchronous)
        self.depth = self.size_bytes = self.last_id = self.evicted_total = 0
        self._reload_counters()
        self._unlogged_evictions = 0
        self._last_eviction_log = -EVICTION_LOG_INTERVAL_S
        self._check_against_ledger()
        if not self.memory_only:
            take_reserve(path)

    def _open_checked(self, path: Path, synchronous: str) -> sqlite3.Connection:
        """Open the file; move a corrupt one aside; fall back to memory when the disk is too full."""
        for attempt in range(2):
            try:
                return self._open_file(path, synchronous)
            except sqlite3.Error as exc:
                if not is_full_disk_failure(exc, path):
                    raise PublishError(f"cannot open the outbox {path}: {exc}") from exc
                if attempt == 0 and release_reserve(path):
                    continue
                log.error(
                    "cannot open the outbox %s (%s bytes free): %s; holding durable messages in memory "
                    "until the agent restarts (rows already in the file wait for that restart)",
                    path,
                    free_bytes(path),
                    exc,
                )
        self.memory_only = True
        return self._connect(None, synchronous)

    def _open_file(self, path: Path, synchronous: str) -> sqlite3.Connection:
        """The file, checked; only a corrupt file is moved aside: other sqlite3.Errors (full disk, I/O) raise."""
        try:
            db = self._connect(path, synchronous)
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise  # a full disk must not cost the file's rows
            return self._recover(path, synchronous, str(exc))
        try:
            problem = integrity_problem(db)
        except sqlite3.Error:
            db.close()
            raise
        if problem is None:
            return db
        db.close()
        return self._recover(path, synchronous, problem)

    def _recover(self, path: Path, synchronous: str, problem: str) -> sqlite3.Connection:
        moved = move_aside(path, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock())))
        self.recovery = Recovery(self._ledger.depth, f"the file is corrupt ({problem})", moved)
        return self._connect(path, synchronous)

    @staticmethod
    def _connect(path: Path | None, synchronous: str) -> sqlite3.Connection:
        try:
            return connect(path, synchronous)
        except NotWal as exc:
            raise PublishError(f"outbox {path}: SQLite refused WAL mode (got {exc}); use a local filesystem") from exc
        except OSError as exc:
            raise PublishError(f"cannot open the outbox {path}: {exc}; check that state_dir is writable") from exc

    def _check_against_ledger(self) -> None:
        """Count rows the ledger expected and the file lost; keep the eviction total the ledger knew."""
        if self.recovery is None and not self.memory_only:
            self.recovery = shortfall(self._ledger, self.depth, self.last_id)
        lost = self.recovery.lost if self.recovery is not None else 0
        missing = max(0, self._ledger.evicted - self.evicted_total) + lost
        if missing:
            with self._transaction():
                self._count_evicted(missing)
        if self.recovery is not None:
            moved = f"; the old file is kept as {self.recovery.moved_to}" if self.recovery.moved_to else ""
            log.error(
                "outbox %s: %d undelivered message(s) lost because %s%s (counted in outbox_evicted)",
                self.path,
                self.recovery.lost,
                self.recovery.reason,
                moved,
            )
        try:
            self.save_ledger(force=True)
        except OSError as exc:
            log.warning("cannot write the outbox ledger beside %s: %s", self.path, exc)

    def save_ledger(self, force: bool = False) -> None:
        """Record the high-water mark beside the file (at most once a second unless forced); raises OSError."""
        ledger = Ledger(self.last_id, self.depth, self.evicted_total)
        now = time.monotonic()
        if self.memory_only or ledger == self._ledger:
            return
        if force or now - self._last_ledger_mono >= LEDGER_INTERVAL_S:
            write_ledger(self.path, ledger)
            self._ledger, self._last_ledger_mono = ledger, now

    def replace_corrupt(self, problem: str) -> None:
        """A query found the file corrupt while running: move it aside and start a fresh one."""
        self._ledger = Ledger(self.last_id, self.depth, self.evicted_total)
        self._db.close()
        self._db = self._recover(self.path, self._cfg.synchronous, problem)
        self._reload_counters()
        self._check_against_ledger()

    def release_reserve(self) -> bool:
        return release_reserve(self.path)

    def reclaim(self) -> None:
        """Give acknowledged rows' space back and take the reserve again once there is room."""
        if not self.memory_only:
            reclaim(self._db)
            take_reserve(self.path)

    def _reload_counters(self) -> None:
        count, size, last = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), COALESCE(MAX(id), 0) FROM outbox"
        ).fetchone()
        seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        self.depth, self.size_bytes, self.last_id = int(count), int(size), max(int(last), int(seq[0]))
        self.evicted_total = int(self._db.execute("SELECT value FROM meta WHERE key = 'evicted'").fetchone()[0])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; on any failure roll back and re-read the in-memory counters."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._reload_counters()
            raise

    def append(self, messages: Sequence[OutboundMessage]) -> int:
        """Store `messages` in order in one transaction, then apply the count and byte bounds.

        Returns how many rows (old or new) were evicted to stay within the bounds."""
        now = self._clock()
        rows = [(m.topic, m.payload, m.qos, int(m.retain), now) for m in messages]
        too_big = [r for r in rows if len(r[1]) > self._cfg.max_bytes]
        rows = [r for r in rows if len(r[1]) <= self._cfg.max_bytes]
        with self._transaction():
            cursor = self._db.cursor()
            for row in rows:
                cursor.execute(
                    "INSERT INTO outbox(topic, payload, qos, retain, created_wall) VALUES (?, ?, ?, ?, ?)", row
                )
                self.last_id = int(cursor.lastrowid or self.last_id)
            self.depth += len(rows)
            self.size_bytes += sum(len(r[1]) for r in rows)
            evicted = self._enforce_bounds() + len(too_big)
            self._count_evicted(evicted)
        self._note_evictions(evicted, "the outbox is full (max_messages/max_bytes)")
        return evicted

    def _enforce_bounds(self) -> int:
        evicted = 0
        while self.depth > self._cfg.max_messages or self.size_bytes > self._cfg.max_bytes:
            oldest = self._db.execute(
                "SELECT id, LENGTH(payload) FROM outbox ORDER BY id LIMIT ?", (EVICT_CHUNK_ROWS,)
            ).fetchall()
            if not oldest:
                break
            doomed: list[int] = []
            for row_id, size in oldest:
                if self.depth - len(doomed) <= self._cfg.max_messages and self.size_bytes <= self._cfg.max_bytes:
                    break
                doomed.append(int(row_id))
                self.size_bytes -= int(size)
            self._delete_ids(doomed)
            self.depth -= len(doomed)
            evicted += len(doomed)
        return evicted

    def _delete_ids(self, ids: Sequence[int]) -> None:
        self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def _count_evicted(self, n: int) -> None:
        if n:
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'evicted'", (n,))
            self.evicted_total += n

    def pending(self, after_id: int, limit: int) -> list[OutboxRow]:
        """Up to `limit` rows with id > after_id, oldest first."""
        cursor = self._db.execute(
            "SELECT id, topic, payload, qos, retain, created_wall FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [OutboxRow(int(i), str(t), bytes(p), int(q), bool(r), float(c)) for i, t, p, q, r, c in cursor]

    def remove(self, ids: Iterable[int]) -> int:
        """Delete acknowledged rows; ids that are already gone (evicted) are ignored. Returns rows deleted."""
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        marks = ",".join("?" * len(wanted))
        with self._transaction():
            count, size = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE id IN ({marks})", wanted
            ).fetchone()
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", wanted)
        self.depth -= int(count)
        self.size_bytes -= int(size)
        return int(count)

    def evict_expired(self) -> int:
        """Delete rows older than max_age_s (oldest first); returns how many."""
        cutoff = self._clock() - self._cfg.max_age_s
        where = "created_wall < ? AND created_wall >= ?"
        with self._transaction():
            count, size = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0) FROM outbox WHERE {where}", (cutoff, MIN_SANE_WALL)
            ).fetchone()
            if count:
                self._db.execute(f"DELETE FROM outbox WHERE {where}", (cutoff, MIN_SANE_WALL))
                self._count_evicted(int(count))
        self.depth -= int(count)
        self.size_bytes -= int(size)
        self._note_evictions(int(count), f"they were older than max_age_s={self._cfg.max_age_s:g}")
        return int(count)

    def add_evicted(self, n: int, reason: str) -> None:
        """Count messages lost before they reached the file (e.g. the handoff queue overflowed)."""
        if n <= 0:
            return
        with self._transaction():
            self._count_evicted(n)
        self._note_evictions(n, reason)

    def oldest_created_wall(self) -> float | None:
        row = self._db.execute("SELECT created_wall FROM outbox ORDER BY id LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def _note_evictions(self, n: int, reason: str) -> None:
        """Warn about lost messages at most once a minute, with the count since the last warning."""
        self._unlogged_evictions += n
        now = time.monotonic()
        if self._unlogged_evictions and now - self._last_eviction_log >= EVICTION_LOG_INTERVAL_S:
            log.warning(
                "outbox evicted %d undelivered message(s) because %s (%d evicted in total)",
                self._unlogged_evictions,
                reason,
                self.evicted_total,
            )
            self._unlogged_evictions = 0
            self._last_eviction_log = now

    def close(self) -> None:
        if self._unlogged_evictions:
            self._last_eviction_log = -EVICTION_LOG_INTERVAL_S
            self._note_evictions(0, "of the bounds (see earlier warnings)")
        try:
            self.save_ledger(force=True)
        except OSError as exc:
            log.warning("cannot write the outbox ledger beside %s: %s", self.path, exc)
        self._db.close()
