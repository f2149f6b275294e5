"""Writes a cheap camera file for tests that run many cameras at once: one real frame of a shared
video, downscaled and repeated at a low frame rate (MJPG in AVI), so a hundred looping cameras
cost little decoding and, after their first frame, no detector time (the motion gate sees no
motion). Test thread only."""

from __future__ import annotations

from pathlib import Path

import cv2

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
