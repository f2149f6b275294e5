"""Writes tampered copies of a real video for end-to-end anomaly tests: `normal_s` seconds
of the original, then `tampered_s` seconds transformed (black, a painted occluder, a
shifted view, a frozen picture, or unchanged), encoded with cv2.VideoWriter (MJPG in AVI,
every frame a keyframe) so the agent decodes it like any camera file. Test thread only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from agent.types import Image

FOURCC = "MJPG"
OCCLUDER_AREA = 0.8  # share of the frame painted over, centred
OCCLUDER_BGR = (96, 104, 110)  # a flat grey-beige card
SHIFT_X, SHIFT_Y = 0.08, 0.03  # view shift as a share of width and height

# (current frame, the last normal frame) -> the frame written
Transform = Callable[[Image, Image], Image]


def black(frame: Image, last_normal: Image) -> Image:
    return np.zeros_like(frame)


def occluded(frame: Image, last_normal: Image) -> Image:
    """A flat card over the central OCCLUDER_AREA of the view."""
    out = frame.copy()
    height, width = frame.shape[:2]
    side = OCCLUDER_AREA**0.5
    x0, y0 = round(width * (1 - side) / 2), round(height * (1 - side) / 2)
    out[y0 : height - y0, x0 : width - x0] = OCCLUDER_BGR
    return out


def shifted(frame: Image, last_normal: Image) -> Image:
    """The camera knocked aside: content moved by SHIFT_X, SHIFT_Y, edges reflected."""
    height, width = frame.shape[:2]
    matrix = np.array([[1, 0, SHIFT_X * width], [0, 1, SHIFT_Y * height]], dtype=np.float32)
    return np.asarray(cv2.warpAffine(frame, matrix, (width, height), borderMode=cv2.BORDER_REFLECT), dtype=np.uint8)


def frozen(frame: Image, last_normal: Image) -> Image:
    return last_normal


def unchanged(frame: Image, last_normal: Image) -> Image:
    return frame


TRANSFORMS: dict[str, Transform] = {
    "black": black,
    "occluded": occluded,
    "shifted": shifted,
    "frozen": frozen,
    "normal": unchanged,
}


@dataclass(frozen=True, slots=True)
class TamperedVideo:
    """A written file; frame `onset_frame` (0-based) is the first tampered one."""

    path: Path
    fps: float
    frames: int
    onset_frame: int
    width: int
    height: int

    @property
    def onset_s(self) -> float:
        return self.onset_frame / self.fps


def write_tampered(source: Path, out: Path, transform: str, normal_s: float, tampered_s: float) -> TamperedVideo:
    """Copy `normal_s` seconds of `source`, then `tampered_s` seconds through TRANSFORMS[transform], to `out`.

    The source plays at its own fps and is rewound if it is shorter than the total."""
    apply = TRANSFORMS[transform]
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {source}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    onset, total = round(normal_s * fps), round((normal_s + tampered_s) * fps)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*FOURCC), fps, (width, height))
    if not writer.isOpened():
        cap.release()
        raise RuntimeError(f"cv2.VideoWriter cannot write {FOURCC} to {out}")
    last_normal: Image | None = None
    try:
        for index in range(total):
            frame = read_rewinding(cap, source)
            if index < onset or last_normal is None:
                last_normal = frame
            writer.write(frame if index < onset else apply(frame, last_normal))
    finally:
        writer.release()
        cap.release()
    return TamperedVideo(out, fps, total, onset, width, height)


def read_rewinding(cap: cv2.VideoCapture, source: Path) -> Image:
    """The next frame, starting the file again at its end."""
    ok, frame = cap.read()
    if not ok:
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, frame = cap.read()
        if not ok:
            raise RuntimeError(f"cannot decode {source}")
    return np.asarray(frame, dtype=np.uint8)
