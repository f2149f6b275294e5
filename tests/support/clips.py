"""Writes test clips from real material. A cheap camera file for tests that run many cameras at once:
one real frame of a shared video, downscaled and repeated at a low frame rate (MJPG in AVI), so a
hundred looping cameras cost little decoding and, after their first frame, no detector time (the
motion gate sees no motion). And a clip with one person visit of known length. Test thread only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2

from tests.support.photos import photo
from tests.support.tampered_video import FOURCC, read_rewinding


def write_still_clip(source: Path, out: Path, *, width_px: int, fps: float, frames: int) -> Path:
    """`frames` copies of the first frame of `source`, `width_px` wide (aspect kept), at `fps`."""
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {source}")
    try:
        frame = read_rewinding(cap, source)
    finally:
        cap.release()
    height_px = round(frame.shape[0] * width_px / frame.shape[1])
    still = cv2.resize(frame, (width_px, height_px), interpolation=cv2.INTER_AREA)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*FOURCC), fps, (width_px, height_px))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {FOURCC} to {out}")
    try:
        for _ in range(frames):
            writer.write(still)
    finally:
        writer.release()
    return out


@dataclass(frozen=True, slots=True)
class VisitClip:
    """A clip with one known person visit, written by write_visit_clip."""

    path: Path
    fps: float
    frames: int
    first_visit_frame: int
    last_visit_frame: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    @property
    def visit_s(self) -> float:
        return (self.last_visit_frame - self.first_visit_frame) / self.fps


def write_visit_clip(out: Path) -> VisitClip:
    """The holdout-style clip of issue 15: 34 s of 1280x720 at 15 fps in which one person is in view
    for 14.4 s (frames 57 to 273), crossing from left to right.

    Made of real photos (skimage.data): the astronaut (the SSD model finds a person on her, see the
    assets README) walks in front of a brick wall (brick(); on moon() and grass() the
    detector also finds a person in the texture). The visit is known by construction, so its
    length is not a hand label."""
    clip = VisitClip(out, 15.0, 510, 57, 273)
    width, height, side = 1280, 720, 420
    background = cv2.resize(photo("brick"), (width, height))
    person = cv2.resize(photo("astronaut"), (side, side))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*FOURCC), clip.fps, (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {FOURCC} to {out}")
    span = clip.last_visit_frame - clip.first_visit_frame
    top = (height - side) // 2
    try:
        for index in range(clip.frames):
            frame = background.copy()
            if clip.first_visit_frame <= index <= clip.last_visit_frame:
                left = 40 + (width - side - 80) * (index - clip.first_visit_frame) // span
                frame[top : top + side, left : left + side] = person
            writer.write(frame)
    finally:
        writer.release()
    return clip
