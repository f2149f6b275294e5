"""A detector thread: one interpreter serving every camera in turn.

It claims the stalest due camera from the LaneTable, runs the camera's motion gate and region
planning on the freshest frame, prepares each region's model input, and hands it to its invoke
thread (agent.pipeline.invoker), which does nothing but invoke. While the interpreter works on
one input, this thread prepares the next and decodes the last, so the interpreter does not wait
for either. Frames are handed to the analytics thread whole (every region decoded and merged),
in the order they were claimed. Several of these may share one table (model.interpreters)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from agent.detect import Detector, InputBuffer
from agent.gate.regions import Region
from agent.pipeline.failures import log_frame_failure
from agent.pipeline.invoker import InvokeDone, InvokeThread
from agent.pipeline.lanes import CameraLane, LaneTable
from agent.pipeline.wake import WakeSignal
from agent.types import DetectionResult, Frame

T = TypeVar("T")

INPUTS_QUEUED = 2  # one input being invoked, one prepared and waiting: the interpreter never waits for us
IDLE_WAIT_S = 0.5  # longest sleep with nothing due, so the heartbeat stays fresh
DRAIN_TIMEOUT_S = 10.0  # on stop, longest time to finish the frames already claimed

# (lane, frame, result, failed): result None means the gate skipped the detector; failed means the
# detection raised (counted and logged here), so analytics only gives the frame back to its ring.
HandOff = Callable[[CameraLane, Frame, DetectionResult | None, bool], None]


@dataclass(eq=False)
class FrameInFlight:
    """A claimed frame between its claim and its hand-off to analytics."""

    lane: CameraLane
    frame: Frame
    min_score: float
    regions: tuple[Region, ...] = ()
    results: list[DetectionResult] = field(default_factory=list)
    submitted: int = 0  # regions handed to the invoke thread
    outstanding: int = 0  # of those, not yet collected
    failed: bool = False

    @property
    def has_regions_to_submit(self) -> bool:
        return not self.failed and self.submitted < len(self.regions)

    @property
    def complete(self) -> bool:
        return self.outstanding == 0 and not self.has_regions_to_submit


class DetectorWorker(threading.Thread):
    """Serves cameras fairly with one detector: stalest first, each capped at its detect fps."""

    def __init__(
        self,
        name: str,
        detector: Detector,
        table: LaneTable,
        frame_ready: WakeSignal,
        hand_off: HandOff,
        finish_lane: Callable[[CameraLane], None],
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.detector = detector
        self._table = table
        self._frame_ready = frame_ready  # also set by the invoke thread after every invoke
        self._hand_off = hand_off
        self._finish_lane = finish_lane
        self._stop_event = threading.Event()
        # Unique per thread object: a reload's new detector-0 must not inherit a stuck old one's cameras.
        self._owner = f"{name}@{id(self):x}"
        self.invoker = InvokeThread(f"{name}-invoke", detector, frame_ready)
        self._model_side = min(detector.input_size)
        self._buffers: list[InputBuffer] = [detector.new_input_buffer() for _ in range(INPUTS_QUEUED)]
        self._next_buffer = 0
        self._frames: deque[FrameInFlight] = deque()  # claim order = hand-off order
        self._invoking: deque[FrameInFlight] = deque()  # one entry per input submitted, in order
        self.heartbeat_mono = time.monotonic()
        self.served = 0  # frames this thread took (detected, skipped by the gate, or failed)
        self.errors = 0

    def start(self) -> None:
        self.invoker.start()
        super().start()

    def stop(self) -> None:
        """Stop claiming; the frames already claimed are finished and handed on first."""
        self._stop_event.set()
        self._frame_ready.set()

    def run(self) -> None:
        self._table.register(self._owner)
        try:
            while not self._stop_event.is_set():
                now = time.monotonic()
                self.heartbeat_mono = now
                # Read before looking, so a frame or an invoke result arriving after the look
                # still wakes the wait below.
                seen = self._frame_ready.generation
                self._collect(timeout_s=0.0)
                wait_s = self._feed_invoker(now)
                if wait_s is not None:
                    self._frame_ready.wait(seen, wait_s)
            self._drain()
        finally:
            self._table.unregister(self._owner)
            self.invoker.stop()

    def _feed_invoker(self, now_mono: float) -> float | None:
        """Prepare and submit one input if the invoke thread has room; None when it did (look again),
        else how long to wait for a frame, a result or the next due camera."""
        if len(self._invoking) >= INPUTS_QUEUED:
            return IDLE_WAIT_S
        pending = self._frame_with_regions_to_submit()
        if pending is None:
            claim = self._table.claim_next(now_mono, self._owner)
            if claim.lane is None or claim.frame is None:
                return min(claim.wait_s, IDLE_WAIT_S) if claim.wait_s > 0.0 else None
            pending = self._plan(claim.lane, claim.frame)
            self._frames.append(pending)
            if not pending.has_regions_to_submit:
                self._hand_off_complete()
                return None
        self._submit_region(pending)
        return None

    def _frame_with_regions_to_submit(self) -> FrameInFlight | None:
        """Only the newest claimed frame can have regions left: a frame is claimed after the last one's
        regions were all submitted."""
        newest = self._frames[-1] if self._frames else None
        return newest if newest is not None and newest.has_regions_to_submit else None

    def _plan(self, lane: CameraLane, frame: Frame) -> FrameInFlight:
        self.served += 1
        pending = FrameInFlight(lane, frame, lane.processor.detector_floor)
        regions = self._guarded(
            pending, lambda: lane.detection.plan(frame, self._model_side, lane.processor.active_boxes)
        )
        pending.regions = regions or ()
        return pending

    def _submit_region(self, pending: FrameInFlight) -> None:
        region = pending.regions[pending.submitted]
        buffer = self._buffers[self._next_buffer]
        self._guarded(pending, lambda: self.detector.prepare(region.crop(pending.frame.image), buffer))
        if pending.failed:
            self._hand_off_complete()
            return
        self._next_buffer = (self._next_buffer + 1) % INPUTS_QUEUED
        self.invoker.submit(buffer)
        pending.submitted += 1
        pending.outstanding += 1
        self._invoking.append(pending)

    def _collect(self, timeout_s: float | None) -> None:
        """Decode every finished invoke (waiting up to `timeout_s` for the first), then hand on
        the frames that are complete."""
        done = self.invoker.take(timeout_s)
        while done is not None:
            self._decode(self._invoking.popleft(), done)
            done = self.invoker.take(0.0)
        self._hand_off_complete()

    def _decode(self, pending: FrameInFlight, done: InvokeDone) -> None:
        pending.outstanding -= 1
        if pending.failed:
            return
        output = done.output
        if output is None:
            self._count_failure(pending, done.error)
            return
        region = pending.regions[len(pending.results)]
        result = self._guarded(
            pending, lambda: self.detector.decode(output, region.width, region.height, pending.min_score)
        )
        if result is not None:
            pending.results.append(result)

    def _hand_off_complete(self) -> None:
        while self._frames and self._frames[0].complete:
            pending = self._frames.popleft()
            result = None
            if pending.regions and not pending.failed:
                result = self._guarded(pending, partial(pending.lane.detection.merge, pending.regions, pending.results))
            self._hand_off(pending.lane, pending.frame, result, pending.failed)
            if self._table.release_claim(pending.lane):
                self._finish_lane(pending.lane)

    def _guarded(self, pending: FrameInFlight, step: Callable[[], T]) -> T | None:
        """Run one step of a frame's detection; if it raises, the frame fails (counted and logged),
        and the camera and the other cameras go on."""
        try:
            return step()
        except Exception as exc:
            self._count_failure(pending, exc)
            return None

    def _count_failure(self, pending: FrameInFlight, error: Exception | None) -> None:
        pending.failed = True
        self.errors += 1
        log_frame_failure("detecting on", pending.lane.name, pending.frame.seq, self.errors, error)

    def _drain(self) -> None:
        """Finish what was claimed: run the regions left, collect every input submitted, hand all on."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while time.monotonic() < deadline:
            self.heartbeat_mono = time.monotonic()
            pending = self._frame_with_regions_to_submit()
            if pending is not None and len(self._invoking) < INPUTS_QUEUED:
                self._submit_region(pending)
            elif self._invoking:
                self._collect(timeout_s=IDLE_WAIT_S)
            else:
                break
        self._hand_off_complete()
