"""Training-time augmentation of classifier images with albumentations: horizontal flip, random resized
crop, small rotation, colour jitter and blur, from one seed so a training run can be repeated exactly.
Called by the train CLI's thread only (never at classification time).

Why albumentations and not hand-written OpenCV: it is a maintained, tested library whose transforms are
OpenCV underneath (same speed, no torch), with per-transform probabilities and a seeded Compose; writing
random-resized-crop, jitter and blur with their parameter sampling by hand would be a second, untested copy."""

from __future__ import annotations

import os

# albumentations checks PyPI for a newer version at import; the agent must not touch the network.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A
import cv2
import numpy as np
import numpy.typing as npt

CROP_SCALE = (0.7, 1.0)  # a crop keeps most of the object: the label must stay true
ROTATE_DEG = 10.0
# Hue is left almost alone: colour is what some classifiers (car colour) are asked about.
BRIGHTNESS = 0.25
CONTRAST = 0.25
SATURATION = 0.2
HUE = 0.02


class Augmenter:
    """augment(image) -> a randomly transformed copy of size `size_px` (width, height); seeded."""

    def __init__(self, size_px: tuple[int, int], seed: int) -> None:
        width, height = size_px
        self._compose = A.Compose(
            [
                A.HorizontalFlip(p=0.5),
                A.RandomResizedCrop(size=(height, width), scale=CROP_SCALE, ratio=(0.8, 1.25), p=1.0),
                A.Rotate(limit=ROTATE_DEG, border_mode=cv2.BORDER_REFLECT_101, p=0.5),
                A.ColorJitter(brightness=BRIGHTNESS, contrast=CONTRAST, saturation=SATURATION, hue=HUE, p=0.8),
                A.GaussianBlur(blur_limit=(3, 5), p=0.3),
            ],
            seed=seed,
        )

    def augment(self, image_bgr: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        out = self._compose(image=image_bgr)["image"]
        return np.ascontiguousarray(out, dtype=np.uint8)
