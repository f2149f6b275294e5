"""Unit tests of the outbox's integrity check at open (agent.publish.outbox_ledger), on real SQLite files.

Each case copies the files of an outbox that is still open (as a killed agent leaves them),
damages the copy the way a crash or a bad card does, and opens it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.config.schema import OutboxConfig
from agent.publish.messages import OutboundMessage
from agent.publish.outbox import FILE_NAME, Outbox
from agent.publish.outbox_ledger import Ledger, ledger_path, read_ledger
from tests.support.outbox_damage import delete_wal, halve_wal, random_page, zero_db

PENDING = 71


def msg(i: int) -> OutboundMessage:
    return OutboundMessage(f"p/d/events/{i}", f"{i:0200d}".encode(), 1, False, True)


def killed_state(src: Path, dst: Path, checkpoint: bool) -> None:
    """`dst` gets the files of an outbox in `src` holding PENDING rows, copied while it is open."""
    box = Outbox(src / FILE_NAME, OutboxConfig())
    box.append([msg(i) for i in range(PENDING)])
    box.add_evicted(3, "test")
    if checkpoint:
        box.reclaim()
    box.save_ledger(force=True)
    dst.mkdir()
    for path in src.iterdir():
        shutil.copy(path, dst / path.name)
    box.close()


@pytest.mark.parametrize(
    ("damage", "checkpoint", "moved"),
    [(zero_db, False, False), (delete_wal, False, False), (halve_wal, False, False), (random_page, True, True)],
    ids=["zero-length-db", "deleted-wal", "half-truncated-wal", "random-page"],
)
def test_damage_is_counted(tmp_path: Path, damage: Callable[[Path], None], checkpoint: bool, moved: bool) -> None:
    """Each damage is found at open: the rows that vanished are counted as evicted and the outbox works."""
    state = tmp_path / "copy"
    killed_state(tmp_path / "live", state, checkpoint)
    damage(state)
    box = Outbox(state / FILE_NAME, OutboxConfig())
    assert box.recovery is not None
    assert box.recovery.lost == PENDING - box.depth
    assert box.recovery.lost > 0
    assert box.evicted_total == 3 + box.recovery.lost  # the eviction total survives with the losses added
    assert (box.recovery.moved_to is not None) == moved
    if box.recovery.moved_to is not None:
        assert box.recovery.moved_to.exists()
    box.append([msg(1000)])
    assert box.pending(0, 1000)[-1].topic == "p/d/events/1000"
    box.close()


def test_intact_copy_reports_nothing(tmp_path: Path) -> None:
    """An undamaged copy of a killed agent's files opens with every row and no recovery."""
    state = tmp_path / "copy"
    killed_state(tmp_path / "live", state, checkpoint=False)
    box = Outbox(state / FILE_NAME, OutboxConfig())
    assert (box.recovery, box.depth, box.evicted_total) == (None, PENDING, 3)
    box.close()


def test_runtime_corruption_starts_fresh_file(tmp_path: Path) -> None:
    """replace_corrupt (a query failed with DatabaseError) moves the file aside and counts its rows lost."""
    box = Outbox(tmp_path / FILE_NAME, OutboxConfig())
    box.append([msg(i) for i in range(5)])
    box.replace_corrupt("database disk image is malformed")
    assert box.recovery is not None
    assert (box.recovery.lost, box.depth, box.evicted_total) == (5, 0, 5)
    assert box.recovery.moved_to is not None
    assert box.recovery.moved_to.exists()
    box.close()
    assert read_ledger(tmp_path / FILE_NAME) == Ledger(0, 0, 5)


def test_unreadable_ledger_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A ledger that is not JSON is logged and treated as empty: the outbox still opens."""
    ledger_path(tmp_path / FILE_NAME).write_text("{not json")
    box = Outbox(tmp_path / FILE_NAME, OutboxConfig())
    assert box.recovery is None
    assert "unreadable outbox ledger" in caplog.text
    box.close()
