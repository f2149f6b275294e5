"""Out-of-space handling for everything the agent writes under state_dir.

One place says what an out-of-space error is, probes free space, and logs a failed write
(rate-limited) with the path and the free bytes. `StorageHealth` is shared by the writers
(outbox thread, main thread, snapshot worker) and read by stats: it takes its own lock."""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from agent.types import StorageView

log = logging.getLogger(__name__)

LOG_INTERVAL_S = 60.0
SQLITE_FULL = 13
SQLITE_IOERR = 10
LOW_SPACE_BYTES = 64 * 1024  # below this an SQLite I/O error is taken for the full disk it most likely is
SQLITE_CORRUPTION = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB
_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_out_of_space(exc: BaseException) -> bool:
    """True for ENOSPC/EDQUOT, and for SQLite's "database or disk is full" (SQLITE_FULL)."""
    if isinstance(exc, OSError):
        return exc.errno in _SPACE_ERRNOS
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == SQLITE_FULL) or "disk is full" in str(exc)
    return False


def is_full_disk_failure(exc: BaseException, path: Path) -> bool:
    """Out of space, or an SQLite I/O error (e.g. growing the -shm file) while `path`'s filesystem is full."""
    if is_out_of_space(exc):
        return True
    code = getattr(exc, "sqlite_errorcode", None)
    free = free_bytes(path)
    return code is not None and code & 0xFF == SQLITE_IOERR and free is not None and free < LOW_SPACE_BYTES


def is_corruption(exc: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" and "file is not a database"."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in SQLITE_CORRUPTION


def free_bytes(path: Path) -> int | None:
    """Bytes free on the filesystem of `path` (or its nearest existing parent); None if unknown."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return int(shutil.disk_usage(probe).free)
    except OSError:
        return None


class StorageHealth:
    """Counts failed writes under one directory and logs them at most once a minute."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._lock = threading.Lock()
        self._failures = 0
        self._degraded = False
        self._unlogged = 0
        self._last_log_mono = -LOG_INTERVAL_S

    def write_failed(self, path: Path, exc: BaseException, consequence: str) -> None:
        """A write of `path` failed; `consequence` says what the agent does instead."""
        space = is_out_of_space(exc)
        free = free_bytes(path)
        now = time.monotonic()
        with self._lock:
            self._failures += 1
            self._degraded = self._degraded or space
            self._unlogged += 1
            if now - self._last_log_mono < LOG_INTERVAL_S:
                return
            self._last_log_mono, count, self._unlogged = now, self._unlogged, 0
        log.error(
            "cannot write %s (%s; %s bytes free on its filesystem): %s; %d failed write(s) since the last report",
            path,
            "out of space" if space else exc,
            "unknown" if free is None else free,
            consequence,
            count,
        )

    def write_ok(self) -> None:
        """A write that needed space succeeded again: no longer degraded."""
        with self._lock:
            was, self._degraded = self._degraded, False
        if was:
            log.info("writes under %s succeed again", self.state_dir)

    @property
    def degraded(self) -> bool:
        with self._lock:
            return self._degraded

    def view(self) -> StorageView:
        with self._lock:
            degraded, failures = self._degraded, self._failures
        return StorageView(free_bytes(self.state_dir), degraded, failures)
