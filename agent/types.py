"""The data that flows between the agent's stages, as frozen dataclasses.

Every thread passes these and nothing else: no tuples, no dicts. JSON encoding
happens only at the publisher boundary (agent.publish.messages)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]


class FrameClock(enum.Enum):
    """Which clock a frame's (and a record's) timestamps follow.

    WALL: the moment a live source's frame was captured. MEDIA: a video file's own presentation
    time, laid onto the clock from the run's first frame (its wall and monotonic time plus the
    media offset), so rules over time give the same answer at any processing speed."""

    WALL = "wall"
    MEDIA = "media"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. Gaps in `seq` are frames dropped by the ring buffer.

    `image` is BGR uint8 (H, W, 3) and, when it came from a FrameRing, is only
    valid until the consumer releases it back to the ring."""

    camera: str
    seq: int
    ts_mono: float
    ts_wall: float
    image: Image
    clock: FrameClock = FrameClock.WALL

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass(frozen=True, slots=True)
class BBox:
    """An axis-aligned box in pixels of the analysed frame, xyxy."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return max(0.0, self.x2 - self.x1)

    @property
    def height(self) -> float:
        return max(0.0, self.y2 - self.y1)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    @property
    def bottom_center(self) -> tuple[float, float]:
        """The point where an object touches the ground: used for zones and lines."""
        return ((self.x1 + self.x2) / 2.0, self.y2)

    def clipped(self, width: int, height: int) -> BBox:
        return BBox(
            min(max(self.x1, 0.0), float(width)),
            min(max(self.y1, 0.0), float(height)),
            min(max(self.x2, 0.0), float(width)),
            min(max(self.y2, 0.0), float(height)),
        )

    def as_list(self) -> list[float]:
        return [round(self.x1, 1), round(self.y1, 1), round(self.x2, 1), round(self.y2, 1)]


@dataclass(frozen=True, slots=True)
class Detection:
    """One object found by the detector in one frame."""

    label: str
    class_id: int
    score: float
    box: BBox


@dataclass(frozen=True, slots=True)
class DetectionResult:
    """Everything the detector returns for one frame."""

    detections: tuple[Detection, ...]
    inference_ms: float


class TrackState(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Track:
    """A detection associated across frames under one id (unique per camera)."""

    track_id: int
    label: str
    box: BBox
    score: float
    state: TrackState
    first_seen: float
    last_seen: float
    hits: int


class EventKind(enum.Enum):
    START = "start"
    UPDATE = "update"
    END = "end"


@dataclass(frozen=True, slots=True)
class Event:
    """One message of an object's lifecycle: start, updates, end. `event_id` is
    stable across the messages of one object's event."""

    kind: EventKind
    event_id: str
    camera: str
    track: Track
    top_score: float
    current_zones: tuple[str, ...]
    entered_zones: tuple[str, ...]
    start_ts: float
    ts_wall: float
    end_ts: float | None = None
    has_snapshot: bool = False
    clock: FrameClock = FrameClock.WALL
    # What a second-stage classifier (agent.recognition) said about the event's best crop, if one runs
    # for this label: e.g. label "car", sub_label "delivery_van". None until it has classified a crop.
    sub_label: str | None = None
    sub_label_score: float | None = None

    @property
    def duration_s(self) -> float:
        end = self.end_ts if self.end_ts is not None else self.ts_wall
        return max(0.0, end - self.start_ts)


@dataclass(frozen=True, slots=True)
class LineCrossing:
    """A track crossed a named count line, from side A to B or B to A."""

    camera: str
    line: str
    direction: str  # "a_to_b" | "b_to_a"
    track_id: int
    event_id: str | None
    label: str
    ts_wall: float
    clock: FrameClock = FrameClock.WALL


class Severity(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An anomaly's state change: `active` when it starts, `resolved` when it ends."""

    anomaly_id: str
    kind: str
    camera: str
    severity: Severity
    active: bool
    started_ts: float
    ended_ts: float | None = None
    details: dict[str, float | str] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()
    has_snapshot: bool = False
    clock: FrameClock = FrameClock.WALL


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A worker's last sign of life; `expected` is False for a worker that finished on purpose."""

    worker: str
    last_mono: float
    expected: bool


@dataclass(frozen=True, slots=True)
class StorageView:
    """What stats report: `degraded` while the last write under state_dir failed for lack of space."""

    free_bytes: int | None = None
    degraded: bool = False
    write_failures: int = 0


@dataclass(frozen=True, slots=True)
class CameraStats:
    """Health counters of one camera, filled by the pipeline for the stats message.

    Of `frames` read, the detector takes the newest; the others are `rate_capped` (passed over
    because detect_fps allowed no detection yet) or `overwritten` (superseded while the camera
    was due: analysis fell behind). docs/mqtt.md defines each field of the payload."""

    capture_fps: float
    detect_fps: float
    frames: int
    rate_capped: int
    overwritten: int
    reconnects: int
    online: bool
    offline_s: float
    inference_ms_p50: float | None
    inference_ms_p95: float | None
    skipped: int
    starved: int
    online_s: float = 0.0

    @property
    def dropped(self) -> int:
        """Frames the detector never took, for whatever reason."""
        return self.rate_capped + self.overwritten


@dataclass(frozen=True, slots=True)
class PublisherStats:
    """Counters of the MQTT publisher; `outbox_evicted` survives restarts (kept in the outbox file)."""

    connected: bool
    outbox_depth: int
    outbox_oldest_age_s: float
    outbox_evicted: int
    published: int
    publish_failures: int
    fast_dropped: int
    connect_attempts: int
    outbox_unstored: int = 0  # durable messages dropped because the outbox file had no room
    outbox_memory_only: bool = False  # the outbox file could not be opened (disk full): held in memory
    storage: StorageView = field(default_factory=StorageView)


@dataclass(frozen=True, slots=True)
class WorkerStats:
    """A second-stage worker's counts since start (classifier, states, datasets)."""

    processed: int  # crops classified, or captures saved
    dropped: int  # queue full: the crop was not looked at
    errors: int


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Everything the periodic stats message reports."""

    version: str
    uptime_s: float
    runtime: str
    model: str
    cameras: Mapping[str, CameraStats]
    publisher: PublisherStats
    ts_wall: float  # when the snapshot was taken: a reader's "last seen" for a stopped device
    workers: Mapping[str, WorkerStats] = field(default_factory=dict)


Embedding = npt.NDArray[np.float32]
"""An appearance embedding of one object crop: a 1-D, L2-normalised float32 vector (agent.reid)."""
