"""Per-camera clip recording on its own thread: a pre-roll of recent frames (JPEG in memory, bounded
by pre_roll_s), then every frame of the camera's events and post_roll_s after the last one ends.

`on_frame` (a FrameTap) and `accept` (a Sink, for event records) run on the analytics thread: they
downscale a copy and queue it (bounded: frames beyond queue_size are dropped and counted; event
records are never dropped). The clip thread encodes (agent.clips.mp4) and tells the store."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from agent.clips.mp4 import ClipError, Mp4Writer
from agent.config.web import ClipConfig
from agent.records import CameraStatus, Record
from agent.snapshots.worker import bounded_copy
from agent.store import files
from agent.store.rows import ClipDone
from agent.types import Event, EventKind, Frame, Image

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0
MAX_HEIGHT_PX = 4320  # clips are bounded by width (ClipConfig.max_width_px) only


@dataclass(frozen=True, slots=True)
class ClipFrame:
    camera: str
    ts: float
    image: Image  # a private downscaled copy


@dataclass
class CameraRecording:
    """One camera's state on the clip thread."""

    preroll: deque[tuple[float, bytes]] = field(default_factory=deque)  # (ts, JPEG), oldest first
    preroll_bytes: int = 0
    open_events: set[str] = field(default_factory=set)
    clip_events: list[str] = field(default_factory=list)  # events seen by the clip being written
    last_end_ts: float | None = None
    recording: bool = False
    first_event_id: str = ""
    writer: Mp4Writer | None = None  # opened at the first frame of a recording
    clip_rel: str | None = None


