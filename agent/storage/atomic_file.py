"""Atomic replacement of a small state file: temp file in the same directory, fsync, rename.

A crash or power cut leaves the old file or the new one, never a torn one. Used by the main
thread for the agent's own JSON state under state_dir (discovery topics, runtime toggles)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Make `data` the content of `path`, creating its directory; raises OSError."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
