"""Unit tests of out-of-space handling (agent.storage.health) and the device `storage` anomaly (agent.core.anomaly.storage)."""

from __future__ import annotations

import errno
import itertools
import logging
import sqlite3
from pathlib import Path

import pytest

from agent.core.anomaly.storage import DEVICE_CAMERA, FullDisk, outbox_loss
from agent.publish.outbox_ledger import Recovery
from agent.storage.health import (
    LOW_SPACE_BYTES,
    StorageHealth,
    free_bytes,
    is_corruption,
    is_full_disk_failure,
    is_out_of_space,
)
from agent.types import StorageView


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (OSError(errno.EACCES, "Permission denied"), False),
        (sqlite3.OperationalError("database or disk is full"), True),
        (sqlite3.DatabaseError("database disk image is malformed"), False),
        (ValueError("disk is full"), False),
    ],
)
def test_is_out_of_space(exc: BaseException, expected: bool) -> None:
    """ENOSPC, EDQUOT and SQLite's "disk is full" are out of space; corruption and other errors are not."""
    assert is_out_of_space(exc) is expected


def test_free_bytes_probes_the_nearest_existing_parent(tmp_path: Path) -> None:
    """A path not created yet reports the free space of the directory it would be made in."""
    free = free_bytes(tmp_path / "not" / "yet")
    assert free is not None
    assert free > 0


def test_health_counts_every_failure_and_logs_once_a_minute(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Three failures are all counted, one ERROR names the path and free bytes; a success ends `degraded`."""
    health = StorageHealth(tmp_path)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            health.write_failed(tmp_path / "x.json", OSError(errno.ENOSPC, "full"), "kept in memory")
    view = health.view()
    assert (view.degraded, view.write_failures) == (True, 3)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(tmp_path / "x.json") in errors[0].getMessage()
    assert "bytes free" in errors[0].getMessage()
    health.write_ok()
    assert health.view().degraded is False


def test_full_disk_anomaly_opens_once_and_resolves() -> None:
    """Degraded opens one active anomaly; staying degraded adds nothing; recovery resolves the same id."""
    ids = (f"{i:032x}" for i in itertools.count(1))
    tracker = FullDisk(lambda: next(ids))
    opened = tracker.update(StorageView(0, True, 4), 2, 100.0)
    assert opened is not None
    assert (opened.kind, opened.camera, opened.active, opened.details["free_bytes"]) == (
        "storage",
        DEVICE_CAMERA,
        True,
        0,
    )
    assert tracker.update(StorageView(0, True, 9), 5, 101.0) is None
    resolved = tracker.update(StorageView(10_000, False, 9), 5, 102.0)
    assert resolved is not None
    assert (resolved.anomaly_id, resolved.active, resolved.ended_ts) == (opened.anomaly_id, False, 102.0)
    assert resolved.details["write_failures"] == 9


def test_full_disk_anomaly_sees_failures_between_samples() -> None:
    """A write that fits clears `degraded` between failures: failures since the last sample still open
    the anomaly, and it resolves only after an interval with none."""
    ids = (f"{i:032x}" for i in itertools.count(1))
    tracker = FullDisk(lambda: next(ids))
    assert tracker.update(StorageView(50_000, False, 0), 0, 100.0) is None
    opened = tracker.update(StorageView(1_000, False, 3), 0, 101.0)  # 3 failures, a success since
    assert opened is not None
    assert opened.active
    assert tracker.update(StorageView(1_000, False, 5), 0, 102.0) is None  # still failing: stays open
    resolved = tracker.update(StorageView(1_000, False, 5), 0, 103.0)  # a quiet interval
    assert resolved is not None
    assert (resolved.anomaly_id, resolved.active) == (opened.anomaly_id, False)


def test_outbox_loss_anomaly_says_what_was_lost(tmp_path: Path) -> None:
    """The recovery's count, reason and kept file are in the anomaly's details."""
    anomaly = outbox_loss(Recovery(71, "the file is corrupt", tmp_path / "kept"), 5.0, lambda: "a" * 32)
    assert anomaly.details == {
        "problem": "outbox_lost",
        "lost": 71,
        "reason": "the file is corrupt",
        "moved_to": str(tmp_path / "kept"),
    }


def _sqlite_error(text: str, code: int) -> sqlite3.Error:
    exc = sqlite3.OperationalError(text)
    exc.sqlite_errorcode = code
    return exc


def test_garbage_file_is_corruption_and_full_or_io_errors_are_not(tmp_path: Path) -> None:
    """Real SQLite on a file that is not a database raises what is_corruption accepts; FULL and IOERR are not."""
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 512)
    db = sqlite3.connect(bad)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        db.execute("SELECT * FROM sqlite_master").fetchall()
    db.close()
    assert is_corruption(caught.value)
    assert not is_corruption(_sqlite_error("database or disk is full", 13))
    assert not is_corruption(_sqlite_error("disk I/O error", 10))


def test_io_error_is_a_full_disk_only_when_the_disk_is_nearly_full(tmp_path: Path) -> None:
    """SQLITE_FULL always counts; an SQLite I/O error counts only below LOW_SPACE_BYTES free (not here)."""
    assert is_full_disk_failure(_sqlite_error("database or disk is full", 13), tmp_path)
    assert (free_bytes(tmp_path) or 0) > LOW_SPACE_BYTES
    assert not is_full_disk_failure(_sqlite_error("disk I/O error", 10), tmp_path)
    assert not is_full_disk_failure(_sqlite_error("file is not a database", 26), tmp_path)
