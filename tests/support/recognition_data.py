"""The hand-labelled recognition tasks of tests/data/recognition/ (see its README): reads the label CSVs,
decodes the labelled frames from the shared videos with OpenCV, and writes ImageFolder directories of
the crops (never committed: built in tmp dirs at test time). Test, tool and benchmark threads."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "recognition"
OBJECT_LABELS = DATA_DIR / "objects.csv"
STATE_LABELS = DATA_DIR / "states.csv"
TRAFFIC = "traffic_intersection_cctv_640x480.mp4"
PEDESTRIANS = "pedestrians_vtest.avi"
# The state task's fixed region of the pedestrian walkway, x1, y1, x2, y2 in pixels of the 768x576 frame.
STATE_REGION = (180, 160, 340, 300)


@dataclass(frozen=True, slots=True)
class LabelledCrop:
    """One labelled sample: a box of one frame of a video, and its class."""

    frame: int
    box: tuple[int, int, int, int]
    label: str


def read_frames(video: Path, frames: Iterable[int]) -> dict[int, npt.NDArray[np.uint8]]:
    """Decode `video` sequentially and keep the wanted frame numbers (0-based, in decode order)."""
    wanted = set(frames)
    kept: dict[int, npt.NDArray[np.uint8]] = {}
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {video}")
    try:
        index = 0
        while len(kept) < len(wanted):
            ok, image = cap.read()
            if not ok:
                break
            if index in wanted:
                kept[index] = np.asarray(image, dtype=np.uint8)
            index += 1
    finally:
        cap.release()
    missing = sorted(wanted - kept.keys())
    if missing:
        raise ValueError(f"{video} has no frames {missing[:5]}...")
    return kept


def object_labels() -> tuple[LabelledCrop, ...]:
    """Cars of the intersection video by colour (dark / light / coloured)."""
    with OBJECT_LABELS.open(newline="") as handle:
        rows = [r for r in csv.DictReader(row for row in handle if not row.startswith("#"))]
    return tuple(
        LabelledCrop(int(r["frame"]), (int(r["x1"]), int(r["y1"]), int(r["x2"]), int(r["y2"])), r["label"])
        for r in rows
    )


def state_labels() -> tuple[LabelledCrop, ...]:
    """The walkway region of the pedestrian video, occupied or empty, per labelled frame."""
    with STATE_LABELS.open(newline="") as handle:
        rows = [r for r in csv.DictReader(row for row in handle if not row.startswith("#"))]
    return tuple(LabelledCrop(int(r["frame"]), STATE_REGION, r["label"]) for r in rows)


def crops_of(video: Path, samples: Iterable[LabelledCrop]) -> list[tuple[LabelledCrop, npt.NDArray[np.uint8]]]:
    """Each sample with its crop, cut from the decoded video."""
    items = list(samples)
    frames = read_frames(video, {s.frame for s in items})
    out = []
    for s in items:
        x1, y1, x2, y2 = s.box
        out.append((s, np.ascontiguousarray(frames[s.frame][y1:y2, x1:x2])))
    return out


def write_image_folder(root: Path, crops: Iterable[tuple[LabelledCrop, npt.NDArray[np.uint8]]]) -> Path:
    """root/<label>/<frame>_<x1>_<y1>.png for every crop (ImageFolder layout); returns root."""
    for sample, crop in crops:
        folder = root / sample.label
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{sample.frame:04d}_{sample.box[0]}_{sample.box[1]}.png"
        if not cv2.imwrite(str(folder / name), crop):
            raise OSError(f"cannot write {folder / name}")
    return root