class ClipRecorder(threading.Thread):
    """Records every camera's event clips under `root` and hands finished ones to `clip_done`."""

    def __init__(
        self,
        root: Path,
        config: ClipConfig,
        clip_done: Callable[[ClipDone], None],
        start_lag_s: Callable[[str], float] = lambda _camera: 0.0,
    ) -> None:
        super().__init__(name="clips", daemon=True)
        self._root = root
        # An event's start record comes this long after its start_ts (confirmation, min_duration_s):
        # the pre-roll holds that much more, so the clip can still begin pre_roll_s before start_ts.
        self._start_lag_s = start_lag_s
        self._config = config
        self._clip_done = clip_done
        self._items: deque[ClipFrame | Event | CameraStatus] = deque()
        self._frames_queued = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._cameras: dict[str, CameraRecording] = {}
        self.dropped = self.written = self.errors = 0
        self.heartbeat_mono = time.monotonic()

    # --- analytics thread ---
    def on_frame(self, frame: Frame, records: Sequence[Record]) -> None:
        with self._cond:
            if self._frames_queued >= self._config.queue_size:
                self.dropped += 1
                return
        copy, _ = bounded_copy(frame.image, self._config.max_width_px, MAX_HEIGHT_PX)
        with self._cond:
            self._items.append(ClipFrame(frame.camera, frame.ts_wall, copy))
            self._frames_queued += 1
            self._cond.notify()

    def accept(self, record: Record) -> None:
        """Event starts and ends, and a camera going offline (its file ended: no post-roll will come)."""
        offline = isinstance(record, CameraStatus) and not record.online
        if offline or (isinstance(record, Event) and record.kind is not EventKind.UPDATE):
            assert isinstance(record, CameraStatus | Event)
            with self._cond:
                self._items.append(record)
                self._cond.notify()

    def stop(self) -> None:
        """Handle what is queued, close every open clip, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def preroll_bytes(self) -> int:
        """Memory held by every camera's pre-roll (JPEG bytes), read by the benchmark."""
        return sum(cam.preroll_bytes for cam in list(self._cameras.values()))

    # --- clip thread ---
    def run(self) -> None:
        while True:
            self.heartbeat_mono = time.monotonic()
            with self._cond:
                if not self._items and not self._stopping:
                    self._cond.wait(IDLE_WAIT_S)
                if not self._items:
                    if self._stopping:
                        break
                    continue
                item = self._items.popleft()
                if isinstance(item, ClipFrame):
                    self._frames_queued -= 1
            try:
                self._handle(item)
            except Exception:
                # One bad frame or a full disk must not end recording for good; counted and logged.
                self.errors += 1
                log.exception("clips: handling a %s failed (%d so far)", type(item).__name__, self.errors)
        for name in list(self._cameras):
            self._close(name)

    def _handle(self, item: ClipFrame | Event | CameraStatus) -> None:
        cam = self._cameras.setdefault(item.camera, CameraRecording())
        if isinstance(item, CameraStatus):
            self._close(item.camera)  # the clip ends with the camera's last frame
        elif isinstance(item, Event):
            self._on_event(item.camera, cam, item)
        else:
            self._on_frame(item.camera, cam, item)

    def _on_event(self, name: str, cam: CameraRecording, event: Event) -> None:
        if event.kind is EventKind.START:
            cam.open_events.add(event.event_id)
            if not cam.recording:
                self._open(cam, event.event_id)
                while cam.preroll and cam.preroll[0][0] < event.start_ts - self._config.pre_roll_s:
                    cam.preroll_bytes -= len(cam.preroll.popleft()[1])
            cam.clip_events.append(event.event_id)
        elif event.event_id in cam.open_events:
            cam.open_events.discard(event.event_id)
            cam.last_end_ts = event.end_ts if event.end_ts is not None else event.ts_wall

    def _on_frame(self, name: str, cam: CameraRecording, item: ClipFrame) -> None:
        if not cam.recording:
            self._keep_preroll(cam, item)
            return
        if cam.writer is None:
            self._start_writer(name, cam, item.image, item.ts)
        assert cam.writer is not None
        cam.writer.add(item.image, item.ts)
        post_roll_over = (
            not cam.open_events
            and cam.last_end_ts is not None
            and item.ts >= cam.last_end_ts + self._config.post_roll_s
        )
        too_long = item.ts - cam.writer.start_ts >= self._config.max_clip_s
        if post_roll_over or too_long:
            self._close(name)
            if too_long and cam.open_events:
                self._open(cam, sorted(cam.open_events)[0])
                cam.clip_events.extend(sorted(cam.open_events))

    def _keep_preroll(self, cam: CameraRecording, item: ClipFrame) -> None:
        window_s = self._config.pre_roll_s + self._start_lag_s(item.camera)
        if window_s <= 0:
            return
        ok, buffer = cv2.imencode(".jpg", item.image, [cv2.IMWRITE_JPEG_QUALITY, self._config.jpeg_quality])
        if ok:
            jpeg = bytes(buffer.tobytes())
            cam.preroll.append((item.ts, jpeg))
            cam.preroll_bytes += len(jpeg)
        while cam.preroll and cam.preroll[0][0] < item.ts - window_s:
            cam.preroll_bytes -= len(cam.preroll.popleft()[1])

    def _open(self, cam: CameraRecording, first_event_id: str) -> None:
        """Start a recording: its file opens with the pre-roll's first frame, or the next frame."""
        cam.recording, cam.first_event_id = True, first_event_id
        cam.clip_events, cam.last_end_ts = [], None

    def _start_writer(self, name: str, cam: CameraRecording, image: Image, ts: float) -> None:
        preroll = [(t, decode(jpeg)) for t, jpeg in cam.preroll]
        cam.preroll.clear()
        cam.preroll_bytes = 0
        first_ts, first = preroll[0] if preroll else (ts, image)
        cam.clip_rel = files.clip_rel(name, first_ts, cam.first_event_id)
        cam.writer = Mp4Writer(self._root / cam.clip_rel, first.shape[1], first.shape[0], first_ts)
        for t, frame in preroll:
            cam.writer.add(frame, t)

    def _close(self, name: str) -> None:
        cam = self._cameras[name]
        writer, rel, events = cam.writer, cam.clip_rel, tuple(cam.clip_events)
        cam.writer, cam.clip_rel, cam.clip_events, cam.recording = None, None, [], False
        if writer is None or rel is None:
            return
        if writer.frames == 0 or not events:
            writer.abort()
            return
        try:
            size = writer.close()
        except (OSError, ClipError):
            writer.abort()
            raise
        self.written += 1
        self._clip_done(ClipDone(name, rel, writer.start_ts, writer.end_ts, size, events))


def start_lag_s(events_min_duration_s: float, min_hits: int, detect_fps: float) -> float:
    """How long after an object's first sighting its event's start record can come."""
    return events_min_duration_s + min_hits / detect_fps


def decode(jpeg: bytes) -> Image:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ClipError("a pre-roll JPEG did not decode")
    return np.asarray(image, dtype=np.uint8)
