"""Live camera pictures for the page: the latest analysed frame of each camera, only while someone
asks for it. `on_frame` (a FrameTap, analytics thread) costs a dict lookup and a clock read when no
one watches; while a viewer is connected it keeps a downscaled copy at most mjpeg_fps times a second.
HTTP threads draw boxes, zones and lines on that copy and encode it (`jpeg_of`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from agent.config.schema import CameraConfig
from agent.geometry import to_pixels
from agent.records import FrameDetections, Record
from agent.snapshots.worker import bounded_copy
from agent.types import BBox, Frame, Image

LIVE_WIDTH_PX, LIVE_HEIGHT_PX = 640, 480
WANT_AFTER_REQUEST_S = 5.0  # a latest.jpg request keeps copies coming this long (the page polls)
BOX_BGR, ZONE_BGR, LINE_BGR = (0, 200, 255), (80, 220, 80), (255, 120, 0)
JPEG_QUALITY = 75
RATE_SLACK = 0.25


@dataclass(frozen=True, slots=True)
class LivePicture:
    """A private copy of one analysed frame, with the detections scaled to it."""

    image: Image
    scale: float  # copy pixels per analysed-frame pixel
    frame_width: int
    frame_height: int
    boxes: tuple[tuple[str, float, BBox], ...]
    ts_wall: float
    seq: int


class LiveSlot:
    """One camera's latest picture and who is waiting for the next one."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.viewers = 0
        self.wanted_until_mono = 0.0
        self.next_due_mono = 0.0
        self.picture: LivePicture | None = None


class LiveViews:
    """Every camera's slot; cameras come from the config in force at each call."""

    def __init__(self, fps: float, max_viewers: int) -> None:
        self._interval_s = 1.0 / fps
        # Frames that come at exactly mjpeg_fps arrive a little early or late: without slack every
        # other one would be skipped.
        self._slack_s = self._interval_s * RATE_SLACK
        self.max_viewers = max_viewers
        self._slots: dict[str, LiveSlot] = {}
        self._lock = threading.Lock()

    def slot(self, camera: str) -> LiveSlot:
        with self._lock:
            return self._slots.setdefault(camera, LiveSlot())

    def watching(self) -> int:
        return sum(slot.viewers for slot in list(self._slots.values()))

    # --- analytics thread ---
    def on_frame(self, frame: Frame, records: Sequence[Record]) -> None:
        slot = self._slots.get(frame.camera)
        if slot is None:
            return
        now = time.monotonic()
        if (slot.viewers == 0 and now > slot.wanted_until_mono) or now < slot.next_due_mono - self._slack_s:
            return
        slot.next_due_mono = now + self._interval_s
        image, scale = bounded_copy(frame.image, LIVE_WIDTH_PX, LIVE_HEIGHT_PX)
        boxes = tuple(
            (d.label, d.score, d.box) for r in records if isinstance(r, FrameDetections) for d in r.detections
        )
        picture = LivePicture(image, scale, frame.width, frame.height, boxes, frame.ts_wall, frame.seq)
        with slot.cond:
            slot.picture = picture
            slot.cond.notify_all()

    # --- HTTP threads ---
    def next_picture(self, camera: str, after_seq: int, timeout_s: float) -> LivePicture | None:
        """A picture newer than `after_seq` (waiting up to timeout_s), else the latest kept, if any."""
        slot = self.slot(camera)
        with slot.cond:
            slot.wanted_until_mono = time.monotonic() + WANT_AFTER_REQUEST_S
            slot.cond.wait_for(lambda: slot.picture is not None and slot.picture.seq > after_seq, timeout_s)
            return slot.picture


def jpeg_of(picture: LivePicture, camera: CameraConfig) -> bytes:
    """The picture with its detections, zones and lines drawn, as JPEG (on a copy: the picture is shared)."""
    image = picture.image.copy()
    scale = picture.scale
    w, h = picture.frame_width, picture.frame_height
    for zone in camera.zones.values():
        points = [(round(x * scale), round(y * scale)) for x, y in to_pixels(zone.points, w, h)]
        cv2.polylines(image, [_array(points)], True, ZONE_BGR, 2)
    for line in camera.lines.values():
        a, b = ((round(x * scale), round(y * scale)) for x, y in to_pixels((line.a, line.b), w, h))
        cv2.line(image, a, b, LINE_BGR, 2)
    for label, score, box in picture.boxes:
        p1 = (round(box.x1 * scale), round(box.y1 * scale))
        p2 = (round(box.x2 * scale), round(box.y2 * scale))
        cv2.rectangle(image, p1, p2, BOX_BGR, 2)
        cv2.putText(
            image, f"{label} {score:.0%}", (p1[0], max(12, p1[1] - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, BOX_BGR, 1
        )
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not JPEG-encode a live picture")
    return bytes(buffer.tobytes())


def _array(points: list[tuple[int, int]]) -> npt.NDArray[np.int32]:
    return np.array(points, dtype=np.int32).reshape(-1, 1, 2)


def camera_names(cameras: Mapping[str, CameraConfig]) -> list[str]:
    return sorted(name for name, cfg in cameras.items() if cfg.enabled)
