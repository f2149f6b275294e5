"""Reads label files (one label per line, line i = class i) and says which labels may be reported.

Called once at detector start-up; the result is an immutable tuple."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from agent.errors import ModelError

# Label files mark unused class ids with this (the COCO SSD label map has ten such slots).
PLACEHOLDER_LABEL = "???"


def load_labels(path: Path) -> tuple[str, ...]:
    """Read `path` as UTF-8, one label per line, surrounding whitespace stripped. Blank lines keep their slot."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read label file {path}: {exc}") from exc
    labels = tuple(line.strip() for line in text.splitlines())
    if not any(is_reportable(label) for label in labels):
        raise ModelError(f"label file {path} has no labels (expected one label per line, line i = class i)")
    return labels


def is_reportable(label: str) -> bool:
    """False for the placeholder `???` and empty labels: detections with such labels are never returned."""
    return label not in ("", PLACEHOLDER_LABEL)


def reportable_mask(labels: tuple[str, ...]) -> npt.NDArray[np.bool_]:
    """Boolean per class id: True where the label may be reported."""
    return np.array([is_reportable(label) for label in labels], dtype=np.bool_)
