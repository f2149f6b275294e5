"""The domain records the pipeline hands out, and the Sink protocol every consumer implements.

The analytics thread turns each frame into records (what was detected, events, counts, line
crossings, anomalies, motion changes, snapshot jobs); the capture threads add camera status.
They know nothing of MQTT, JSON or files: each consumer is a Sink, and the composition root
(agent.daemon.root) decides which sinks run. The MQTT publisher is one of them
(agent.publish.sink encodes records to topics and payloads); adding a consumer is one line there.

A sink's `accept` runs on the thread that produced the record (analytics or capture): it must
not block. A consumer that does slow work (files, a model) queues the record for its own thread,
bounded, and counts what it drops."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agent.types import Anomaly, BBox, Detection, DetectionResult, Event, Frame, FrameClock, Image, LineCrossing, Track


@dataclass(frozen=True, slots=True)
class FrameDetections:
    """What the detector reported on one analysed frame, after the filters (none: no record)."""

    camera: str
    seq: int
    ts_wall: float
    width: int
    height: int
    inference_ms: float
    detections: tuple[Detection, ...]
    clock: FrameClock = FrameClock.WALL

    @classmethod
    def of(cls, frame: Frame, result: DetectionResult) -> FrameDetections:
        return cls(
            frame.camera,
            frame.seq,
            frame.ts_wall,
            frame.width,
            frame.height,
            result.inference_ms,
            result.detections,
            frame.clock,
        )


@dataclass(frozen=True, slots=True)
class CountChange:
    """The number of tracked objects changed: per label (`zone` None), per zone and label, or in all
    (`label` None: every object the camera tracks)."""

    camera: str
    label: str | None
    zone: str | None
    count: int


@dataclass(frozen=True, slots=True)
class LineTotals:
    """A line's running totals, after the crossings of one frame changed them."""

    camera: str
    line: str
    a_to_b: int
    b_to_a: int


@dataclass(frozen=True, slots=True)
class MotionChange:
    """The camera's motion gate turned on or off (and its state at the first frame)."""

    camera: str
    on: bool


@dataclass(frozen=True, slots=True)
class CameraStatus:
    """The camera's source came online or went offline (capture thread)."""

    camera: str
    online: bool


@dataclass(frozen=True, slots=True)
class SnapshotJob:
    """A best frame of an open event, cut on the analytics thread for the snapshot worker.

    `image` is a private, bounded copy (never a ring buffer), so the worker can render it later;
    `box` is in the copy's pixels."""

    camera: str
    label: str
    event_id: str
    image: Image
    box: BBox  # in `image`'s pixel coordinates
    score: float
    ts_wall: float


@dataclass(frozen=True, slots=True)
class BestCrop:
    """The best crop so far of an open event, for the consumers that look at objects (second-stage
    classifiers, dataset capture). `image` is a private bounded copy of the box plus a margin;
    `frame_size` is the analysed frame's (width, height) and `box` is in the frame's pixels.
    With dataset full frames on, `frame` is a bounded copy of the whole frame and `frame_tracks`
    the camera's confirmed tracks on it (boxes in the analysed frame's pixels)."""

    camera: str
    label: str
    event_id: str
    image: Image
    box: BBox
    frame_size: tuple[int, int]
    score: float
    ts_wall: float
    frame: Image | None = None
    frame_tracks: tuple[Track, ...] = ()


@dataclass(frozen=True, slots=True)
class RegionCrop:
    """A copy of a state classifier's region (cameras.<camera>.states.<state>), due for classification."""

    camera: str
    state: str
    image: Image
    ts_wall: float
    clock: FrameClock = FrameClock.WALL


@dataclass(frozen=True, slots=True)
class StateChange:
    """A state classifier's answer changed (or its first answer): `<camera>/states/<state>`, retained."""

    camera: str
    state: str
    value: str
    score: float
    ts_wall: float
    clock: FrameClock = FrameClock.WALL


Record = (
    FrameDetections
    | Event
    | Anomaly
    | CountChange
    | LineCrossing
    | LineTotals
    | MotionChange
    | CameraStatus
    | SnapshotJob
    | BestCrop
    | RegionCrop
    | StateChange
)


class Sink(Protocol):
    """A consumer of the pipeline's records. `accept` must not block (see the module docstring)."""

    def accept(self, record: Record) -> None: ...


class FrameTap(Protocol):
    """A consumer of the analysed frames themselves (clips, live views), called on the analytics thread
    with each frame and the records made from it, before the frame goes back to its ring. It must not
    block, and it copies what it keeps (bounded): the frame's pixels are reused afterwards."""

    def on_frame(self, frame: Frame, records: Sequence[Record]) -> None: ...
