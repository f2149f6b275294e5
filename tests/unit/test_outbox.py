"""Unit tests of the durable SQLite outbox (agent.publish.outbox), on real files in tmp_path."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from agent.config.schema import OutboxConfig
from agent.errors import PublishError
from agent.publish.messages import OutboundMessage
from agent.publish.outbox import FILE_NAME, MIN_SANE_WALL, Outbox

NOW = 1_750_000_000.0


class FakeClock:
    """Wall clock the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def msg(i: int, size: int = 10) -> OutboundMessage:
    return OutboundMessage(f"p/d/events/{i}", f"{i:0{size}d}".encode(), 1, False, True)


def open_outbox(tmp_path: Path, clock: FakeClock | None = None, **cfg: int | float) -> Outbox:
    return Outbox(tmp_path / FILE_NAME, OutboxConfig(**cfg), clock or FakeClock())


def topics(box: Outbox) -> list[str]:
    return [row.topic for row in box.pending(0, 1000)]


def test_rows_come_back_in_append_order_with_their_fields(tmp_path: Path) -> None:
    """pending() returns rows oldest first with topic, payload, qos, retain and the wall stamp."""
    box = open_outbox(tmp_path)
    box.append([msg(1), msg(2)])
    box.append([OutboundMessage("p/d/x", b"r", 0, True, True)])
    rows = box.pending(0, 10)
    assert [r.topic for r in rows] == ["p/d/events/1", "p/d/events/2", "p/d/x"]
    assert (rows[2].payload, rows[2].qos, rows[2].retain, rows[2].created_wall) == (b"r", 0, True, NOW)
    assert [r.topic for r in box.pending(rows[0].id, 1)] == ["p/d/events/2"]
    assert (box.depth, box.last_id) == (3, rows[2].id)


def test_remove_deletes_only_acknowledged_rows(tmp_path: Path) -> None:
    """remove() deletes the given ids, ignores ids already gone, and keeps the order of the rest."""
    box = open_outbox(tmp_path)
    box.append([msg(i) for i in range(5)])
    ids = [r.id for r in box.pending(0, 10)]
    assert box.remove([ids[1], ids[3], 99_999]) == 2
    assert topics(box) == ["p/d/events/0", "p/d/events/2", "p/d/events/4"]
    assert (box.depth, box.size_bytes) == (3, 30)


def test_pending_rows_and_counters_survive_reopening(tmp_path: Path) -> None:
    """After close and reopen of the same file, undelivered rows, the eviction total and id order remain."""
    box = open_outbox(tmp_path, max_messages=3)
    box.append([msg(i) for i in range(5)])
    box.remove([box.pending(0, 1)[0].id])
    last = box.last_id
    box.close()
    again = open_outbox(tmp_path, max_messages=3)
    assert topics(again) == ["p/d/events/3", "p/d/events/4"]
    assert (again.depth, again.evicted_total, again.last_id) == (2, 2, last)
    again.remove([r.id for r in again.pending(0, 10)])
    again.append([msg(9)])
    assert again.pending(0, 1)[0].id > last  # ids never go back, even once the table was empty


def test_count_bound_evicts_oldest_first_and_counts(tmp_path: Path) -> None:
    """Beyond max_messages the oldest rows are deleted and the eviction counter grows."""
    box = open_outbox(tmp_path, max_messages=3)
    assert box.append([msg(i) for i in range(2)]) == 0
    assert box.append([msg(i) for i in range(2, 6)]) == 3
    assert topics(box) == ["p/d/events/3", "p/d/events/4", "p/d/events/5"]
    assert box.evicted_total == 3


def test_byte_bound_evicts_oldest_first(tmp_path: Path) -> None:
    """Beyond max_bytes of payload the oldest rows are deleted until the rest fits."""
    box = open_outbox(tmp_path, max_bytes=2500)
    box.append([msg(i, size=1000) for i in range(2)])
    assert box.append([msg(2, size=1000)]) == 1
    assert topics(box) == ["p/d/events/1", "p/d/events/2"]
    assert (box.size_bytes, box.evicted_total) == (2000, 1)


def test_message_larger_than_the_byte_bound_is_counted_not_stored(tmp_path: Path) -> None:
    """A single payload above max_bytes is evicted on arrival instead of flushing the whole outbox."""
    box = open_outbox(tmp_path, max_bytes=1024)
    box.append([msg(1)])
    assert box.append([msg(2, size=2000)]) == 1
    assert topics(box) == ["p/d/events/1"]
    assert box.evicted_total == 1


def test_age_eviction_deletes_only_expired_rows(tmp_path: Path) -> None:
    """Rows older than max_age_s are evicted and counted; younger rows stay."""
    clock = FakeClock()
    box = open_outbox(tmp_path, clock, max_age_s=100.0)
    box.append([msg(1)])
    clock.now += 60
    box.append([msg(2)])
    clock.now += 50
    assert box.evict_expired() == 1
    assert topics(box) == ["p/d/events/2"]
    assert box.evicted_total == 1
    assert box.oldest_created_wall() == NOW + 60


def test_rows_stamped_before_the_clock_was_set_are_not_age_evicted(tmp_path: Path) -> None:
    """Rows written while the wall clock was unset (pre-2020) survive the jump to the real date."""
    clock = FakeClock(now=1000.0)
    box = open_outbox(tmp_path, clock, max_age_s=100.0)
    box.append([msg(1)])
    clock.now = MIN_SANE_WALL + 10 * 365 * 86400
    assert box.evict_expired() == 0
    assert box.depth == 1


def test_evictions_are_persisted_and_logged_once_per_burst(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A burst of evictions gives one warning with the count; add_evicted() totals survive reopening."""
    caplog.set_level(logging.WARNING, logger="agent.publish.outbox")
    box = open_outbox(tmp_path, max_messages=1)
    for i in range(20):
        box.append([msg(i)])
    box.add_evicted(5, "the handoff queue overflowed")
    box.close()
    warnings = [r for r in caplog.records if "evicted" in r.getMessage()]
    assert 1 <= len(warnings) <= 2
    assert open_outbox(tmp_path).evicted_total == 24


def test_file_is_in_wal_mode(tmp_path: Path) -> None:
    """The outbox file uses SQLite's write-ahead log."""
    open_outbox(tmp_path).close()
    with sqlite3.connect(tmp_path / FILE_NAME) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unopenable_path_raises_publish_error(tmp_path: Path) -> None:
    """A state path that cannot hold the file gives a PublishError naming the path."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PublishError, match="outbox"):
        Outbox(blocker / FILE_NAME, OutboxConfig())


def test_corrupt_file_is_moved_aside(tmp_path: Path) -> None:
    """A file that is not a database is kept aside for forensics and a fresh outbox takes its place."""
    (tmp_path / FILE_NAME).write_bytes(b"garbage" * 1000)
    box = open_outbox(tmp_path)
    assert box.recovery is not None
    assert box.recovery.moved_to is not None
    assert box.recovery.moved_to.read_bytes() == b"garbage" * 1000
    box.append([msg(1)])
    assert topics(box) == ["p/d/events/1"]
