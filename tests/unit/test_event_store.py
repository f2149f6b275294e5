"""The event store: rows and files written through its thread, retention by size and age, and
agreement of rows and files after a real kill -9 of a writing process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config.outputs import SnapshotConfig
from agent.config.web import StorageConfig
from agent.store import db as store_db
from agent.store import files
from agent.store.rows import ClipDone, EventQuery
from agent.store.writer import EventStore, store_root
from agent.types import EventKind
from tests.support.store_records import CAMERA, feed_one, person_event, snapshot_job

WAIT_S = 20.0
NOW_TS = 1000.0  # the store's clock in these tests: no event is past the age limit


def wait_until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def run_store(tmp_path: Path, **settings: float) -> EventStore:
    config = StorageConfig(enabled=True, **settings)
    store = EventStore(store_root(tmp_path), config, SnapshotConfig(), clock=lambda: NOW_TS)
    store.start()
    return store


def stop(store: EventStore) -> None:
    store.stop()
    store.join(WAIT_S)
    assert not store.is_alive()


def test_event_with_snapshot_is_stored_and_queryable(tmp_path: Path) -> None:
    """An event's start, end and snapshot become one row naming a decodable JPEG, newest first in queries."""
    store = run_store(tmp_path)
    feed_one(store, "a", 100.0)
    feed_one(store, "b", 200.0)
    stop(store)
    with store_db.reader(store.db_path) as db:
        rows = store_db.query_events(db, EventQuery())
        only_b = store_db.query_events(db, EventQuery(after_ts=150.0))
    assert [r.event_id for r in rows] == ["b", "a"]
    assert [r.event_id for r in only_b] == ["b"]
    row = rows[0]
    assert (row.camera, row.label, row.start_ts, row.end_ts, row.zones) == (CAMERA, "person", 200.0, 201.0, ("door",))
    assert row.snapshot_path is not None
    image = cv2.imread(str(store.root / row.snapshot_path))
    assert image is not None
    assert image.shape[0] > 0
    assert row.file_bytes == (store.root / row.snapshot_path).stat().st_size


def test_snapshot_before_start_record_is_attached(tmp_path: Path) -> None:
    """A snapshot job handled in an earlier batch than its event's start record still ends up on the row."""
    store = run_store(tmp_path)
    store.accept(snapshot_job("late", 5.0))
    assert wait_until(lambda: store.written >= 1)
    store.accept(person_event("late", EventKind.START, 5.0))
    stop(store)
    with store_db.reader(store.db_path) as db:
        row = store_db.get_event(db, "late")
    assert row is not None
    assert row.snapshot_path == files.snapshot_rel(CAMERA, "late")


def test_retention_prunes_oldest_rows_and_files_to_the_limit(tmp_path: Path) -> None:
    """Over max_mb, the oldest events go first, their files with them, until the total fits."""
    store = run_store(tmp_path, prune_interval_s=3600.0)
    for n in range(10):
        feed_one(store, f"e{n}", 1000.0 + n)
    stop(store)
    with store_db.reader(store.db_path) as db:
        before = store_db.query_events(db, EventQuery(limit=100))
    each_bytes = before[0].file_bytes
    assert each_bytes > 0
    limit_mb = 3.5 * each_bytes / (1024 * 1024)
    pruner = EventStore(store.root, StorageConfig(enabled=True, max_mb=limit_mb), SnapshotConfig())
    deleted = pruner.prune_offline(now_ts=2000.0)
    with store_db.reader(store.db_path) as db:
        after = store_db.query_events(db, EventQuery(limit=100))
        total = store_db.file_bytes_total(db)
    assert deleted == 7
    assert [r.event_id for r in after] == ["e9", "e8", "e7"]
    assert total <= limit_mb * 1024 * 1024
    on_disk = sorted(p.name for p in (store.root / files.SNAPSHOTS / CAMERA).iterdir())
    assert on_disk == ["e7.jpg", "e8.jpg", "e9.jpg"]


def test_retention_by_age_deletes_old_events(tmp_path: Path) -> None:
    """Events older than retain_days are deleted even when the size limit is far away."""
    store = run_store(tmp_path)
    feed_one(store, "old", 0.0)
    feed_one(store, "new", 10 * 86_400.0)
    stop(store)
    pruner = EventStore(store.root, StorageConfig(enabled=True, retain_days=7.0), SnapshotConfig())
    assert pruner.prune_offline(now_ts=10 * 86_400.0 + 1.0) == 1
    with store_db.reader(store.db_path) as db:
        assert [r.event_id for r in store_db.query_events(db, EventQuery())] == ["new"]
    assert not (store.root / files.snapshot_rel(CAMERA, "old")).exists()


