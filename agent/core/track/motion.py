"""Constant-velocity alpha-beta filter of a box's centre and size: the tracker's motion prediction.

Pure; one per track, used by agent.core.track.tracker on the analytics thread."""

from __future__ import annotations

from agent.types import BBox

# Alpha-beta filter on (cx, cy, w, h): the share of a measurement's surprise
# taken into the position, and into the velocity. Constant-velocity motion
# gives zero surprise, so these only shape how fast the filter follows turns.
ALPHA = 0.8
BETA = 0.3
MIN_SIZE_PX = 1.0

Vector4 = tuple[float, float, float, float]


def _xywh(box: BBox) -> Vector4:
    return ((box.x1 + box.x2) / 2.0, (box.y1 + box.y2) / 2.0, box.width, box.height)


def _axpy(a: Vector4, b: Vector4, k: float) -> Vector4:
    """a + k * b."""
    return (a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2], a[3] + k * b[3])


def _sub(a: Vector4, b: Vector4) -> Vector4:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3])


_ZERO: Vector4 = (0.0, 0.0, 0.0, 0.0)


class Motion:
    """Constant-velocity alpha-beta filter of a box's centre and size."""

    __slots__ = ("position", "ts", "updates", "velocity")

    def __init__(self, box: BBox, ts: float) -> None:
        self.position = _xywh(box)
        self.velocity = _ZERO
        self.ts = ts
        self.updates = 1

    def predict(self, ts: float) -> BBox:
        cx, cy, w, h = _axpy(self.position, self.velocity, max(0.0, ts - self.ts))
        w, h = max(w, MIN_SIZE_PX), max(h, MIN_SIZE_PX)
        return BBox(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)

    def correct(self, box: BBox, ts: float) -> None:
        z = _xywh(box)
        dt = ts - self.ts
        if dt <= 0.0:
            self.position = z
            return
        if self.updates == 1:
            # Second sighting: take the velocity straight from the two boxes.
            self.velocity = _axpy(_ZERO, _sub(z, self.position), 1.0 / dt)
            self.position = z
        else:
            predicted = _axpy(self.position, self.velocity, dt)
            surprise = _sub(z, predicted)
            self.position = _axpy(predicted, surprise, ALPHA)
            self.velocity = _axpy(self.velocity, surprise, BETA / dt)
        self.ts = ts
        self.updates += 1
