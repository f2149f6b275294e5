"""The dataset directory's layout and its size bound (pure paths plus small file I/O).

    <root>/unlabelled/<camera>/<label>/<UTC time>_<event_id>.jpg   best crop of an ended event
    <root>/frames/<camera>/<UTC time>_<event_id>.jpg + .txt        whole frame, YOLO labels
    <root>/frames/classes.txt                                      YOLO class ids, one per line
    <root>/labelled/<class>/<file>.jpg                             `edge-agent dataset label`

`labelled/` is an ImageFolder: `edge-agent train --data <root>/labelled`. The size bound removes the
oldest files first, a frame's .txt with its .jpg (agent.snapshots.store.plan_retention decides)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from agent.snapshots.store import RetentionLimits, StoredFile, plan_retention, safe_file_stem

UNLABELLED = "unlabelled"
LABELLED = "labelled"
FRAMES = "frames"
CLASSES_FILE = "classes.txt"
IMAGE_SUFFIX = ".jpg"
LABEL_SUFFIX = ".txt"
BYTES_PER_MB = 1024 * 1024
NEVER_S = float("inf")


def _stem(event_id: str, ts_wall: float) -> str:
    stamp = datetime.fromtimestamp(ts_wall, UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}_{safe_file_stem(event_id)}"


def crop_path(root: Path, camera: str, label: str, event_id: str, ts_wall: float) -> Path:
    return (
        root / UNLABELLED / safe_file_stem(camera) / safe_file_stem(label) / f"{_stem(event_id, ts_wall)}{IMAGE_SUFFIX}"
    )


def frame_path(root: Path, camera: str, event_id: str, ts_wall: float) -> Path:
    return root / FRAMES / safe_file_stem(camera) / f"{_stem(event_id, ts_wall)}{IMAGE_SUFFIX}"


def scan(root: Path) -> list[StoredFile]:
    """Every image and label file under root, with size and time (files deleted meanwhile are skipped)."""
    found = []
    for path in root.rglob("*"):
        if path.suffix not in (IMAGE_SUFFIX, LABEL_SUFFIX) or path.name == CLASSES_FILE:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found.append(StoredFile(path, stat.st_size, stat.st_mtime))
    return found


def enforce_size(root: Path, max_mb: float) -> int:
    """Delete the oldest files until the directory holds at most max_mb; a frame's label goes with it."""
    doomed = plan_retention(scan(root), 0.0, RetentionLimits(int(max_mb * BYTES_PER_MB), NEVER_S))
    for path in doomed:
        path.unlink(missing_ok=True)
        if path.suffix == IMAGE_SUFFIX:
            path.with_suffix(LABEL_SUFFIX).unlink(missing_ok=True)
    return len(doomed)
