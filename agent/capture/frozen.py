"""Frozen-stream detection: frames keep arriving but the picture never changes.

Pure: the capture thread passes each frame with its timestamp; no clock reads.
A few frames a second are reduced to small grey thumbnails; the stream is frozen
when every thumbnail stays within a tiny mean absolute difference of a reference
for `timeout_s`. The threshold sits well below sensor noise and codec noise, so a
static but live scene keeps resetting the timer (see tests/unit/test_frozen.py)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from agent.types import Image

THUMB_SIZE = (64, 48)  # (width, height): keeps enough detail for sensor noise to show
FROZEN_MAD_THRESHOLD = 0.02  # grey levels; live static scenes measure >= 0.04, frozen streams 0
CHECK_INTERVAL_S = 0.25  # a thumbnail costs ~0.5 ms at 768x576, so compare a few frames a second, not all

Thumb = npt.NDArray[np.float32]


def thumbnail(image: Image) -> Thumb:
    """A small float grey signature of a BGR frame."""
    small = cv2.resize(image, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return np.asarray(grey, dtype=np.float32)


def mean_abs_diff(a: Thumb, b: Thumb) -> float:
    return float(np.mean(np.abs(a - b)))


class FrozenDetector:
    """Says whether the picture has been unchanged for `timeout_s` (0 disables it)."""

    def __init__(self, timeout_s: float, threshold: float = FROZEN_MAD_THRESHOLD) -> None:
        if timeout_s < 0:
            raise ValueError(f"frozen timeout_s must be >= 0 (0 disables), got {timeout_s}")
        if threshold <= 0:
            raise ValueError(f"frozen threshold must be > 0 grey levels, got {threshold}")
        self.timeout_s = timeout_s
        self.threshold = threshold
        self._reference: Thumb | None = None
        self._since_mono = 0.0
        self._checked_mono: float | None = None
        self._frozen = False

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0

    def update(self, image: Image, ts_mono: float) -> bool:
        """Feed one frame; True once the picture has not changed for timeout_s seconds."""
        if not self.enabled:
            return False
        if self._checked_mono is not None and ts_mono - self._checked_mono < CHECK_INTERVAL_S:
            return self._frozen
        self._checked_mono = ts_mono
        thumb = thumbnail(image)
        if self._reference is None or mean_abs_diff(thumb, self._reference) > self.threshold:
            self._reference = thumb
            self._since_mono = ts_mono
        self._frozen = ts_mono - self._since_mono >= self.timeout_s
        return self._frozen

    def unchanged_s(self, ts_mono: float) -> float:
        """How long the picture has been unchanged as of ts_mono (0 before the first frame)."""
        return 0.0 if self._reference is None else max(0.0, ts_mono - self._since_mono)

    def reset(self) -> None:
        """Forget the reference, e.g. after reconnecting."""
        self._reference = None
        self._since_mono = 0.0
        self._checked_mono = None
        self._frozen = False
