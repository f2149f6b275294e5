"""The table of cameras the detector threads serve, and who may touch which camera when.

Detector threads claim a camera (the stalest due one, see scheduler), take its freshest
frame and hand the result to the analytics thread, which releases the frame. A camera is
served by one detector thread at a time: while that thread still has one of its frames (it
may take the next before the last is done), no other thread may claim it, so the camera's
frames reach analytics in order."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from agent.gate.regions import Region
from agent.pipeline.counters import DetectCounters
from agent.pipeline.scheduler import CameraSlot, choose_next
from agent.pipeline.wake import WakeSignal
from agent.records import Record
from agent.types import BBox, DetectionResult, Frame

MAX_IN_FLIGHT = 2  # one frame in analytics while the next is detected; more would only add latency
RING_SLOTS_KEPT_FREE = 2  # FrameRing: the producer needs two slots the consumer does not hold


class FrameFeed(Protocol):
    """The consumer side of a camera's FrameRing."""

    @property
    def latest_seq(self) -> int: ...

    @property
    def slot_count(self) -> int: ...

    @property
    def held_count(self) -> int: ...

    def take_latest(self, after_seq: int) -> Frame | None: ...

    def release(self, frame: Frame) -> None: ...

    def defer_until(self, due_mono: float) -> None: ...


class DetectionPlanner(Protocol):
    """Gate and regions before the detector, merging after it (agent.pipeline.detection_stage.DetectionStage)."""

    def plan(self, frame: Frame, model_side: int, track_boxes: Sequence[BBox]) -> tuple[Region, ...]: ...

    def merge(self, regions: Sequence[Region], results: Sequence[DetectionResult]) -> DetectionResult: ...


class FrameProcessor(Protocol):
    """Everything after the detector for one camera (agent.pipeline.processor.CameraProcessor)."""

    @property
    def detector_floor(self) -> float: ...

    @property
    def active_boxes(self) -> tuple[BBox, ...]: ...

    def process(self, frame: Frame, result: DetectionResult | None) -> list[Record]: ...

    def tick(self, ts_wall: float) -> list[Record]: ...

    def finish(self, ts_wall: float) -> list[Record]: ...


@dataclass(eq=False)
class CameraLane:
    """One camera as the pipeline sees it. The mutable fields below are guarded by the LaneTable's lock."""

    name: str
    feed: FrameFeed
    detection: DetectionPlanner
    processor: FrameProcessor
    min_interval_s: float
    counters: DetectCounters
    last_seq: int = 0  # newest seq taken by a detector thread (ring seqs start at 1)
    last_detect_mono: float | None = None
    owner: str | None = None  # the detector thread that has frames of this camera now
    claims: int = 0  # how many (taken, not yet handed to analytics)
    retired: bool = False
    processed: int = 0
    max_in_flight: int = field(init=False)

    def __post_init__(self) -> None:
        self.max_in_flight = max(1, min(MAX_IN_FLIGHT, self.feed.slot_count - RING_SLOTS_KEPT_FREE))


@dataclass(frozen=True, slots=True)
class Claim:
    """A camera and its freshest frame, now owned by one detector thread; or how long to wait."""

    lane: CameraLane | None
    frame: Frame | None
    wait_s: float


