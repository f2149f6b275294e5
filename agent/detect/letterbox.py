"""Where a frame lands in the model input, and back: stretch (the frame fills the input) or letterbox
(scaled to fit, centred, the rest padded). Pure geometry, shared by the input writer (frame -> input)
and the detector (normalised input boxes -> frame pixels); called by a detector thread per frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LETTERBOX_PAD = 114  # the grey both YOLOX and Ultralytics pad with, in every channel


@dataclass(frozen=True, slots=True)
class Placement:
    """The frame's rectangle inside the input, in input pixels: (left, top) and its size."""

    left: int
    top: int
    width: int
    height: int


def place(frame_w: int, frame_h: int, input_w: int, input_h: int, letterbox: bool) -> Placement:
    """Stretch: the whole input. Letterbox: the frame scaled by min(input_w/frame_w, input_h/frame_h),
    rounded to whole pixels (at least 1) and centred."""
    if not letterbox:
        return Placement(0, 0, input_w, input_h)
    ratio = min(input_w / frame_w, input_h / frame_h)
    width = min(input_w, max(1, round(frame_w * ratio)))
    height = min(input_h, max(1, round(frame_h * ratio)))
    return Placement((input_w - width) // 2, (input_h - height) // 2, width, height)


def input_to_frame(
    boxes: npt.NDArray[np.float32], placement: Placement, input_size: tuple[int, int], frame_size: tuple[int, int]
) -> npt.NDArray[np.float32]:
    """(K, 4) xyxy boxes normalised to the input -> xyxy pixels of the frame (not clipped)."""
    input_w, input_h = input_size
    frame_w, frame_h = frame_size
    # Products before the division: a stretch gives exactly frame_w and frame_h.
    mul_x, mul_y = input_w * frame_w / placement.width, input_h * frame_h / placement.height
    add_x, add_y = -placement.left * frame_w / placement.width, -placement.top * frame_h / placement.height
    scaled = boxes * np.array([mul_x, mul_y, mul_x, mul_y], dtype=np.float32)
    if placement.left or placement.top:
        scaled += np.array([add_x, add_y, add_x, add_y], dtype=np.float32)
    return scaled
