"""Event snapshots: copy an event's best frame, then encode and publish it off the hot path.

The event engine says when a frame is an event's best so far (agent.core.events.BestFrame);
`make_jobs` (analytics thread) copies only the bounded image needed, once per frame, because frames live in
ring-buffer slots that are reused. `SnapshotWorker` is its own thread: it JPEG-encodes,
publishes (retained) and optionally saves (agent.snapshots.store)."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

import cv2
import numpy as np

from agent.config.outputs import SnapshotConfig
from agent.errors import AgentError
from agent.publish.messages import OutboundMessage, encode_snapshot
from agent.publish.topics import Topics
from agent.records import Record, SnapshotJob
from agent.snapshots.store import SnapshotStore
from agent.storage.health import StorageHealth, is_out_of_space
from agent.types import BBox, Event, EventKind, Frame, Image, Track

log = logging.getLogger(__name__)

# How many finished events remember that they got a snapshot (bounded, oldest forgotten).
HAS_SNAPSHOT_MEMORY = 4096
IDLE_WAIT_S = 1.0  # the worker wakes at least this often to refresh its heartbeat
BOX_COLOR_BGR = (0, 200, 255)
TEXT_COLOR_BGR = (0, 0, 0)
LINE_PX_PER_IMAGE_PX = 1 / 240  # box line thickness grows with the picture
FONT_SCALE_PER_IMAGE_PX = 1 / 640


class SnapshotError(AgentError):
    """A snapshot could not be encoded."""


def crop_region(box: BBox, width: int, height: int, margin_frac: float) -> tuple[int, int, int, int]:
    """The box grown by `margin_frac` of its size on each side, clipped to the frame, as int xyxy."""
    dx, dy = box.width * margin_frac, box.height * margin_frac
    x1 = int(max(0.0, np.floor(box.x1 - dx)))
    y1 = int(max(0.0, np.floor(box.y1 - dy)))
    x2 = int(min(float(width), np.ceil(box.x2 + dx)))
    y2 = int(min(float(height), np.ceil(box.y2 + dy)))
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


def bounded_copy(image: Image, max_width_px: int, max_height_px: int) -> tuple[Image, float]:
    """A new array no larger than the limits (aspect kept), and the scale applied to it."""
    height, width = image.shape[:2]
    scale = min(1.0, max_width_px / width, max_height_px / height)
    if scale >= 1.0:
        return np.array(image, copy=True), 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    return resized, scale


def _map_box(box: BBox, offset_x: float, offset_y: float, scale: float) -> BBox:
    return BBox(
        (box.x1 - offset_x) * scale,
        (box.y1 - offset_y) * scale,
        (box.x2 - offset_x) * scale,
        (box.y2 - offset_y) * scale,
    )


def make_jobs(frame: Frame, best: Iterable[tuple[str, Track]], config: SnapshotConfig) -> list[SnapshotJob]:
    """One job per (event_id, track) whose best frame this is, each with its own bounded copy of the
    part it needs: a crop around the box, or the whole frame. Whole-frame jobs of one frame share
    one copy (several events often improve on the same frame)."""
    whole: tuple[Image, float] | None = None
    jobs = []
    for event_id, track in best:
        box = track.box.clipped(frame.width, frame.height)
        if config.crop:
            x1, y1, x2, y2 = crop_region(box, frame.width, frame.height, config.crop_margin_frac)
            image, scale = _frozen_copy(frame.image[y1:y2, x1:x2], config)
            offset_x, offset_y = float(x1), float(y1)
        else:
            whole = whole or _frozen_copy(frame.image, config)
            (image, scale), offset_x, offset_y = whole, 0.0, 0.0
        jobs.append(
            SnapshotJob(
                camera=frame.camera,
                label=track.label,
                event_id=event_id,
                image=image,
                box=_map_box(box, offset_x, offset_y, scale),
                score=track.score,
                ts_wall=frame.ts_wall,
            )
        )
    return jobs


def _frozen_copy(source: Image, config: SnapshotConfig) -> tuple[Image, float]:
    image, scale = bounded_copy(source, config.max_width_px, config.max_height_px)
    image.flags.writeable = False
    return image, scale


def render_snapshot(job: SnapshotJob, config: SnapshotConfig) -> bytes:
    """JPEG bytes of the job's image within the size limits, with the box and label drawn if configured."""
    image, scale = bounded_copy(job.image, config.max_width_px, config.max_height_px)
    if config.draw_box:
        _draw_box(image, _map_box(job.box, 0.0, 0.0, scale), f"{job.label} {job.score:.0%}")
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality])
    if not ok:
        raise SnapshotError(f"OpenCV could not JPEG-encode the {job.camera}/{job.label} snapshot of {job.event_id}")
    return bytes(buffer.tobytes())


