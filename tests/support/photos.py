"""Real photos (skimage.data) as BGR frames, where their objects are (measured by hand), and the box
helpers and checks the detector tests share."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

from agent.detect import ModelDetector
from agent.geometry import iou
from agent.types import BBox, Detection, Image

__all__ = ["iou"]  # re-exported for the detector tests, with the helpers below

PHOTO_MIN_SCORE = 0.25  # as in the assets README's verification of the photos

# Measured by hand once on a 50 px grid drawn over the photos (x right, y down, pixels):
# astronaut() 512x512: hair top y~15, suit's left edge x~20, right shoulder x~365, cut at the bottom.
ASTRONAUT_PERSON = BBox(20, 15, 365, 512)
ASTRONAUT_FACE = (225.0, 110.0)
# chelsea() 451x300: the cat fills the frame up to its right ear (x~400); eyes and nose tip below.
CHELSEA_CAT = BBox(0, 0, 400, 300)
CHELSEA_POINTS = ((170.0, 115.0), (320.0, 135.0), (265.0, 240.0))
# The two runtimes' int8 kernels differ: box edges move by up to ~0.04 of the image, scores by ~0.07.
MIN_IOU = 0.7


def photo(name: str) -> Image:
    """skimage.data's photo `name` as a BGR frame (greyscale ones, such as brick(), in three channels)."""
    pixels = getattr(data, name)()
    code = cv2.COLOR_GRAY2BGR if pixels.ndim == 2 else cv2.COLOR_RGB2BGR
    return np.ascontiguousarray(cv2.cvtColor(pixels, code))


def contains(box: BBox, point: tuple[float, float]) -> bool:
    return box.x1 <= point[0] <= box.x2 and box.y1 <= point[1] <= box.y2


def best(detections: tuple[Detection, ...], label: str) -> Detection:
    matches = [d for d in detections if d.label == label]
    assert matches, f"no {label} among {[(d.label, round(d.score, 2)) for d in detections]}"
    return max(matches, key=lambda d: d.score)


def assert_steps_equal_detect(detector: ModelDetector) -> None:
    """The pipeline's three steps give what detect() gives, and an output decoded after the runtime has run
    on another input is still its own (outputs are copied out, not views)."""
    astronaut, chelsea = photo("astronaut"), photo("chelsea")
    buffers = [detector.new_input_buffer(), detector.new_input_buffer()]
    detector.prepare(astronaut, buffers[0])
    detector.prepare(chelsea, buffers[1])
    first = detector.invoke_prepared(buffers[0])
    second = detector.invoke_prepared(buffers[1])
    h, w = astronaut.shape[:2]
    assert detector.decode(first, w, h).detections == detector.detect(astronaut).detections
    h, w = chelsea.shape[:2]
    assert detector.decode(second, w, h).detections == detector.detect(chelsea).detections
    assert first.inference_ms > 0.0
