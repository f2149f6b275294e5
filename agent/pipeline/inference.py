"""The inference thread: one detector serving every camera in turn.

It takes the freshest frame of the camera the scheduler picks, runs the camera's
processor (gate, detector, tracker, events) and hands the resulting messages to
the publisher without blocking. Cameras are added and removed while it runs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agent.pipeline.counters import DetectCounters
from agent.pipeline.scheduler import CameraSlot, choose_next
from agent.publish.messages import OutboundMessage
from agent.types import Frame

log = logging.getLogger(__name__)

ERRORS_LOGGED_IN_FULL = 10  # then one in ERROR_LOG_EVERY, so a persistent fault cannot flood the journal
ERROR_LOG_EVERY = 1000
TICK_INTERVAL_S = 1.0  # periodic per-camera work (stream-fault anomalies) runs this often


class FrameFeed(Protocol):
    """The consumer side of a camera's FrameRing."""

    @property
    def latest_seq(self) -> int: ...

    def take_latest(self, after_seq: int) -> Frame | None: ...

    def release(self, frame: Frame) -> None: ...


class FrameProcessor(Protocol):
    """Turns one camera's frame into outbound messages (see agent.pipeline.processor)."""

    def process(self, frame: Frame) -> list[OutboundMessage]: ...

    def tick(self, ts_wall: float) -> list[OutboundMessage]: ...

    def finish(self, ts_wall: float) -> list[OutboundMessage]: ...


@dataclass
class CameraLane:
    """One camera as the inference thread sees it. Mutated only by the inference thread."""

    name: str
    feed: FrameFeed
    processor: FrameProcessor
    min_interval_s: float
    counters: DetectCounters
    last_seq: int = 0  # ring seqs start at 1
    last_detect_mono: float | None = None
    processed: int = 0


class InferenceWorker(threading.Thread):
    """Serves cameras fairly: stalest first, each capped at its detect fps."""

    def __init__(self, send: Callable[[OutboundMessage], None], frame_ready: threading.Event) -> None:
        super().__init__(name="inference", daemon=True)
        self._send = send
        self._frame_ready = frame_ready
        self._lanes: dict[str, CameraLane] = {}
        self._lanes_lock = threading.Lock()
        self._retiring: list[CameraLane] = []
        self._next_tick_mono = 0.0
        self._stop_event = threading.Event()
        self.heartbeat_mono = time.monotonic()
        self.busy_since_mono: float | None = None
        self.errors = 0

    def set_lane(self, lane: CameraLane) -> None:
        """Add a camera, or replace one whose settings changed."""
        with self._lanes_lock:
            self._lanes[lane.name] = lane
        self._frame_ready.set()

    def retire_lane(self, name: str) -> None:
        """Stop serving a camera. The inference thread itself ends its open events and anomalies
        (finish()), because only that thread may touch the camera's processor while it runs."""
        with self._lanes_lock:
            lane = self._lanes.pop(name, None)
            if lane is not None:
                self._retiring.append(lane)
        self._frame_ready.set()

    def lanes(self) -> dict[str, CameraLane]:
        with self._lanes_lock:
            return dict(self._lanes)

    def idle_for(self, name: str) -> bool:
        """True when the camera's newest frame has been processed (used to finish batch runs)."""
        lane = self.lanes().get(name)
        return lane is None or lane.feed.latest_seq <= lane.last_seq

    def stop(self) -> None:
        self._stop_event.set()
        self._frame_ready.set()

    def run(self) -> None:
        while not self._stop_event.is_set():
            now = time.monotonic()
            self.heartbeat_mono = now
            self._finish_retired()
            if now >= self._next_tick_mono:
                self._next_tick_mono = now + TICK_INTERVAL_S
                self._tick_all()
            lanes = self.lanes()
            slots = [
                CameraSlot(lane.name, lane.feed.latest_seq > lane.last_seq, lane.last_detect_mono, lane.min_interval_s)
                for lane in lanes.values()
            ]
            decision = choose_next(slots, now)
            if decision.camera is None:
                self._frame_ready.wait(decision.wait_s)
                self._frame_ready.clear()
                continue
            self._serve(lanes[decision.camera], now)

    def finish_all(self, ts_wall: float) -> None:
        """After the thread has stopped: end every camera's open events and anomalies."""
        if self.is_alive():
            raise RuntimeError("finish_all() while the inference thread runs; stop() and join() it first")
        with self._lanes_lock:
            self._retiring.extend(self._lanes.values())
            self._lanes.clear()
        self._finish_retired(ts_wall)

    def _finish_retired(self, ts_wall: float | None = None) -> None:
        with self._lanes_lock:
            retiring, self._retiring = self._retiring, []
        for lane in retiring:
            self._send_all(lane.processor.finish(time.time() if ts_wall is None else ts_wall))

    def _tick_all(self) -> None:
        ts_wall = time.time()
        for lane in self.lanes().values():
            self._send_all(lane.processor.tick(ts_wall))

    def _send_all(self, messages: list[OutboundMessage]) -> None:
        for message in messages:
            self._send(message)

    def _serve(self, lane: CameraLane, now_mono: float) -> None:
        frame = lane.feed.take_latest(lane.last_seq)
        if frame is None:
            return
        late = lane.last_detect_mono is not None and now_mono - lane.last_detect_mono > 2.0 * lane.min_interval_s
        if late and frame.seq > lane.last_seq + 1:
            # Frames kept coming but the camera waited a whole extra interval: others held the detector.
            lane.counters.starved()
        self.busy_since_mono = now_mono
        try:
            messages = lane.processor.process(frame)
        except Exception:
            # One bad frame or camera must not stop the others; counted and logged with its stack.
            self.errors += 1
            if self.errors <= ERRORS_LOGGED_IN_FULL or self.errors % ERROR_LOG_EVERY == 0:
                log.exception(
                    "camera %s: processing frame %d failed (%d failures so far)", lane.name, frame.seq, self.errors
                )
            messages = []
        finally:
            lane.feed.release(frame)
            self.busy_since_mono = None
        lane.last_seq = frame.seq
        lane.last_detect_mono = now_mono
        lane.processed += 1
        self._send_all(messages)