def test_shared_clip_survives_until_its_last_event_goes(tmp_path: Path) -> None:
    """A clip named by two events is deleted with the last of them, not the first."""
    store = run_store(tmp_path, prune_interval_s=3600.0)
    feed_one(store, "c1", 10.0)
    feed_one(store, "c2", 11.0)
    assert wait_until(lambda: store.written >= 6)
    rel = files.clip_rel(CAMERA, 5.0, "c1")
    size = files.write_file(store.root, rel, b"\0" * 5000)
    store.clip_done(ClipDone(CAMERA, rel, 5.0, 17.0, size, ("c1", "c2")))
    stop(store)
    with store_db.reader(store.db_path) as db:
        total = store_db.file_bytes_total(db)
    one_less = StorageConfig(enabled=True, max_mb=(total - 1) / (1024 * 1024))
    assert EventStore(store.root, one_less, SnapshotConfig()).prune_offline(now_ts=20.0) == 1
    with store_db.reader(store.db_path) as db:
        left = store_db.query_events(db, EventQuery())
        total_after = store_db.file_bytes_total(db)
    assert [r.event_id for r in left] == ["c2"]
    assert left[0].clip_path == rel
    assert (store.root / rel).exists()
    assert total_after == left[0].file_bytes == (store.root / rel).stat().st_size + (
        store.root / files.snapshot_rel(CAMERA, "c2")
    ).stat().st_size
    pruner_all = EventStore(store.root, StorageConfig(enabled=True, max_mb=1e-6), SnapshotConfig())
    pruner_all.prune_offline(now_ts=20.0)
    assert not (store.root / rel).exists()


def test_start_sweep_removes_orphans_and_clears_missing(tmp_path: Path) -> None:
    """At start, a file no row names is deleted and a row whose file is gone forgets it."""
    store = run_store(tmp_path)
    feed_one(store, "kept", 1.0)
    feed_one(store, "lost", 2.0)
    stop(store)
    orphan = files.snapshot_rel(CAMERA, "orphan")
    files.write_file(store.root, orphan, b"jpeg")
    (store.root / files.snapshot_rel(CAMERA, "lost")).unlink()
    reopened = EventStore(store.root, StorageConfig(enabled=True), SnapshotConfig())
    assert reopened.swept == 1
    assert not (store.root / orphan).exists()
    with store_db.reader(store.db_path) as db:
        lost = store_db.get_event(db, "lost")
        kept = store_db.get_event(db, "kept")
    assert lost is not None
    assert lost.snapshot_path is None
    assert kept is not None
    assert kept.snapshot_path is not None


@pytest.mark.parametrize("run_s", [0.8, 1.6])
def test_kill_9_leaves_rows_and_files_in_agreement(tmp_path: Path, run_s: float) -> None:
    """After a real SIGKILL of a process writing and pruning, the reopened store's rows name only
    files that exist and are whole, and after its sweep no file is left that no row names."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.store_records", str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    root = store_root(tmp_path)
    assert wait_until(lambda: len(list((root / files.SNAPSHOTS).glob("*/*.jpg"))) >= 5)
    time.sleep(run_s)  # let it write and prune for a while: the kill lands at an arbitrary point
    proc.kill()
    proc.wait(10)
    store = EventStore(root, StorageConfig(enabled=True), SnapshotConfig())
    with store_db.reader(store.db_path) as db:
        rows = store_db.query_events(db, EventQuery(limit=100_000))
        named = store_db.referenced_paths(db)
    assert rows
    for rel in named:
        data = (root / rel).read_bytes()
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
    on_disk = {p.relative_to(root).as_posix() for p in root.glob("*/*/*")}
    assert on_disk == named


def test_queue_overflow_is_counted_not_blocking(tmp_path: Path) -> None:
    """With the writer not running, records beyond queue_size are dropped and counted at once."""
    store = EventStore(store_root(tmp_path), StorageConfig(enabled=True, queue_size=3), SnapshotConfig())
    for n in range(5):
        store.accept(person_event(f"q{n}", EventKind.START, float(n)))
    assert store.dropped == 2


def test_reader_of_a_missing_store_fails_rather_than_creating_one(tmp_path: Path) -> None:
    """A read-only connection never creates the file: a missing store is an error, not an empty store."""
    with pytest.raises(sqlite3.OperationalError), store_db.reader(tmp_path / "missing.sqlite3") as db:
        db.execute("SELECT 1")
    assert not (tmp_path / "missing.sqlite3").exists()
