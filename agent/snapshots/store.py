"""Saves snapshot JPEGs to disk and keeps the directory within its size and age limits.

Layout: `<root>/<camera>/<YYYY-MM-DD UTC>/<event_id>.jpg`; a better frame of the same
event overwrites its file. `plan_retention` is pure; `SnapshotStore` does the I/O and
is called only by the snapshot worker thread."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.config.outputs import SnapshotConfig

log = logging.getLogger(__name__)

BYTES_PER_MB = 1024 * 1024
SECONDS_PER_DAY = 86_400.0
SNAPSHOT_SUFFIX = ".jpg"
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """One saved snapshot as seen by a directory scan."""

    path: Path
    size_bytes: int
    mtime: float


@dataclass(frozen=True, slots=True)
class RetentionLimits:
    max_bytes: int
    max_age_s: float

    @classmethod
    def from_config(cls, config: SnapshotConfig) -> RetentionLimits:
        return cls(int(config.retain_max_mb * BYTES_PER_MB), config.retain_max_age_days * SECONDS_PER_DAY)


def plan_retention(files: Sequence[StoredFile], now: float, limits: RetentionLimits) -> list[Path]:
    """The files to delete, oldest first: every file older than max_age_s, then the oldest
    remaining ones until the total size is at most max_bytes."""
    ordered = sorted(files, key=lambda f: (f.mtime, str(f.path)))
    total = sum(f.size_bytes for f in ordered)
    doomed: list[Path] = []
    for stored in ordered:
        if now - stored.mtime > limits.max_age_s or total > limits.max_bytes:
            doomed.append(stored.path)
            total -= stored.size_bytes
    return doomed


def safe_file_stem(event_id: str) -> str:
    """`event_id` as a file name that cannot leave its directory (no separators, no leading dot)."""
    stem = _UNSAFE_FILE_CHARS.sub("_", event_id).lstrip(".")
    return stem or "_"


def snapshot_path(root: Path, camera: str, event_id: str, ts_wall: float) -> Path:
    day = datetime.fromtimestamp(ts_wall, tz=UTC).strftime("%Y-%m-%d")
    return root / safe_file_stem(camera) / day / f"{safe_file_stem(event_id)}{SNAPSHOT_SUFFIX}"


class SnapshotStore:
    """The snapshot directory: atomic saves, scans and retention sweeps."""

    def __init__(self, root: Path, limits: RetentionLimits) -> None:
        self.root = root
        self._limits = limits
        self.deleted = 0

    def save(self, camera: str, event_id: str, ts_wall: float, jpeg: bytes) -> Path:
        """Write the JPEG atomically (temp file, then rename) and return its path."""
        path = snapshot_path(self.root, camera, event_id, ts_wall)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(jpeg)
        os.replace(tmp, path)
        return path

    def scan(self) -> list[StoredFile]:
        found: list[StoredFile] = []
        for path in self.root.glob(f"*/*/*{SNAPSHOT_SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue  # deleted between listing and stat
            found.append(StoredFile(path, stat.st_size, stat.st_mtime))
        return found

    def enforce(self, now: float) -> int:
        """Delete what `plan_retention` selects, then empty day directories; return the count deleted."""
        doomed = plan_retention(self.scan(), now, self._limits)
        for path in doomed:
            path.unlink(missing_ok=True)
        self.deleted += len(doomed)
        for parent in {path.parent for path in doomed}:
            self._remove_if_empty(parent)
        return len(doomed)

    @staticmethod
    def _remove_if_empty(directory: Path) -> None:
        try:
            directory.rmdir()
        except OSError:
            return  # not empty (a new snapshot arrived) or already gone: keep it
