"""The ways a crash or a bad SD card damages a copy of the outbox's files (issue 12, defect 3).

Used by the outbox's unit tests and by the fault test on the real agent, so both break the files
the same way. Each takes the state directory holding the copy."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from agent.publish.outbox import FILE_NAME

PAGE = 4096


def zero_db(state: Path) -> None:
    (state / FILE_NAME).write_bytes(b"")


def delete_wal(state: Path) -> None:
    (state / f"{FILE_NAME}-wal").unlink()


def halve_wal(state: Path) -> None:
    wal = state / f"{FILE_NAME}-wal"
    os.truncate(wal, wal.stat().st_size // 2)


def checkpoint(state: Path) -> None:
    """Move every row of the copy's WAL into the DB file, so a damaged DB page loses rows."""
    db = sqlite3.connect(state / FILE_NAME)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    db.close()


def random_page(state: Path) -> None:
    """Overwrite the DB file's second page (the first data pages of the tables) with random bytes."""
    with (state / FILE_NAME).open("r+b") as handle:
        handle.seek(PAGE)
        handle.write(os.urandom(PAGE))


def checkpointed_random_page(state: Path) -> None:
    checkpoint(state)
    random_page(state)


DAMAGES: dict[str, Callable[[Path], None]] = {
    "zero-length-db": zero_db,
    "deleted-wal": delete_wal,
    "half-truncated-wal": halve_wal,
    "random-page": checkpointed_random_page,
}