def _draw_box(image: Image, box: BBox, text: str) -> None:
    height, width = image.shape[:2]
    thickness = max(1, round(min(width, height) * LINE_PX_PER_IMAGE_PX))
    font_scale = max(0.4, min(width, height) * FONT_SCALE_PER_IMAGE_PX)
    x1, y1, x2, y2 = (round(v) for v in (box.x1, box.y1, box.x2, box.y2))
    cv2.rectangle(image, (x1, y1), (x2, y2), BOX_COLOR_BGR, thickness)
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    top = y1 - text_h - baseline if y1 - text_h - baseline >= 0 else y1
    cv2.rectangle(image, (x1, top), (x1 + text_w, top + text_h + baseline), BOX_COLOR_BGR, cv2.FILLED)
    cv2.putText(image, text, (x1, top + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale, TEXT_COLOR_BGR, 1, cv2.LINE_AA)


class SnapshotWorker(threading.Thread):
    """Encodes and publishes snapshot jobs on its own thread; never blocks the submitter.

    At most `queue_size` events wait; a newer job of a waiting event replaces the older
    one (`superseded`); a job of a new event while full is dropped (`dropped`)."""

    def __init__(
        self,
        topics: Topics,
        config: SnapshotConfig,
        send: Callable[[OutboundMessage], None],
        store: SnapshotStore | None = None,
        clock: Callable[[], float] = time.time,
        storage: StorageHealth | None = None,
    ) -> None:
        super().__init__(name="snapshots", daemon=True)
        self._storage = storage  # counts and logs a failed save (a full disk); the snapshot is still published
        self._topics = topics
        self._config = config
        self._send = send
        self._store = store
        self._clock = clock
        self._pending: OrderedDict[str, SnapshotJob] = OrderedDict()
        self._done: OrderedDict[str, None] = OrderedDict()
        self._cond = threading.Condition()
        self._stopping = False
        self.superseded = self.dropped = self.published = self.saved = self.errors = self.save_failed = 0
        self.heartbeat_mono = time.monotonic()

    def submit(self, job: SnapshotJob) -> bool:
        """Queue a job without blocking; False when it was dropped because the queue is full."""
        with self._cond:
            if job.event_id in self._pending:
                self._pending[job.event_id] = job
                self.superseded += 1
            elif len(self._pending) >= self._config.queue_size:
                self.dropped += 1
                return False
            else:
                self._pending[job.event_id] = job
            self._cond.notify()
        return True

    def accept(self, record: Record) -> None:
        """As a sink: queue snapshot jobs; an event's end record forgets that it had one."""
        if isinstance(record, SnapshotJob):
            self.submit(record)
        elif isinstance(record, Event) and record.kind is EventKind.END:
            self.forget(record.event_id)

    def has_snapshot(self, event_id: str) -> bool:
        """True once a snapshot of the event has been published (thread-safe)."""
        with self._cond:
            return event_id in self._done

    def forget(self, event_id: str) -> None:
        with self._cond:
            self._done.pop(event_id, None)

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def stop(self) -> None:
        """Finish the jobs already queued, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify()

    def run(self) -> None:
        next_sweep = self._clock()
        while True:
            self.heartbeat_mono = time.monotonic()
            wait_s = IDLE_WAIT_S if self._store is None else min(IDLE_WAIT_S, next_sweep - self._clock())
            job = self._next_job(max(0.0, wait_s))
            if job is None and self._stopping:
                return
            try:
                if job is not None:
                    self._handle(job)
                if self._store is not None and self._clock() >= next_sweep:
                    next_sweep = self._clock() + self._config.retention_interval_s
                    self._store.enforce(self._clock())
            except Exception:
                # A bad picture or a full disk must not stop later snapshots; counted and logged.
                self.errors += 1
                log.exception("snapshot worker: job or retention sweep failed")

    def _next_job(self, timeout_s: float) -> SnapshotJob | None:
        with self._cond:
            if not self._pending and not self._stopping:
                self._cond.wait(timeout_s)
            if not self._pending:
                return None
            return self._pending.popitem(last=False)[1]

    def _handle(self, job: SnapshotJob) -> None:
        jpeg = render_snapshot(job, self._config)
        self._send(encode_snapshot(self._topics, job.camera, job.label, jpeg))
        self.published += 1
        if self._config.save and self._store is not None:
            try:
                self._store.save(job.camera, job.event_id, job.ts_wall, jpeg)
            except OSError as exc:
                if self._storage is None or not is_out_of_space(exc):
                    raise
                self.save_failed += 1
                self._storage.write_failed(self._store.root, exc, "the snapshot was published but not saved")
            else:
                self.saved += 1
        with self._cond:
            self._done[job.event_id] = None
            self._done.move_to_end(job.event_id)
            while len(self._done) > HAS_SNAPSHOT_MEMORY:
                self._done.popitem(last=False)
