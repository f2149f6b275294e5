"""The event store's directory: where snapshot and clip files go, atomic writes, and the start-up sweep
that makes files and rows agree after a crash. Called by the store's writer thread (and the clip thread
for clip names); readers resolve paths with `resolve` so no id can leave the directory."""

from __future__ import annotations

import os
from pathlib import Path

from agent.snapshots.store import safe_file_stem
from agent.storage.atomic_file import write_atomic

SNAPSHOTS = "snapshots"
CLIPS = "clips"
TMP_PREFIX = "."  # write_atomic's temp files, and the clip thread's unfinished clips


def snapshot_rel(camera: str, event_id: str) -> str:
    return f"{SNAPSHOTS}/{safe_file_stem(camera)}/{safe_file_stem(event_id)}.jpg"


def clip_rel(camera: str, start_ts: float, first_event_id: str) -> str:
    return f"{CLIPS}/{safe_file_stem(camera)}/{int(start_ts * 1000)}-{safe_file_stem(first_event_id)}.mp4"


def write_file(root: Path, rel: str, data: bytes) -> int:
    """Write `data` at root/rel atomically (fsynced before it gets its final name); returns its size."""
    write_atomic(root / rel, data)
    return len(data)


def resolve(root: Path, rel: str) -> Path | None:
    """root/rel if it stays inside root and is a file, else None (a row's path is trusted no further)."""
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()) or not path.is_file():
        return None
    return path


def remove(root: Path, rel: str) -> int:
    """Delete root/rel if present; returns the bytes freed."""
    path = root / rel
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return 0
    return size


def sweep(root: Path, referenced: set[str]) -> tuple[set[str], int]:
    """Delete unfinished temp files and files no row names (a crash between a file and its row, or
    between a row's deletion and its files'). Returns (relative paths still on disk, files deleted)."""
    kept: set[str] = set()
    deleted = 0
    for top in (SNAPSHOTS, CLIPS):
        for path in sorted((root / top).glob("*/*")):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and not path.name.startswith(TMP_PREFIX) and rel in referenced:
                kept.add(rel)
            elif path.is_file():
                os.unlink(path)
                deleted += 1
    return kept, deleted