class LaneTable:
    """Every running camera, shared by the detector threads, the analytics thread and the supervisor."""

    def __init__(self, frame_ready: WakeSignal) -> None:
        self._lock = threading.Lock()
        self._lanes: dict[str, CameraLane] = {}
        self._frame_ready = frame_ready
        self._held_by: dict[str, int] = {}  # running detector thread -> frames it holds

    def register(self, owner: str) -> None:
        """A detector thread starts serving; while it holds nothing, busy threads leave it new cameras."""
        with self._lock:
            self._held_by.setdefault(owner, 0)

    def unregister(self, owner: str) -> None:
        with self._lock:
            self._held_by.pop(owner, None)
        self._frame_ready.set()

    def add(self, lane: CameraLane) -> CameraLane | None:
        """Add a camera; a camera of the same name is retired and returned if it can be finished now."""
        with self._lock:
            old = self._lanes.get(lane.name)
            self._lanes[lane.name] = lane
            finishable = self._retire_locked(old) if old is not None else None
        self._frame_ready.set()
        return finishable

    def retire(self, name: str) -> CameraLane | None:
        """Stop serving a camera. Returns it when no detector thread holds it (finish it now);
        otherwise the thread that holds it gets it back from its last release_claim()."""
        with self._lock:
            lane = self._lanes.get(name)
            return self._retire_locked(lane) if lane is not None else None

    def _retire_locked(self, lane: CameraLane) -> CameraLane | None:
        if self._lanes.get(lane.name) is lane:
            del self._lanes[lane.name]
        lane.retired = True
        return None if lane.claims else lane

    def lanes(self) -> list[CameraLane]:
        with self._lock:
            return list(self._lanes.values())

    def claim_next(self, now_mono: float, owner: str) -> Claim:
        """For detector thread `owner`: the stalest due camera that no other thread holds, with its
        freshest frame; or the wait until one may be due.

        A thread that already holds frames may take the next frame of a camera it holds, but takes a
        camera nobody holds only when no other running thread is idle: that thread takes it instead,
        so cameras spread over the interpreters rather than queueing behind the busiest one."""
        with self._lock:
            busy = self._held_by.get(owner, 0) > 0
            other_idle = any(held == 0 for name, held in self._held_by.items() if name != owner)
            may_take_free = not (busy and other_idle)
            # Frames out of the ring are counted by the ring itself, so a lane that replaced another
            # (model reload) also waits for the frames its predecessor still has in analytics.
            ready = [
                lane
                for lane in self._lanes.values()
                if (lane.owner == owner or (lane.owner is None and may_take_free))
                and lane.feed.held_count < lane.max_in_flight
            ]
            slots = [
                CameraSlot(lane.name, lane.feed.latest_seq > lane.last_seq, lane.last_detect_mono, lane.min_interval_s)
                for lane in ready
            ]
            decision = choose_next(slots, now_mono)
            if decision.camera is None:
                return Claim(None, None, decision.wait_s)
            lane = self._lanes[decision.camera]
            frame = lane.feed.take_latest(lane.last_seq)
            if frame is None:
                return Claim(None, None, 0.0)
            late = lane.last_detect_mono is not None and now_mono - lane.last_detect_mono > 2.0 * lane.min_interval_s
            if late and frame.seq > lane.last_seq + 1:
                # Frames kept coming but the camera waited a whole extra interval: others held the detector.
                lane.counters.starved()
            lane.owner = owner
            lane.claims += 1
            if owner in self._held_by:
                self._held_by[owner] += 1
            lane.last_seq = frame.seq
            lane.last_detect_mono = now_mono
            lane.feed.defer_until(now_mono + lane.min_interval_s)  # frames until then are rate_capped
            return Claim(lane, frame, 0.0)

    def release_claim(self, lane: CameraLane) -> bool:
        """The detector thread has handed one claimed frame on. True when that was its last frame
        of a camera retired meanwhile: the caller then queues its finish, after those frames."""
        with self._lock:
            if lane.owner in self._held_by:
                self._held_by[lane.owner] -= 1
            lane.claims -= 1
            if lane.claims == 0:
                lane.owner = None
            finish = lane.retired and lane.claims == 0
        self._frame_ready.set()
        return finish

    def frame_done(self, lane: CameraLane, frame: Frame) -> None:
        """The analytics thread has finished with a frame: it goes back to the ring."""
        try:
            lane.feed.release(frame)
        finally:
            with self._lock:
                lane.processed += 1
            self._frame_ready.set()

    def idle(self, name: str) -> bool:
        """True when the camera's newest frame has been through analytics (batch runs end on this)."""
        with self._lock:
            lane = self._lanes.get(name)
            if lane is None:
                return True
            return lane.feed.latest_seq <= lane.last_seq and lane.feed.held_count == 0 and lane.claims == 0

    def drain_all(self) -> list[CameraLane]:
        """Remove and return every camera (shutdown, after the detector threads have stopped)."""
        with self._lock:
            lanes = list(self._lanes.values())
            self._lanes.clear()
            for lane in lanes:
                lane.retired = True
            return lanes
